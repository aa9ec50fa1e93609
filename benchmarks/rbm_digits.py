"""RBM pseudo-likelihood on scikit-learn's digits: profondo's RBM beside sklearn's BernoulliRBM.

Both train on the same images (the digits' 1,347 training images of profondo.data's split,
pixels / 16 in [0, 1]) with the same hidden size, learning rate, batch size and iterations,
from the same seed; both are scored by the same code on the 450 held-out images: profondo's
exact pseudo-likelihood (every unit flipped in turn), applied to sklearn's trained weights too,
and sklearn's own stochastic ``score_samples``.

    PYTHONPATH=src python benchmarks/rbm_digits.py [--hidden 100 --lr 0.06 --epochs 10]
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    from sklearn.neural_network import BernoulliRBM

    from profondo.data.datasets import digits
    from profondo.unsupervised import RBM

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.06)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results to this file")
    a = p.parse_args()
    train = digits("train").x.reshape(-1, 64)
    test = digits("test").x.reshape(-1, 64)

    def scored(rbm: RBM, seconds: float, name: str) -> dict:
        pl = rbm.pseudo_likelihood(test)
        return {"model": name, "test_pseudo_likelihood": float(pl.mean()),
                "train_pseudo_likelihood": float(rbm.pseudo_likelihood(train).mean()),
                "test_reconstruction_mse": rbm.reconstruction_error(test), "seconds": round(seconds, 2)}

    rows = []
    t = time.perf_counter()
    sk = BernoulliRBM(n_components=a.hidden, learning_rate=a.lr, batch_size=a.batch_size, n_iter=a.epochs,
                      random_state=a.seed).fit(train)
    seconds = time.perf_counter() - t
    as_ours = RBM(64, a.hidden)  # sklearn's weights, scored by the same code
    as_ours.weight[...] = sk.components_
    as_ours.visible_bias[...] = sk.intercept_visible_
    as_ours.hidden_bias[...] = sk.intercept_hidden_
    row = scored(as_ours, seconds, "sklearn BernoulliRBM (PCD-1)")
    row["sklearn_score_samples"] = float(sk.score_samples(test).mean())
    rows.append(row)
    settings = {"PCD-1 (sklearn's algorithm)": dict(persistent=True),
                "CD-1": dict(persistent=False),
                "CD-1, momentum 0.5->0.9, weight decay 1e-4": dict(persistent=False, momentum=(0.5, 0.9),
                                                                   weight_decay=1e-4)}
    for name, options in settings.items():
        t = time.perf_counter()
        rbm = RBM(64, a.hidden, seed=a.seed).fit(train, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, **options)
        row = scored(rbm, time.perf_counter() - t, f"profondo RBM {name}")
        row["sklearn_score_samples"] = float(rbm.pseudo_likelihood(test, exact=False).mean())
        rows.append(row)
    print(f"hidden {a.hidden}, lr {a.lr}, batch {a.batch_size}, {a.epochs} epochs, seed {a.seed}; "
          f"{len(train)} training / {len(test)} test digits")
    print(f"{'model':48s} {'test PL':>9s} {'train PL':>9s} {'PL (1 bit)':>10s} {'recon MSE':>9s} {'s':>6s}")
    for r in rows:
        print(f"{r['model']:48s} {r['test_pseudo_likelihood']:9.3f} {r['train_pseudo_likelihood']:9.3f} "
              f"{r['sklearn_score_samples']:10.3f} {r['test_reconstruction_mse']:9.4f} {r['seconds']:6.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"settings": {k: v for k, v in vars(a).items() if k != "json"}, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
