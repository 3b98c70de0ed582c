"""The new user's scenario of issue 10: ten groups of digits MLPs, diagnosed from files.

Ten configurations of a one-hidden-layer tanh MLP on scikit-learn's digits, three seeds
each: a reasonable one, three too hot (small batches, large learning rates), three too
cold (large batches, small learning rates), a tiny model (width 2), a large one (width
256) and one trained on 200 samples. Each model is saved as a state dict, the training
data as ``.npz``; the groups are built back from those files with
:func:`featurizers.checkpoints.load_model_group`, featurized with
``LossLandscapeFeaturizer(return_se=True, n_pairs="all")`` and diagnosed with the
ResNet-18 / CIFAR-10 trees (and the digits-MLP trees, when shipped).

Usage::

    python -m benchmarks.new_user_scenario [--curve-epochs 50] [--out features.csv]

Prints the features, the reports' summary (action, the domain checks that fired, the
path's features out of domain, the joint check's distance over its threshold,
borderline decisions, confidence) for each tree, and the time taken.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits

import sklearn_mdtree
from featurizers import LossLandscapeFeaturizer
from featurizers.checkpoints import load_model_group
from sklearn_mdtree.pretrained import available_trees

#: name -> (width, batch size, learning rate, training samples)
CONFIGS = {
    "reasonable": (32, 32, 0.1, None),
    "hot-1": (32, 4, 0.5, None),
    "hot-2": (32, 2, 1.0, None),
    "hot-3": (32, 8, 2.0, None),
    "cold-1": (32, 512, 0.01, None),
    "cold-2": (32, 1024, 0.005, None),
    "cold-3": (32, 1797, 0.002, None),
    "tiny": (2, 32, 0.1, None),
    "large": (256, 32, 0.1, None),
    "200-samples": (32, 32, 0.1, 200),
}
SEEDS = (0, 1, 2)
STEPS = 400


def mlp(width=32):
    """Linear(64, width) -> Tanh -> Linear(width, 10): the model factory of the files."""
    return torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.Tanh(),
                               torch.nn.Linear(width, 10))


def _train(width, batch_size, lr, X, y, seed):
    torch.manual_seed(seed)
    model = mlp(width)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(STEPS):
        idx = torch.randint(0, len(X), (min(batch_size, len(X)),), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def write_files(folder):
    """Train the groups; write their checkpoints and data. Returns name -> (paths, data)."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    files = {}
    for name, (width, bs, lr, n) in CONFIGS.items():
        Xs, ys = (X, y) if n is None else (X[:n], y[:n])
        data = folder / f"{name}.npz"
        np.savez(data, X=Xs, y=ys)
        tX, ty = torch.from_numpy(Xs), torch.from_numpy(ys)
        paths = []
        for seed in SEEDS:
            path = folder / f"{name}-seed{seed}.pt"
            torch.save(_train(width, bs, lr, tX, ty, seed).state_dict(), path)
            paths.append(path)
        files[name] = (paths, data, width)
    return files


def summary(report):
    rows = []
    for g in report:
        rows.append({
            "group": g.model,
            "action": g.action,
            "q1": g.q1.label,
            "checks fired": ",".join(g.out_of_domain_checks) or "-",
            "path features out": ",".join(g.out_of_domain_features) or "-",
            "joint ratio": round(max((c.ratio for c in g.joint_checks), default=float("nan")),
                                 2),
            "borderline": ",".join(d.feature for v in (g.q1, g.q2) if v is not None
                                   for d in v.decisions if d.borderline) or "-",
            "confidence": None if g.confidence is None else round(g.confidence, 3),
        })
    return pd.DataFrame(rows).set_index("group")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curve-epochs", type=int, default=50)
    parser.add_argument("--out", default=None, help="also write the features to this CSV")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp))
        trained = time.perf_counter()
        groups = [
            load_model_group(f"{__name__}:mlp", paths, data, model_kwargs={"width": width},
                             name=name, min_models=2)
            for name, (paths, data, width) in files.items()
        ]
        featurizer = LossLandscapeFeaturizer(
            return_se=True, n_pairs="all", curve_epochs=args.curve_epochs, random_state=0,
            verbose=0,
        ).set_output(transform="pandas")
        features = featurizer.fit_transform(groups)
    features.index = list(files)
    featurized = time.perf_counter()
    if args.out:
        features.to_csv(args.out, index_label="group")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(features.round(3))
        for tree in ("cifar10-resnet18", "digits-mlp"):
            if f"{tree}-q1" not in available_trees():
                print(f"\n{tree}: not shipped in this installation")
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                report = sklearn_mdtree.diagnose(features, tree)
            n_ood = sum(g.out_of_domain for g in report)
            print(f"\n{tree}: {n_ood} of {len(report)} diagnoses out of domain; "
                  f"{len(caught)} warning(s) "
                  f"{sorted({w.category.__name__ for w in caught})}")
            print(summary(report))
    print(f"\ntraining {trained - start:.1f} s, featurizing {featurized - trained:.1f} s "
          f"(curve_epochs={args.curve_epochs}, {len(SEEDS)} seeds, 1 thread)")


if __name__ == "__main__":
    main()
