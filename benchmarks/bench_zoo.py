"""Benchmark of the model zoo: training speed, and the paper's transfer claims on it.

Printed as markdown::

    python -m benchmarks.bench_zoo                    # speed subset + transfer table
    python -m benchmarks.bench_zoo --sections speed   # only the speed ratio
    python -m benchmarks.bench_zoo --speed-grid full  # time the whole default zoo both ways

1. Speed: the models of the default zoo that share (batch size, width) -- 18 each:
   3 training-set sizes x 2 label-noise rates x 3 seeds -- trained as one vectorised
   network (:func:`featurizers.zoo.train_stacked`) against a plain per-model loop
   (:func:`featurizers.zoo.train_one`, ``torch.optim.SGD``), in the same run, on the
   same initialisations and batches; the weights of both are compared. The
   ``subset`` grid times the batches of widths 4 and 64 (the cheapest and the
   dearest) at every batch size; ``full`` every batch of the zoo.
2. Transfer: the default zoo from :func:`featurizers.zoo.train_zoo` (read from the
   cache when there), featurized and labelled, and the method comparison of
   :mod:`sklearn_mdtree.compare` as learning curves over k (means and standard
   deviations over the 5 seeds of the paper), followed by the thresholds the MD tree
   finds with the hierarchy's bounds and with ``bounds="data"``.
3. OOD (``--sections ood``): Appendix E's out-of-distribution scenario in
   miniature, the noisy zoo tested and labelled on corrupted digits.
4. Long-tailed (``--sections lt``): test models trained on a class-imbalanced
   subset of the digits (imbalance ratio 10), the clean zoo as training set.
5. Architecture (``--sections arch``): a zoo of small CNNs diagnosed by the MLP zoo.

Torch runs on one thread (the zoo does the same): for these tiny networks a second
thread only adds synchronisation on shared cores.
"""

import argparse
import copy
import os
import sys
import time

import torch

from featurizers.zoo import (
    Configuration,
    ZooGrid,
    batch_schedule,
    digits_task,
    noisy_labels,
    tanh_mlp,
    train_one,
    train_stacked,
    train_zoo,
    zoo_preset,
)
from featurizers.zoo.demo import demo_transfers


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def _load():
    return os.getloadavg()[0]


def _batch(grid, bs, width, X, y):
    jobs = [(n, noise, seed) for n in grid.data_amount for noise in grid.noise
            for seed in grid.seeds]
    models = []
    for n, noise, seed in jobs:
        torch.manual_seed(seed)
        models.append(tanh_mlp(Configuration(noise, grid.lr[0], n, width, bs)))
    labels = torch.stack([noisy_labels(y, noise, 10) for _, noise, _ in jobs])
    schedules = torch.stack([batch_schedule(n, bs, grid.steps, seed) for n, _, seed in jobs])
    return models, labels, schedules


