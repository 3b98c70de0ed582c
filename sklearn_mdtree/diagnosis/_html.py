"""A diagnosis report as one self-contained HTML page.

:func:`render_report` turns the plain dict of a diagnosis report
(``DiagnosisReport.to_dict()``, schema ``sklearn-mdtree/diagnosis-report`` version 1)
into HTML: for each model group, the recommended change and why, warnings, each
tree's verdict with the decisions on its path (value, threshold, margin in standard
errors), the tree drawn with the model's path highlighted, the model's position
among the regimes with its uncertainty, and its features against the tree's
training range (the domain of validity). Pictures are drawn with
:mod:`sklearn_mdtree.plotting` and inlined as base64 SVG images; the page has no
script and loads nothing from outside, so it can be mailed, archived or opened
offline. :func:`write_report` writes it to a file.

The tree pictures need the fitted trees: pass them as ``estimators``, or they are
loaded by name from :mod:`sklearn_mdtree.pretrained` when the report names a shipped
tree; without either, the decisions are shown as a table only.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import pandas as pd

from .._vocabulary import FEATURE_LABELS, QUESTIONS, SCHEMA
from ._wording import _glossary

__all__ = ["render_report", "write_report"]



def _plotting():
    """The drawing helpers of the page: the one place that imports them from plotting.

    Returns ``(pyplot, plane, plot_model_position, plot_tree)``: ``pyplot()`` imports
    matplotlib (a clear ImportError without it), ``plane(clf)`` is the regimes' plane.
    """
    from ..plotting import plot_model_position, plot_tree
    from ..plotting._common import _pyplot
    from ..plotting._regimes import _plane

    return _pyplot, _plane, plot_model_position, plot_tree


_CSS = """
.mdtree-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; line-height: 1.45; max-width: 1100px; }
.mdtree-report h1 { font-size: 1.6em; margin: 0.2em 0 0.4em; }
.mdtree-report h2 { font-size: 1.3em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em;
  margin-top: 1.6em; }
.mdtree-report h3 { font-size: 1.08em; margin: 1.1em 0 0.4em; }
.mdtree-report .action { font-size: 1.25em; font-weight: 600; padding: 0.5em 0.8em;
  border-radius: 6px; background: #eef6ee; border: 1px solid #8cc58c; display: inline-block; }
.mdtree-report .why { margin: 0.5em 0; }
.mdtree-report .warning { background: #fff4e5; border: 1px solid #f0a640; border-radius: 6px;
  padding: 0.4em 0.8em; margin: 0.4em 0; }
.mdtree-report table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 0.92em; }
.mdtree-report th, .mdtree-report td { border: 1px solid #d0d7de; padding: 0.25em 0.6em;
  text-align: left; }
