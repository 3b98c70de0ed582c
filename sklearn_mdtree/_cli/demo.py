"""``mdtree demo``: train a zoo of digits MLPs and watch the MD tree diagnose it."""

from __future__ import annotations

import sys

from . import _common
from ._common import CommandError
from ._output import Result

__all__ = []


def add_parser(sub):
    demo = sub.add_parser(
        "demo",
        help="train a zoo of digits MLPs and watch the MD tree diagnose it (needs torch)",
        description="Train the default zoo of tanh MLPs on scikit-learn's digits (cached: "
        "a second run reads it), featurize and label it by room for improvement, compare "
        "the MD tree with Hyper+DT, Valid+DT, Hyper+Valid+DT, Loss-landscape+DT and a "
        "constant answer as learning curves (dataset and scale transfer, Q1 and Q2), print the table and the "
        "diagnosis of a held-out configuration, and save the plots.",
    )
    demo.add_argument("--output", metavar="DIR", default="mdtree-demo",
                      help="folder for the plots, tables and report (default: ./mdtree-demo)")
    demo.add_argument("--preset", choices=["tiny", "default", "large"], default="default",
                      help="size of the zoo (default: default, 3,024 models: minutes "
                           "cold, seconds from the cache, times in benchmarks/README.md; "
                           "tiny: 144 models)")
    demo.add_argument("--cache-dir", metavar="DIR", default=None,
                      help="the zoo's cache (default: <scikit-learn data home>/mdtree/zoo)")
    demo.add_argument("--n-jobs", type=_common.n_jobs, default=None, metavar="N",
                      help="joblib workers (default: 1)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return demo


def outputs(args):
    return []  # a folder, which run_demo fills


def inputs(args):
    return []


def run(args):
    try:
        from featurizers.zoo.demo import run_demo
    except ImportError as exc:
        raise CommandError(
            f"needs PyTorch ({exc}); install it with `pip install \"sklearn-mdtree[torch]\"`"
        ) from None
    try:
        run_demo(args.output, preset=args.preset, cache_dir=args.cache_dir,
                 n_jobs=args.n_jobs, verbose=0 if args.quiet else 1, out=sys.stdout)
    except ImportError as exc:  # the plots need matplotlib (extra "plot")
        raise CommandError(
            f"needs {exc.name or 'an optional dependency'} ({exc}); install it with "
            "`pip install \"sklearn-mdtree[all]\"`"
        ) from None
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    return Result()