def speed_section(which, n_loop_models):
    from dataclasses import replace

    # a fixed number of steps, so that the models of one (batch size, width) form one
    # batch (the default preset trains fixed epochs: its batches also share n)
    grid = replace(zoo_preset("default"), steps=1500, epochs=None, lr=(0.1,),
                   seeds=(0, 1, 2))
    (X, y), _ = digits_task()
    widths = grid.width if which == "full" else (grid.width[0], grid.width[-1])
    lines = [
        "## 1. Training speed: vectorised against a per-model loop",
        "",
        f"Default zoo, {grid.steps} SGD steps (lr 0.1, momentum 0.9) per model; one "
        "batch = the 18 models of one (batch size, width). torch "
        f"{torch.__version__}, 1 thread, {os.cpu_count()} cores; load average at the "
        f"start {_load():.1f}."
        + (f" The loop trains the first {n_loop_models} models of each batch; its time is "
           "scaled to the 18 (models train independently)." if n_loop_models else ""),
        "",
        "| batch size | width | models | vectorised (s) | loop (s) | ratio | max weight diff |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total_v = total_l = 0.0
    for bs in grid.bs:
        for width in widths:
            models, labels, schedules = _batch(grid, bs, width, X, y)
            n_loop = min(n_loop_models or len(models), len(models))
            loop_models = copy.deepcopy(models[:n_loop])
            lrs = [grid.lr[0]] * len(models)
            start = time.perf_counter()
            train_stacked(models, X, labels, schedules, lrs=lrs)
            vec = time.perf_counter() - start
            start = time.perf_counter()
            for m, model in enumerate(loop_models):
                train_one(model, X, labels[m], schedules[m], lr=lrs[m])
            # per-model cost of the loop, for the batch's 18 models
            loop = (time.perf_counter() - start) * len(models) / n_loop
            with torch.no_grad():
                diff = max(
                    float((a - b).abs().max())
                    for ma, mb in zip(models, loop_models)
                    for a, b in zip(ma.parameters(), mb.parameters())
                )
            total_v, total_l = total_v + vec, total_l + loop
            lines.append(f"| {bs} | {width} | {len(models)} | {vec:.2f} | {loop:.2f} | "
                         f"{loop / vec:.1f}x | {diff:.1e} |")
            log(f"speed bs={bs} width={width}: {vec:.2f} s vs {loop:.2f} s")
    lines += [
        "",
        "Max weight diff: between the two paths after all steps, on the models both "
        "trained.",
        f"Total: vectorised {total_v:.1f} s, loop {total_l:.1f} s: **{total_l / total_v:.1f}x** "
        f"({total_v / (len(widths) * len(grid.bs) * 18):.3f} s/model against "
        f"{total_l / (len(widths) * len(grid.bs) * 18):.3f}); load average at the end "
        f"{_load():.1f}.",
        "The weights differ by float rounding only at the first steps (1e-7, see the "
        "tests); SGD at lr 0.1 with momentum is chaotic, so over 1500 steps the two paths "
        "drift apart as two runs on different BLAS kernels would.",
    ]
    return lines


def bounds_lines(table):
    from sklearn_mdtree import MDTreeClassifier

    clean = table[(table["collection"] == "normal") & (table["bs_failure"] != "optimal")]
    noisy = table[(table["collection"] == "noise") & (table["bs_failure"] != "optimal")]
    lines = [
        "### What the bounds do to the Q1 MD tree (fitted on all of the clean zoo)",
        "",
        "| search | bounds | t0 (train_error) | t1 (connectivity) | t2 (ln trace) | "
        "searched in (t2) | train acc | noisy acc |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for search in ("brent", "exhaustive"):
        for bounds in ("hierarchy", "data"):
            tree = MDTreeClassifier("q1", threshold_search=search, bounds=bounds)
            tree.fit(clean, clean["bs_failure"])
            t = tree.thresholds_
            lo, hi = tree.bounds_["t2"]
            lines.append(
                f"| {search} | {bounds} | {t['t0']:.3f} | {t['t1']:.2f} | {t['t2']:.3f} | "
                f"[{lo:.2f}, {hi:.2f}] | {100 * tree.train_score_:.1f} | "
                f"{100 * tree.score(noisy, noisy['bs_failure']):.1f} |"
            )
    return lines


def transfer_section(cache_dir, n_jobs):
    from sklearn_mdtree.compare import curves_table, learning_curves

    start = time.perf_counter()
    zoo = train_zoo("default", cache_dir=cache_dir, n_jobs=n_jobs, verbose=1)
    trained = time.perf_counter()
    table = zoo.featurize(n_jobs=n_jobs)
    featurized = time.perf_counter()
    curves = learning_curves(table, demo_transfers(zoo.grid), n_jobs=n_jobs, progress=True)
    compared = time.perf_counter()
    counts = table.groupby("collection")["bs_failure"].value_counts().unstack(fill_value=0)
    q2 = table.groupby("collection")["width_vs_batch"].value_counts().unstack(fill_value=0)
    lines = [
        "## 2. The paper's transfer claims on the default zoo",
        "",
        f"{zoo.grid.n_configurations} configurations, {zoo.grid.n_models} models; "
        f"trained {zoo.stats['models_trained']} / read {zoo.stats['models_loaded']}, "
        f"feature rows computed {zoo.stats['rows_computed']} / read "
        f"{zoo.stats['rows_loaded']}. Time: training {trained - start:.0f} s, featurizing "
        f"{featurized - trained:.0f} s, comparison {compared - featurized:.0f} s (load "
        f"average {_load():.1f}). Hessian trace <= 0 (ln floored at ln 0.01): "
        f"{int(table['hessian_t_floored'].sum())} configurations.",
        "",
        "Labels per collection (Q1, then Q2):",
        "",
        "```",
        counts.to_string(),
        "",
        q2.to_string(),
        "```",
        "",
        "Range of the metrics (clean / noisy): "
        + "; ".join(
            f"{c} {table[table.collection == 'normal'][c].min():.1f}.."
            f"{table[table.collection == 'normal'][c].max():.1f} / "
            f"{table[table.collection == 'noise'][c].min():.1f}.."
            f"{table[table.collection == 'noise'][c].max():.1f}"
            for c in ("train_error", "mode_connectivity_peak", "hessian_t")
        ) + ".",
        "",
        "Accuracy (%) on the noisy zoo (F'), mean ± std over seeds 42, 90, 38, 18, 72:",
        "",
        curves_table(curves),
        "",
    ]
    return lines + bounds_lines(table), curves


def corrupted(X, *, sigma=0.3, seed=0):
    """Digits with Gaussian pixel noise and one random 3x3 patch blanked (digits-C)."""
    g = torch.Generator().manual_seed(seed)
    X = (X + sigma * torch.randn(X.shape, generator=g)).clamp(0, 1).reshape(-1, 8, 8)
    rows = torch.randint(0, 6, (len(X),), generator=g)
    cols = torch.randint(0, 6, (len(X),), generator=g)
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist())):
        X[i, r:r + 3, c:c + 3] = 0
    return X.reshape(-1, 64)


