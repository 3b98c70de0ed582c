"""Benchmark of featurization at scale: workers, a Dask cluster, and memory per parameter.

Printed as markdown::

    python -m benchmarks.bench_scale                      # default zoo, all sections
    python -m benchmarks.bench_scale --preset tiny        # the tiny zoo (quick)
    python -m benchmarks.bench_scale --sections memory
    python -m benchmarks.bench_scale --sections throughput why larger --cache-dir DIR

1. Throughput: the zoo's groups (:func:`featurizers.zoo.train_zoo`, read from its
   cache when there) featurized with the zoo's :class:`~featurizers.LossLandscapeFeaturizer`
   by one process (``n_jobs=1``, the baseline), two local joblib workers
   (``n_jobs=2``) and a ``dask.distributed.LocalCluster`` of two single-threaded
   worker processes (``parallel_config(backend="dask")``), in the same run; the rows
   of each are compared with the baseline's. Groups per second and the speed-up
   over one process are reported; the cluster's start-up is timed apart. Each is
   called twice: the workers' first call includes their start-up.
2. Why: what a worker pays besides the computation. The time of single groups
   (a sample across the zoo, each featurized alone in this process), the start-up
   of a fresh Python process importing torch and the featurizers (what each worker
   does before its first group), and the task payload (a group pickled, as it is
   sent to a worker, and the time to pickle and unpickle it).
3. Larger groups: the same three runs on the zoo's widest groups featurized with
   ``--larger-curve-epochs`` connectivity epochs instead of the recipe's, so that a
   group costs several seconds: whether workers pay once a group is large.
4. Memory: the growth of resident memory (sampled every 2 ms by psutil) while one
   group of two tanh MLPs 64 -> p -> p -> 10 (the zoo's architecture, untrained:
   memory does not depend on the weights' values) is featurized, each width in a
   fresh process, over its resident memory just before; a least-squares line of
   the growth against the parameter count, its slope (bytes per parameter) and R^2.

Torch runs on one thread per process, as in the zoo.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

MEMORY_WIDTHS = (64, 256, 512, 1024, 1536, 2048)


def _zoo(preset, cache_dir):
    import torch

    from featurizers.zoo import train_zoo

    torch.set_num_threads(1)
    return train_zoo(preset, cache_dir=cache_dir, verbose=0)


def _runs(featurizer, groups):
    """``{run: [(rows, seconds) of the first and of the second call]}``, cluster start-up.

    Each way is called twice in a row: the first call of the workers includes their
    start-up (importing torch and the featurizers), the second reuses them (joblib
    keeps its loky workers, the cluster its Dask workers).
    """
    import joblib
    from distributed import Client, LocalCluster

    def twice(name):
        results[name] = []
        for _ in range(2):
            start = time.perf_counter()
            rows = featurizer.transform(groups)
            results[name].append((rows, time.perf_counter() - start))

    results = {}
    twice("1 process (baseline)")
    featurizer.set_params(n_jobs=2)
    twice("2 joblib workers (loky)")
    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=50) as cluster, Client(cluster):
        startup = time.perf_counter() - start
        with joblib.parallel_config(backend="dask"):
            featurizer.set_params(n_jobs=None)
            twice("Dask LocalCluster, 2 workers")
    return results, startup


def _print_runs(results, n_groups, startup):
    base = results["1 process (baseline)"]
    print("| run | call | seconds | groups/s | speed-up | rows equal to the baseline's |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for name, calls in results.items():
        for call, ((rows, seconds), (base_rows, base_time)) in enumerate(zip(calls, base)):
            diff = np.nanmax(np.abs(rows - base_rows) / (np.abs(base_rows) + 1e-12))
            equal = ("bit for bit" if np.array_equal(rows, base_rows, equal_nan=True)
                     else f"max rel. diff {diff:.1e}")
            which = "first" if call == 0 else "second (warm)"
            print(f"| {name} | {which} | {seconds:.1f} | {n_groups / seconds:.2f} | "
                  f"{base_time / seconds:.2f}x | {equal} |")
    print(f"\nDask cluster start-up (2 worker processes): {startup:.1f} s, not included. "
          f"Load average after the runs: {os.getloadavg()[0]:.2f}.\n")


def _describe(groups, what):
    n_parameters = [g.n_parameters for g in groups]
    return (f"{len(groups)} groups of {what} ({groups[0].n_models} models each, "
            f"{min(n_parameters):,}-{max(n_parameters):,} parameters per model)")


def _throughput(zoo, preset):
    groups = zoo.groups
    print(f"## 1. Throughput: {_describe(groups, f'the {preset!r} zoo')}, "
          f"{zoo.recipe.curve_epochs} curve epochs\n")
    results, startup = _runs(zoo.featurizer(random_state=0), groups)
    _print_runs(results, len(groups), startup)


_IMPORT = "import torch, featurizers, sklearn_mdtree; torch.set_num_threads(1)"


def _why(zoo, n_sample=12):
    import pickle

    groups = zoo.groups
    featurizer = zoo.featurizer(random_state=0)
    print("## 2. Why: what a worker pays besides the computation\n")
    sample = [groups[i] for i in np.linspace(0, len(groups) - 1, n_sample).astype(int)]
    featurizer.transform(sample[:1])  # warm this process up
    print("| group | parameters per model | training samples | seconds alone | "
          "pickled, kB | pickle + unpickle, ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    seconds = []
    for group in sample:
        start = time.perf_counter()
        featurizer.transform([group])
        seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        payload = pickle.dumps(group)
        pickle.loads(payload)
        round_trip = time.perf_counter() - start
        print(f"| {group.name} | {group.n_parameters:,} | {len(group.train_data[1])} | "
              f"{seconds[-1]:.2f} | {len(payload) / 1024:.0f} | {1000 * round_trip:.1f} |")
    starts = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", _IMPORT], check=True)
        starts.append(time.perf_counter() - start)
    print(f"\nMedian group alone: {np.median(seconds):.2f} s (sample of {len(sample)} "
          f"across the zoo). A fresh process importing torch and the featurizers (what "
          f"each worker does first): median {np.median(starts):.2f} s of "
          f"{', '.join(f'{t:.2f}' for t in starts)} s.\n")


def _larger(zoo, n_groups, curve_epochs):
    groups = sorted(zoo.groups, key=lambda g: -g.n_parameters)[:n_groups]
    featurizer = zoo.featurizer(random_state=0).set_params(curve_epochs=curve_epochs)
    print(f"## 3. Larger groups: {_describe(groups, 'the widest of the zoo')}, "
          f"{curve_epochs} curve epochs\n")
    results, startup = _runs(featurizer, groups)
    _print_runs(results, len(groups), startup)


_CHILD = r"""
import json, sys, threading, time
import psutil, torch
torch.set_num_threads(1)
from featurizers import LossLandscapeFeaturizer, ModelGroup
from featurizers.zoo import Configuration, digits_task, tanh_mlp
width = int(sys.argv[1])
X, y = digits_task()[0]
X, y = X[:300], y[:300]
models = []
for seed in range(2):
    torch.manual_seed(seed)
    models.append(tanh_mlp(Configuration(width=width, bs=32, data_amount=300, noise=0.0, lr=0.1)))
