"""``mdtree demo``: the paper's few-shot transfer, end to end from raw models.

Trains the default digits zoo (or reads it from the cache), featurizes it,
labels it by room for improvement, runs the method comparison of the paper as
learning curves (:mod:`sklearn_mdtree.compare`), prints the table, saves the
plots, and prints the diagnosis of one held-out configuration with its path
through the tree.
"""

from __future__ import annotations

import math

import shutil
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["SUMMARY_METHODS", "demo_transfers", "run_demo", "summary_table"]


def demo_transfers(grid):
    """The transfers the demo compares the methods on, for a zoo's grid.

    Q1 dataset transfer (k random (data, width) pairs of the clean zoo), Q1 scale
    transfer (data level <= k, width <= k), Q2 dataset transfer (k random data
    amounts) and Q2 scale transfer (data level <= k); with more than one learning
    rate in the grid, also the Q1 dataset transfer of the learning-rate label
    (``lr_failure``); always scored on the whole noisy zoo.

    Parameters
    ----------
    grid : ZooGrid

    Returns
    -------
    tuple of sklearn_mdtree.compare.Transfer

    Examples
    --------
    >>> from featurizers.zoo import zoo_preset
    >>> from featurizers.zoo.demo import demo_transfers
    >>> transfers = demo_transfers(zoo_preset("tiny"))
    >>> len(transfers)
    5
    >>> [(t.task, t.scheme, t.ks) for t in transfers[:3]]  # doctest: +NORMALIZE_WHITESPACE
    [('bs_failure', 'random_pairs', (1, 2)), ('bs_failure', 'data_limit', (1, 2)),
     ('bs_failure', 'width_limit', (4, 16))]
    >>> [t.task for t in demo_transfers(zoo_preset("default"))][:2]
    ['bs_failure', 'lr_failure']
    """
    from sklearn_mdtree.compare import Transfer

    n_pairs = len(grid.width) * len(grid.data_amount)
    pair_ks = tuple(k for k in (1, 2, 4, 8, 12) if k < n_pairs)
    levels = tuple(range(1, len(grid.data_amount) + 1))
    lr = ((Transfer("Q1 on the learning rate (lr_failure), clean -> noisy: k random "
                    "(data, width) pairs", "lr_failure", "random_pairs", pair_ks),)
          if len(grid.lr) > 1 else ())
    return (
        Transfer("Q1 dataset transfer (clean -> noisy): k random (data, width) pairs",
                 "bs_failure", "random_pairs", pair_ks),
        *lr,
        Transfer("Q1 scale transfer: data level <= k", "bs_failure", "data_limit", levels),
        Transfer("Q1 scale transfer: width <= k", "bs_failure", "width_limit",
                 tuple(grid.width)),
        Transfer("Q2 dataset transfer: k random data amounts", "width_vs_batch",
                 "random_data", levels),
        Transfer("Q2 scale transfer: data level <= k", "width_vs_batch", "data_limit", levels),
    )


#: The methods of the demo's summary: the MD tree the demo uses (Brent, data bounds),
#: its exhaustive search, the validation baseline and the constant answer.
SUMMARY_METHODS = ("MD tree (Brent, data bounds)", "MD tree (exhaustive, data bounds)",
                   "Valid+DT", "Constant (training majority)")


def summary_table(curves):
    """For every transfer and every k: the MD tree beside Valid+DT and a constant answer.

    Parameters
    ----------
    curves : pandas.DataFrame
        From :func:`sklearn_mdtree.compare.learning_curves`, with the methods of
        :data:`SUMMARY_METHODS`.

    Returns
    -------
    str
        A markdown table per transfer: one row per k, the mean accuracy of each
        method, and whether the MD tree (Brent, data bounds) is below Valid+DT
        or the constant answer at that k.

    Examples
    --------
    >>> import pandas as pd
    >>> from featurizers.zoo.demo import SUMMARY_METHODS, summary_table
    >>> curves = pd.DataFrame({"transfer": "Q1", "method": list(SUMMARY_METHODS), "k": 4,
    ...                        "mean": [60.0, 70.0, 65.0, 50.0], "std": 0.0})
    >>> print(summary_table(curves))
    **Q1**
    <BLANKLINE>
    | k | MD tree (Brent, data bounds) | MD tree (exhaustive, data bounds) | Valid+DT | Constant (training majority) | MD tree (Brent) vs Valid+DT / constant |
    | ---: | ---: | ---: | ---: | ---: | --- |
    | 4 | 60.0 | 70.0 | 65.0 | 50.0 | below Valid+DT |
    """
    from sklearn_mdtree.compare import _markdown_table

    lines = []
    for name, part in curves.groupby("transfer", sort=False):
        means = part.pivot_table(index="k", columns="method", values="mean", sort=False)
        rows = []
        for k in dict.fromkeys(part["k"]):
            values = [means.loc[k, m] if m in means.columns else float("nan")
                      for m in SUMMARY_METHODS]
            tree, valid, constant = values[0], values[2], values[3]
            verdict = [w for w, below in (("below Valid+DT", tree < valid),
                                          ("below the constant", tree < constant)) if below]
            missing = not all(math.isfinite(v) for v in (tree, valid, constant))
            rows.append([f"{k:g}"] + [f"{v:.1f}" for v in values]
                        + ["n/a" if missing else "; ".join(verdict) or "at or above both"])
        lines += [f"**{name}**", "", _markdown_table(
            ["k", *SUMMARY_METHODS, "MD tree (Brent) vs Valid+DT / constant"], rows,
            ["r"] * (len(SUMMARY_METHODS) + 1) + ["l"]), ""]
    return "\n".join(lines).rstrip()