def ood_section(cache_dir, n_jobs):
    """Appendix E in miniature: the noisy zoo tested (and labelled) on corrupted digits."""
    import numpy as np
    import pandas as pd

    from featurizers import evaluate_model
    from sklearn_mdtree.compare import METHODS, Transfer, curves_table, learning_curves
    from sklearn_mdtree.rfi import LABEL_COLUMNS, RFI_COLUMNS, label_configurations

    zoo = train_zoo("default", cache_dir=cache_dir, verbose=0)
    table = zoo.featurize(verbose=0)
    _, (X_test, y_test) = digits_task()
    X_ood = corrupted(X_test)
    rows = []
    with torch.no_grad():
        for group in zoo.groups:
            results = [evaluate_model(m, (X_ood, y_test)) for m in group.models]
            rows.append((np.mean([e for e, _ in results]), np.mean([v for _, v in results])))
    ood = table.copy()
    noisy = ood["collection"] == "noise"
    errors = np.array(rows)
    ood.loc[noisy, "test_error"] = errors[noisy.to_numpy(), 0]
    ood.loc[noisy, "test_loss"] = errors[noisy.to_numpy(), 1]
    ood.loc[noisy, "test_acc"] = 100 - ood.loc[noisy, "test_error"]
    relabelled = label_configurations(
        ood[noisy].drop(columns=list(RFI_COLUMNS) + list(LABEL_COLUMNS))
    )
    ood = pd.concat([ood[~noisy], relabelled[ood.columns]]).loc[ood.index]
    grid = zoo.grid
    n_pairs = len(grid.width) * len(grid.data_amount)
    transfer = Transfer("Q1 OOD: fit on the clean zoo (ID labels), test on the noisy zoo "
                        "labelled and validated on corrupted digits", "bs_failure",
                        "random_pairs", tuple(k for k in (1, 2, 4, 8, 12) if k < n_pairs))
    curves = learning_curves(ood, [transfer], methods=METHODS, n_jobs=n_jobs)
    test = ood[noisy & (ood["bs_failure"] != "optimal")]
    lines = [
        "## 3. Appendix E in miniature: out-of-distribution test data",
        "",
        "The noisy zoo's models evaluated on a corrupted copy of the digits test set "
        "(Gaussian pixel noise, sigma 0.3, and one random 3x3 patch blanked), and labelled by "
        "room for improvement on that error; the training rows (clean zoo) keep their "
        "in-distribution labels and validation metrics, as in the paper's CIFAR-10-C study. "
        f"OOD test error {ood.loc[noisy, 'test_error'].min():.1f}.."
        f"{ood.loc[noisy, 'test_error'].max():.1f}% "
        f"(in distribution {table.loc[noisy, 'test_error'].min():.1f}.."
        f"{table.loc[noisy, 'test_error'].max():.1f}%); Q1 test labels "
        f"{test['bs_failure'].value_counts().to_dict()}; labels changed by the shift: "
        f"{int((ood.loc[noisy, 'bs_failure'] != table.loc[noisy, 'bs_failure']).sum())} of "
        f"{int(noisy.sum())}.",
        "",
        curves_table(curves),
    ]
    return lines


