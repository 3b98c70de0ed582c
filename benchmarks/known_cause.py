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
validation metrics) into ``benchmarks/results/known_cause.csv``; every training
(base and neighbours, both seed sets: errors, displacement, diverged, stalled) is
recorded in ``benchmarks/results/known_cause_trainings.csv``.

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
    rows, records, timings = [], [], {}
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
            records += [{"family": name, "base": len(rows), **r} for r in row.pop("records")]
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
    records = pd.DataFrame(records)
    records["base"] = table.index[records["base"].to_numpy()]
    table.attrs["records"] = records
    return table, timings


# ----------------------------------------------------------------------------- evaluation

ABSTAIN = "abstain"


def wilson(successes, n, z=1.96):
    """Wilson score interval of a proportion: ``(low, high)``; NaN for n = 0.

    >>> [round(v, 3) for v in wilson(6, 8)]
    [0.409, 0.929]
    """
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def report_actions(report):
    """``(action, flagged, failure)`` per group of a :class:`~sklearn_mdtree.DiagnosisReport`.

    By the group's verdict kind: *training failed* of a divergence -> lower the
    temperature, ``failure`` its kind;
    *keep as is* -> ``"none"``; *no reliable diagnosis* -> an abstention (flagged);
    *training failed* of a stall names no change: an abstention on the move (its
    ``failure`` kept); *change* -> Q2 ``width`` / ``data`` -> widen / more data, otherwise Q1 ``small``
    (temperature too low) -> raise temperature, ``large`` -> lower temperature,
    flagged when the report marks the group out of the tree's domain.
    """
    out = []
    for g in report:
        kind = getattr(g, "verdict_kind", "change")
        if kind == "training failed":
            failure = g.training_failure["kind"]
            if failure == "diverged":
                out.append(("lower temperature", False, failure))
            else:  # a stall names no change: an abstention on the move
                out.append((ABSTAIN, True, failure))
            continue
        if kind == "keep as is":
            out.append(("none", False, None))
            continue
        if kind == "no reliable diagnosis":
            out.append((ABSTAIN, True, None))
            continue
        if g.q2 is not None and g.q2.label in ("width", "data"):
            action = "widen" if g.q2.label == "width" else "more data"
        else:
            action = "raise temperature" if g.q1.label == "small" else "lower temperature"
        out.append((action, bool(g.out_of_domain), None))
    return out


def _diagnosed(table, **kwargs):
    """Route a table through :func:`sklearn_mdtree.diagnose`, row by row when a row fails."""
    import sklearn_mdtree

    def run(frame):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return report_actions(sklearn_mdtree.diagnose(frame, warn=False, **kwargs))

    try:
        pairs = run(table)
    except (ValueError, TypeError):
        pairs = []
        for i in range(len(table)):
            try:
                pairs += run(table.iloc[[i]])
            except (ValueError, TypeError):
                pairs.append((ABSTAIN, True, None))  # the route refused the group
    return pd.DataFrame(pairs, columns=["action", "flagged", "failure"], index=table.index)


def shipped_route(name):
    """The shipped trees of a family (``tree=name``), Q1 and its Q2.

    The route's ``unavailable()`` gives why it cannot run (the family's trees are
    not shipped: ``load_tree``'s reason), or None; :func:`evaluate` skips it then and
    says so.
    """
    def route(table):
        return _diagnosed(table, tree=name)

    def unavailable():
        from sklearn_mdtree.pretrained import available_trees, load_tree

        if f"{name}-q1" in available_trees() or name in available_trees():
            return None
        try:
            load_tree(name)
        except ValueError as exc:
            return str(exc)
        return None

    route.__name__ = f"shipped {name}"
    route.unavailable = unavailable
    return route


_F_TREES = {}


def _f_trees():
    """The trees of ``mdtree diagnose`` without ``--tree``: the command's own defaults
    (:func:`sklearn_mdtree.diagnosis._trees.fit_on_collection` with the options
    :func:`sklearn_mdtree._cli.diagnose.fit_options` gives a bare command line)."""
    if "trees" not in _F_TREES:
        from sklearn_mdtree._cli._parser import build_parsers
        from sklearn_mdtree._cli.diagnose import fit_options
        from sklearn_mdtree.datasets import fetch_model_diagnosis
        from sklearn_mdtree.diagnosis._trees import fit_on_collection

        os.environ.setdefault("SKLEARN_MDTREE_DATA", "../shared/data/model_diagnosis")
        args = build_parsers()[0].parse_args(["diagnose", "features.csv"])
        frame = fetch_model_diagnosis("both").frame
        _F_TREES["trees"] = fit_on_collection(frame, **fit_options(args))
    return _F_TREES["trees"]


