import numpy as np

import profondo
from profondo.nlp.models import CharLM
from profondo.nlp.tasks import character_accuracy, edit_distance, load_model, save_model
from profondo.nlp.vocab import Vocab


def test_edit_distance_and_character_accuracy():
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3 and edit_distance("ab", "ab") == 0
    assert character_accuracy(["chat", "zoo"], ["chien", "zoo"]) == 1 - 3 / 8
    assert character_accuracy(["x"], [""]) == 0  # no target characters: nothing to be right about


def test_save_and_load_model_round_trip(tmp_path):
    profondo.manual_seed(0)
    vocab = Vocab(list("abc"), specials=(), unk_token=None)
    model = CharLM(3, 4, 5, cell="gru")
    save_model(tmp_path / "lm.npz", "lm", model, {"chars": vocab}, {"val_loss": 1.5})
    loaded, vocabs, meta = load_model(tmp_path / "lm.npz", CharLM)
    assert vocabs["chars"].itos == vocab.itos and meta["metrics"] == {"val_loss": 1.5}
    ids = np.array([[0, 1, 2]]).T
    np.testing.assert_array_equal(loaded(ids)[0].numpy(), model(ids)[0].numpy())
