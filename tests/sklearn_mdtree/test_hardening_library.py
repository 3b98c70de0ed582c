"""Issue 23, library side of sklearn_mdtree: silently wrong fits and raw errors."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sklearn_mdtree import MDTreeClassifier


@pytest.mark.parametrize("search", ["brent", "exhaustive"])
def test_thresholds_stay_inside_bounds_near_the_float64_limit(search):
    # hessian_t between 1.5e308 and 1.7e308 with bounds="data": scipy's Brent
    # overflowed in (a + b) / 2 and fitted t2 = 1.6994458873529013e308 above the
    # bounds' 1.6994419871578422e308 (84 of 400 such fits were outside).
    rng = np.random.default_rng(0)
    for _ in range(20):
        X = pd.DataFrame({"train_error": rng.uniform(0, 1, 12),
                          "mode_connectivity_peak": rng.uniform(-50, 0, 12),
                          "hessian_t": rng.uniform(1.5e308, 1.7e308, 12)})
        y = np.array(["small", "large"] * 6)[rng.permutation(12)]
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            clf = MDTreeClassifier("q1", bounds="data", threshold_search=search).fit(X, y)
        for name, t in clf.thresholds_.items():
            low, high = clf.bounds_[name]
            assert low <= t <= high, (name, t, (low, high))


# ---------------------------------------------------------------------------------
# Raw or misleading errors of the library (issue 23)

import json  # noqa: E402
import re  # noqa: E402

from sklearn_mdtree._validation import _check_numeric  # noqa: E402
from sklearn_mdtree.pretrained import PretrainedTree, _data_folder  # noqa: E402


def _shipped_document():
    return json.loads(_data_folder().joinpath("cifar10-resnet18-q1.json").read_text("utf-8"))


@pytest.mark.parametrize("version, shown", [(True, "true (bool)"), (1.0, "1.0 (float)")])
def test_format_version_must_be_the_integer(tmp_path, version, shown):
    # true and 1.0 compared equal to 1 and were accepted
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(_shipped_document() | {"format_version": version}))
    with pytest.raises(ValueError, match=re.escape(f"has format_version {shown}; this version "
                                                   "of sklearn-mdtree reads the integer 1")):
        PretrainedTree.from_file(path)


def test_a_5000_digit_number_in_a_tree_file(tmp_path):
    # was Python's "Exceeds the limit (4300 digits) for integer string conversion"
    text = json.dumps(_shipped_document())
    text = re.sub(r'"threshold": [-0-9.e+]+', '"threshold": ' + "9" * 5000, text, count=1)
    path = tmp_path / "tree.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"The tree file .* is not valid: the integer "
                                         r"999999999999\.\.\. has 5000 digits"):
        PretrainedTree.from_file(path)


def test_complex_feature_column_names_the_column_and_dtype():
    X = pd.DataFrame({"train_error": [0.1, 0.2, 5.0, 6.0],
                      "mode_connectivity_peak": [-1, -2, -40, -35],
                      "hessian_t": np.array([8, 8, 5, 8.5]) + 1j})
    # was "Complex data not supported" followed by a dump of the whole frame
    with pytest.raises(ValueError) as info:
        MDTreeClassifier("q1").fit(X, ["small", "small", "large", "large"])
    assert str(info.value) == ("The column(s) ['hessian_t'] of X that the hierarchy uses "
                               "must be numeric (real numbers). Got dtype(s) ['complex128'].")
    with pytest.raises(ValueError, match=r"^Column 'hessian_t' of the features table must "
                                         r"hold real numbers; got dtype complex128 "
                                         r"\(complex numbers\)\.$"):
        _check_numeric(X, ["hessian_t"], what="features table")


def test_a_one_class_fit_warns_and_a_one_class_table_to_fit_on_is_refused():
    from sklearn_mdtree.pretrained._recipes import training_rows

    X = pd.DataFrame({"train_error": [0.1, 0.2, 5.0, 6.0],
                      "mode_connectivity_peak": [-1, -2, -40, -35],
                      "hessian_t": [8, 8, 5, 8.5]})
    # was silent: a tree that answers "large" for every model, thresholds never searched
    with pytest.warns(UserWarning, match=r"y has one class \('large'\): every leaf "
                                         "predicts it and the thresholds are not fitted"):
        MDTreeClassifier("q1").fit(X, ["large"] * 4)
    table = X.assign(bs_failure=["large", "large", "optimal", "large"])
    with pytest.raises(ValueError, match="'bs_failure' column of the table to fit on must "
                                         "hold two classes .* all 3 are 'large'"):
        training_rows(table, "bs_failure", source="user")
    both = table.assign(bs_failure=["large", "small", "optimal", "large"])
    assert len(training_rows(both, "bs_failure", source="user")) == 3


def test_the_tree_file_promise_is_the_one_kept(tmp_path):
    # from_file promised to refuse files "edited into a tree that would answer
    # differently"; a threshold moved inside its bounds is accepted (the documents are
    # not signed), so the promise is narrowed to what is checked.
    doc = _shipped_document()
    root = doc["hierarchy"]["root"]
    low, high = root["bounds"]
    root["threshold"] = low + (high - low) / 4
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(doc))
    edited = PretrainedTree.from_file(path)
    assert edited.estimator.thresholds_[root["split"]] == root["threshold"]
    promise = PretrainedTree.from_file.__doc__
    assert "edited into a tree that would answer differently" not in promise
    assert "A consistent edit is not detected" in promise


def test_the_factory_string_is_documented_as_code():
    pytest.importorskip("torch")
    from pathlib import Path

    import featurizers.checkpoints as checkpoints

    for text in (checkpoints.__doc__, checkpoints.load_factory.__doc__):
        assert "trusted code" in text or "is code" in text
    guide = (Path(__file__).parents[2] / "docs" / "user_guide" / "featurize.rst").read_text()
    assert "The factory string is code." in guide and "weights_only=False" in guide


def test_an_unreachable_download_is_one_error_not_a_chain(tmp_path, monkeypatch):
    # the quick start without the data folder printed 98 lines of chained tracebacks
    import traceback

    import pooch

    from sklearn_mdtree.datasets import _model_diagnosis, fetch_model_diagnosis

    def unreachable(**kwargs):
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as low:
            raise OSError("Max retries exceeded with url: /normal.csv "
                          "(Caused by NewConnectionError(...))\nmore detail") from low

    monkeypatch.setattr(pooch, "retrieve", unreachable)
    monkeypatch.delenv(_model_diagnosis.DATA_ENV_VAR, raising=False)
    with pytest.raises(OSError) as info:
        fetch_model_diagnosis("normal", data_home=tmp_path / "cache")
    error = info.value
    assert error.__cause__ is None and error.__suppress_context__
    message = str(error)
    assert "\n" not in message and "download failed (OSError: Max retries exceeded" in message
    assert _model_diagnosis.DATA_ENV_VAR in message and "data_home" in message
    shown = "".join(traceback.format_exception(error))
    assert "During handling" not in shown and "direct cause" not in shown