.mdtree-report td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mdtree-report th { background: #f6f8fa; }
.mdtree-report .flag { color: #b35900; font-weight: 600; }
.mdtree-report .muted { color: #57606a; font-size: 0.92em; }
.mdtree-report figure { margin: 0.6em 0; }
.mdtree-report figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
.mdtree-report figcaption { color: #57606a; font-size: 0.88em; margin-top: 0.2em; }
.mdtree-report .pictures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.mdtree-report .pictures figure { flex: 1 1 420px; }
.mdtree-report .pictures figure.wide { flex-basis: 100%; }
.mdtree-report .glossary { font-size: 0.92em; margin: 0.4em 0 0.8em; }
.mdtree-report .glossary dt { font-weight: 600; float: left; clear: left; margin-right: 0.4em; }
.mdtree-report .glossary dt::after { content: ":"; }
.mdtree-report .glossary dd { margin: 0 0 0.2em; }
"""


def _esc(value):
    return html.escape("" if value is None else str(value), quote=True)


def _num(value, digits=4):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.{digits}g}"


def _svg_img(fig, alt):
    """The figure as an ``<img>`` with an inline base64 SVG; the figure is closed."""
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "sklearn-mdtree"}):  # the same page each run
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="{_esc(alt)}">'


def _figure(img, caption, wide=False):
    kind = " class='wide'" if wide else ""
    return f"<figure{kind}>{img}<figcaption>{_esc(caption)}</figcaption></figure>"


def _as_dict(report):
    if hasattr(report, "to_dict"):
        report = report.to_dict()
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise TypeError(
            "The 'report' parameter must be a diagnosis report or its to_dict() (schema "
            f"{SCHEMA!r}). Got {type(report).__name__} instead."
        )
    return report


def _estimators(report, estimators):
    """``{"q1": clf or None, "q2": clf or None}``: given, or shipped trees by name."""
    found = dict(estimators or {})
    for key in ("q1", "q2"):
        if found.get(key) is not None:
            continue
        name = ((report.get("trees") or {}).get(key) or {}).get("name")
        found[key] = None
        if name:
            try:
                from ..pretrained import available_trees, load_tree
            except ImportError:  # pragma: no cover - a package without shipped trees
                continue
            if name in available_trees():
                found[key] = load_tree(name).estimator
    return found


def _model_row(group, clf):
    """The group's features as a one-row frame in the estimator's columns."""
    values = {f["name"]: f["value"] for f in group["features"]}
    features = clf.hierarchy_.features()
    if not all(isinstance(f, str) and f in values and values[f] is not None for f in features):
        return None
    return pd.DataFrame({f: [float(values[f])] for f in features})


def _feature_domain_figure(features, decisions):
    """Each feature's training range (bar), value +- 1 and 2 SE, and thresholds."""
    import matplotlib.pyplot as plt

    rows = [f for f in features if f.get("value") is not None]
    fig, axes = plt.subplots(len(rows), 1, figsize=(7.5, 0.95 * len(rows) + 0.5),
                             layout="constrained", squeeze=False)
    for ax, f in zip(axes[:, 0], rows):
        value, se = f["value"], f.get("se")
        low, high = f.get("training_min"), f.get("training_max")
        points = [value] + [v for v in (low, high) if v is not None]
        thresholds = [d["threshold"] for d in decisions if d["feature"] == f["name"]
                      and d.get("threshold") is not None]
        points += thresholds + ([value - 2 * se, value + 2 * se] if se else [])
        span = (max(points) - min(points)) or 1.0
        if low is not None and high is not None:
            ax.barh(0, high - low, left=low, height=0.5, color="#cfe3f7",
                    label="training range of the tree", gid=f"domain:{f['name']}")
        for t in thresholds:
            ax.axvline(t, color="black", linestyle="--", linewidth=1, label="threshold")
        colour = "#1a7f37" if f.get("in_domain") is not False else "#cf222e"
        if se:
            ax.errorbar([value], [0], xerr=[[2 * se], [2 * se]], fmt="none", ecolor=colour,
                        elinewidth=1, alpha=0.5, capsize=3, label="+-2 standard errors")
            ax.errorbar([value], [0], xerr=[[se], [se]], fmt="none", ecolor=colour,
                        elinewidth=2.5, capsize=4, label="+-1 standard error")
        ax.plot([value], [0], marker="D", color=colour, markersize=7, linestyle="none",
                label="this model", gid=f"value:{f['name']}")
        ax.set_xlim(min(points) - 0.08 * span, max(points) + 0.08 * span)
        ax.set_ylim(-0.6, 0.6)
        ax.set_yticks([])
        ax.set_title(FEATURE_LABELS.get(f["name"], f["name"]), fontsize="small", loc="left")
        ax.tick_params(labelsize="small")
    handles = {}
    for ax in axes[:, 0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside right upper",
               fontsize="small")
    return fig


def _decisions_table(decisions):
    head = ("<tr><th>split</th><th>feature</th><th>value</th><th>SE</th><th>side</th>"
            "<th>threshold</th><th>margin (SE)</th><th>note</th></tr>")
    rows = []
    for d in decisions:
        notes = []
        if d.get("borderline"):
            notes.append('<span class="flag">borderline: could flip within the noise</span>')
        if d.get("in_domain") is False:
            notes.append('<span class="flag">value outside the training range</span>')
        margin = d.get("margin_se")
        rows.append(
            f"<tr><td>{_esc(d['split'])}</td><td>{_esc(d['feature'])}</td>"
            f"<td class='num'>{_num(d.get('value'))}</td><td class='num'>{_num(d.get('se'), 2)}"
            f"</td><td>{_esc(d.get('side'))}</td><td class='num'>{_num(d.get('threshold'))}</td>"
            f"<td class='num'>{'' if margin is None else f'{margin:+.1f}'}</td>"
            f"<td>{' '.join(notes)}</td></tr>"
        )
    return f"<table class='decisions'>{head}{''.join(rows)}</table>"


def _features_table(features):
    head = ("<tr><th>feature</th><th>value</th><th>SE</th><th>training range</th>"
            "<th>domain</th></tr>")
    rows = []
    for f in features:
        if f.get("in_domain") is None:
            domain = "unknown"
        elif f["in_domain"]:
            domain = "inside"
        else:
            domain = (f"<span class='flag'>outside: {_num(f.get('distance'), 2)} "
                      f"{_esc(f.get('distance_unit'))} {_esc(f.get('side'))}</span>")
        low, high = f.get("training_min"), f.get("training_max")
        rng = "" if low is None or high is None else f"{_num(low)} .. {_num(high)}"
        if rng and f.get("training_tree"):  # the trees' ranges differ: say whose
            rng += f" ({_esc(f['training_tree'])} tree)"
        rows.append(
            f"<tr><td>{_esc(f['name'])}</td><td class='num'>{_num(f.get('value'))}</td>"
            f"<td class='num'>{_num(f.get('se'), 2)}</td><td class='num'>{rng}</td>"
            f"<td>{domain}</td></tr>"
        )
    return f"<table class='features'>{head}{''.join(rows)}</table>"


def _verdict_html(verdict, clf, group, pictures, optimizer="batch size"):
    _, _plane, plot_model_position, plot_tree = _plotting()

    question = QUESTIONS.get(verdict["task"], verdict["question"])
    confidence = verdict.get("confidence")
    parts = [
        f"<h3>{_esc(question)}</h3>",
        f"<p><b>{_esc(verdict['label'])}</b> (regime {int(verdict['regime'])}, tree "
        f"{_esc(verdict.get('tree') or 'given')})"
        + ("" if confidence is None else f"; confidence {confidence:.2f}") + "</p>",
        _decisions_table(verdict["decisions"]),
    ]
    row = None if clf is None else _model_row(group, clf)
    if pictures and row is not None:
        import matplotlib.pyplot as plt

        figures = []
        n_leaves = len(clf.hierarchy_.leaves())
        _, ax = plt.subplots(figsize=(min(1.9 * n_leaves, 14), 4.2), layout="constrained")
        plot_tree(clf, highlight=row, show_counts=False, ax=ax, optimizer=optimizer,
                  title=f"{verdict['question']} tree {verdict.get('tree') or ''}: the "
                        "model's path in bold")
        figures.append(_figure(
            _svg_img(ax.figure, f"{verdict['question']} tree with the model's path"),
            f"The {verdict['question']} tree (shares of its training configurations per "
            f"node); the bold path is this model's, ending in regime "
            f"{int(verdict['regime'])}.",
            wide=True,
        ))
        try:
            _plane(clf)
        except ValueError:
            pass
        else:
            se = {f["name"]: f["se"] for f in group["features"] if f.get("se")}
            ax = plot_model_position(clf, row, se=se)
            figures.append(_figure(
                _svg_img(ax.figure, "the model among the regimes"),
                "The model (star) among the regimes of its side of the root split; bars: "
                "plus or minus one and two standard errors. A bar crossing a dashed "
                "threshold is a decision that could flip within the noise.",
            ))
        parts.append(f"<div class='pictures'>{''.join(figures)}</div>")
    elif clf is None:
        parts.append("<p class='muted'>No picture of this tree: it is not a shipped "
                     "tree and was not passed to the renderer.</p>")
    return "".join(parts)


def _group_html(group, estimators, pictures, optimizer="batch size"):
    title = f"Model {group['model']}" if group.get("model") is not None else "Model"
    kind = group.get("verdict_kind", "change")  # reports of schema version 1: "change"
    head = {"change": "Recommended change", "training failed": "Training failed",
            "keep as is": "Verdict", "no reliable diagnosis": "Verdict"}.get(kind, "Verdict")
    why = group.get("abstain_reason") if kind == "no reliable diagnosis" else None
    parts = [
        f"<section class='group'><h2>{_esc(title)}</h2>",
        f"<div class='action'>{head}: {_esc(group['action'])}</div>",
        f"<p class='muted'>Verdict kind: <b>{_esc(kind)}</b></p>",
        f"<p class='why'><b>Why:</b> {_esc(why or group['failure_source'])}</p>",
    ]
    confidence = group.get("confidence")
    if kind in ("no reliable diagnosis", "training failed"):
        parts.append("<p class='muted'>Confidence: none (no verdict of the trees is "
                     "given)</p>")
    else:
        noise = group.get("noise_confidence")
        parts.append(
            "<p class='muted'>Confidence: "
            + ("unknown (no standard errors for the features the decisions use)"
               if confidence is None else f"{confidence:.2f}")
            + ("" if noise is None or confidence is None or noise == confidence
               else f" (measurement noise alone: {noise:.2f})")
            + "</p>"
        )
    evidence = [] if kind == "no reliable diagnosis" else group.get("kind_evidence", [])
    if evidence:
        parts.append("<ul class='evidence'>" + "".join(f"<li>{_esc(e)}</li>" for e in evidence)
                     + "</ul>")
    parts += [f"<div class='warning'>{_esc(w)}</div>" for w in group.get("warnings", [])]
    parts += [f"<p class='muted'>Note: {_esc(n)}</p>" for n in group.get("notes", [])]
    if kind in ("no reliable diagnosis", "training failed") and group.get("q1"):
        parts.append("<p class='muted'>What the trees read (information only, not a "
                     "recommendation):</p>")
    for key in ("q1", "q2"):
        verdict = group.get(key)
        if verdict is not None:
            parts.append(_verdict_html(verdict, estimators.get(key), group, pictures,
                                       optimizer))
    parts.append("<h3>Features against the trees' domain</h3>")
    parts.append(_features_table(group["features"]))
    decisions = [d for key in ("q1", "q2") if group.get(key) for d in group[key]["decisions"]]
    if pictures and any(f.get("value") is not None for f in group["features"]):
        fig = _feature_domain_figure(group["features"], decisions)
        parts.append(_figure(
            _svg_img(fig, "features against the training range"),
            "Each feature of the model (diamond; bars: one and two standard errors) against "
            "the range of the tree's training configurations (blue) and the thresholds it "
            "was compared with (dashed). Red: outside the range, where the tree "
            "extrapolates.",
        ))
    parts.append("</section>")
    return "".join(parts)


def render_report(report, estimators=None, *, full_page=True, pictures=True,
                  title="MD tree diagnosis"):
    """Render a diagnosis report as self-contained HTML.

    Parameters
    ----------
    report : DiagnosisReport or dict
        The report, or its ``to_dict()``.
    estimators : dict, default=None
        ``{"q1": MDTreeClassifier, "q2": MDTreeClassifier}``: the fitted trees of
        the report, for their pictures. Missing ones are loaded from
        :mod:`sklearn_mdtree.pretrained` when the report names a shipped tree.
    full_page : bool, default=True
        A whole HTML document; False gives a ``<div>`` (for a notebook).
    pictures : bool, default=True
        Draw the trees, the regimes and the features (needs matplotlib).
    title : str, default="MD tree diagnosis"

    Returns
    -------
    html : str
    """
    report = _as_dict(report)
    if pictures:
        _plotting()[0]()  # a clear ImportError without matplotlib
    estimators = _estimators(report, estimators) if pictures else {}
    trees = []
    for key in ("q1", "q2"):
        tree = (report.get("trees") or {}).get(key)
        if tree:
            n = tree.get("n_training_configurations")
            trees.append(
                f"<li>{key.upper()} tree <b>{_esc(tree.get('name') or 'given')}</b>"
                + ("" if n is None else f", fitted on {int(n)} configurations")
                + (f": {_esc(tree['description'])}" if tree.get("description") else "")
                + "<br>Measured validity: " + _esc(
                    (tree.get("validity") or {}).get("text")
                    or "not measured (a tree fitted at run time or a file without a "
                    "'validity' record)")
                + "<br>Own accuracy: " + _esc(
                    (tree.get("regime_accuracy") or {}).get("text")
                    or "not recorded: its verdicts are not weighed by its own error")
                + "</li>"
            )
    calibration = (report.get("trees") or {}).get("calibration")
    if calibration:
        trees.append(
            f"<li>Calibration <b>{_esc(calibration.get('name'))}</b>, fitted on "
            f"{int(calibration['n_training_configurations'])} lattice configurations: "
            f"{_esc(calibration.get('description'))}<br>Measured accuracy: "
            f"{_esc(calibration.get('text'))}</li>"
        )
    body = [
        f"<div class='mdtree-report'><h1>{_esc(title)}</h1>",
        f"<p class='muted'>{len(report['groups'])} model group(s); the optimizer "
        f"hyperparameter is the {_esc(report.get('optimizer'))}; a decision is borderline "
        f"within {_num(report.get('borderline_se'), 3)} standard errors of its threshold. "
        f"Confidence: the {_esc(report.get('confidence_rule'))}.</p>",
        f"<ul>{''.join(trees)}</ul>",
        "<details class='glossary' open><summary>Words used</summary><dl>"
        + "".join(f"<dt>{_esc(term)}</dt><dd>{_esc(meaning)}.</dd>"
                  for term, meaning in _glossary(report.get("optimizer") or "batch size"))
        + "</dl></details>",
    ]
    body += [f"<p class='muted'>Note: {_esc(n)}.</p>" for n in report.get("notes", [])]
    optimizer = report.get("optimizer") or "batch size"
    body += [_group_html(g, estimators, pictures, optimizer) for g in report["groups"]]
    body.append("</div>")
    fragment = f"<style>{_CSS}</style>" + "".join(body)
    if not full_page:
        return fragment
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{_esc(title)}</title></head><body>{fragment}</body></html>\n"
    )


def write_report(report, path, estimators=None, **kwargs):
    """Write :func:`render_report` to ``path`` (UTF-8); returns the path.

    Parameters
    ----------
    report : DiagnosisReport or dict
    path : str or path-like
    estimators : dict, default=None
    **kwargs
        Passed on to :func:`render_report`.

    Returns
    -------
    path : pathlib.Path
    """
    text = render_report(report, estimators, **kwargs)
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