def f_route(table):
    """Fit on F at run time (the default of ``mdtree diagnose``), with F's domain check."""
    q1, q2 = _f_trees()
    return _diagnosed(table, tree=q1, q2_tree=q2)


def q_labels(table):
    """The paper's label columns from measured gains: ``bs_failure``, ``width_vs_batch``.

    ``bs_failure``: ``small`` (too cold) when raising the temperature gains more than
    lowering it, else ``large``; ``optimal`` for groups labelled "none".
    ``width_vs_batch``: ``width`` when the measured label is to widen, else ``batch``.
    """
    raise_gain = np.where(table["knob"] == "learning rate", table["gain_knob_up"],
                          table["gain_knob_down"])
    lower_gain = np.where(table["knob"] == "learning rate", table["gain_knob_down"],
                          table["gain_knob_up"])
    q1 = np.where(np.nan_to_num(raise_gain, nan=-np.inf) >= np.nan_to_num(lower_gain,
                                                                         nan=-np.inf),
                  "small", "large").astype(object)
    q1[table["action"].to_numpy() == "none"] = "optimal"
    q2 = np.where(table["action"] == "widen", "width", "batch").astype(object)
    q2[table["action"].to_numpy() == "none"] = "optimal"
    return table.assign(bs_failure=q1, width_vs_batch=q2)


def by_family(fit_predict):
    """Leave one group out within its family: ``fit_predict(train, test) -> (action, flagged)``."""
    def route(table):
        out = []
        for index in table.index:
            same = table[table["family"] == table.at[index, "family"]]
            out.append(fit_predict(same.drop(index), table.loc[[index]]))
        return pd.DataFrame(out, columns=["action", "flagged", "failure"][:len(out[0])],
                            index=table.index)
    return route


def _own_table(train, test):
    train = q_labels(train)
    try:
        return tuple(_diagnosed(test, fit_on=train).iloc[0])
    except (ValueError, TypeError):
        return ABSTAIN, True, None


def _constant(train, test):
    if train.empty:
        return ABSTAIN, True
    return train["action"].mode().iloc[0], False


def _tree(features):
    from sklearn.tree import DecisionTreeClassifier

    def fit_predict(train, test):
        if train.empty:
            return ABSTAIN, True
        X = train[features].fillna(train[features].median())
        tree = DecisionTreeClassifier(random_state=0).fit(X, train["action"])
        x = test[features].fillna(train[features].median())
        return tree.predict(x)[0], False
    return fit_predict


def other_families(fit_predict):
    """Fitted on the other families' groups."""
    def route(table):
        out = []
        for index in table.index:
            family = table.at[index, "family"]
            out.append(fit_predict(table[table["family"] != family], table.loc[[index]]))
        return pd.DataFrame(out, columns=["action", "flagged"], index=table.index)
    return route


TREE_FEATURES = ["train_error", "train_loss", "mode_connectivity_peak", "hessian_t", "CKA"]

#: name -> (kind, route); a route maps the whole table to ``action`` and ``flagged``.
ROUTES = {
    "shipped digits-mlp": ("route", shipped_route("digits-mlp")),
    "shipped cifar10-resnet18": ("route", shipped_route("cifar10-resnet18")),
    "fit on F (default)": ("route", f_route),
    "fit on own table (LOGO)": ("route", by_family(_own_table)),
    "constant (LOGO)": ("baseline", by_family(_constant)),
    "constant (other families)": ("baseline", other_families(_constant)),
    "Valid+DT (LOGO)": ("baseline", by_family(_tree(VALID))),
    "free DT, landscape (LOGO)": ("baseline", by_family(_tree(TREE_FEATURES))),
    "free DT, landscape + weights (LOGO)": (
        "baseline", by_family(_tree([*TREE_FEATURES, "weight_norm_ratio",
                                     "weight_displacement"]))),
    "free DT, landscape + weights + data fraction (LOGO)": (
        "baseline", by_family(_tree([*TREE_FEATURES, "weight_norm_ratio",
                                     "weight_displacement", "data_fraction"]))),
    "free DT, landscape + weights (other families)": (
        "baseline", other_families(_tree([*TREE_FEATURES, "weight_norm_ratio",
                                          "weight_displacement"]))),
}


#: Label seeds (of 6) that must have failed for a "training failed" verdict to count
#: as right on a group whose measured label is "none" (no one-step move helps).
FAILED_SEEDS = 3


