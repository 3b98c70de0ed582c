"""Results as pictures: accuracy curves against ``k`` and one-step gains as bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import HasMethods, validate_params

from ._common import _legend_right, _pyplot


def _IntegerLogLocator():
    """Base-2 log ticks at integers only (never 0.5 or 0.25 below 1)."""
    from matplotlib.ticker import LogLocator

    class IntegerLogLocator(LogLocator):
        def tick_values(self, vmin, vmax):
            ticks = super().tick_values(vmin, vmax)
            return ticks[(ticks >= 1) & (ticks == np.round(ticks))]

    return IntegerLogLocator(base=2)


def _as_wide(curves, name):
    """A wide frame (index: x, one column per method) from a frame or a mapping."""
    if curves is None:
        return None
    if isinstance(curves, pd.DataFrame):
        return curves
    if isinstance(curves, dict):
        columns = {}
        for method, pair in curves.items():
            try:
                x, y = pair
                series = pd.Series(np.asarray(y, dtype=float), index=np.asarray(x))
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"The '{name}' parameter must map each method to a pair (x, y) of "
                    f"equal-length sequences. Got {pair!r} for {method!r}."
                ) from exc
            columns[method] = series
        return pd.DataFrame(columns)
    raise TypeError(
        f"The '{name}' parameter must be a DataFrame (index: x, one column per method) "
        f"or a dict mapping method -> (x, y). Got {type(curves).__name__} instead."
    )


@validate_params(
    {
        # the curves are checked by _as_wide, whose messages say what each form holds
        "curves": "no_validation",
        "reference": "no_validation",
        "errors": "no_validation",
        "ax": [HasMethods(["plot"]), None],
        "title": [str, None],
        "xlabel": [str],
        "ylabel": [str],
        "logx": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def plot_accuracy_curves(
    curves,
    *,
    reference=None,
    errors=None,
    ax=None,
    title=None,
    xlabel="k",
    ylabel="diagnosis accuracy on F' (%)",
    logx=False,
):
    """Plot accuracy against ``k`` for several methods, with reference values as markers.

    Parameters
    ----------
    curves : pandas.DataFrame or dict
        Our values: a DataFrame whose index is ``k`` and whose columns are methods,
        or a dict ``{method: (ks, values)}``. One line per method.
    reference : pandas.DataFrame or dict, default=None
        Reference values (e.g. the paper's) in the same form, drawn as hollow
        markers in the colour of the method's line (a method absent from
        ``curves`` gets a colour of its own).
    errors : pandas.DataFrame or dict, default=None
        Spread of ``curves`` (e.g. the standard deviation over seeds), same form; a
        shaded band of +-1 spread is drawn around each line.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    title : str, default=None
    xlabel, ylabel : str
        Axis labels.
    logx : bool, default=False
        Logarithmic x axis (e.g. for widths).

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_mdtree.plotting import plot_accuracy_curves
    >>> ax = plot_accuracy_curves({"MD tree": ([1, 2, 4], [76.6, 81.2, 82.0])},
    ...                           reference={"MD tree": ([1, 2, 4], [76.64, 81.23, 82.03])})
    >>> [line.get_label() for line in ax.get_lines()]
    ['MD tree', 'MD tree (paper)']
    """
    plt = _pyplot()
    ours = _as_wide(curves, "curves")
    ref = _as_wide(reference, "reference")
    spread = _as_wide(errors, "errors")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
    colours = {}
    for method in ours.columns:
        values = ours[method].dropna()
        (line,) = ax.plot(values.index, values.to_numpy(), marker=".", label=str(method))
        colours[method] = line.get_color()
        if spread is not None and method in spread:
            err = spread[method].reindex(values.index).fillna(0).to_numpy()
            ax.fill_between(
                values.index, values - err, values + err, color=line.get_color(), alpha=0.12,
                linewidth=0,
            )
    if ref is not None:
        for method in ref.columns:
            values = ref[method].dropna()
            if values.empty:
                continue
            kwargs = {"color": colours[method]} if method in colours else {}
            ax.plot(
                values.index, values.to_numpy(), linestyle="none", marker="o",
                markerfacecolor="none", markersize=8, label=f"{method} (paper)", **kwargs,
            )
    if logx:
        ax.set_xscale("log", base=2)
    xs = np.concatenate([np.asarray(f.index, dtype=float) for f in (ours, ref) if f is not None])
    if len(xs) and np.all(np.isfinite(xs)) and np.all(xs == np.round(xs)):
        # k counts groups or levels: no tick between two of them (1.25, 1.5)
        from matplotlib.ticker import MaxNLocator, NullLocator

        if logx:
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_locator(_IntegerLogLocator())
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    _legend_right(ax)
    return ax


@validate_params(
    {
        "gains": [pd.DataFrame],
        "reference": [pd.DataFrame, None],
        "ax": [HasMethods(["bar"]), None],
        "title": [str, None],
        "ylabel": [str],
    },
    prefer_skip_nested_validation=True,
)
def plot_one_step_gains(gains, *, reference=None, ax=None, title=None, ylabel="gain (points)"):
    """Grouped bars of one-step gains: one group per method, one bar per step rule.

    Parameters
    ----------
    gains : pandas.DataFrame
        Index: methods; columns: step rules (e.g. ``fixed``, ``random``,
        ``optimal``); values: mean gains.
    reference : pandas.DataFrame, default=None
        Reference values in the same shape (missing methods or NaN allowed), drawn
        as black markers on the bars.
    ax : matplotlib.axes.Axes, default=None
    title : str, default=None
    ylabel : str, default="gain (points)"

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_mdtree.plotting import plot_one_step_gains
    >>> gains = pd.DataFrame({"fixed": [1.34, 0.92], "optimal": [5.52, 3.50]},
    ...                      index=["MD tree", "Random diagnosis"])
    >>> ax = plot_one_step_gains(gains)
    >>> len(ax.patches)
    4
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 4), layout="constrained")
    n_rules = gains.shape[1]
    width = 0.8 / max(n_rules, 1)
    positions = np.arange(len(gains))
    labelled = False
    for j, rule in enumerate(gains.columns):
        x = positions + (j - (n_rules - 1) / 2) * width
        ax.bar(x, gains[rule].to_numpy(dtype=float), width, label=str(rule))
        if reference is not None and rule in reference:
            ref = reference[rule].reindex(gains.index).to_numpy(dtype=float)
            shown = ~np.isnan(ref)
            ax.plot(
                x[shown], ref[shown], linestyle="none", marker="_", markersize=14,
                markeredgewidth=2, color="black",
                label=None if labelled else "paper",
            )
            labelled = True
    ax.set_xticks(positions)
    ax.set_xticklabels([str(m) for m in gains.index], rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    _legend_right(ax)
    return ax
