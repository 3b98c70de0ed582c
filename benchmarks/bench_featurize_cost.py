"""Cost of featurizing a group against training it, as the paper's Table 3 reports.

Three groups of three models, all on data generated here (scikit-learn's digits, nothing
downloaded), each trained for ``EPOCHS`` epochs of SGD (batch 32, momentum 0.9) with one
torch thread:

* ``mlp``: a ReLU MLP 64-64-64-10 on 1347 digits (8x8, flattened);
* ``cnn``: a small CNN (two conv-BN-ReLU stages of 16 and 32 channels, a max-pool and a
  linear head) on the same 1347 digits as 1x8x8 images;
* ``resnet``: a CIFAR-style ResNet-18 of width 8 on 384 digits upsampled to 3x32x32.

Then, printed as markdown:

1. **Per feature**, in this process with one torch thread: the time of
   ``LossLandscapeFeaturizer([feature]).transform`` for ``train_error``, the curves
   (``mode_connectivity_peak``), the Hessian (``hessian_t``) and ``CKA``, and of the
   default featurization (all four), each as a share of the group's training time
   (the paper: connectivity 7.04%, sharpness 0.244% of training ResNet-18 on CIFAR-10),
   and with the settings ``mdtree featurize`` uses (``n_pairs="all"``: three curves
   for three models instead of one; ``return_se=True``).
2. **Whole process**: ``mdtree featurize`` on the group's checkpoint files in a fresh
   process (wall time, import included), with the default settings, against the
   training time: once with ``OMP_NUM_THREADS=1`` and once with torch's defaults (the
   thread policy of :mod:`featurizers._threads` then decides), and the process's own
   report of its import and transform times.

3. **Threads** (``--sections threads``, not run by default): the default transform at
   ``torch_threads=1`` and ``2``, alternated twice, with the load average of each.

``uptime`` is printed beside each section: the machine's load changes the figures.

Usage::

    python -m benchmarks.bench_featurize_cost [--models mlp cnn resnet]
        [--sections features process threads]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from benchmarks.bench_hessian import ResNet18  # the Hessian benchmark's ResNet-18

EPOCHS = 30
BATCH = 32
SEEDS = (0, 1, 2)
N_SAMPLES = {"mlp": 1347, "cnn": 1347, "resnet": 384}
FEATURES = ("train_error", "mode_connectivity_peak", "hessian_t", "CKA")
LABELS = {"train_error": "train_error", "mode_connectivity_peak": "curves",
          "hessian_t": "Hessian", "CKA": "CKA"}


# ----------------------------------------------------------------------- models
def mlp():
    """ReLU MLP 64-64-64-10 for flattened 8x8 digits."""
    return torch.nn.Sequential(
        torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )


def cnn():
    """Two conv-BN-ReLU stages (16, 32 channels), a max-pool, a linear head; 1x8x8 inputs."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(32 * 4 * 4, 10),
    )


def resnet():
    """ResNet-18 of width 8 for 3x32x32 inputs."""
    return ResNet18(8)


FACTORIES = {"mlp": mlp, "cnn": cnn, "resnet": resnet}