def _calibration_route(table):
    """The calibration route (issue 21): each family's groups diagnosed by a
    :class:`~sklearn_mdtree.calibration.CalibratedDiagnoser` calibrated on a lattice of
    the family's own configurations (other seeds), :mod:`benchmarks.known_cause_calibration`."""
    from .known_cause_calibration import calibration_route

    return calibration_route(table)


ROUTES["calibrated on own lattice"] = ("route", _calibration_route)


def score(table, verdicts):
    """Coverage, accuracy of the verdicts given, wrong unflagged share, reproducibility.

    A verdict is right when its action is the measured label. A *training failed*
    verdict (``failure`` "diverged" / "stalled") is right when its advice's direction
    is the measured label, or when the label is "none" (no one-step move helps: the
    failure persists one step away) and at least :data:`FAILED_SEEDS` of the group's
    six label trainings were recorded as failed the same way.
    """
    truth = table["action"]
    given = (verdicts["action"] != ABSTAIN) & ~verdicts["flagged"].astype(bool)
    right = verdicts["action"] == truth
    if "failure" in verdicts:
        failure = verdicts["failure"]
        recorded = ((failure == "diverged") & (table["n_diverged"] >= FAILED_SEEDS)) | (
            (failure == "stalled") & (table["n_stalled"] >= FAILED_SEEDS))
        right = right | ((truth == "none") & recorded)
    n, k = len(table), int(given.sum())
    correct = int((right & given).sum())
    low, high = wilson(correct, k)
    return {
        "groups": n,
        "coverage": k / n if n else math.nan,
        "right": correct,
        "given": k,
        "accuracy": correct / k if k else math.nan,
        "low": low,
        "high": high,
        "wrong_unflagged": int((~right & given).sum()) / n if n else math.nan,
        "accuracy_all": float(right.mean()) if n else math.nan,
        "reproducibility": float((table["repro_action"] == truth).mean()) if n else math.nan,
    }


def _pct(x):
    return "-" if not isinstance(x, (int, float)) or math.isnan(x) else f"{100 * x:.0f}"


