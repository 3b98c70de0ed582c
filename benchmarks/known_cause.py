"""Known-cause evaluation: diagnoses measured against models whose failure cause is known.

One command::

    python -m benchmarks.known_cause                 # generate (cached) and evaluate
    python -m benchmarks.known_cause --smoke         # a tiny grid, seconds (a check)

Three model families no shipped tree was fitted on
(:mod:`benchmarks._known_cause_families`), about ten base configurations each,
spread over the failure sources. For every base configuration its 12 seeds and
those of its one-step neighbours (knob up and down one x4 step, width x4, data
x2) are trained on one thread (:mod:`featurizers.lattice`, cached under
``benchmarks/results/known_cause_cache``); the label is the one-step RFI by
measurement from seeds 0-5 (the move with the largest drop in mean test error
beyond 2 standard errors of the difference, else "none"), seeds 6-11 give a
second label, whose agreement is the labels' reproducibility. The base group's
first 3 seeds are featurized (loss-landscape features with their standard errors,
the weights' norm ratio to a fresh initialization and displacement from their own,
validation metrics) into ``benchmarks/results/known_cause.csv``.

The evaluation maps each route's verdict to one action among ``raise temperature``,
``lower temperature``, ``widen``, ``more data``, ``none`` (or ``abstain``), with a
flag when the route marks the group out of its domain, and reports per family and
route: coverage (share given an unflagged verdict), accuracy of those verdicts
(Wilson 95% interval), the share of groups with a wrong unflagged verdict, and the
labels' reproducibility. A route is a callable ``route(table) -> DataFrame`` with
columns ``action`` and ``flagged`` (index of the table), so new routes plug in
(:data:`ROUTES`). The table is printed and written to
``benchmarks/results/known_cause.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
LANDSCAPE = ["train_error", "train_loss", "mode_connectivity_peak", "hessian_t", "CKA",
             "weight_norm_ratio", "weight_displacement"]
VALID = ["train_error", "train_loss", "test_error", "test_loss"]
#: Seeds of the labels, of the second label, and of the featurized group.
LABEL_SEEDS, REPRO_SEEDS, FEATURE_SEEDS = range(6), range(6, 12), range(3)


# ----------------------------------------------------------------------------- generation


def featurize(family, config, runs, *, cache_dir, curve_epochs=50, random_state=0):
    """One row: landscape features (with ``_se``) and validation metrics of the group."""
    import torch

    from featurizers import LossLandscapeFeaturizer, ModelGroup, ValidationFeaturizer

    models = [r.model for r in runs]
    group = ModelGroup(models, family.data(config), family.test,
                       metadata={"initial_states": [r.initial_state for r in runs]})
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        landscape = LossLandscapeFeaturizer(
            features=LANDSCAPE, return_se=True, n_pairs="all", curve_epochs=curve_epochs,
            nonpositive=0.01, random_state=random_state, cache_dir=cache_dir, verbose=0,
        ).set_output(transform="pandas").fit_transform([group])
        valid = ValidationFeaturizer(
            features=["test_error", "test_loss"], cache_dir=cache_dir, verbose=0,
        ).set_output(transform="pandas").fit_transform([group])
    row = {**landscape.iloc[0].to_dict(), **valid.iloc[0].to_dict()}
    row["log_para_amount"] = math.log(sum(p.numel() for p in models[0].parameters()))
    return row


def generate(families=None, *, cache_dir=None, smoke=False, curve_epochs=50, log=print):
    """Train, label and featurize every family's base configurations: one table."""
    import torch

    from featurizers.lattice import check_failure_sources, measure_one_step

    from . import _known_cause_families as fam

    torch.set_num_threads(1)
    cache_dir = RESULTS / "known_cause_cache" if cache_dir is None else cache_dir
    names = fam.FAMILIES if families is None else families
    rows, timings = [], {}
    for name in names:
        family, bases = (fam.smoke_bases(name) if smoke else fam.family_bases(name))
        check_failure_sources([s for _, s in bases], parameter=f"bases of {name}")
        start = time.perf_counter()
        labelled, own = measure_one_step(
            family, [c for c, _ in bases],
            label_seeds=range(2) if smoke else LABEL_SEEDS,
            repro_seeds=range(2, 4) if smoke else REPRO_SEEDS,
            cache_dir=cache_dir, progress=lambda line: log(f"  {name}: {line}"))
        trained = time.perf_counter()
        for (config, source), row, runs in zip(bases, labelled, own):
            features = featurize(family, config, runs[: len(FEATURE_SEEDS)],
                                 cache_dir=cache_dir,
                                 curve_epochs=2 if smoke else curve_epochs)
            rows.append({
                "family": name, "knob": family.knob, "intended": source,
                **row, "data_amount": config.n_train,
                "data_fraction": config.n_train / family.n_available,
                "n_classes": family.n_classes, "chance_error": family.chance_error,
                **features,
            })
        timings[name] = (trained - start, time.perf_counter() - trained)
        log(f"{name}: trained and labelled in {timings[name][0]:.0f} s, featurized in "
            f"{timings[name][1]:.0f} s")
    table = pd.DataFrame(rows)
    table.index = [f"{r.family}/{i}" for i, r in enumerate(table.itertuples())]
    table.index.name = "group"
    return table, timings


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.known_cause",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny grid of 2 families (seconds): checks the pipeline")
    parser.add_argument("--stage", choices=("all", "generate", "evaluate"), default="all")
    parser.add_argument("--families", nargs="+", default=None)
    parser.add_argument("--curve-epochs", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of the table and report (default benchmarks/results)")
    args = parser.parse_args(argv)
    out = RESULTS if args.out is None else args.out
    out.mkdir(parents=True, exist_ok=True)
    stem = "known_cause_smoke" if args.smoke else "known_cause"
    csv = out / f"{stem}.csv"
    if args.stage in ("all", "generate"):
        start = time.perf_counter()
        families = args.families
        if args.smoke and families is None:
            families = ["digits-relu-mlp", "digits-cnn"]
        table, timings = generate(families, cache_dir=out / "known_cause_cache",
                                  smoke=args.smoke, curve_epochs=args.curve_epochs,
                                  log=lambda line: print(line, file=sys.stderr, flush=True))
        table.to_csv(csv)
        total = time.perf_counter() - start
        print(f"wrote {csv} ({len(table)} groups) in {total:.0f} s on one thread; per family "
              "(train+label, featurize): " + ", ".join(
                  f"{k} {a:.0f}+{b:.0f} s" for k, (a, b) in timings.items()), file=sys.stderr)
    if args.stage in ("all", "evaluate"):
        table = pd.read_csv(csv, index_col="group")
        text = evaluate(table)
        print(text)
        (out / f"{stem}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
