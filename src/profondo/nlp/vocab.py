"""Vocabularies and tokenisers: characters or words to integer ids and back.

>>> tok = WordTokenizer()
>>> vocab = Vocab.build([tok("A fine film."), tok("A dull film.")], min_freq=2)
>>> vocab.itos
['<pad>', '<unk>', 'a', 'film', '.']
>>> vocab.encode(tok("A great film"))
[2, 1, 3]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD, UNK, SOS, EOS = "<pad>", "<unk>", "<s>", "</s>"


class Vocab:
    """A list of tokens (``itos``) and its inverse (``stoi``).

    Special tokens come first, in the order given (so ``<pad>`` is id 0 by default). Tokens
    outside the vocabulary map to ``unk_token``; without one (``unk_token=None``, as for a
    closed character set) they are an error that names the token.
    """

    def __init__(self, tokens: Iterable[str], specials: Sequence[str] = (PAD, UNK), unk_token: str | None = UNK) -> None:
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}
        for t in (*specials, *tokens):
            if t not in self.stoi:
                self.stoi[t] = len(self.itos)
                self.itos.append(t)
        if unk_token is not None and unk_token not in self.stoi:
            raise ValueError(f"Vocab: unk_token {unk_token!r} is not among the tokens or specials {list(specials)}")
        self.specials, self.unk_token = tuple(specials), unk_token
        self.unk_id = self.stoi[unk_token] if unk_token is not None else None

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_freq: int = 1, max_size: int | None = None,
              specials: Sequence[str] = (PAD, UNK), unk_token: str | None = UNK) -> Vocab:
        """Tokens that occur at least ``min_freq`` times, most frequent first (ties by first
        appearance), at most ``max_size`` of them besides the specials."""
        counts: Counter = Counter()
        for seq in sequences:
            counts.update(seq)
        kept = [t for t, n in counts.most_common() if n >= min_freq and t not in specials]
        return cls(kept[:max_size] if max_size is not None else kept, specials, unk_token)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        i = self.stoi.get(token, self.unk_id)
        if i is None:
            raise KeyError(f"Vocab: token {token!r} is not in the vocabulary of {len(self)} tokens and there is no "
                           "unknown token")
        return i

    def id(self, token: str) -> int:
        """The id of a token that must be in the vocabulary (a special token, say)."""
        if token not in self.stoi:
            raise KeyError(f"Vocab: token {token!r} is not in the vocabulary (specials: {list(self.specials)})")
        return self.stoi[token]

    @property
    def pad_id(self) -> int:
        return self.id(PAD)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self[t] for t in tokens]

    def decode(self, ids: Iterable[int], skip_specials: bool = True) -> list[str]:
        specials = set(self.specials) if skip_specials else set()
        return [t for t in (self.itos[int(i)] for i in ids) if t not in specials]

    def to_dict(self) -> dict:
        """JSON-able form, stored in checkpoints; :meth:`from_dict` restores it."""
        return {"itos": self.itos, "specials": list(self.specials), "unk_token": self.unk_token}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        specials = d["specials"]
        return cls(d["itos"][len(specials):], specials, d["unk_token"])

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens, specials={list(self.specials)})"


class CharTokenizer:
    """Text as a list of characters. ``CharTokenizer()("to be") == ['t', 'o', ' ', 'b', 'e']``"""

    join = ""

    def __call__(self, text: str) -> list[str]:
        return list(text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return "".join(tokens)


class WordTokenizer:
    """Lower-cased words (with inner apostrophes: "don't") and punctuation marks; HTML line breaks
    (``<br />``, as in IMDB reviews) become spaces.

    >>> WordTokenizer()("It's GREAT!<br />Really.")
    ["it's", 'great', '!', 'really', '.']
    """

    join = " "
    _token = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]")
    _html = re.compile(r"<br\s*/?>|<[^>]{0,20}>")

    def __init__(self, lower: bool = True) -> None:
        self.lower = lower

    def __call__(self, text: str) -> list[str]:
        text = self._html.sub(" ", text)
        if self.lower:
            return self._token.findall(text.lower())
        return re.findall(r"[A-Za-z0-9]+(?:'[A-Za-z]+)*|[^\sA-Za-z0-9]", text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return " ".join(tokens)


def pad_sequences(sequences: Sequence[Sequence[int]], pad_id: int = 0, max_len: int | None = None,
                  truncate: str = "post") -> tuple[np.ndarray, np.ndarray]:
    """Stack id lists into an (N, T) int64 array padded with ``pad_id``; returns it and the lengths.

    Longer sequences are cut to ``max_len``, keeping the start (``truncate="post"``) or the end ("pre").

    >>> ids, lengths = pad_sequences([[5, 6, 7], [8]])
    >>> ids.tolist(), lengths.tolist()
    ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    if truncate not in ("post", "pre"):
        raise ValueError(f"pad_sequences: truncate must be 'post' or 'pre', received {truncate!r}")
    cut = [(s[:max_len] if truncate == "post" else s[-max_len:]) if max_len else s for s in sequences]
    lengths = np.array([len(s) for s in cut], np.int64)
    out = np.full((len(cut), int(lengths.max(initial=0))), pad_id, np.int64)
    for row, s in zip(out, cut):
        row[:len(s)] = s
    return out, lengths
