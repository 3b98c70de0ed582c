"""The reference digits zoo's recipe, by measurement (issue 21, item 1).

Sections:

- ``sweep``: trains (no features) a grid wider than the default preset -- four
  learning rates 0.0125..0.1 against batch sizes 4..256, 40 fixed epochs, widths
  4..32, 300/600/1200 samples, clean and 10% noisy labels, 6 seeds -- and prints,
  per learning rate and batch size, the median training and test error, the share
  of configurations that diverged (training error > 80%), and the one-step labels
  (``bs_failure``, ``lr_failure``) with how many fall in the non-interpolating
  branch. It is what chose the default preset's learning rates: the hot end must be
  noisy, not divergent, and both classes must appear below the root.
- ``curves``: curve epochs (15, 50, 150) on one learning rate of the default zoo: the
  share of curves that pass below their endpoints and the structure report.
- ``structure``: the default zoo (trained and featurized, or read from its cache)
  beside F and F' (:func:`featurizers.zoo.structure_report`), with the time it took.

Usage::

    python -m benchmarks.bench_reference_zoo [--sections sweep curves structure]
        [--cache DIR] [--n-jobs N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"

SWEEP = dict(width=(4, 8, 16, 32), bs=(4, 8, 16, 32, 64, 128, 256),
             data_amount=(300, 600, 1200), lr=(0.0125, 0.025, 0.05, 0.1), noise=(0.0, 0.1),
             seeds=(0, 1, 2, 3, 4, 5), epochs=40)


def sweep(cache, n_jobs):
    from featurizers.zoo import ZooGrid, train_zoo

    start = time.perf_counter()
    zoo = train_zoo(ZooGrid(**SWEEP), cache_dir=cache, n_jobs=n_jobs, verbose=0)
    print(f"sweep: {zoo.grid.n_models} models, {time.perf_counter() - start:.0f} s "
          f"({zoo.stats['models_trained']} trained)")
    table = zoo.table
    for lr, part in table.groupby("lr"):
        stats = part.groupby(["bs", "collection"]).agg(
            train=("train_error", "median"), test=("test_error", "median"),
            diverged=("train_error", lambda x: (x > 80).mean()))
        print(f"\n== lr {lr:g}: median errors (%) and share diverged, by batch size")
        print(stats.unstack("collection").round(2).to_string())
        counts = part.groupby("collection")["bs_failure"].value_counts().unstack(fill_value=0)
        branch = part[part["train_error"] > 1]
        below = branch.groupby("collection")["bs_failure"].value_counts().unstack(fill_value=0)
        print("bs_failure, all rows:\n" + counts.to_string())
        print("bs_failure, non-interpolating rows:\n" + below.to_string())
    print("\nlr_failure, all rows:")
    print(table.groupby("collection")["lr_failure"].value_counts().unstack(fill_value=0))


def curves(cache, n_jobs):
    from featurizers.zoo import Recipe, format_structure, structure_table, train_zoo, zoo_preset
    from dataclasses import replace

    grid = replace(zoo_preset("default"), lr=(0.05,))
    tables = {}
    for epochs in (15, 50, 150):
        start = time.perf_counter()
        zoo = train_zoo(grid, recipe=Recipe(curve_epochs=epochs), cache_dir=cache,
                        n_jobs=n_jobs, verbose=0)
        table = zoo.featurize(n_jobs=n_jobs)
        print(f"curve epochs {epochs}: {time.perf_counter() - start:.0f} s")
        for collection, name in (("normal", "clean"), ("noise", "noisy")):
            tables[f"{name}, {epochs} ep."] = table[table["collection"] == collection]
    print("\nlr 0.05 only (the featurization is the same per row; the labels along the batch "
          "size do not depend on the curve epochs):")
    print(format_structure(structure_table(tables)))


def structure(cache, n_jobs):
    from featurizers.zoo import format_structure, structure_table, train_zoo
    from sklearn_mdtree.datasets import fetch_model_diagnosis

    start = time.perf_counter()
    zoo = train_zoo("default", cache_dir=cache, n_jobs=n_jobs, verbose=0)
    trained = time.perf_counter()
    table = zoo.featurize(n_jobs=n_jobs)
    done = time.perf_counter()
    print(f"default zoo: training {trained - start:.0f} s, featurizing {done - trained:.0f} s "
          f"({zoo.stats})")
    public = fetch_model_diagnosis("both").frame
    tables = {"zoo clean": table[table["collection"] == "normal"],
              "zoo noisy": table[table["collection"] == "noise"],
              "F": public[public["collection"] == "normal"],
              "F'": public[public["collection"] == "noise"]}
    print(format_structure(structure_table(tables)))
    print("\nlr_failure:")
    print(format_structure(structure_table(
        {k: v for k, v in tables.items() if k.startswith("zoo")}, task="lr_failure")))
    for task in ("bs_failure", "lr_failure"):
        print(f"\n{task}:")
        print(table.groupby("collection")[task].value_counts().unstack(fill_value=0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["sweep", "curves", "structure"],
                        choices=["sweep", "curves", "structure"])
    parser.add_argument("--cache", default=str(RESULTS / "zoo-cache"))
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    for section in args.sections:
        globals()[section](args.cache, args.n_jobs)


if __name__ == "__main__":
    main()
