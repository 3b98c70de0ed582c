"""Benchmark of mode connectivity (and the cost of the loss-landscape features).

Three measurements on a small zoo of tanh MLPs trained on scikit-learn's digits
(by :func:`featurizers.zoo.train_zoo`), printed as markdown::

    python -m benchmarks.bench_connectivity            # about 8 minutes on 2 busy cores
    python -m benchmarks.bench_connectivity --quick    # about 1.5 minutes
    python -m benchmarks.bench_connectivity --skip settle cost   # memory only

1. Curve epochs needed for ``mode_connectivity_peak`` to settle: for each group, the
   bend of the curve between its first two models is trained with ``epochs`` in a
   list up to 50 (each a full run with its own learning-rate schedule), from the
   midpoint of the two models (our default) and from a random initialisation (the
   original experiments'). "Settled at" is the smallest ``epochs`` from which every
   longer run is within 1 point of the 50-epoch peak.
2. Cost of connectivity (one curve, 50 epochs, evaluated at five points) and of
   sharpness (``hessian_t`` and ``hessian_e`` of every model), relative to training
   the group's models, as the paper reports (7.04% and 0.244% for ResNet-18 on
   CIFAR-10).
3. Peak memory of a featurization against the parameter count: the peak resident
   memory above the level before ``transform``, sampled every millisecond in a fresh
   process per measurement (torch allocates outside Python's allocator, so
   ``tracemalloc`` does not see tensors).

Torch and numpy's BLAS run on one thread by default (``--threads``): for models this
small, more threads only add synchronisation, and much more so when other jobs share
the cores (XTrace's QR took 0.28 s instead of 0.04 s with BLAS threads spinning).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import torch
from threadpoolctl import threadpool_limits

from featurizers import (
    LossLandscapeFeaturizer,
    ModelGroup,
    curve_errors,
    fit_bend,
    mode_connectivity_peak,
)
from featurizers.hessian._deflated import _DEFAULT_N_PROBES
from featurizers.zoo import Configuration, ZooGrid, digits_task, tanh_mlp, train_zoo

FULL = dict(
    widths=(8, 32),
    batch_sizes=(8, 128),
    n_trains=(300, 1200),
    seeds=(0, 1, 2),
    steps=1500,
    epochs=(0, 1, 2, 5, 10, 20, 30, 40, 50),
    longer=(100, 200),
    memory_widths=(16, 64, 256, 1024),
)
QUICK = dict(
    widths=(16,),
    batch_sizes=(8, 128),
    n_trains=(300,),
    seeds=(0, 1),
    steps=500,
    epochs=(0, 2, 5, 10, 20, 50),
    longer=(),
    memory_widths=(16, 256),
)
# Column name -> (features, trace_method); "deflated" is the featurizer's default.
MEMORY_FEATURES = {
    "MD tree features": (
        ["train_error", "mode_connectivity_peak", "hessian_t", "CKA"],
        "deflated",
    ),
    "hessian_t only": (["hessian_t"], "deflated"),
    "connectivity only": (["mode_connectivity_peak"], "deflated"),
    "hessian_t only, xtrace": (["hessian_t"], "xtrace"),
    "hessian_t only, hutchinson": (["hessian_t"], "hutchinson"),
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def build_zoo(config):
    """One group per (data, width, batch size), trained by :func:`featurizers.zoo.train_zoo`.

    Each group is its own one-configuration zoo, trained one model at a time
    (``vectorize=False``, the plain loop a user would write), so that its training
    time is the cost the featurization is compared with.
    """
    zoo = []
    for n_train in config["n_trains"]:
        for width in config["widths"]:
            for batch_size in config["batch_sizes"]:
                grid = ZooGrid(width=(width,), bs=(batch_size,), data_amount=(n_train,),
                               noise=(0.0,), seeds=config["seeds"], steps=config["steps"])
                trained = train_zoo(grid, cache_dir=False, vectorize=False, verbose=0)
                group, seconds = trained.groups[0], trained.stats["train_seconds"]
                group.name = f"n={n_train} w={width} b={batch_size}"
                zoo.append((group, seconds))
                log(f"trained {group.name}: {seconds:.1f} s")
    return zoo


# ---------------------------------------------------------------------------
# 1. epochs to settle


def settled_at(epochs, peaks, reference, tol=1.0):
    """Smallest epochs from which every longer run is within ``tol`` of ``reference``."""
    settled = epochs[-1]
    for e, p in zip(reversed(epochs), reversed(peaks)):
        if abs(p - reference) > tol:
            break
        settled = e
    return settled


def curve_peak(group, epochs, init):
    a, b = group.models[:2]
    bend = fit_bend(a, b, group.train_data, epochs=epochs, init=init, random_state=0)
    errors, _ = curve_errors(a, bend, b, group.train_data)
    return float(mode_connectivity_peak(errors))


def settle_section(zoo, config):
    epochs, longer = list(config["epochs"]), list(config["longer"])
    lines = [
        "## 1. Curve epochs for the peak to settle within 1 point of its 50-epoch value",
        "",
        "Peak (`mode_connectivity_peak`, percent) after each number of curve epochs, "
        f"models 0 and 1 of each group (each a separate run). Epochs: {epochs}"
        + (f"; longer runs {longer} show whether 50 epochs has converged." if longer else "."),
        "",
        "| group | init | peak at 0 | peak at 50 | "
        + "".join(f"peak at {e} | " for e in longer)
        + "settled at (epochs) | peaks |",
        "| --- | --- | --- | --- | " + "--- | " * len(longer) + "--- | --- |",
    ]
    settled = {"midpoint": [], "random": []}
    for group, _ in zoo:
        for init in ("midpoint", "random"):
            peaks = [curve_peak(group, e, init) for e in epochs]
            extra = [curve_peak(group, e, init) for e in longer]
            s = settled_at(epochs, peaks, peaks[-1])
            settled[init].append(s)
            lines.append(
                f"| {group.name} | {init} | {peaks[0]:.1f} | {peaks[-1]:.1f} | "
                + "".join(f"{p:.1f} | " for p in extra)
                + f"{s} | "
                + ", ".join(f"{p:.1f}" for p in peaks)
                + " |"
            )
            log(f"settle {group.name} {init}: {s} epochs")
    lines += [
        "",
        "| init | median epochs to settle | max | groups settled by 10 epochs |",
        "| --- | --- | --- | --- |",
    ]
    for init, values in settled.items():
        lines.append(
            f"| {init} | {statistics.median(values):g} | {max(values)} | "
            f"{sum(v <= 10 for v in values)}/{len(values)} |"
        )
    return lines


# ---------------------------------------------------------------------------
# 2. cost relative to training


def timed(featurizer, group):
    start = time.perf_counter()
    featurizer.transform([group])
    return time.perf_counter() - start


def cost_section(zoo, config):
    lines = [
        "## 2. Cost relative to training the group's models",
        "",
        f"Training: {len(config['seeds'])} models per group, {config['steps']} SGD steps "
        "each. Connectivity: one curve, 50 epochs, batch 128, five evaluations with "
        "BatchNorm recomputation. Sharpness: `hessian_t` and `hessian_e` on 200 samples, "
        "every model, by the default `trace_method=\"deflated\"` (one Lanczos run for "
        f"the eigenvalue, deflating {_DEFAULT_N_PROBES} Hutchinson probes of the trace). "
        "Paper (ResNet-18, "
        "CIFAR-10): "
        "7.04% and 0.244%.",
        "",
        "| group | train (s) | connectivity (s) | % of train | sharpness (s) | % of train | "
        "CKA (s) | train_error (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    conn_pct, sharp_pct = [], []
    for group, train_seconds in zoo:
        common = dict(random_state=0, verbose=0)
        conn = timed(
            LossLandscapeFeaturizer(["mode_connectivity_peak", "mode_connectivity"], **common),
            group,
        )
        sharp = timed(LossLandscapeFeaturizer(["hessian_t", "hessian_e"], **common), group)
        cka = timed(LossLandscapeFeaturizer(["CKA"], **common), group)
        err = timed(LossLandscapeFeaturizer(["train_error"], **common), group)
        conn_pct.append(100 * conn / train_seconds)
        sharp_pct.append(100 * sharp / train_seconds)
        lines.append(
            f"| {group.name} | {train_seconds:.2f} | {conn:.2f} | {conn_pct[-1]:.0f}% | "
            f"{sharp:.3f} | {sharp_pct[-1]:.1f}% | {cka:.3f} | {err:.3f} |"
        )
        log(f"cost {group.name}: done")
    lines += [
        "",
        f"Median over groups: connectivity {statistics.median(conn_pct):.0f}% and sharpness "
        f"{statistics.median(sharp_pct):.1f}% of training.",
    ]
    return lines


# ---------------------------------------------------------------------------
# 3. peak memory


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(width, features, trace_method):
    """Run one featurization and print its peak memory as JSON (in a fresh process)."""
    train_data, _ = digits_task()
    models = []
    for seed in (0, 1, 2):  # memory does not depend on training: random weights
        torch.manual_seed(seed)
        models.append(tanh_mlp(Configuration(0.0, 0.1, 1200, width, 32)).eval())
    group = ModelGroup(models, train_data)
    featurizer = LossLandscapeFeaturizer(
        features, curve_epochs=1, trace_method=trace_method, random_state=0, verbose=0
    )
    featurizer.transform([group])  # warm-up: lazy initialisations are not the featurization's
    import gc

    gc.collect()
    baseline = _rss_bytes()
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    featurizer.transform([group])
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _rss_bytes())
    print(json.dumps({"params": group.n_parameters, "extra": peak[0] - baseline}))


def memory_section(config, threads):
    lines = [
        "## 3. Peak memory of a featurization against parameter count",
        "",
        "Group of 3 MLPs (64-w-w-10) on 1200 digits; peak resident memory above the level "
        "before `transform`, fresh process per cell (glibc mmap threshold fixed at 64 kB), "
        "after one warm-up transform. "
        "Models: float32 size of the 3 models. Trace by the default "
        f"`trace_method=\"deflated\"` (Lanczos basis of up to 24 vectors, {_DEFAULT_N_PROBES} "
        "probes) unless "
        "marked xtrace (100 products) or hutchinson (100 products).",
        "",
        "| width | parameters | models (MB) | "
        + " | ".join(f"{name} (MB)" for name in MEMORY_FEATURES)
        + " | MD tree bytes / parameter |",
        "| --- | --- | --- | " + " | ".join("---" for _ in MEMORY_FEATURES) + " | --- |",
    ]
    for width in config["memory_widths"]:
        cells, params = [], None
        for name, (features, trace_method) in MEMORY_FEATURES.items():
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_connectivity",
                    "--threads",
                    str(threads),
                    "--memory-child",
                    str(width),
                    ",".join(features),
                    trace_method,
                ],
                capture_output=True,
                text=True,
                check=True,
                # A fixed mmap threshold returns every large block to the system when
                # freed, so that blocks cached by the warm-up do not hide the peak.
                env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"},
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            params = result["params"]
            cells.append(result["extra"])
            log(f"memory w={width} {name}: {result['extra'] / 2**20:.1f} MB")
        lines.append(
            f"| {width} | {params:,} | {3 * 4 * params / 2**20:.2f} | "
            + " | ".join(f"{c / 2**20:.1f}" for c in cells)
            + f" | {cells[0] / params:.0f} |"
        )
    return lines


# ---------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller zoo and fewer widths")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["settle", "cost", "memory"],
        help="sections to leave out",
    )
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    # numpy's BLAS (QR in XTrace, Lanczos) would otherwise spin threads of its own.
    threadpool_limits(args.threads)
    if args.memory_child:
        width, features, trace_method = args.memory_child
        memory_child(int(width), features.split(","), trace_method)
        return
    config = QUICK if args.quick else FULL
    start = time.perf_counter()
    lines = [
        "# Mode connectivity benchmark" + (" (--quick)" if args.quick else ""),
        "",
        f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPU cores. "
        f"Zoo: tanh MLPs 64-w-w-10 on digits, widths {list(config['widths'])}, batch sizes "
        f"{list(config['batch_sizes'])}, training sizes {list(config['n_trains'])}, seeds "
        f"{list(config['seeds'])}, {config['steps']} SGD steps (lr 0.1, momentum 0.9).",
        "",
    ]
    zoo = build_zoo(config) if {"settle", "cost"} - set(args.skip) else []
    if "settle" not in args.skip:
        lines += settle_section(zoo, config) + [""]
    if "cost" not in args.skip:
        lines += cost_section(zoo, config) + [""]
    if "memory" not in args.skip:
        lines += memory_section(config, args.threads) + [""]
    lines.append(f"Total benchmark time: {time.perf_counter() - start:.0f} s.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
