"""The calibration route of the known-cause evaluation (issue 21, item 3).

For each family of :mod:`benchmarks._known_cause_families`, :func:`featurizers.calibrate`
builds a lattice of the family's own configurations around its well-tuned setting
(seeds 100-105: none of the known-cause groups' seeds 0-11), labels it by one-step RFI,
featurizes it with the same recipe as the known-cause table (curve epochs 50, all pairs,
standard errors, ``weight_norm_ratio``), fits a
:class:`~sklearn_mdtree.calibration.CalibratedDiagnoser` by grouped CV on the lattice
only (its abstention threshold too: nested grouped CV on the lattice, target accuracy
0.8), and writes it to ``benchmarks/results/calibrated/<family>.json`` (trainings and
features cached under ``benchmarks/results/calibration_cache``). The route then
diagnoses the family's known-cause groups with that file.

Run::

    python -m benchmarks.known_cause_calibration --families digits-relu-mlp
    python -m benchmarks.known_cause --stage evaluate   # the route is in ROUTES

A verdict maps to an action of the evaluation: an action as is; "keep as is" to
``none``; "training failed" of a divergence to lowering the temperature, of a stall (it
names no change) and "no reliable diagnosis" to ``abstain``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
CALIBRATED = RESULTS / "calibrated"
CACHE = RESULTS / "calibration_cache"

#: The user's setting per family: the knob's base value, the width, fixed
#: hyperparameters the family varies.
SETTINGS = {
    "digits-relu-mlp": {"base": 0.032, "width": 32},
    "digits-cnn": {"base": 32, "width": 8,
                   "fixed": [{"batchnorm": False}, {"batchnorm": True}]},
    "synthetic-relu-mlp": {"base": 0.05, "width": 32},
}


def calibrate_family(name, *, budget=10.0, n_jobs=2, progress=True, force=False, shape=None,
                     cache_dir=None):
    """Calibrate on the family's lattice (or read the file written before); ``cache_dir``
    (default ``results/calibration_cache``) holds the trainings and features."""
    from sklearn_mdtree.calibration import load_calibrated

    path = CALIBRATED / f"{name}.json"
    if path.exists() and not force:
        return load_calibrated(path)
    import torch

    from featurizers.calibration import calibrate

    from . import _known_cause_families as fam

    torch.set_num_threads(1)
    family, _ = fam.family_bases(name)
    CALIBRATED.mkdir(parents=True, exist_ok=True)
    setting = SETTINGS[name]
    model = calibrate(
        family.factory, family.train, family.test, optimizer=family.knob,
        base=setting["base"], width=setting["width"], fixed=setting.get("fixed"),
        budget=budget, epochs=family.epochs, lr=family.lr, batch_size=family.batch_size,
        momentum=family.momentum, curve_epochs=50, output=path,
        cache_dir=CACHE if cache_dir is None else cache_dir,
        n_jobs=n_jobs, progress=progress, name=f"calibration/{family.name}",
        shape=None if shape is None else tuple(shape))
    # the whole labelled lattice (gains, failure counts, every feature), for studies
    model.lattice_table_.to_csv(CALIBRATED / f"{name}.lattice.csv", index=False)
    return model


def verdict_action(entry):
    """``(action, flagged, failure)`` of one :meth:`CalibratedDiagnoser.report` entry
    (``failure``: the kind of a "training failed" verdict, else None)."""
    verdict = entry["verdict"]
    if verdict == "no reliable diagnosis":
        return "abstain", True, None
    if verdict == "keep as is":
        return "none", False, None
    if verdict == "training failed":
        kind = (entry.get("failure") or {}).get("kind")
        if kind != "diverged":  # a stall names no change (as the report's verdict)
            return "abstain", True, kind
        return "lower temperature", False, kind
    return verdict, False, None


def calibration_route(table):
    """Each family's groups diagnosed by the diagnoser calibrated on its lattice."""
    out = []
    for family in dict.fromkeys(table["family"]):
        rows = table[table["family"] == family]
        model = calibrate_family(family)
        for entry in model.report(rows):
            out.append((entry["group"], *verdict_action(entry)))
    frame = pd.DataFrame(out, columns=["group", "action", "flagged", "failure"]).set_index(
        "group")
    return frame.loc[table.index]


