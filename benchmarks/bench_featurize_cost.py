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
   process (wall time, imports included, the command's defaults and default threads:
   no ``OMP_NUM_THREADS``, the thread policy of :mod:`featurizers._threads` decides)
   against two yardsticks: the training loop in this process (one thread, warm) and
   training as a fresh process (import torch, read the data, train on one thread, save
   the checkpoints). The three are alternated ``--repeats`` times (5) in an order
   reversed from one repeat to the next, with the load average before each run; the
   median of the per-repeat ratios, their range and the load range, for wall times and
   for CPU times (user + system, which waiting for a core does not inflate).
   ``--variants default one-pair`` also runs the command with ``--n-pairs 1``.

3. **Threads** (``--sections threads``, not run by default): the default transform at
   ``torch_threads=1`` and ``2``, alternated twice, with the load average of each.

``uptime`` is printed beside each section: the machine's load changes the figures.

Usage::

    python -m benchmarks.bench_featurize_cost [--models mlp cnn resnet]
        [--sections features process threads] [--repeats 5]
        [--variants default one-pair] [--json FILE]
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
    # the Hessian benchmark's ResNet-18; imported here, as it imports the Hessian peers,
    # which the other groups' `mdtree featurize` processes need not pay for
    from benchmarks.bench_hessian import ResNet18

    return ResNet18(8)


FACTORIES = {"mlp": mlp, "cnn": cnn, "resnet": resnet}


def data(name):
    """``(X, y)`` float32 / int64 tensors of the group's training set (seeded, local)."""
    from sklearn.datasets import load_digits  # here: the factories' module stays light

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


#: Variants of the whole-process run: the command's defaults, and with one pair of
#: models for connectivity (the library's default) for comparison.
PROCESS_VARIANTS = {"default": [], "one-pair": ["--n-pairs", "1"]}


def _default_env():
    """The environment without thread settings: the command's own policy decides."""
    drop = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    return {k: v for k, v in os.environ.items() if k not in drop}


def process_run(name, paths, folder, extra=(), env=None):
    """Wall and CPU time (user + system) of ``mdtree featurize`` in a fresh process,
    and its own import time."""
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
           "--random-state", "0", "--output", str(out), "--quiet", *extra]
    cpu_before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True,
                          env=_default_env() if env is None else env,
                          cwd=Path(__file__).resolve().parents[1])
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        raise RuntimeError(f"mdtree featurize failed:\n{done.stderr}")
    times = [line for line in done.stderr.splitlines() if line.startswith("TIMES")]
    imports, rest = (float(v) for v in times[-1].split()[1:])
    return wall, imports, rest, cpu


def _children_cpu():
    """User + system CPU seconds of this process's finished children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _feature_row(path):
    """The first row of a features CSV as ``{column: value}`` (floats where numeric)."""
    import csv

    with open(path, newline="") as f:
        row = next(csv.DictReader(f))
    out = {}
    for key, value in row.items():
        try:
            out[key] = float(value) if value != "" else None
        except ValueError:
            out[key] = value
    return out


def training_seconds(name, X, y):
    """Wall and CPU seconds to train the group's models again on one thread (nothing
    written)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for seed in SEEDS:
            train(name, seed, X, y)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        torch.set_num_threads(before)


def training_process(name, folder):
    """Wall and CPU seconds of training the group in a fresh process (one torch thread,
    default threads otherwise): import torch, read the data file, train, save the state
    dicts -- the counterpart of ``mdtree featurize``'s whole process."""
    code = (
        "import sys, numpy as np, torch\n"
        "from benchmarks.bench_featurize_cost import SEEDS, train\n"
        "torch.set_num_threads(1)\n"
        "name, folder = sys.argv[1], sys.argv[2]\n"
        "d = np.load(f'{folder}/{name}-train.npz')\n"
        "X, y = torch.from_numpy(d['X']), torch.from_numpy(d['y'])\n"
        "for seed in SEEDS:\n"
        "    torch.save(train(name, seed, X, y).state_dict(),\n"
        "               f'{folder}/{name}-retrained-{seed}.pt')\n"
    )
    cpu_before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, name, str(folder)],
                          capture_output=True, text=True, env=_default_env(),
                          cwd=Path(__file__).resolve().parents[1])
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"training process failed:\n{done.stderr}")
    return wall, _children_cpu() - cpu_before


#: The two yardsticks: the training loop in this process (warm: torch imported, its
#: optimizer's first-step imports done) and training as a fresh process.
YARDSTICKS = {"loop": "training loop", "process": "training process"}


