import itertools

import numpy as np
import pytest

import profondo
from profondo import functional as F
from profondo.nlp.models import CharLM, SentimentClassifier, Seq2Seq, beam_search, greedy_decode
from profondo.nlp.sample import sample
from profondo.nlp.vocab import Vocab


def test_char_lm_carries_its_state_across_chunks():
    profondo.manual_seed(0)
    lm = CharLM(11, 8, 16, num_layers=2, cell="gru")
    ids = np.random.default_rng(0).integers(0, 11, (9, 3))
    whole, _ = lm(ids)
    first, state = lm(ids[:4])
    second, _ = lm(ids[4:], state)
    assert whole.shape == (9, 3, 11)
    np.testing.assert_allclose(np.concatenate([first.numpy(), second.numpy()]), whole.numpy(), atol=1e-6)
    with pytest.raises(TypeError, match="integer token ids"):
        lm(np.zeros((2, 2), np.float32))


def test_sentiment_classifier_ignores_padding():
    profondo.manual_seed(0)
    model = SentimentClassifier(20, 8, 6, cell="lstm").eval()
    rows = [[3, 4, 5, 6, 7], [8, 9], [10]]
    padded = np.zeros((3, 5), np.int64)
    for r, ids in zip(padded, rows):
        r[:len(ids)] = ids
    together = model(padded, [5, 2, 1]).numpy()
    alone = np.concatenate([model(np.array([ids]), [len(ids)]).numpy() for ids in rows])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    with pytest.raises(ValueError, match="at least one token"):
        model(padded, [5, 0, 1])


def _toy_seq2seq(cell="gru", attention="general", bidirectional=True):
    profondo.manual_seed(1)
    return Seq2Seq(9, 6, embedding_dim=5, hidden_size=7, cell=cell, attention=attention,
                   bidirectional=bidirectional).eval()


@pytest.mark.parametrize("cell,attention,bidirectional", [("gru", "general", True), ("lstm", "dot", False),
                                                          ("lstm", "none", True)])
def test_seq2seq_shapes_and_source_padding(cell, attention, bidirectional):
    model = _toy_seq2seq(cell, attention, bidirectional)
    src = np.array([[4, 5, 6, 7], [8, 4, 0, 0]])
    tgt_in = np.array([[2, 4, 5], [2, 5, 0]])
    logits = model(src, [4, 2], tgt_in)
    assert logits.shape == (2, 3, 6)
    alone = model(src[1:, :2], [2], tgt_in[1:])
    np.testing.assert_allclose(logits.numpy()[1], alone.numpy()[0], atol=1e-6)


def _log_prob(model, src, lengths, seq, sos):
    tgt_in = np.array([[sos, *seq[:-1]]])
    logp = F.log_softmax(model(src, lengths, tgt_in), axis=-1).numpy()[0]
    return sum(logp[t, tok] for t, tok in enumerate(seq))


def test_beam_search_is_exact_when_the_beam_holds_every_candidate():
    model = _toy_seq2seq()
    sos, eos, max_len = 2, 3, 3
    src, lengths = np.array([[4, 5, 6]]), [3]
    # every output of at most 3 tokens: finished (ends with eos) or cut at max_len
    candidates = [list(s[: s.index(eos) + 1]) if eos in s else list(s)
                  for s in itertools.product(range(6), repeat=max_len)]
    scores = {tuple(c): _log_prob(model, src, lengths, c, sos) for c in candidates}
    best = max(scores, key=scores.get)
    found = beam_search(model, src, lengths, sos, eos, beam_size=6 ** max_len, max_len=max_len, length_penalty=0)
    assert found[0] == [t for t in best if t != eos]


def test_beam_of_one_is_greedy_and_batches_are_independent():
    model = _toy_seq2seq("lstm")
    src = np.array([[4, 5, 6], [7, 8, 0]])
    greedy = greedy_decode(model, src, [3, 2], 2, 3, max_len=6)
    assert beam_search(model, src, [3, 2], 2, 3, beam_size=1, max_len=6, length_penalty=0) == greedy
    assert beam_search(model, src[1:, :2], [2], 2, 3, beam_size=4, max_len=6) == \
        beam_search(model, src, [3, 2], 2, 3, beam_size=4, max_len=6)[1:]


def test_sampling_temperature_and_seed():
    profondo.manual_seed(0)
    vocab = Vocab(list("abc"), specials=(), unk_token=None)
    lm = CharLM(3, 4, 8)
    greedy = sample(lm, vocab, "ab", 10, temperature=0)
    assert greedy == sample(lm, vocab, "ab", 10, temperature=0) and len(greedy) == 12 and greedy.startswith("ab")
    draws = [sample(lm, vocab, "a", 30, 1.0, rng=np.random.default_rng(5)) for _ in range(2)]
    assert draws[0] == draws[1] and set(draws[0]) <= set("abc")
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample(lm, vocab, "a", 1, -1.0)
