import numpy as np
import pytest

from profondo.nlp.vocab import PAD, UNK, CharTokenizer, Vocab, WordTokenizer, pad_sequences


def test_build_with_frequency_cutoff_and_size():
    tok = WordTokenizer()
    docs = [tok("A fine film. A fine cast."), tok("A dull film!")]
    vocab = Vocab.build(docs, min_freq=2)
    assert vocab.itos == [PAD, UNK, "a", "fine", "film", "."]
    assert vocab.pad_id == 0 and vocab.unk_id == 1
    assert vocab.encode(tok("a great film")) == [2, 1, 4]
    assert Vocab.build(docs, max_size=2).itos == [PAD, UNK, "a", "fine"]
    assert vocab.decode([2, 0, 1, 4]) == ["a", "film"]
    assert vocab.decode([2, 0, 1], skip_specials=False) == ["a", PAD, UNK]


def test_round_trip_and_closed_vocabularies():
    vocab = Vocab(sorted(set("to be or not")), specials=(), unk_token=None)
    assert len(vocab) == 7 and "".join(vocab.decode(vocab.encode("not to be"))) == "not to be"
    assert Vocab.from_dict(vocab.to_dict()).itos == vocab.itos
    with pytest.raises(KeyError, match="'z' is not in the vocabulary of 7 tokens and there is no unknown token"):
        vocab["z"]
    with pytest.raises(ValueError, match="unk_token '<unk>' is not among"):
        Vocab(["a"], specials=(PAD,))


def test_tokenizers():
    assert WordTokenizer()("It's GREAT!<br /><br />Don't miss it.") == ["it's", "great", "!", "don't", "miss", "it",
                                                                         "."]
    assert WordTokenizer(lower=False)("Hi Bob") == ["Hi", "Bob"]
    assert CharTokenizer()("ab c") == ["a", "b", " ", "c"] and CharTokenizer().detokenize(["a", "b"]) == "ab"


def test_pad_sequences():
    ids, lengths = pad_sequences([[5, 6, 7], [8]], pad_id=0)
    assert ids.dtype == np.int64 and ids.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]
    assert pad_sequences([[1, 2, 3]], max_len=2, truncate="pre")[0].tolist() == [[2, 3]]
    with pytest.raises(ValueError, match="truncate must be"):
        pad_sequences([[1]], truncate="middle")