group = ModelGroup(models, (X, y))
featurizer = LossLandscapeFeaturizer(curve_epochs=2, random_state=0, verbose=0)
process, done, peak = psutil.Process(), threading.Event(), [0]
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        time.sleep(0.002)
before = process.memory_info().rss
thread = threading.Thread(target=sample)
thread.start()
featurizer.transform([group])
done.set()
thread.join()
print(json.dumps({"n_parameters": group.n_parameters, "before": before, "peak": peak[0]}))
"""


def _child(width):
    out = subprocess.run([sys.executable, "-c", _CHILD, str(width)], check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _memory(widths):
    print("## 2. Peak memory of featurizing one group against the parameter count\n")
    print("| width | parameters per model | RSS before, MB | peak during transform, MB | "
          "growth, MB |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    params, extra = [], []
    for width in widths:
        run = _child(width)
        params.append(run["n_parameters"])
        extra.append(run["peak"] - run["before"])
        print(f"| {width} | {run['n_parameters']:,} | {run['before'] / 2**20:.0f} | "
              f"{run['peak'] / 2**20:.0f} | {extra[-1] / 2**20:.1f} |")
    params, extra = np.asarray(params, float), np.asarray(extra, float)
    slope, intercept = np.polyfit(params, extra, 1)
    fitted = slope * params + intercept
    r2 = 1 - np.sum((extra - fitted) ** 2) / np.sum((extra - extra.mean()) ** 2)
    print(f"\nLeast squares: {slope:.0f} bytes per parameter (a float32 vector is 4), "
          f"intercept {intercept / 2**20:.1f} MB, R^2 = {r2:.4f}.\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=["tiny", "default", "large"])
    parser.add_argument("--cache-dir", default=None, help="the zoo's cache (default: its own)")
    parser.add_argument("--sections", nargs="+", default=["throughput", "why", "memory"],
                        choices=["throughput", "why", "larger", "memory"])
    parser.add_argument("--widths", type=int, nargs="+", default=list(MEMORY_WIDTHS))
    parser.add_argument("--larger-groups", type=int, default=24,
                        help="groups of section 3, the widest (default: %(default)s)")
    parser.add_argument("--larger-curve-epochs", type=int, default=150,
                        help="connectivity epochs of section 3 (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"# bench_scale ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f})\n")
    zoo = None
    if {"throughput", "why", "larger"} & set(args.sections):
        zoo = _zoo(args.preset, args.cache_dir)
    if "throughput" in args.sections:
        _throughput(zoo, args.preset)
    if "why" in args.sections:
        _why(zoo)
    if "larger" in args.sections:
        _larger(zoo, args.larger_groups, args.larger_curve_epochs)
    if "memory" in args.sections:
        _memory(args.widths)


if __name__ == "__main__":
    main()
