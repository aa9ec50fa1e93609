import numpy as np

import profondo
from profondo import functional as F
from profondo.nlp import train as T
from profondo.nlp.models import CharLM, SentimentClassifier, Seq2Seq, detach_state, greedy_decode
from profondo.train import step as train_step


def test_batchify_and_chunks():
    stream = T.batchify(np.arange(23), 3)
    assert stream.shape == (7, 3) and stream[:, 1].tolist() == list(range(7, 14))
    chunks = list(T.bptt_chunks(stream, 4))
    assert [x.shape[0] for x, _ in chunks] == [4, 2]
    np.testing.assert_array_equal(chunks[0][1], stream[1:5])


def test_detached_state_stops_gradients_at_the_chunk_boundary():
    profondo.manual_seed(0)
    lm = CharLM(4, 3, 5)
    first = np.zeros((3, 2), np.int64)  # token 0 appears only in the first chunk
    second = np.ones((3, 2), np.int64)
    for detach, reaches_first in ((True, False), (False, True)):
        lm.zero_grad()
        _, state = lm(first)
        logits, _ = lm(second, detach_state(state) if detach else state)
        logits.sum().backward()
        assert (np.abs(lm.embedding.weight.grad.numpy()[0]).sum() > 0) == reaches_first


def test_language_model_learns_a_pattern_with_clipping_on_by_default(monkeypatch):
    profondo.manual_seed(0)
    calls = []
    clip = train_step.clip_grad_norm_  # every training loop clips through the one TrainStep
    monkeypatch.setattr(train_step, "clip_grad_norm_",
                        lambda params, max_norm: calls.append(max_norm) or clip(params, max_norm))
    ids = np.tile([0, 1, 2, 3, 2, 1], 100)
    stream = T.batchify(ids, 4)
    lm = CharLM(4, 8, 24)
    history = T.train_language_model(lm, stream, stream, seq_len=12, steps=60, lr=0.02, eval_every=30,
                                     progress=False, log=lambda s: None)
    assert calls and set(calls) == {1.0} and len(calls) == 60
    assert history["steps"] == [30, 60] and history["val_loss"][-1] < 0.1  # the pattern is learnt
    assert abs(T.evaluate_language_model(lm, stream, 12) - history["val_loss"][-1]) < 1e-6


def test_classifier_training_on_a_keyword_task():
    profondo.manual_seed(0)
    rng = np.random.default_rng(0)
    ids = [list(rng.integers(2, 10, rng.integers(3, 9))) for _ in range(200)]
    labels = np.array([int(5 in s) for s in ids])
    model = SentimentClassifier(10, 8, 8)
    history = T.train_classifier(model, (ids, labels), (ids, labels), epochs=8, batch_size=16, lr=0.02,
                                 progress=False, log=lambda s: None)
    assert history["test_accuracy"][-1] > 0.95


def test_seq2seq_learns_to_reverse():
    profondo.manual_seed(0)
    rng = np.random.default_rng(0)
    sources = [list(rng.integers(4, 8, 3)) for _ in range(256)]
    targets = [s[::-1] for s in sources]
    model = Seq2Seq(8, 8, embedding_dim=8, hidden_size=24)
    T.train_seq2seq(model, sources, targets, sos_id=2, eos_id=3, epochs=12, batch_size=32, lr=0.02,
                    progress=False, log=lambda s: None)
    src, lengths, tgt_in, tgt_out = T.seq2seq_batch(sources[:64], targets[:64], 2, 3)
    assert tgt_in[0, 0] == 2 and tgt_out[0, 3] == 3
    decoded = greedy_decode(model, src, lengths, 2, 3, max_len=6)
    assert np.mean([d == t for d, t in zip(decoded, targets[:64])]) > 0.9
    loss = F.cross_entropy(model(src, lengths, tgt_in).reshape(-1, 8), tgt_out.reshape(-1), ignore_index=0)
    assert loss.item() < 0.3


def test_length_buckets_cover_every_index_once():
    lengths = np.random.default_rng(0).integers(1, 50, 103)
    batches = T.length_buckets(lengths, 10, rng=np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    assert max(np.ptp(lengths[b]) for b in T.length_buckets(lengths, 10, shuffle=False)) <= 10
