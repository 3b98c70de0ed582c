"""The plots of the paper's reproduction (``docs/_static/reproduction/``)."""

from __future__ import annotations

from pathlib import Path

from .settings import FIGURES, STEP_RULES

#: Folder of the plots, relative to the docs folder.
IMAGES = Path("_static") / "reproduction"


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


def plot_figures(curves, docs):
    """One PNG per figure; returns {figure name: path relative to docs}."""
    from ..plotting import plot_accuracy_curves

    plt = _pyplot()
    paths = {}
    for figure in FIGURES:
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


def plot_one_step(tables, docs):
    """One PNG per question (Q1, Q2); returns {question: path relative to docs}."""
    from ..plotting import plot_one_step_gains

    plt = _pyplot()
    paths = {}
    for question, table in tables.items():
        ours = table.pivot(index="method", columns="step", values="ours")
        paper = table.pivot(index="method", columns="step", values="paper")
        order = list(dict.fromkeys(table["method"]))
        ours, paper = ours.loc[order, list(STEP_RULES)], paper.loc[order]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        plot_one_step_gains(
            ours, reference=paper, ax=ax,
            title=f"One-step configuration change, {question} (bars: ours; black: paper)",
            ylabel="mean test-accuracy gain on F' (points)",
        )
        paths[question] = _save(fig, docs, f"one_step_{question.lower()}")
    return paths
