"""Fast pieces of the reproduction (``sklearn_mdtree._paper``, ``benchmarks/reproduce.py``).

The full suite (``python -m benchmarks.reproduce``) is not a unit test; these pin the
one-step MD tree rows and the Table B baselines, and check the report's formatting.
"""

import numpy as np
import pandas as pd
import pytest
import sklearn

from sklearn_mdtree import _paper

# Decision-tree ties are broken the same way as the reference run with scikit-learn
# 1.9; other versions may break them otherwise (the acceptance is then +-1 point).
BASELINE_TOL = 0.01 if sklearn.__version__.startswith("1.9") else 1.0


def _rule_means(table, method):
    return table[table["method"] == method].set_index("step")["ours"][list(_paper.STEP_RULES)]


def test_one_step_q1_md_tree_and_table_b_baselines(stacked_frame):
    one_step = _paper.one_step_table(stacked_frame, "Q1", methods=[_paper.BRENT])
    np.testing.assert_allclose(_rule_means(one_step, _paper.BRENT), [1.342, 2.740, 5.518],
                               atol=0.01)

    table = _paper.table_b(stacked_frame, methods=[_paper.HYPER_DT, _paper.VALID_DT])
    assert len(table) == 10
    assert table["paper"].notna().all()
    assert table["gap"].abs().max() <= BASELINE_TOL
    assert table["rows"].tolist()[::2] == ["96", "156", "120", "166/167", "167"]


def test_one_step_q2_md_tree(stacked_frame):
    one_step = _paper.one_step_table(stacked_frame, "Q2", methods=[_paper.BRENT])
    np.testing.assert_allclose(_rule_means(one_step, _paper.BRENT), [1.731, 4.792, 8.097],
                               atol=0.01)


def test_one_step_seed_optimal_and_random_bounds(stacked_frame):
    optimal = _paper.one_step_seed(stacked_frame, "Q1", _paper.OPTIMAL, 42)
    random = _paper.one_step_seed(stacked_frame, "Q1", _paper.RANDOM, 42)
    brent = _paper.one_step_seed(stacked_frame, "Q1", _paper.BRENT, 42)
    assert optimal["fixed"] == pytest.approx(1.478, abs=1e-3)  # no randomness in it
    assert optimal["optimal"] == pytest.approx(5.829, abs=1e-3)
    for rule in ("fixed", "optimal"):  # deterministic rules: perfect diagnosis bounds
        assert random[rule] < brent[rule] <= optimal[rule]


def test_markdown_formatting():
    table = pd.DataFrame(
        {
            "method": ["A", "A", "A"],
            "step": list(_paper.STEP_RULES),
            "ours": [1.0, 2.0, 3.0],
            "std": [0.1, 0.2, 0.3],
            "paper": [1.0002, np.nan, 3.0],
            "gap": [-0.0002, np.nan, 0.0],
        }
    )
    lines = _paper.one_step_markdown(table).splitlines()
    assert lines[0].startswith("| method | fixed step | paper | gap |")
    assert lines[2] == (
        "| A | 1.000 ± 0.10 | 1.000 | +0.000 | 2.000 ± 0.20 |  |  | 3.000 ± 0.30 | 3.000 "
        "| +0.000 |"
    )
    assert _paper.markdown_table(["a", "b"], [["1", "2"]], ["l", "r"]).splitlines() == [
        "| a | b |", "| --- | ---: |", "| 1 | 2 |"
    ]


def test_worst_gaps_ignores_methods_without_reference():
    table = pd.DataFrame({"method": ["A", "A", "B"], "gap": [0.1, -0.3, np.nan]})
    worst = _paper.worst_gaps(table)
    assert worst.to_dict() == {"A": 0.3}


def test_figures_and_references_are_consistent():
    names = [f.name for f in _paper.FIGURES]
    assert names == ["3a", "3b", "3c", "6a", "6b", "17", "24", "28"]
    for figure in _paper.FIGURES:
        for method, values in figure.reference.items():
            assert method in figure.methods
            assert len(values) == len(figure.ks), figure.name


def test_exhaustive_summary():
    table = pd.DataFrame(
        [
            {"case": c, "task": "Q1", "training set": "x", "rows": "1", "method": m,
             "ours": 80.0 + (m == _paper.EXHAUSTIVE) * (1 if c % 2 else -1), "std": 0.0,
             "paper": 80.0 if m == _paper.BRENT else np.nan,
             "gap": 0.0 if m == _paper.BRENT else np.nan}
            for c in range(1, 6) for m in (_paper.BRENT, _paper.EXHAUSTIVE)
        ]
    )
    summary = _paper.exhaustive_summary(table)
    assert summary == (
        "On F', exhaustive is ahead in cases 1, 3, 5 (by up to 1.00 points) and behind "
        "in cases 2, 4 (by up to 1.00 points)."
    )


# --------------------------------------------------------------------------------------
# the report of benchmarks/reproduce.py: curve tables and plots


def test_curve_markdown_signs_the_gap_as_the_tables_do():
    figure = next(f for f in _paper.FIGURES if f.name == "24")
    rows = []
    for method in figure.methods:
        reference = figure.reference.get(method, (np.nan,) * len(figure.ks))
        for k, paper in zip(figure.ks, reference):
            ours = 80.0 if np.isnan(paper) else paper - 0.0002 * k
            rows.append({"figure": "24", "method": method, "k": k, "ours": ours,
                         "paper": paper, "gap": ours - paper})
    lines = _paper.curve_markdown(pd.DataFrame(rows), figure).splitlines()
    assert lines[0] == "| k | " + " | ".join(
        [_paper.BRENT, "paper", "gap", *figure.methods[1:]]
    ) + " |"
    assert lines[2].startswith("| 1 | 76.660 | 76.66 | +0.000 | 80.000 |")
    assert lines[-1].startswith("| 5 | 79.339 | 79.34 | -0.001 |")


def test_one_step_plots_create_their_folder(tmp_path):
    cells = [
        {"method": m, "step": rule, "ours": 1.0 + i, "paper": 1.0 if m == _paper.BRENT else np.nan}
        for m in (_paper.BRENT, _paper.RANDOM) for i, rule in enumerate(_paper.STEP_RULES)
    ]
    docs = tmp_path / "docs"  # does not exist yet
    paths = _paper.plot_one_step({"Q1": pd.DataFrame(cells)}, docs)
    assert paths == {"Q1": _paper.IMAGES / "one_step_q1.png"}
    assert (docs / paths["Q1"]).read_bytes().startswith(b"\x89PNG")


def test_figure_curves_rows(stacked_frame):
    from dataclasses import replace

    fig24 = next(f for f in _paper.FIGURES if f.name == "24")
    small = replace(fig24, ks=(1, 2), methods=(_paper.BRENT, _paper.HYPER_DT),
                    reference={_paper.BRENT: (76.66, 77.82)})
    curves = _paper.figure_curves(stacked_frame, figures=[small])
    assert list(curves.columns) == ["figure", "method", "k", "ours", "std", "paper", "gap"]
    assert curves[["method", "k"]].values.tolist() == [
        [_paper.BRENT, 1], [_paper.BRENT, 2], [_paper.HYPER_DT, 1], [_paper.HYPER_DT, 2]
    ]
    brent = curves[curves["method"] == _paper.BRENT]
    np.testing.assert_allclose(brent["gap"], brent["ours"] - brent["paper"])
    assert brent["gap"].abs().max() <= 0.01
    assert curves.loc[curves["method"] == _paper.HYPER_DT, ["paper", "gap"]].isna().all().all()
    assert (curves["std"] >= 0).all()
