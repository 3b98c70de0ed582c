"""Reproduce the paper's evidence in one run, ours beside the paper's figures.

Regenerates, from the public collections:

1. Table B (five transfer cases) for Hyper+DT, Valid+DT, Hyper+Valid+DT,
   Loss-landscape+DT, MD tree with bounded Brent search (the paper's) and MD tree
   with the exhaustive threshold search, each beside the paper's figure and gap;
2. the curves of Figures 3a-c, 6a-b, 17, 24 and 28 (accuracy against k), as PNG
   plots with the paper's values as markers, and as tables;
3. the one-step configuration change of Appendix A: Tables 1 (Q1) and 2 (Q2) with
   the Optimal and Random diagnosis rows and the fixed, random and optimal steps.

and writes the markdown report ``docs/reproduction.md`` with the plots in
``docs/_static/reproduction/``. Run from the repository root::

    python -m benchmarks.reproduce [--data-home DIR] [--n-jobs N] [--docs DIR]

The collections are read from ``--data-home``, else ``$SKLEARN_MDTREE_DATA``, else
the scikit-learn data home (downloaded with checksum verification if missing).
The experiments themselves are defined once, in ``sklearn_mdtree._paper``, which
the ``mdtree reproduce`` command uses too.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.tree import DecisionTreeClassifier

from sklearn_mdtree import _paper
from sklearn_mdtree.datasets import fetch_model_diagnosis
from sklearn_mdtree.model_selection import FewShotTransfer, seeded_cross_val_score

#: Acceptance: largest |ours - paper| allowed, by kind of method.
TOLERANCE = {"MD tree": 0.01, "baseline": 1.0, "one-step MD tree": 0.01}

IMAGES = Path("_static") / "reproduction"


def _fig17_seeded(frame, figure):
    """Loss-landscape+DT of Fig 17 with random_state = each split's seed (not 42)."""
    values = []
    tree = DecisionTreeClassifier(criterion="gini", max_depth=4)
    features = list(_paper.LOSS_LANDSCAPE)
    for k in figure.ks:
        cv = FewShotTransfer(figure.setting.scheme, k, label=figure.setting.task, frame=frame)
        scores = seeded_cross_val_score(tree, frame[features], frame[figure.setting.task], cv=cv)
        values.append(100 * scores.mean())
    return np.array(values)


#: Valid+DT as printed in the paper (Table B's note); the cases are those whose
#: seeded figure matches (case 2 is the same either way).
PRINTED_VALID = {1: 72.82, 3: 67.55, 4: 55.79, 5: 63.61}


def _valid_seeded(frame):
    """Valid+DT of Table B with random_state = each split's seed, per case."""
    tree = DecisionTreeClassifier(criterion="gini", max_depth=4)
    values = {}
    for case, (_, setting) in enumerate(_paper.TABLE_B, start=1):
        cv = FewShotTransfer(setting.scheme, setting.k, label=setting.task, frame=frame)
        X, y = frame[list(_paper.VALID)], frame[setting.task]
        values[case] = 100 * seeded_cross_val_score(tree, X, y, cv=cv).mean()
    return values


def _curve_markdown(curves, figure):
    """One row per k: every method's mean, and the paper's value and gap where known."""
    part = curves[curves["figure"] == figure.name]
    header = ["k"]
    for method in figure.methods:
        header.append(method)
        if method in figure.reference:
            header += ["paper", "gap"]
    rows = []
    for k in figure.ks:
        at = part[part["k"] == k].set_index("method")
        row = [str(k)]
        for method in figure.methods:
            row.append(f"{at.loc[method, 'ours']:.3f}")
            if method in figure.reference:
                row += [f"{at.loc[method, 'paper']:.2f}", _paper._signed(at.loc[method, "gap"], 3)]
        rows.append(row)
    return _paper.markdown_table(header, rows, ["r"] * len(header))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, docs, name):
    """Write ``fig`` to ``docs/_static/reproduction/<name>.png`` and close it.

    Returns the path relative to ``docs``, as the report links it.
    """
    fig.tight_layout()
    path = IMAGES / f"{name}.png"
    (docs / IMAGES).mkdir(parents=True, exist_ok=True)
    fig.savefig(docs / path, dpi=110, metadata={"Software": None})
    _pyplot().close(fig)
    return path


def _plot_figures(curves, docs):
    """One PNG per figure; returns {figure name: path relative to docs}."""
    from sklearn_mdtree.plotting import plot_accuracy_curves

    plt = _pyplot()
    paths = {}
    for figure in _paper.FIGURES:
        part = curves[curves["figure"] == figure.name]
        wide = part.pivot(index="k", columns="method", values="ours")[list(figure.methods)]
        spread = part.pivot(index="k", columns="method", values="std")[list(figure.methods)]
        reference = {m: (figure.ks, v) for m, v in figure.reference.items()}
        fig, ax = plt.subplots(figsize=(7, 4.5))
        plot_accuracy_curves(
            wide, reference=reference, errors=spread, ax=ax,
            title=f"Figure {figure.name}: {figure.title}", xlabel=figure.xlabel,
            logx=figure.setting.scheme == "width_limit",
        )
        ax.title.set_fontsize("medium")
        paths[figure.name] = _save(fig, docs, f"figure_{figure.name}")
    return paths


