"""Tests of sklearn_mdtree.diagnosis._html: the diagnosis report as a self-contained HTML page.

The page is checked as text (every image inlined, nothing loaded from outside) and,
where Debian's chromium is installed (.ci/run installs it), in a real headless
browser: what it rendered (its DOM) and that the screenshot holds the pictures.
"""

import base64
import html
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from sklearn_mdtree import MDTreeClassifier  # noqa: E402
from sklearn_mdtree.diagnosis._html import render_report, write_report  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")


def _tree():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "train_error": rng.uniform(0, 1, 60),
        "mode_connectivity_peak": rng.uniform(-30, 0, 60),
        "hessian_t": rng.uniform(4, 9, 60),
    })
    y = rng.choice(["small", "large"], 60)
    return MDTreeClassifier("q1").fit(X, y)


def _report(clf, values, se):
    """A report dict of schema v1, as DiagnosisReport.to_dict() writes it."""
    row = pd.DataFrame({k: [v] for k, v in values.items()})
    path = clf.decision_path(row).indices.tolist()
    decisions = []
    for split in clf.hierarchy_.splits():
        node = [n for n in _nodes(clf) if n[1] is split]
        if node and node[0][0] in path:
            thr, value = clf.thresholds_[split.name], values[split.feature]
            margin = (value - thr) / se[split.feature] if se.get(split.feature) else None
            decisions.append({
                "split": split.name, "feature": split.feature, "threshold": thr,
                "value": value, "side": "<=" if value <= thr else ">",
                "se": se.get(split.feature), "margin_se": margin,
                "borderline": None if margin is None else abs(margin) < 2,
                "in_domain": True,
            })
    regime = int(clf.apply(row)[0])
    label = str(clf.leaf_labels_[regime])
    features = [
        {"name": k, "value": v, "se": se.get(k), "in_domain": k != "hessian_t",
         "side": None if k != "hessian_t" else "above", "distance": 0.0 if k != "hessian_t"
         else 0.7, "distance_unit": None if k != "hessian_t" else "IQR",
         "training_min": 0.0 if k == "train_error" else (-30.0 if k[0] == "m" else 4.0),
         "training_max": 1.0 if k == "train_error" else (0.0 if k[0] == "m" else 9.0)}
        for k, v in values.items()
    ]
    verdict = {"question": "Q1", "task": "bs_failure", "tree": None, "label": label,
               "regime": regime, "failure_source": "The temperature is off.",
               "confidence": 0.8, "borderline": False, "out_of_domain_features": [],
               "decisions": decisions}
    group = {"model": "run-a", "action": "decrease batch size", "hyperparameter": "batch size",
             "direction": "decrease", "failure_source": "The temperature is too low.",
             "confidence": 0.8, "out_of_domain": True,
             "out_of_domain_features": ["hessian_t"], "borderline": False,
             "warnings": ["hessian_t lies 0.7 IQR above the training range"],
             "features": features, "q1": verdict, "q2": None}
    return {"schema": "sklearn-mdtree/diagnosis-report", "schema_version": 1,
            "optimizer": "batch size", "borderline_se": 2.0,
            "confidence_rule": "probability that no decision flips",
            "trees": {"q1": {"name": None, "description": "a test tree", "task": "bs_failure",
                             "n_training_configurations": 60}, "q2": None},
            "groups": [group]}


def _nodes(clf):
    """(pre-order node id, node) of the fitted hierarchy."""
    from sklearn_mdtree._hierarchy import _walk

    return list(enumerate(_walk(clf.hierarchy_.root)))


VALUES = {"train_error": 0.8, "mode_connectivity_peak": -20.0, "hessian_t": 9.5}
SE = {"train_error": 0.05, "mode_connectivity_peak": 2.0, "hessian_t": 0.3}


@pytest.fixture(scope="module")
def page():
    clf = _tree()
    return clf, render_report(_report(clf, VALUES, SE), {"q1": clf})


def _images(text):
    return [(src, html.unescape(alt))
            for src, alt in re.findall(r'<img src="([^"]+)" alt="([^"]*)"', text)]


def test_page_is_self_contained(page):
    clf, text = page
    assert text.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in text  # the CSP forbids any fetch
    assert "<script" not in text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert not re.search(r"url\(", text)
    images = _images(text)
    # tree with the path, the model among the regimes, the features against the domain
    assert [alt for _, alt in images] == [
        "Q1 tree with the model's path", "the model among the regimes",
        "features against the training range",
    ]
    for src, _ in images:
        assert src.startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(src.split(",", 1)[1]).decode("utf-8")
        assert "<svg" in svg and "http://www.w3.org" in svg  # namespaces only
        assert not re.search(r'xlink:href="https?:', svg)


def test_page_says_what_to_do_and_why(page):
    clf, text = page
    assert "Recommended change: decrease batch size" in text
    assert "The temperature is too low." in text
    assert "hessian_t lies 0.7 IQR above the training range" in text
    regime = int(clf.apply(pd.DataFrame({k: [v] for k, v in VALUES.items()}))[0])
    assert f"(regime {regime}, tree given)" in text
    t0 = clf.thresholds_["t0"]
    assert f"{(0.8 - t0) / 0.05:+.1f}" in text  # the margin of t0 in SE
    assert "outside: 0.7 IQR above" in text