def long_tailed(X, y, *, ratio=10, seed=0):
    """A class-imbalanced subset: class c keeps n_max * ratio**(-c / 9) samples (digits-LT)."""
    g = torch.Generator().manual_seed(seed)
    n_max = int(torch.bincount(y).min())
    keep = []
    for c in range(10):
        where = torch.nonzero(y == c).flatten()
        n = max(1, round(n_max * ratio ** (-c / 9)))
        keep.append(where[torch.randperm(len(where), generator=g)[:n]])
    keep = torch.cat(keep)
    keep = keep[torch.randperm(len(keep), generator=g)]
    return X[keep], y[keep]


def long_tailed_section(cache_dir, n_jobs):
    """Appendix E in miniature: test models trained on long-tailed digits."""
    import pandas as pd

    from sklearn_mdtree.compare import METHODS, Transfer, curves_table, learning_curves

    clean = train_zoo("default", cache_dir=cache_dir, verbose=0).featurize(verbose=0)
    clean = clean[clean["collection"] == "normal"]
    (X, y), test = digits_task()
    X_lt, y_lt = long_tailed(X, y)
    base = zoo_preset("default")
    n = len(X_lt)
    grid = ZooGrid(width=base.width, bs=base.bs, noise=(0.0,), seeds=base.seeds,
                   steps=base.steps, epochs=base.epochs, lr=base.lr,
                   data_amount=(n // 3, 2 * n // 3, n))
    start = time.perf_counter()
    zoo = train_zoo(grid, data=(X_lt, y_lt), test_data=test, cache_dir=cache_dir,
                    n_jobs=n_jobs, verbose=1)
    lt = zoo.featurize(n_jobs=n_jobs).assign(collection="noise")
    seconds = time.perf_counter() - start
    frame = pd.concat([clean, lt], ignore_index=True)
    n_pairs = len(base.width) * len(base.data_amount)
    transfer = Transfer("Q1 long-tailed: fit on the clean zoo, test on a zoo trained on "
                        "long-tailed digits", "bs_failure", "random_pairs",
                        tuple(k for k in (1, 2, 4, 8, 12) if k < n_pairs))
    curves = learning_curves(frame, [transfer], methods=METHODS, n_jobs=n_jobs)
    test_rows = lt[lt["bs_failure"] != "optimal"]
    return [
        "## 4. Appendix E in miniature: class-imbalanced training",
        "",
        f"Test zoo: the default grid trained on a long-tailed subset of the training pool "
        f"(imbalance ratio 10, {n} samples, class counts "
        f"{torch.bincount(y_lt).tolist()}; training sets {list(grid.data_amount)}), clean "
        f"labels, evaluated on the balanced test set; {seconds:.0f} s to train and featurize "
        f"(trained {zoo.stats['models_trained']}, read {zoo.stats['models_loaded']}). Q1 "
        f"test labels {test_rows['bs_failure'].value_counts().to_dict()}.",
        "",
        curves_table(curves),
    ]


class SmallCNN(torch.nn.Module):
    """Conv 3x3 (``width`` channels) -> tanh -> 2x2 max-pool -> linear, on the 8x8 digits.

    No BatchNorm and no dropout, so that the zoo trains it in the vectorised path
    (through :func:`torch.vmap`).
    """

    def __init__(self, width):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, width, 3, padding=1)
        self.fc = torch.nn.Linear(width * 16, 10)

    def forward(self, x):
        h = torch.tanh(self.conv(x.reshape(-1, 1, 8, 8)))
        return self.fc(torch.nn.functional.max_pool2d(h, 2).flatten(1))


def small_cnn(config):
    return SmallCNN(config.width)


def architecture_section(cache_dir, n_jobs):
    """Appendix E in miniature: an MLP zoo diagnosing a zoo of small CNNs."""
    import pandas as pd

    from featurizers.zoo import Recipe
    from sklearn_mdtree.compare import METHODS, Transfer, curves_table, learning_curves

    clean = train_zoo("default", cache_dir=cache_dir, verbose=0).featurize(verbose=0)
    clean = clean[clean["collection"] == "normal"]
    base = zoo_preset("default")
    grid = ZooGrid(width=(2, 4, 8, 16), bs=base.bs, data_amount=base.data_amount,
                   noise=(0.0,), seeds=base.seeds, steps=base.steps, epochs=base.epochs,
                   lr=base.lr)
    start = time.perf_counter()
    zoo = train_zoo(grid, model_factory=small_cnn, recipe=Recipe(name="digits-small-cnn"),
                    cache_dir=cache_dir, n_jobs=n_jobs, verbose=1)
    cnn = zoo.featurize(n_jobs=n_jobs).assign(collection="noise")
    seconds = time.perf_counter() - start
    frame = pd.concat([clean, cnn], ignore_index=True)
    n_pairs = len(base.width) * len(base.data_amount)
    transfer = Transfer("Q1 architecture: fit on the MLP zoo, test on a zoo of small CNNs",
                        "bs_failure", "random_pairs",
                        tuple(k for k in (1, 2, 4, 8, 12) if k < n_pairs))
    curves = learning_curves(frame, [transfer], methods=METHODS, n_jobs=n_jobs)
    test_rows = cnn[cnn["bs_failure"] != "optimal"]
    return [
        "## 5. Appendix E in miniature: architecture transfer (MLP -> CNN)",
        "",
        f"Test zoo: small CNNs (conv 3x3 with {list(grid.width)} channels, tanh, 2x2 "
        f"max-pool, linear; {zoo.groups[0].n_parameters}..{zoo.groups[-1].n_parameters} "
        f"parameters) on the default grid's batch sizes and training sets, clean labels; "
        f"{seconds:.0f} s to train (vectorised, vmap) and featurize (trained "
        f"{zoo.stats['models_trained']}, read {zoo.stats['models_loaded']}). Q1 test "
        f"labels {test_rows['bs_failure'].value_counts().to_dict()}.",
        "",
        curves_table(curves),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="*", default=["speed", "transfer"],
                        choices=["speed", "transfer", "ood", "lt", "arch"])
    parser.add_argument("--speed-grid", choices=["subset", "full"], default="subset")
    parser.add_argument("--loop-models", type=int, default=None,
                        help="time the loop on this many models of each batch, scaled to "
                        "all (default: all 18)")
    parser.add_argument("--cache-dir", default=None, help="the zoo's cache (default: data home)")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--curves-csv", default=None, help="also write the curves to this CSV")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    lines = ["# Model zoo benchmark", ""]
    if "speed" in args.sections:
        lines += speed_section(args.speed_grid, args.loop_models) + [""]
    if "transfer" in args.sections:
        more, curves = transfer_section(args.cache_dir, args.n_jobs)
        lines += more + [""]
        if args.curves_csv:
            curves.to_csv(args.curves_csv, index=False)
    if "ood" in args.sections:
        lines += ood_section(args.cache_dir, args.n_jobs) + [""]
    if "lt" in args.sections:
        lines += long_tailed_section(args.cache_dir, args.n_jobs) + [""]
    if "arch" in args.sections:
        lines += architecture_section(args.cache_dir, args.n_jobs) + [""]
    lines.append(f"Total benchmark time: {time.perf_counter() - start:.0f} s.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