def _plot_one_step(tables, docs):
    """One PNG per question (Q1, Q2); returns {question: path relative to docs}."""
    from sklearn_mdtree.plotting import plot_one_step_gains

    plt = _pyplot()
    paths = {}
    for question, table in tables.items():
        ours = table.pivot(index="method", columns="step", values="ours")
        paper = table.pivot(index="method", columns="step", values="paper")
        order = list(dict.fromkeys(table["method"]))
        ours, paper = ours.loc[order, list(_paper.STEP_RULES)], paper.loc[order]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        plot_one_step_gains(
            ours, reference=paper, ax=ax,
            title=f"One-step configuration change, {question} (bars: ours; black: paper)",
            ylabel="mean test-accuracy gain on F' (points)",
        )
        paths[question] = _save(fig, docs, f"one_step_{question.lower()}")
    return paths


def _acceptance(table, curves, one_step):
    """Rows of the acceptance summary: (check, largest |gap|, tolerance, verdict)."""
    checks = []

    def add(name, gaps, tolerance):
        worst = float(np.nanmax(np.abs(gaps))) if len(gaps) else float("nan")
        verdict = "pass" if worst <= tolerance else "FAIL"
        checks.append((name, f"{worst:.4f}", f"{tolerance:g}", verdict))

    brent = table[table["method"] == _paper.BRENT]["gap"]
    add("Table B, MD tree (Brent)", brent.dropna(), TOLERANCE["MD tree"])
    base = table[table["method"].isin([_paper.HYPER_DT, _paper.VALID_DT])]["gap"]
    add("Table B, Hyper+DT and Valid+DT", base.dropna(), TOLERANCE["baseline"])
    for figure in _paper.FIGURES:
        for method in figure.reference:
            part = curves[(curves["figure"] == figure.name) & (curves["method"] == method)]
            kind = "MD tree" if method == _paper.BRENT else "baseline"
            add(f"Figure {figure.name}, {method}", part["gap"].dropna(), TOLERANCE[kind])
    for question, t in one_step.items():
        part = t[t["method"] == _paper.BRENT]["gap"]
        add(f"One-step {question}, MD tree (Brent)", part.dropna(), TOLERANCE["one-step MD tree"])
        others = t[~t["method"].isin([_paper.BRENT])]["gap"].dropna()
        add(f"One-step {question}, other rows", others, TOLERANCE["baseline"])
    return checks