def evaluate(table):
    """Markdown: the calibration route per family and pooled, with the lattice's figures."""
    from .known_cause import _pct, score

    verdicts = calibration_route(table)
    lines = ["| family | groups | coverage % | right / given | accuracy % [Wilson 95%] | "
             "wrong unflagged % | reproducibility % | kept (lattice CV accuracy; "
             "most accurate other; constant) | abstention chosen on the lattice (region, threshold: "
             "lattice accuracy, coverage) | lattice | calibration time (cold, 2 workers) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    families = list(dict.fromkeys(table["family"]))
    for family in [*families, "pooled"]:
        rows = table if family == "pooled" else table[table["family"] == family]
        s = score(rows, verdicts.loc[rows.index])
        chosen = lattice = timing = abstention = "-"
        if family != "pooled":
            model = calibrate_family(family)
            ranked = sorted((k for k, v in model.scores_.items()
                             if k not in ("constant", model.kind_) and v.accuracy is not None),
                            key=lambda k: -model.scores_[k].accuracy)
            # the kept candidate, then the most accurate other
            best, second = model.scores_[model.kind_], model.scores_[ranked[0]]
            chosen = (f"{best.name} {best.accuracy:.2f} [{best.interval[0]:.2f}, "
                      f"{best.interval[1]:.2f}]; {second.name} {second.accuracy:.2f}; "
                      f"constant {model.scores_['constant'].accuracy:.2f}")
            a = model.abstention_
            if a is None:
                abstention = f"fixed rule {model.region_rule!r}"
            elif a.threshold is None:
                abstention = f"none reaches {model.target_accuracy:.0%}: never answers"
            else:
                region = {"model": "model's", "proba": "model's probability"}.get(
                    a.region, f"{a.region} nearest")
                abstention = (f"{region}, >= {a.threshold:.2f}: {100 * a.accuracy:.0f}% "
                              f"right, {100 * a.coverage:.0f}% answered")
            meta = model.metadata_
            lattice = (f"{' x '.join(map(str, meta['shape']))}"
                       f"{' x 2 BN' if isinstance(meta.get('fixed'), list) else ''}, "
                       f"{meta['n_labelled']} labelled")
            cold = CALIBRATED / f"{family}.timing.json"
            if cold.exists():
                t = json.loads(cold.read_text())
                timing = f"{t['total'] / 60:.1f} min"
                if t.get("load_average_after"):
                    timing += (" (load average after: "
                               + ", ".join(f"{v:g}" for v in t["load_average_after"])
                               + " over 1, 5, 15 min)")
        lines.append(
            f"| {family} | {s['groups']} | {_pct(s['coverage'])} | {s['right']} / {s['given']} "
            f"| {_pct(s['accuracy'])} [{_pct(s['low'])}, {_pct(s['high'])}] | "
            f"{_pct(s['wrong_unflagged'])} | {_pct(s['reproducibility'])} | {chosen} | "
            f"{abstention} | {lattice} | {timing} |")
    lines += ["", "| group | intended | label | second seeds | verdict | model's action | "
              "confidence | reason |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for family in families:
        rows = table[table["family"] == family]
        for (index, row), entry in zip(rows.iterrows(), calibrate_family(family).report(rows)):
            conf = "-" if entry["confidence"] is None else f"{entry['confidence']:.2f}"
            lines.append(f"| {index} | {row['intended']} | {row['action']} | "
                         f"{row['repro_action']} | {entry['verdict']} | {entry['action']} | "
                         f"{conf} | {entry['reason'][:140]} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.known_cause_calibration",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", default=list(SETTINGS))
    parser.add_argument("--budget", type=float, default=10.0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="calibrate again")
    parser.add_argument("--shape", type=int, nargs=3, default=None, metavar=("K", "W", "D"),
                        help="force the lattice's shape (knob, width, data values), e.g. to "
                             "refit with other workers the lattice a cold run chose")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="trainings' and features' cache (default "
                             "benchmarks/results/calibration_cache; a fresh folder measures "
                             "a cold calibration)")
    parser.add_argument("--evaluate", type=Path, default=None, metavar="TABLE",
                        help="then diagnose the known-cause table (its CSV) and write "
                             "benchmarks/results/known_cause_calibration.md")
    args = parser.parse_args(argv)
    timings = {}
    for name in args.families:
        start = time.perf_counter()
        model = calibrate_family(name, budget=args.budget, n_jobs=args.n_jobs,
                                 force=args.force, shape=args.shape,
                                 cache_dir=args.cache_dir)
        timings[name] = {"load_average_after": [round(v, 2) for v in os.getloadavg()],
                         "wall_seconds": round(time.perf_counter() - start, 1),
                         **model.metadata_.get("seconds", {}),
                         "shape": model.metadata_.get("shape"),
                         "chosen": model.kind_,
                         "scores": {k: s.accuracy for k, s in model.scores_.items()}}
        # the first (cold-cache) run's times are the calibration's cost: kept apart
        cold = CALIBRATED / f"{name}.timing.json"
        if not cold.exists():
            cold.write_text(json.dumps(timings[name], indent=1))
        timings[name]["cold"] = json.loads(cold.read_text())
        print(f"{name}:\n{model.summary()}\n", flush=True)
    print(json.dumps(timings, indent=1))
    if args.evaluate is not None:
        table = pd.read_csv(args.evaluate, index_col="group")
        text = evaluate(table[table["family"].isin(args.families)])
        (RESULTS / "known_cause_calibration.md").write_text(text + "\n")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