def process_pairs(name, paths, folder, train_data, repeats=5, variants=("default",)):
    """Training and ``mdtree featurize`` alternated ``repeats`` times.

    Each repeat trains the group twice -- in this process (one thread; the loop alone)
    and as a fresh process (:func:`training_process`) -- and runs the command once per
    variant (a fresh process with the command's default threads), in an order reversed
    from one repeat to the next, so that a load that drifts weighs on both sides alike.
    Returns one dict per repeat: the 1-minute load average before each run, and per run
    (``"loop"``, ``"process"`` and the variants) the wall and CPU (user + system)
    seconds; per variant also its import seconds and the row the command wrote
    (features and standard errors). CPU times are what each side computed, which other
    jobs' load inflates less than wall times (a process waiting for a core accrues none).
    """
    X, y = train_data
    rows = []
    for i in range(repeats):
        order = ["loop", "process", *variants]
        if i % 2:
            order.reverse()
        row = {"order": order, "load": {}, "wall": {}, "cpu": {}, "imports": {},
               "features": {}}
        for run in order:
            row["load"][run] = os.getloadavg()[0]
            if run == "loop":
                row["wall"][run], row["cpu"][run] = training_seconds(name, X, y)
            elif run == "process":
                row["wall"][run], row["cpu"][run] = training_process(name, folder)
            else:
                wall, imports, _, cpu = process_run(name, paths, folder,
                                                    PROCESS_VARIANTS[run])
                row["wall"][run], row["imports"][run], row["cpu"][run] = wall, imports, cpu
                row["features"][run] = _feature_row(folder / f"{name}-features.csv")
        rows.append(row)
        log(f"{name} repeat {i}: " + ", ".join(f"{r} {row['wall'][r]:.2f} s" for r in order)
            + f" (load {min(row['load'].values()):.1f}-{max(row['load'].values()):.1f})")
    return rows


def summarize_pairs(rows, variants):
    """Per variant and yardstick (``"loop"``, ``"process"``): the median of the
    per-repeat ratios (variant / yardstick) and their range, for wall and for CPU
    times; the median seconds of every run, the variants' import seconds, and the load
    range of all runs."""
    loads = [v for row in rows for v in row["load"].values()]
    out = {"load": (min(loads), max(loads))}
    for run in (*YARDSTICKS, *variants):
        out[run] = {kind: float(np.median([row[kind][run] for row in rows]))
                    for kind in ("wall", "cpu")}
    for variant in variants:
        out[variant]["imports"] = float(np.median([row["imports"][variant] for row in rows]))
        for yardstick in YARDSTICKS:
            for kind in ("wall", "cpu"):
                ratios = [row[kind][variant] / row[kind][yardstick] for row in rows]
                out[variant][f"{kind}/{yardstick}"] = (
                    float(np.median(ratios)), min(ratios), max(ratios))
    return out


def process_section(name, paths, folder, train_data, repeats=5, variants=("default",)):
    rows = process_pairs(name, paths, folder, train_data, repeats, variants)
    runs = (*YARDSTICKS, *variants)
    labels = {**YARDSTICKS, **{v: f"`{v}`" for v in variants}}
    lines = [f"uptime: {uptime()}", "",
             "| repeat | order | load (1 min) | "
             + " | ".join(f"{labels[r]}: wall / CPU (s)" for r in runs) + " |",
             "| --- " * (3 + len(runs)) + "|"]
    for i, row in enumerate(rows):
        lines.append(f"| {i} | {', '.join(row['order'])} | "
                     f"{min(row['load'].values()):.1f}-{max(row['load'].values()):.1f} | "
                     + " | ".join(f"{row['wall'][r]:.2f} / {row['cpu'][r]:.2f}" for r in runs)
                     + " |")
    summary = summarize_pairs(rows, variants)
    low, high = summary["load"]
    lines += ["", f"Median of the per-repeat ratios over {len(rows)} repeats (load "
              f"{low:.1f}-{high:.1f}), with their range; median seconds: training loop "
              f"{summary['loop']['wall']:.2f} wall / {summary['loop']['cpu']:.2f} CPU, "
              f"training process {summary['process']['wall']:.2f} / "
              f"{summary['process']['cpu']:.2f}.", "",
              "| variant | wall (s) | import (s) | wall / training loop | CPU / training loop "
              "| wall / training process | CPU / training process |",
              "| --- | --- | --- | --- | --- | --- | --- |"]

    def cell(values, bold=False):
        median, low, high = values
        text = f"{median:.2f}x"
        return (f"**{text}**" if bold else text) + f" ({low:.2f}-{high:.2f})"

    for variant in variants:
        v = summary[variant]
        lines.append(f"| `{variant}` | {v['wall']:.2f} | {v['imports']:.2f} | "
                     f"{cell(v['wall/loop'], True)} | {cell(v['cpu/loop'])} | "
                     f"{cell(v['wall/process'], True)} | {cell(v['cpu/process'])} |")
    return lines, {"rows": rows, "summary": summary}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(FACTORIES), choices=list(FACTORIES))
    parser.add_argument("--sections", nargs="+", default=["features", "process"],
                        choices=["features", "process", "threads"])
    parser.add_argument("--repeats", type=int, default=5,
                        help="process section: training / featurize repeats (default 5)")
    parser.add_argument("--variants", nargs="+", default=["default"],
                        choices=list(PROCESS_VARIANTS),
                        help="process section: command variants run in each repeat "
                        "(default: the command's defaults; one-pair adds --n-pairs 1)")
    parser.add_argument("--json", default=None,
                        help="also write the process section's figures here")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1; got {args.repeats}")
    from featurizers import ModelGroup

    print("# Featurize cost against training\n")
    print(f"torch {torch.__version__}, {os.cpu_count()} cores; training and the per-feature "
          "timings on one torch thread; `mdtree featurize` with the command's default "
          "threads (no OMP_NUM_THREADS).\n")
    figures = {}
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
                lines, figures[name] = process_section(
                    name, paths, folder, (X, y), args.repeats, tuple(args.variants))
                print("\n".join(lines) + "\n")
            sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