def _curves_figure(curves):
    """The learning curves, one axes per transfer: integer k ticks, each legend right
    of its axes (never over the curves)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_mdtree.plotting import plot_accuracy_curves

    names = list(dict.fromkeys(curves["transfer"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 3.6 * len(names)), squeeze=False,
                             layout="constrained")
    for ax, name in zip(axes[:, 0], names):
        part = curves[curves["transfer"] == name]
        means = part.pivot(index="k", columns="method", values="mean")
        stds = part.pivot(index="k", columns="method", values="std")
        order = list(dict.fromkeys(part["method"]))
        plot_accuracy_curves(means[order], errors=stds[order], ax=ax, title=name,
                             xlabel="k", ylabel="accuracy on noisy zoo (%)",
                             logx="width" in name)
    return fig


def _plot_curves(curves, path):
    import matplotlib.pyplot as plt

    fig = _curves_figure(curves)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _metrics_figure(table, public):
    """The zoo's (and the public collection's) metrics, coloured by label; the legend
    right of each row's last axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [("train_error", "mode_connectivity_peak"), ("train_error", "hessian_t"),
             ("mode_connectivity_peak", "hessian_t")]
    sources = [("zoo (digits MLPs)", table)]
    if public is not None:
        sources.append(("public collection (ResNet-18, CIFAR-10)", public))
    fig, axes = plt.subplots(len(sources), 3, figsize=(14, 3.8 * len(sources)), squeeze=False,
                             layout="constrained")
    colours = {"small": "tab:blue", "large": "tab:red", "optimal": "tab:gray"}
    for row, (label, frame) in enumerate(sources):
        for col, (x, y) in enumerate(pairs):
            ax = axes[row, col]
            for cls, colour in colours.items():
                part = frame[frame["bs_failure"] == cls]
                ax.scatter(part[x], part[y], s=10, c=colour, alpha=0.6, label=cls)
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            ax.set_title(f"{label}", fontsize="small")
            ax.grid(True, alpha=0.3)
        axes[row, -1].legend(title="bs_failure", fontsize="x-small", loc="upper left",
                             bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig


def _plot_metrics(table, public, path):
    import matplotlib.pyplot as plt

    fig = _metrics_figure(table, public)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _public_collections():
    """The public collections stacked, or None when they are not available offline."""
    try:
        from sklearn_mdtree.datasets import fetch_model_diagnosis

        return fetch_model_diagnosis("both", download_if_missing=False).frame
    except Exception:  # the zoo's plot stands alone without them
        return None


def _held_out_diagnosis(table):
    """Fit Q1 and Q2 trees on the clean zoo; diagnose one configuration of the noisy zoo."""
    from sklearn_mdtree import MDTreeClassifier
    from sklearn_mdtree.diagnosis import recommend

    clean = table[table["collection"] == "normal"]
    noisy = table[table["collection"] == "noise"]
    q1_rows = clean[clean["bs_failure"] != "optimal"]
    q2_rows = clean[clean["width_vs_batch"] != "optimal"]
    q1 = MDTreeClassifier("q1", bounds="data").fit(q1_rows, q1_rows["bs_failure"])
    q2 = MDTreeClassifier("q2", bounds="data").fit(q2_rows, q2_rows["width_vs_batch"])
    # a configuration the trees never saw, whose Q1 label is not a tie: the middle
    # width and data amount at the smallest batch size
    candidates = noisy[noisy["bs_failure"] != "optimal"]
    widths, amounts = sorted(table["width"].unique()), sorted(table["data_amount"].unique())
    target = candidates[(candidates["width"] == widths[len(widths) // 2])
                        & (candidates["data_amount"] == amounts[len(amounts) // 2])]
    row = (target if len(target) else candidates).iloc[0]
    result = recommend(q1, row, q2_tree=q2)
    lines = [
        "## Diagnosis of a held-out configuration (noisy zoo, never seen by the trees)",
        "",
        f"width={row['width']} bs={row['bs']} data_amount={row['data_amount']} "
        f"noise={row['noise']:g}: test error {row['test_error']:.1f}%, train error "
        f"{row['train_error']:.1f}%, connectivity {row['mode_connectivity_peak']:.1f}, "
        f"ln trace {row['hessian_t']:.2f}",
        f"Its labels from the grid (room for improvement): bs_failure={row['bs_failure']}, "
        f"width_vs_batch={row['width_vs_batch']}",
        "",
        result.to_text().rstrip(),
        _agreement(result, row),
        "",
        "Q1 tree (Brent, data bounds, fitted on the clean zoo):",
        q1.export_text().rstrip(),
    ]
    return "\n".join(lines)


def _agreement(result, row):
    """One line: whether the diagnosis agrees with the labels the grid measured for this
    model (printed above it), naming each that it contradicts."""
    result = result.recommendations[0]
    wrong = []
    for question, verdict, column in (("Q1", result.q1, "bs_failure"),
                                      ("Q2", result.q2, "width_vs_batch")):
        measured = row[column]
        if verdict is None or measured == "optimal":
            continue
        if verdict.label != measured:
            wrong.append(f"{question} says {str(verdict.label)!r} where the grid measured "
                         f"{column}={str(measured)!r}")
    if wrong:
        return ("The diagnosis disagrees with this model's measured labels: "
                + "; ".join(wrong) + ". A tree can be wrong on a configuration it never "
                "saw: the learning curves above say how often.")
    return "The diagnosis agrees with this model's measured labels."


def _cached_curves(table, transfers, cache_root, n_jobs, verbose):
    """The learning curves of ``table``, read from ``cache_root/curves`` when computed before.

    Keyed by the SHA-256 of the table, the transfers and the package version; a file
    that cannot be read is recomputed.
    """
    import hashlib
    import warnings

    import pandas as pd

    from sklearn_mdtree._version import __version__
    from sklearn_mdtree.compare import CONSTANT, METHODS, learning_curves

    from .._cache import Cache, ZooCacheWarning

    h = hashlib.sha256(table.to_csv(index=False).encode())
    methods = (*METHODS, CONSTANT)
    h.update(repr([(t, __version__) for t in transfers]).encode())
    h.update(repr(methods).encode())
    path = None if cache_root is None else Path(cache_root) / "curves" / f"{h.hexdigest()}.csv"
    handle = None if path is None else Cache(cache_root)._open_entry(path)
    if handle is not None:
        try:
            with handle:
                curves = pd.read_csv(handle)
            curves["scores"] = [tuple(map(float, s.split(";"))) for s in curves["scores"]]
            if list(curves.columns) == ["transfer", "task", "method", "k", "mean", "std",
                                        "scores"]:
                return curves
            raise ValueError("unexpected columns")
        except Exception as exc:  # never trusted: recomputed
            warnings.warn(f"Zoo cache: {path} cannot be read ({type(exc).__name__}); "
                          "recomputing it.", ZooCacheWarning, stacklevel=2)
    curves = learning_curves(table, transfers, methods=methods, n_jobs=n_jobs,
                             progress=bool(verbose))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        out = curves.assign(scores=[";".join(repr(float(v)) for v in s) for s in curves["scores"]])
        tmp = path.with_name(f".{path.name}.tmp")
        out.to_csv(tmp, index=False)
        tmp.replace(path)
    return curves


def run_demo(output_dir="mdtree-demo", *, preset="default", cache_dir=None, n_jobs=None,
             verbose=1, out=None):
    """Train (or read), featurize, label and compare a zoo; save the plots; return the report.

    Parameters
    ----------
    output_dir : str or path, default="mdtree-demo"
        Folder the plots (``learning_curves.png``, ``zoo_metrics.png``), the zoo's
        table (``zoo_table.csv``), the curves (``curves.csv``) and the report
        (``report.md``) are written to. Files are written to a temporary folder
        beside it and moved in at the end: an error leaves nothing behind.
    preset : {"tiny", "default", "large"}, default="default"
    cache_dir : str, path or None, default=None
        The zoo's cache (see :func:`~featurizers.zoo.train_zoo`).
    n_jobs : int or None, default=None
        joblib workers for training, featurizing and the comparison.
    verbose : int, default=1
        Progress bars when positive.
    out : file, default=None
        Where the report is printed as it is made (stdout when None).

    The learning curves are cached beside the zoo (``curves/``), keyed by the
    table: a warm run reads everything.

    Returns
    -------
    report : str

    Examples
    --------
    Even the ``"tiny"`` preset trains and featurizes 32 models (tens of seconds),
    so this example is not run as a doctest:

    >>> import io, tempfile
    >>> from featurizers.zoo.demo import run_demo
    >>> with tempfile.TemporaryDirectory() as folder:  # doctest: +SKIP
    ...     report = run_demo(f"{folder}/demo", preset="tiny", cache_dir=f"{folder}/cache",
    ...                       verbose=0, out=io.StringIO())
    >>> report.startswith("# mdtree demo: the 'tiny' digits zoo")  # doctest: +SKIP
    True
    """
    import pandas as pd

    from sklearn_mdtree.compare import curves_table

    from ._structure import structure_text
    from ._zoo import train_zoo

    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError(
            "mdtree demo saves plots with matplotlib; install it with "
            "`pip install \"sklearn-mdtree[plot]\"`."
        )
    out = sys.stdout if out is None else out
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise NotADirectoryError(
            f"The output folder {str(output_dir)!r} exists and is not a folder."
        )
    # the folders this run creates, removed again on an error (innermost first)
    created = [p for p in output_dir.resolve().parents if not p.exists()]
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    done = False
    try:
        start = time.perf_counter()
        zoo = train_zoo(preset, cache_dir=cache_dir, n_jobs=n_jobs, verbose=verbose)
        trained = time.perf_counter()
        table = zoo.featurize(n_jobs=n_jobs, verbose=verbose)
        featurized = time.perf_counter()
        curves = _cached_curves(table, demo_transfers(zoo.grid), zoo.cache_dir, n_jobs,
                                verbose)
        compared = time.perf_counter()
        n_floored = int(table["hessian_t_floored"].sum())
        public = _public_collections()
        counts = pd.concat(
            {task: table.groupby("collection")[task].value_counts().unstack(fill_value=0)
             .rename_axis(columns=None) for task in ("bs_failure", "lr_failure")}, axis=1)
        head = [
            f"# mdtree demo: the {preset!r} digits zoo",
            "",
            f"{zoo.grid.n_configurations} configurations, {zoo.grid.n_models} tanh MLPs "
            f"(widths {list(zoo.grid.width)}, batch sizes {list(zoo.grid.bs)}, training sets "
            f"{list(zoo.grid.data_amount)}, learning rates {list(zoo.grid.lr)}, "
            f"{zoo.grid.training}, {zoo.recipe.curve_epochs} curve epochs, seeds "
            f"{list(zoo.grid.seeds)}); clean labels = collection F, "
            f"{', '.join(f'{n:.0%}' for n in zoo.grid.noise if n)} noisy labels = F'.",
            f"Models trained {zoo.stats['models_trained']}, read from the cache "
            f"{zoo.stats['models_loaded']}; feature rows computed {zoo.stats['rows_computed']}, "
            f"read {zoo.stats['rows_loaded']} (cache: {zoo.cache_dir}; the curves are cached "
            "too).",
            f"Time: training {trained - start:.0f} s, featurizing {featurized - trained:.0f} s, "
            f"comparison {compared - featurized:.0f} s.",
            f"Hessian trace <= 0 (ln floored at ln 0.01): {n_floored} configuration(s).",
            "",
            "Q1 labels per collection (one-step moves along the batch size and the learning "
            "rate beyond 2 standard errors of the seeds; 'optimal': no such move):",
            "",
            counts.to_string(),
            "",
            "## Does the zoo show the paper's structure? (featurizers.zoo.structure_report)",
            "",
            structure_text(table, public),
            "",
            "## MD tree beside Valid+DT and a constant answer (accuracy on the noisy zoo, %, "
            "mean over 5 seeds)",
            "",
            summary_table(curves),
            "",
            "## Every method (%), mean ± std over 5 seeds",
            "",
            curves_table(curves),
            "",
        ]
        report = "\n".join(head) + "\n" + _held_out_diagnosis(table) + "\n"
        out.write(report)
        _plot_curves(curves, staging / "learning_curves.png")
        _plot_metrics(table, public, staging / "zoo_metrics.png")
        table.to_csv(staging / "zoo_table.csv", index=False)
        curves.to_csv(staging / "curves.csv", index=False)
        (staging / "report.md").write_text(report, encoding="utf-8")
        output_dir.mkdir(exist_ok=True)
        for path in sorted(staging.iterdir()):
            shutil.move(str(path), output_dir / path.name)
        out.write(f"\nPlots and tables written to {output_dir}/\n")
        done = True
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:
            for folder in created:
                try:
                    folder.rmdir()  # only if still empty
                except OSError:
                    break
