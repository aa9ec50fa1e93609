"""W4: a character-level LSTM language model, profondo against PyTorch's nn.LSTM on the CPU.

Vocabulary 65, embedding 64, one LSTM layer of 256, sequence 64, batch 32; the loss is
the cross-entropy at every step, backpropagated through all 64 steps (full BPTT), then an
Adam update (one row) or an SGD-momentum update (another). The two frameworks alternate, repeat after repeat, in one process with the
same thread count, and the report gives medians of steps per second.

    python benchmarks/lstm_lm.py                  # JSON to benchmarks/results/lstm_lm.json
    python benchmarks/lstm_lm.py --repeats 9 --seconds 2 --optimizers sgd
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from harness import limit_threads, side_by_side, write_report  # noqa: E402

import profondo  # noqa: E402
from profondo import functional as F  # noqa: E402
from profondo import optim  # noqa: E402
from profondo.nn.embedding import Embedding  # noqa: E402
from profondo.nn.linear import Linear  # noqa: E402
from profondo.nn.module import Module  # noqa: E402
from profondo.nn.recurrent import LSTM  # noqa: E402

VOCAB, EMBED, HIDDEN, SEQ, BATCH = 65, 64, 256, 64, 32


class ProfondoLM(Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding, self.lstm, self.head = Embedding(VOCAB, EMBED), LSTM(EMBED, HIDDEN), Linear(HIDDEN, VOCAB)

    def forward(self, ids):
        y, _ = self.lstm(self.embedding(ids))
        return self.head(y)


def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, VOCAB, (SEQ, BATCH)), rng.integers(0, VOCAB, (SEQ, BATCH))


def _optimizer(lib, name: str, params):
    return lib.Adam(params, lr=1e-3) if name == "adam" else lib.SGD(params, lr=0.1, momentum=0.9)


def profondo_step(optimizer: str = "adam"):
    model = ProfondoLM()
    opt = _optimizer(optim, optimizer, model.parameters())
    x, y = data()
    y = y.reshape(-1)

    def step():
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_step(optimizer: str = "adam"):
    import torch

    class TorchLM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB, EMBED)
            self.lstm, self.head = torch.nn.LSTM(EMBED, HIDDEN), torch.nn.Linear(HIDDEN, VOCAB)

        def forward(self, ids):
            y, _ = self.lstm(self.embedding(ids))
            return self.head(y)

    model = TorchLM()
    opt = _optimizer(torch.optim, optimizer, model.parameters())
    x, y = (torch.from_numpy(a) for a in data())
    y = y.reshape(-1)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum time per measurement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--optimizers", default="adam,sgd", help="comma-separated: adam, sgd")
    parser.add_argument("--json", default="benchmarks/results/lstm_lm.json")
    args = parser.parse_args()

    import torch

    blas = limit_threads(args.threads)
    rows = []
    print(f"{'row':<4} {'workload':<60} {'profondo':>9} {'pytorch':>9} {'unit':<8} {'ratio':>6}")
    for name in args.optimizers.split(","):
        label = {"adam": "Adam", "sgd": "SGD momentum"}[name]
        profondo.manual_seed(0)
        torch.manual_seed(0)
        p, t, ours, theirs = side_by_side(profondo_step(name), torch_step(name), args.repeats, args.seconds)
        rows.append({"row": "W4", "workload": f"char LSTM LM: vocab {VOCAB}, embed {EMBED}, LSTM {HIDDEN}, seq {SEQ}, "
                                              f"batch {BATCH}, full BPTT, {label}", "unit": "steps/s",
                     "profondo": p, "pytorch": t, "profondo_chars_per_s": p * SEQ * BATCH,
                     "pytorch_chars_per_s": t * SEQ * BATCH, "ratio": p / t, "profondo_all": ours, "pytorch_all": theirs})
        print(f"W4   {'char LSTM LM 65/64/256, seq 64, batch 32, ' + label:<60} {p:>9.2f} {t:>9.2f} {'steps/s':<8} "
              f"{p / t:>6.2f}")
        sys.stdout.flush()
    write_report(args.json, rows, blas, args.threads, args.repeats, args.seconds)
    print(f"(medians of {args.repeats} alternating repeats; ratio > 1 means profondo is faster; JSON: {args.json})")


if __name__ == "__main__":
    main()
