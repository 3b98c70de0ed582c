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


def speed_section(which, loop_models):
    grid = zoo_preset("default")
    (X, y), _ = digits_task()
    widths = grid.width if which == "full" else (grid.width[0], grid.width[-1])
    lines = [
        "## 1. Training speed: vectorised against a per-model loop",
        "",
        f"Default zoo, {grid.steps} SGD steps (lr 0.1, momentum 0.9) per model; one "
        "batch = the 18 models of one (batch size, width). torch "
        f"{torch.__version__}, 1 thread, {os.cpu_count()} cores; load average at the "
        f"start {_load():.1f}."
        + (f" The loop trains the first {loop_models} models of each batch; its time is "
           "scaled to the 18 (models train independently)." if loop_models else ""),
        "",
        "| batch size | width | models | vectorised (s) | loop (s) | ratio | max weight diff |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total_v = total_l = 0.0
    for bs in grid.bs:
        for width in widths:
            models, labels, schedules = _batch(grid, bs, width, X, y)
            n_loop = min(loop_models or len(models), len(models))
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="*", default=["speed", "transfer"],
                        choices=["speed", "transfer"])
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
    lines.append(f"Total benchmark time: {time.perf_counter() - start:.0f} s.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