def build_report(table, curves, one_step, fig17_seeded, valid_seeded, images, seconds):
    """The markdown report as a string."""
    seeds = " ".join(map(str, _paper.SEEDS))
    checks = _acceptance(table, curves, one_step)
    lines = [
        "# Reproduction of the MD tree paper",
        "",
        "Generated by `python -m benchmarks.reproduce` (do not edit by hand). Ours beside "
        "the reference figures of `shared/reference/paper_results.md` (the authors' "
        "published code run unchanged on the public collections with scikit-learn 1.9.1; "
        "for the MD tree, the paper's own figures). Accuracies in percent on F' without "
        f"`optimal` rows, means over the seeds {seeds}; `gap` = ours - paper.",
        "",
        "## Acceptance",
        "",
        _paper.markdown_table(
            ["check", "largest abs gap", "tolerance", "verdict"], checks, ["l", "r", "r", "l"]
        ),
        "",
        "## Table B",
        "",
        _paper.table_b_markdown(table),
        "",
        "`rows`: training rows per seed (case 4 draws 166 rows for seed 18, 167 for the "
        "others: a random data fraction can hold fewer non-optimal rows). Hyper+Valid+DT "
        "and Loss-landscape+DT have no reference value in Table B.",
        "",
        "Every decision tree here has `random_state=42`, as in the authors' published "
        "code (it sets the tree's seed to the first seed once). The paper prints other "
        "Valid+DT figures; seeding each tree with its split's seed "
        "(`sklearn_mdtree.model_selection.seeded_cross_val_score`) gives them:",
        "",
        _paper.markdown_table(
            ["case", "Valid+DT, random_state=seed", "printed in the paper", "gap"],
            [
                [str(case), f"{value:.3f}",
                 f"{PRINTED_VALID[case]:.2f}" if case in PRINTED_VALID else "",
                 _paper._signed(value - PRINTED_VALID[case], 3) if case in PRINTED_VALID
                 else ""]
                for case, value in valid_seeded.items()
            ],
            ["r", "r", "r", "r"],
        ),
        "",
        "**Exhaustive against Brent.** The exhaustive search finds the threshold of "
        "each split that maximises training accuracy exactly; bounded Brent search "
        "(the paper's) can stop at a local optimum of the step function that training "
        f"accuracy is of a threshold. {_paper.exhaustive_summary(table)} "
        "A better fit of the training rows is not always a better transfer to F'. The column "
        "`exh. - Brent` gives the gap per case; the figures below show it for every k.",
        "",
        "## Curves",
        "",
    ]
    for figure in _paper.FIGURES:
        lines += [
            f"### Figure {figure.name}: {figure.title}",
            "",
            f"![Figure {figure.name}]({images[figure.name].as_posix()})",
            "",
            _curve_markdown(curves, figure),
            "",
        ]
        if figure.name == "17":
            seeded = " ".join(f"{v:.2f}" for v in fig17_seeded)
            lines += [
                "Loss-landscape+DT here is `DecisionTreeClassifier(criterion=\"gini\", "
                "max_depth=4, random_state=42)` on train_error, mode_connectivity_peak, "
                "CKA, hessian_t, as in the authors' code. With `random_state` set to each "
                f"split's seed instead, the same k give {seeded}.",
                "",
            ]
    lines += [
        "## One-step configuration change (Appendix A)",
        "",
        "Mean test-accuracy gain on F' (points; mean ± std over the seeds). The gain "
        "is measured on F' `test_acc`, against the configuration's own. Step rules: "
        "*fixed* moves one grid point in the chosen direction (one batch size, one "
        "width); *random* a grid point drawn uniformly among those in that direction; "
        "*optimal* the best of them; a model at the end of its range stays; negative "
        "gains count as zero. The random draws follow the authors' code draw for draw "
        "(a private `RandomState(seed)`; for trained methods, advanced by the draw of "
        "the training set first, as their global RNG is). Optimal diagnosis takes the "
        "direction with the best reachable gain; Random diagnosis flips a coin per "
        "model (for Q2, width-or-optimizer first, then the direction).",
        "",
        "### Table 1: Q1 (training set: 8 random pairs, 96 rows; 1560 test models)",
        "",
        f"![One-step Q1]({images['Q1'].as_posix()})",
        "",
        _paper.one_step_markdown(one_step["Q1"]),
        "",
        "### Table 2: Q2 (training set: 1 random data fraction)",
        "",
        "The Q2 pool also drops rows whose Q1 label is `optimal`; when the Q2 tree blames "
        "the optimizer, a Q1 tree fitted on the same rows picks the direction. The "
        "decision-tree baselines use the same features for both trees (Valid+DT in the "
        "column order of the authors' one-step scripts: train_loss, train_error, "
        "test_error, test_loss).",
        "",
        f"![One-step Q2]({images['Q2'].as_posix()})",
        "",
        _paper.one_step_markdown(one_step["Q2"]),
        "",
        "MD tree (exhaustive) is an extra row, not in the paper.",
        "",
        f"Whole run: {seconds:.1f} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    """Run every experiment and write the report; returns 0, or 1 on a failed check."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reproduce",
        description="Reproduce Table B, the curves of Figures 3a-c, 6a-b, 17, 24, 28 and "
        "the one-step Tables 1-2 of the MD tree paper; write docs/reproduction.md and "
        "the plots.",
    )
    parser.add_argument("--data-home", metavar="DIR", default=None,
                        help="folder of the public CSVs (default: $SKLEARN_MDTREE_DATA)")
    parser.add_argument("--n-jobs", type=int, default=None, metavar="N",
                        help="joblib workers for the independent runs (default: 1)")
    parser.add_argument("--docs", metavar="DIR", default="docs",
                        help="documentation folder to write into (default: docs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    frame = fetch_model_diagnosis("both", data_home=args.data_home).frame
    progress = not args.no_progress
    table = _paper.table_b(frame, n_jobs=args.n_jobs, progress=progress)
    curves = _paper.figure_curves(frame, n_jobs=args.n_jobs, progress=progress)
    one_step = {
        q: _paper.one_step_table(frame, q, n_jobs=args.n_jobs, progress=progress)
        for q in ("Q1", "Q2")
    }
    fig17 = next(f for f in _paper.FIGURES if f.name == "17")
    fig17_seeded = _fig17_seeded(frame, fig17)
    valid_seeded = _valid_seeded(frame)

    docs = Path(args.docs)
    images = {**_plot_figures(curves, docs), **_plot_one_step(one_step, docs)}
    seconds = time.perf_counter() - start
    report = build_report(
        table, curves, one_step, fig17_seeded, valid_seeded, images, seconds
    )
    (docs / "reproduction.md").write_text(report, encoding="utf-8")

    checks = _acceptance(table, curves, one_step)
    print(_paper.markdown_table(["check", "largest abs gap", "tolerance", "verdict"], checks))
    print(f"\nReport: {docs / 'reproduction.md'}; plots in {docs / IMAGES}; {seconds:.1f} s.")
    return 0 if all(c[3] == "pass" for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
