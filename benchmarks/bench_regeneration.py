"""Regeneration of the digits zoo across machines (draft runner)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "regeneration"


def table_path(preset, scale, seed):
    return RESULTS / f"{preset}-scale{scale:g}-seed{seed}.csv"


def run_one(preset, scale, seed, cache_dir):
    from featurizers.zoo import regenerate_zoo
    from sklearn_mdtree.pretrained._recipes import table_csv

    path = table_path(preset, scale, seed)
    if path.is_file():
        return path
    start = time.perf_counter()
    table = regenerate_zoo(preset, scale=scale, seed=seed, cache_dir=cache_dir, verbose=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(table_csv(table), encoding="utf-8")
    print(f"{path.name}: {time.perf_counter() - start:.0f} s", flush=True)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--scale", type=float, default=1e-7)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cache-dir", default="/tmp/regen-cache")
    args = parser.parse_args(argv)
    for seed in args.seeds:
        run_one(args.preset, args.scale, seed, args.cache_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
