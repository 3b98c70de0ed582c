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
This script only parses its options: the experiments, the report and the plots are
defined once, in ``sklearn_mdtree._paper``, which the ``mdtree reproduce`` command
uses too.
"""

import argparse
import sys
from pathlib import Path

from sklearn_mdtree import _paper
from sklearn_mdtree.datasets import fetch_model_diagnosis


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
                        help="documentation folder to write into (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    frame = fetch_model_diagnosis("both", data_home=args.data_home).frame
    docs = Path(args.docs)
    checks, seconds = _paper.write_report(
        frame, docs, n_jobs=args.n_jobs, progress=not args.no_progress
    )
    print(_paper.markdown_table(["check", "largest abs gap", "tolerance", "verdict"], checks))
    images = docs / _paper.IMAGES
    print(f"\nReport: {docs / 'reproduction.md'}; plots in {images}; {seconds:.1f} s.")
    return 0 if all(c[3] == "pass" for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