def test_fragment_and_no_pictures():
    clf = _tree()
    report = _report(clf, VALUES, SE)
    fragment = render_report(report, {"q1": clf}, full_page=False, pictures=False)
    assert fragment.startswith("<style>") and "<html" not in fragment
    assert "<img" not in fragment
    without_tree = render_report(report)  # an unnamed tree, not passed: tables only
    assert [alt for _, alt in _images(without_tree)] == ["features against the training range"]
    assert "No picture of this tree" in without_tree
    with pytest.raises(TypeError, match="'report' parameter"):
        render_report({"groups": []})


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install "
                           "chromium; .ci/run installs it)")
def test_page_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    clf = _tree()
    path = write_report(_report(clf, VALUES, SE), tmp_path / "report.html", {"q1": clf})
    flags = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    url = path.resolve().as_uri()
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True)
    assert "<h2>Model run-a</h2>" in dom.stdout
    assert dom.stdout.count('<img src="data:image/svg+xml;base64,') == 3
    # no load attempted: the page's CSP would have blocked and logged it
    assert "Content Security Policy" not in dom.stderr
    assert "net::ERR" not in dom.stderr
    shot = tmp_path / "report.png"
    subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1280,3000",
                            "--hide-scrollbars", url],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (3000, 1280)
    ink = (pixels < 245).any(axis=2)
    assert ink.mean() > 0.05  # text, tables and pictures drawn, not a blank page
    # the tree's leaf colours (blue for "small", red for "large") are on the screen
    blue = (abs(pixels - [31, 119, 180]).sum(axis=2) < 60).sum()
    red = (abs(pixels - [214, 39, 40]).sum(axis=2) < 60).sum()
    assert blue > 50 and red > 50


# --------------------------------------------------------------------------------------
# the report of sklearn_mdtree.diagnose: to_html, _repr_html_, mdtree diagnose --html
# --------------------------------------------------------------------------------------

GROUPS = pd.DataFrame({"train_error": [2.0, 0.1], "mode_connectivity_peak": [-30.0, -1.0],
                       "hessian_t": [5.0, 6.0], "hessian_t_se": [0.1, 0.3],
                       "mode_connectivity_peak_se": [3.0, 0.5]}, index=["run-a", "run-b"])


@pytest.mark.slow
def test_diagnosis_report_to_html_and_repr_html(tmp_path):
    import sklearn_mdtree

    report = sklearn_mdtree.diagnose(GROUPS, "cifar10-resnet18")
    page = report.to_html()
    for group in report:
        assert f"<h2>Model {group.model}</h2>" in page
        assert f"Recommended change: {group.action}" in page
    # per group: Q1 and Q2 trees with the path, two positions, the features
    assert [alt for _, alt in _images(page)].count("Q1 tree with the model's path") == 2
    assert len(_images(page)) == 2 * 5
    path = report.to_html(tmp_path / "report.html")
    assert path.read_text(encoding="utf-8") == page
    fragment = report._repr_html_()
    assert fragment.startswith("<style>") and "<html" not in fragment
    assert report == sklearn_mdtree.diagnose(GROUPS, "cifar10-resnet18")  # == ignores trees


def test_mdtree_diagnose_html(tmp_path, capsys):
    from sklearn_mdtree._cli import main

    features = tmp_path / "features.csv"
    GROUPS.rename_axis("model").to_csv(features)
    page = tmp_path / "out" / "report.html"
    status = main(["diagnose", str(features), "--tree", "cifar10-resnet18", "--id-column",
                   "model", "--html", str(page)])
    assert status == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<h2>Model run-b</h2>" in text
    assert "Model run-a: increase width." in capsys.readouterr().out
    # an error leaves nothing behind
    bad = tmp_path / "bad.html"
    status = main(["diagnose", str(features), "--tree", "no-such-tree", "--html", str(bad)])
    assert status == 2 and not bad.exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_mdtree_diagnose_html_never_replaces_an_input_or_the_report(tmp_path, capsys):
    from sklearn_mdtree._cli import main

    features = tmp_path / "features.csv"
    GROUPS.rename_axis("model").to_csv(features)
    before = features.read_bytes()
    collection = tmp_path / "home" / "dataframe_normal_public.csv"
    collection.parent.mkdir()
    collection.write_text("kept\n")
    report = tmp_path / "report.txt"
    cases = [
        ["--html", str(features)],
        ["--html", str(report), "--output", str(report)],
        ["--html", str(collection), "--data-home", str(collection.parent)],
    ]
    for extra in cases:
        status = main(["diagnose", str(features), "--tree", "cifar10-resnet18", "--id-column",
                       "model", *extra])
        err = capsys.readouterr().err.strip().splitlines()
        expected = "name the same file" if "--output" in extra else "is one of the inputs"
        assert status == 2 and len(err) == 1 and expected in err[0], (extra, err)
    assert features.read_bytes() == before and not report.exists()
    assert collection.read_text() == "kept\n"


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install "
                           "chromium; .ci/run installs it)")
def test_diagnosis_report_renders_in_headless_chromium(tmp_path):
    import sklearn_mdtree

    path = sklearn_mdtree.diagnose(GROUPS, "cifar10-resnet18").to_html(tmp_path / "r.html")
    flags = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(flags + ["--dump-dom", path.resolve().as_uri()], capture_output=True,
                         text=True, timeout=120, check=True)
    assert "<h2>Model run-a</h2>" in dom.stdout and "<h2>Model run-b</h2>" in dom.stdout
    assert dom.stdout.count('<img src="data:image/svg+xml;base64,') == 10
    assert "Content Security Policy" not in dom.stderr and "net::ERR" not in dom.stderr
