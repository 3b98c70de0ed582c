"""``mdtree reproduce``: Table B of the paper (and Tables 1 and 2), ours beside the paper's."""

from __future__ import annotations

import sys

from . import _common
from ._output import Result, add_output_option, output_path

__all__ = []


def add_parser(sub):
    rep = sub.add_parser(
        "reproduce",
        help="print Table B of the paper, ours beside the paper's figures",
        description="Reproduce Table B of the MD tree paper on the public collections: "
        "five transfer cases x six methods (Hyper+DT, Valid+DT, Hyper+Valid+DT, "
        "Loss-landscape+DT, MD tree with Brent and with exhaustive threshold search), "
        "with the paper's figure and the gap beside ours. For every figure and the "
        "plots, run `python -m benchmarks.reproduce` from the repository.",
    )
    _common.add_data_options(rep)
    rep.add_argument("--n-jobs", type=_common.n_jobs, default=None, metavar="N",
                     help="joblib workers for the independent runs (default: 1)")
    add_output_option(rep, metavar="FILE.md",
                      help="also write the report (markdown) to this file")
    rep.add_argument("--one-step", action="store_true",
                     help="add Tables 1 and 2 (one-step configuration change, Appendix A)")
    bar = rep.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar (default: when stderr is a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help="never show a progress bar")
    return rep


def outputs(args):
    return [("--output", output_path(args))]


def inputs(args):
    return _common.collection_files(args.data_home)


def run(args):
    from .._paper import table_b_report

    frame = _common.load_collections(args.data_home)
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    text = table_b_report(frame, n_jobs=args.n_jobs, progress=progress,
                          one_step=args.one_step)
    path = output_path(args)
    if path is None:
        return Result(text)
    return Result(text + f"Report written to {path}\n", files={"--output": text})
