"""The featurizers' evidence: a mode-connectivity curve, independent trace estimates."""

from __future__ import annotations

import numpy as np

from ._common import _legend_right, _pyplot


def plot_connectivity_curve(errors, *, ts=(0.0, 0.25, 0.5, 0.75, 1.0), labels=None, ax=None,
                            title=None):
    """Training error along mode-connectivity curves, with both end points and the barrier.

    The curve joins two trained models (``t = 0`` and ``t = 1``) through a
    trained bend (:mod:`featurizers.connectivity`); the highest error inside the
    curve is the barrier, and minus its height is the ``mode_connectivity_peak``
    feature of the MD tree. Pass the errors that
    :func:`featurizers.connectivity.curve_errors` returns.

    Parameters
    ----------
    errors : array-like of shape (n_ts,) or (n_curves, n_ts)
        Training error (percent) at each point of ``ts``, one row per curve
        (e.g. per pair of seeds).
    ts : sequence of float, default=(0, 0.25, 0.5, 0.75, 1)
        The points of the curve, from 0 (first model) to 1 (second model).
    labels : sequence of str, default=None
        Name of each curve in the legend; ``"pair 0"``, ... by default.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    title : str, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes
        Curve lines have ``gid`` ``"curve:<i>"``, the end points
        ``"endpoints:<i>"`` and each barrier's marker ``"barrier:<i>"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_mdtree.plotting import plot_connectivity_curve
    >>> ax = plot_connectivity_curve([2.0, 10.0, 30.0, 12.0, 4.0])
    >>> [line.get_gid() for line in ax.get_lines()][:3]
    ['curve:0', 'endpoints:0', 'barrier:0']
    """
    plt = _pyplot()
    e = np.atleast_2d(np.asarray(errors, dtype=float))
    t = np.asarray(ts, dtype=float)
    if e.ndim != 2 or e.shape[1] != len(t) or len(t) < 3:
        raise ValueError(
            "The 'errors' parameter of plot_connectivity_curve must have shape (n_ts,) or "
            f"(n_curves, n_ts) with n_ts = len(ts) = {len(t)} >= 3. Got shape "
            f"{np.shape(errors)}."
        )
    if labels is None:
        labels = [f"pair {i}" for i in range(len(e))]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    inside = (t > t.min()) & (t < t.max())
    for i, (row, name) in enumerate(zip(e, labels)):
        k = np.flatnonzero(inside)[np.argmax(row[inside])]
        (line,) = ax.plot(t, row, marker=".", label=f"{name}: peak feature {-row[k]:.1f}",
                          gid=f"curve:{i}")
        ends = np.array([t.argmin(), t.argmax()])
        ax.plot(t[ends], row[ends], linestyle="none", marker="s", markersize=8,
                color=line.get_color(), gid=f"endpoints:{i}")
        ax.plot([t[k]], [row[k]], linestyle="none", marker="v", markersize=10,
                color=line.get_color(), markeredgecolor="black", gid=f"barrier:{i}")
    ax.plot([], [], linestyle="none", marker="s", color="0.5", label="end points: the two models")
    ax.plot([], [], linestyle="none", marker="v", color="0.5", markeredgecolor="black",
            label="barrier: highest error inside")
    ax.set_xticks(t)
    ax.set_xlabel("t along the curve (bend at t = 0.5)")
    ax.set_ylabel("training error (%)")
    ax.set_title(title or "Training error along the mode-connectivity curve", fontsize="medium")
    ax.grid(True, alpha=0.3)
    _legend_right(ax)
    return ax


def plot_trace_estimates(estimates, *, exact=None, ax=None, title=None,
                         ylabel="Hessian trace estimate"):
    """Independent trace estimates per method, with their mean and standard error.

    Pass, for each method, estimates from independent probes (e.g.
    :func:`featurizers.hessian.hutchinson_trace` with several
    ``random_state``): the dots are the estimates, the bar is their mean plus or
    minus one standard error (sample standard deviation over ``sqrt(n)``).

    Parameters
    ----------
    estimates : dict of str to array-like, or array-like
        ``{method: estimates}``; a single array is one method, ``"estimate"``.
    exact : float, default=None
        The exact trace, drawn as a dashed horizontal line when known.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    title : str, default=None
    ylabel : str, default="Hessian trace estimate"

    Returns
    -------
    ax : matplotlib.axes.Axes
        Error bars have ``gid`` ``"mean:<method>"``, dots ``"estimates:<method>"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_mdtree.plotting import plot_trace_estimates
    >>> ax = plot_trace_estimates({"Hutchinson": [5.0, 7.0, 6.0]}, exact=6.0)
    >>> float(ax.containers[0].lines[0].get_ydata()[0])  # the mean
    6.0
    """
    plt = _pyplot()
    if not isinstance(estimates, dict):
        estimates = {"estimate": estimates}
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * len(estimates) + 3.5, 4), layout="constrained")
    rng = np.random.default_rng(0)
    for i, (method, values) in enumerate(estimates.items()):
        v = np.asarray(values, dtype=float).ravel()
        if v.size < 2:
            raise ValueError(
                "The 'estimates' parameter of plot_trace_estimates needs at least two "
                f"estimates per method for a standard error. Got {v.size} for {method!r}."
            )
        se = v.std(ddof=1) / np.sqrt(v.size)
        ax.scatter(i + rng.uniform(-0.12, 0.12, v.size), v, s=14, alpha=0.6, color="0.45",
                   gid=f"estimates:{method}")
        ax.errorbar([i + 0.25], [v.mean()], yerr=[se], fmt="o", color="C0", capsize=5,
                    gid=f"mean:{method}", label="mean +- 1 standard error" if i == 0 else None)
    if exact is not None:
        ax.axhline(exact, linestyle="--", color="black", linewidth=1, label="exact trace",
                   gid="exact")
    ax.set_xticks(range(len(estimates)))
    ax.set_xticklabels([f"{m}\n(n = {np.size(v)})" for m, v in estimates.items()])
    ax.set_xlim(-0.6, len(estimates) - 0.4)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Trace estimates: spread of independent runs", fontsize="medium")
    ax.grid(True, axis="y", alpha=0.3)
    _legend_right(ax)
    return ax
