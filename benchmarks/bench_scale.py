"""Benchmark of featurization at scale: workers, a Dask cluster, and memory per parameter.

Printed as markdown::

    python -m benchmarks.bench_scale                      # default zoo, all sections
    python -m benchmarks.bench_scale --preset tiny        # the tiny zoo (quick)
    python -m benchmarks.bench_scale --sections memory

1. Throughput: the zoo's groups (:func:`featurizers.zoo.train_zoo`, read from its
   cache when there) featurized with the zoo's :class:`~featurizers.LossLandscapeFeaturizer`
   by one process (``n_jobs=1``, the baseline), two local joblib workers
   (``n_jobs=2``) and a ``dask.distributed.LocalCluster`` of two single-threaded
   worker processes (``parallel_config(backend="dask")``), in the same run; the rows
   of each are compared with the baseline's. Groups per second and the speed-up
   over one process are reported; the cluster's start-up is timed apart.
2. Memory: the growth of resident memory (sampled every 2 ms by psutil) while one
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


def _throughput(preset, cache_dir):
    import joblib
    import torch
    from distributed import Client, LocalCluster

    from featurizers.zoo import train_zoo

    torch.set_num_threads(1)
    zoo = train_zoo(preset, cache_dir=cache_dir, verbose=0)
    groups = zoo.groups
    featurizer = zoo.featurizer(random_state=0)
    n_parameters = groups[0].n_parameters, groups[-1].n_parameters
    print(f"## 1. Throughput: {len(groups)} groups of the {preset!r} zoo "
          f"({groups[0].n_models} models each, {min(n_parameters)}-{max(n_parameters)} "
          "parameters per model)\n")
    results = {}
    start = time.perf_counter()
    results["1 process (baseline)"] = (featurizer.transform(groups), time.perf_counter() - start)
    start = time.perf_counter()
    rows = featurizer.set_params(n_jobs=2).transform(groups)
    results["2 joblib workers (loky)"] = (rows, time.perf_counter() - start)
    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=50) as cluster, Client(cluster):
        startup = time.perf_counter() - start
        with joblib.parallel_config(backend="dask"):
            start = time.perf_counter()
            rows = featurizer.set_params(n_jobs=None).transform(groups)
            results["Dask LocalCluster, 2 workers"] = (rows, time.perf_counter() - start)
    base_rows, base_time = results["1 process (baseline)"]
    print("| run | seconds | groups/s | speed-up | rows equal to the baseline |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, (rows, seconds) in results.items():
        diff = np.nanmax(np.abs(rows - base_rows) / (np.abs(base_rows) + 1e-12))
        equal = ("bit for bit" if np.array_equal(rows, base_rows, equal_nan=True)
                 else f"max rel. diff {diff:.1e}")
        print(f"| {name} | {seconds:.1f} | {len(groups) / seconds:.2f} | "
              f"{base_time / seconds:.2f}x | {equal} |")
    print(f"\nDask cluster start-up (2 worker processes): {startup:.1f} s, not included.\n")


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
    parser.add_argument("--sections", nargs="+", default=["throughput", "memory"],
                        choices=["throughput", "memory"])
    parser.add_argument("--widths", type=int, nargs="+", default=list(MEMORY_WIDTHS))
    args = parser.parse_args(argv)
    print(f"# bench_scale ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f})\n")
    if "throughput" in args.sections:
        _throughput(args.preset, args.cache_dir)
    if "memory" in args.sections:
        _memory(args.widths)


if __name__ == "__main__":
    main()
