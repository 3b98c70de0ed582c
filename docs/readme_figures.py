"""Write the README's two pictures: the fitted Q1 tree and its regimes.

Run from the repository root (needs the ``plot`` extra and the public collections)::

    python docs/readme_figures.py

It fits the paper's case 1 (8 random pairs of F, the first seed) as the getting
started page does, and writes ``docs/_static/readme/tree.png`` and
``docs/_static/readme/regimes.png`` (small PNGs, committed for the README).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import doc_figures  # noqa: E402

from sklearn_mdtree.plotting import plot_regimes, plot_tree  # noqa: E402


def main():
    out = HERE / "_static" / "readme"
    out.mkdir(parents=True, exist_ok=True)
    clf, X, y, X_test, y_test = doc_figures.case_1_tree()
    ax = plot_tree(clf, show_counts=False)
    ax.figure.set_size_inches(8, 4.6)
    ax.figure.savefig(out / "tree.png", dpi=90, metadata={"Software": None})
    axes = plot_regimes(clf, X, y, X_test=X_test, y_test=y_test)
    axes[0, 0].figure.set_size_inches(10, 6.6)
    axes[0, 0].figure.savefig(out / "regimes.png", dpi=80, metadata={"Software": None})
    for name in ("tree.png", "regimes.png"):
        print(out / name, f"{(out / name).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