def data(name):
    """``(X, y)`` float32 / int64 tensors of the group's training set (seeded, local)."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))[: N_SAMPLES[name]]
    X = torch.tensor(X[order] / 16, dtype=torch.float32)
    y = torch.tensor(y[order], dtype=torch.int64)
    if name == "cnn":
        X = X.reshape(-1, 1, 8, 8)
    elif name == "resnet":
        X = torch.nn.functional.interpolate(X.reshape(-1, 1, 8, 8), size=32, mode="bilinear",
                                            align_corners=False).repeat(1, 3, 1, 1)
    return X, y


# ----------------------------------------------------------------------- helpers
def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def train(name, seed, X, y):
    """One model, ``EPOCHS`` epochs of SGD (lr 0.05, momentum 0.9, batch 32), in eval mode."""
    torch.manual_seed(seed)
    model = FACTORIES[name]().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(X), generator=generator).split(BATCH):
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def train_group(name, folder):
    """Train the group on one thread, write its checkpoints and data; ``(models, data, s)``."""
    X, y = data(name)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        models = [train(name, seed, X, y) for seed in SEEDS]
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(before)
    paths = []
    for seed, model in zip(SEEDS, models):
        paths.append(str(folder / f"{name}-{seed}.pt"))
        torch.save(model.state_dict(), paths[-1])
    np.savez(folder / f"{name}-train.npz", X=X.numpy(), y=y.numpy())
    return models, (X, y), paths, seconds


def transform_seconds(features, group, torch_threads=1, **params):
    from featurizers import LossLandscapeFeaturizer

    featurizer = LossLandscapeFeaturizer(list(features), random_state=0, verbose=0, **params)
    if "torch_threads" in featurizer.get_params():
        featurizer.set_params(torch_threads=torch_threads)
    before = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        start = time.perf_counter()
        row = featurizer.transform([group])
        return time.perf_counter() - start, row[0]
    finally:
        torch.set_num_threads(before)


def features_section(name, group, train_seconds):
    lines = [f"uptime: {uptime()}", ""]
    lines += ["| feature | seconds | % of training | value |", "| --- | --- | --- | --- |"]
    for feature in FEATURES:
        seconds, row = transform_seconds([feature], group)
        lines.append(f"| {LABELS[feature]} | {seconds:.3f} | {100 * seconds / train_seconds:.1f}% "
                     f"| {row[0]:.6g} |")
        log(f"{name} {feature}: {seconds:.2f} s")
    seconds, row = transform_seconds(FEATURES, group)
    lines.append(f"| default (all four) | {seconds:.3f} | {100 * seconds / train_seconds:.1f}% "
                 f"| {', '.join(f'{v:.6g}' for v in row)} |")
    seconds, row = transform_seconds(FEATURES, group, n_pairs="all", return_se=True)
    lines.append(f"| as `mdtree featurize` (all four, `n_pairs='all'`, `return_se`) | "
                 f"{seconds:.3f} | {100 * seconds / train_seconds:.1f}% "
                 f"| {', '.join(f'{v:.6g}' for v in row[:len(FEATURES)])} |")
    return lines


def threads_section(name, group, repeats=2):
    """The default transform at 1 and 2 torch threads, alternated, with the load of each."""
    from featurizers import LossLandscapeFeaturizer

    lines = ["| torch_threads | load (1 min) | seconds |", "| --- | --- | --- |"]
    for _ in range(repeats):
        for threads in (1, 2):
            load = os.getloadavg()[0]
            featurizer = LossLandscapeFeaturizer(random_state=0, verbose=0,
                                                 torch_threads=threads)
            start = time.perf_counter()
            featurizer.transform([group])
            seconds = time.perf_counter() - start
            lines.append(f"| {threads} | {load:.1f} | {seconds:.2f} |")
            log(f"{name} threads={threads}: {seconds:.2f} s at load {load:.1f}")
    return lines


def process_run(name, paths, folder, env_extra):
    """Wall time of ``mdtree featurize`` in a fresh process, and its own breakdown."""
    out = folder / f"{name}-features.csv"
    code = (
        "import sys, time; t0 = time.perf_counter()\n"
        "from sklearn_mdtree._cli import main\n"
        "import featurizers, torch; t1 = time.perf_counter()\n"
        "code = main(sys.argv[1:]); t2 = time.perf_counter()\n"
        "print('TIMES', t1 - t0, t2 - t1, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    cmd = [sys.executable, "-c", code, "featurize",
           "--model", f"benchmarks.bench_featurize_cost:{name}",
           "--checkpoints", *paths, "--train-data", str(folder / f"{name}-train.npz"),
           "--random-state", "0", "--out", str(out)]
    env = {**os.environ, **env_extra}
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"mdtree featurize failed:\n{done.stderr}")
    times = [line for line in done.stderr.splitlines() if line.startswith("TIMES")]
    imports, rest = (float(v) for v in times[-1].split()[1:])
    return wall, imports, rest


def process_section(name, paths, folder, train_seconds):
    lines = ["| threads | uptime | wall (s) | x training | import (s) | featurize (s) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for label, env in (("OMP_NUM_THREADS=1", {"OMP_NUM_THREADS": "1"}),
                       ("torch's default", {})):
        load = uptime().split("load average:")[-1].strip()
        wall, imports, rest = process_run(name, paths, folder, env)
        lines.append(f"| {label} | {load} | {wall:.2f} | {wall / train_seconds:.2f}x | "
                     f"{imports:.2f} | {rest:.2f} |")
        log(f"{name} process {label}: {wall:.1f} s")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(FACTORIES), choices=list(FACTORIES))
    parser.add_argument("--sections", nargs="+", default=["features", "process"],
                        choices=["features", "process", "threads"])
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    from featurizers import ModelGroup

    print("# Featurize cost against training\n")
    print(f"torch {torch.__version__}, {os.cpu_count()} cores; training and the per-feature "
          "timings on one torch thread.\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.models:
            log(f"training {name}")
            t_up = uptime()
            models, (X, y), paths, train_seconds = train_group(name, folder)
            n_params = sum(p.numel() for p in models[0].parameters())
            print(f"## {name} ({n_params:,} parameters, {len(X)} samples, {len(SEEDS)} models, "
                  f"{EPOCHS} epochs)\n")
            print(f"training: {train_seconds:.2f} s on one thread (uptime: {t_up})\n")
            group = ModelGroup(models, (X, y))
            if "features" in args.sections:
                print("\n".join(features_section(name, group, train_seconds)) + "\n")
            if "threads" in args.sections:
                print("\n".join(threads_section(name, group)) + "\n")
            if "process" in args.sections:
                print("\n".join(process_section(name, paths, folder, train_seconds)) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