def evaluate(table, routes=None):
    """Run every route on the table; markdown: per family and pooled, per route."""
    routes = ROUTES if routes is None else routes
    results, skipped = {}, {}
    for name, (kind, route) in routes.items():
        reason = getattr(route, "unavailable", lambda: None)()
        if reason is not None:  # e.g. a family whose trees are not shipped
            skipped[name] = reason
            continue
        start = time.perf_counter()
        verdicts = route(table)
        results[name] = (kind, verdicts, time.perf_counter() - start)
    families = list(dict.fromkeys(table["family"]))
    lines = ["# Known-cause evaluation", "",
             f"{len(table)} groups, {len(families)} families; labels: one-step RFI from seeds "
             "0-5 (2-SE rule; the smoke grid: 2 seeds); reproducibility: the share of groups "
             "whose label seeds 6-11 reproduce. Coverage: groups given an unflagged verdict. Accuracy: of "
             "those verdicts, with a Wilson 95% interval. Wrong unflagged: share of all "
             "groups. Accuracy (all): every answer, flagged or not.", ""]
    if skipped:
        lines += ["Routes skipped (not run, not scored):", ""]
        lines += [f"- {name}: {reason}" for name, reason in skipped.items()]
        lines.append("")
    for family in [*families, "pooled"]:
        rows = table if family == "pooled" else table[table["family"] == family]
        counts = rows["action"].value_counts().to_dict()
        lines += [f"## {family} ({len(rows)} groups; labels {counts}; "
                  f"reproducibility {_pct(score(rows, rows[['action']].assign(flagged=False))['reproducibility'])}%)",
                  "",
                  f"Failure records of the label seeds: {int((rows['n_diverged'] > 0).sum())} "
                  f"groups with a diverged training ({int(rows['n_diverged'].sum())} trainings), "
                  f"{int((rows['n_stalled'] > 0).sum())} with a stalled one "
                  f"({int(rows['n_stalled'].sum())} trainings).",
                  "",
                  "| route | kind | coverage % | right / given | accuracy % [95% CI] | "
                  "wrong unflagged % | accuracy (all) % |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, (kind, verdicts, _) in results.items():
            s = score(rows, verdicts.loc[rows.index])
            lines.append(
                f"| {name} | {kind} | {_pct(s['coverage'])} | {s['right']} / {s['given']} | "
                f"{_pct(s['accuracy'])} [{_pct(s['low'])}, {_pct(s['high'])}] | "
                f"{_pct(s['wrong_unflagged'])} | {_pct(s['accuracy_all'])} |")
        lines.append("")
    lines += ["## Verdicts per group", "",
              "| group | intended | label | second seeds | "
              + " | ".join(results) + " |",
              "| --- | --- | --- | --- | " + " | ".join("---" for _ in results) + " |"]
    for index in table.index:
        cells = []
        for _, verdicts, _ in results.values():
            a, f = verdicts.at[index, "action"], bool(verdicts.at[index, "flagged"])
            cells.append(f"{a}{' (flag)' if f else ''}")
        lines.append(f"| {index} | {table.at[index, 'intended']} | {table.at[index, 'action']} "
                     f"| {table.at[index, 'repro_action']} | " + " | ".join(cells) + " |")
    lines += ["", *failure_check_lines(table), ""]
    lines += ["", "Route times: " + ", ".join(f"{k} {t:.1f} s" for k, (_, _, t) in
                                               results.items()), ""]
    return "\n".join(lines)


def failure_check(table, optimizer=None):
    """The training check (:func:`sklearn_mdtree.diagnosis._failure.check_training`) on
    each row against the training records: a DataFrame of the call, the records and the
    measured label. ``optimizer``: the knob's name (else the table's ``knob`` column)."""
    from sklearn_mdtree.diagnosis._failure import check_training

    rows = []
    for index, row in table.iterrows():
        knob = optimizer or row.get("knob", "learning rate")
        failure = check_training(row, n_classes=int(row["n_classes"]), optimizer=knob).failure
        recorded = ("diverged" if row["n_diverged"] >= FAILED_SEEDS else
                    "stalled" if row["n_stalled"] >= FAILED_SEEDS else "-")
        rows.append((index, failure.kind if failure else "-", recorded, row["action"]))
    return pd.DataFrame(rows, columns=["group", "call", "recorded", "label"]).set_index("group")


def _failure_table(calls, title):
    lines = [title, "", "| call | groups | recorded as that failure (>= 3 of 6 seeds) | "
             "measured label: lower / raise temperature / none / other |",
             "| --- | --- | --- | --- |"]
    for call in ("diverged", "stalled"):
        rows = calls[calls["call"] == call]
        counts = rows["label"].value_counts()
        other = len(rows) - sum(counts.get(k, 0) for k in
                                ("lower temperature", "raise temperature", "none"))
        lines.append(f"| {call} | {len(rows)} | {int((rows['recorded'] == call).sum())} | "
                     f"{counts.get('lower temperature', 0)} / "
                     f"{counts.get('raise temperature', 0)} / {counts.get('none', 0)} / "
                     f"{other} |")
    missed = calls[(calls["call"] == "-") & (calls["recorded"] != "-")]
    lines += ["", f"Recorded failures not called: {len(missed)} of "
              f"{int((calls['recorded'] != '-').sum())}."]
    return lines


def failure_check_lines(table):
    """The training check on the known-cause groups and, where the calibration route's
    lattices are in ``results/calibrated/`` (other configurations and seeds, not looked
    at when the check's thresholds were set), on those."""
    lines = _failure_table(failure_check(table),
                           "## The training check against the training records")
    lattices = sorted((RESULTS / "calibrated").glob("*.lattice.csv"))
    if lattices:
        frames = []
        for path in lattices:
            family = path.name.split(".")[0]
            knob = "batch size" if "cnn" in family else "learning rate"
            frames.append(failure_check(pd.read_csv(path), optimizer=knob))
        lines += ["", *_failure_table(pd.concat(frames, ignore_index=True),
                                      f"### On the calibration lattices ({len(lattices)} "
                                      "families, seeds 100-105)")]
    return lines


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
        table.attrs["records"].to_csv(out / f"{stem}_trainings.csv", index=False)
        total = time.perf_counter() - start
        print(f"wrote {csv} ({len(table)} groups) in {total:.0f} s on one thread; per family "
              "(train+label, featurize): " + ", ".join(
                  f"{k} {a:.0f}+{b:.0f} s" for k, (a, b) in timings.items()), file=sys.stderr)
    if args.stage in ("all", "evaluate"):
        table = pd.read_csv(csv, index_col="group")
        # the calibration route trains a lattice per family (minutes): not in a smoke run
        routes = {k: v for k, v in ROUTES.items()
                  if not (args.smoke and v[1] is _calibration_route)}
        text = evaluate(table, routes)
        print(text)
        (out / f"{stem}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
