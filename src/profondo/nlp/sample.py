"""Generating text from a language model: sampling at a temperature."""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..random import generator
from .vocab import CharTokenizer, Vocab


@no_grad()
def sample(model, vocab: Vocab, prime: str = "\n", length: int = 500, temperature: float = 0.8,
           tokenizer=None, rng: np.random.Generator | None = None) -> str:
    """Continue ``prime`` by ``length`` tokens drawn one at a time from softmax(logits / temperature).

    Low temperatures pick likely tokens (0 is greedy: always the most likely), 1 samples the
    model's distribution as it is, higher ones flatten it. Draws come from ``rng``, by default
    profondo's seedable generator (``profondo.manual_seed``).

    >>> print(sample(model, vocab, prime="ROMEO.\\n", length=200, temperature=0.7))
    """
    if temperature < 0:
        raise ValueError(f"sample: temperature must be >= 0, received {temperature}")
    tokenizer = tokenizer or CharTokenizer()
    rng = rng or generator()
    prime_ids = vocab.encode(tokenizer(prime))
    if not prime_ids:
        raise ValueError("sample: the prime text must hold at least one token")
    was_training = model.training
    model.eval()
    logits, state = model(np.array(prime_ids, np.int64)[:, None])
    out = []
    for _ in range(length):
        scores = logits.numpy()[-1, 0].astype(np.float64)
        if temperature == 0:
            token = int(scores.argmax())
        else:
            p = np.exp((scores - scores.max()) / temperature)
            token = int(rng.choice(len(p), p=p / p.sum()))
        out.append(token)
        logits, state = model(np.array([[token]], np.int64), state)
    model.train(was_training)
    sep = getattr(tokenizer, "join", "")
    return prime + (sep if out and sep else "") + tokenizer.detokenize(vocab.decode(out, skip_specials=False))
