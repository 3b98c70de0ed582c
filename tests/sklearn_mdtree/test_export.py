"""Tests of the text export of fitted MD trees."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_mdtree import Hierarchy, MDTreeClassifier, Split, export_text


@pytest.fixture
def fitted():
    X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0, 7.0],
                      "mode_connectivity_peak": [-1.0, -25.0, -2.0, -28.0],
                      "hessian_t": [8.0, 5.0, 6.0, 8.5]})
    y = ["small", "large", "large", "small"]
    return MDTreeClassifier("q1", threshold_search="exhaustive").fit(X, y)


def test_every_split_side_and_leaf_is_printed(fitted):
    lines = export_text(fitted).splitlines()
    assert len(lines) == 3 * 2 + 4
    assert lines[0] == "|--- train_error <= 0.55  [t0]"
    assert lines[1] == "|   |--- class: small  (regime 0)  Lower the batch size."
    assert sum("class:" in line for line in lines) == 4
    assert fitted.export_text() == export_text(fitted)


def test_options(fitted):
    text = export_text(fitted, decimals=4, show_weights=True, show_actions=False)
    assert "train_error <= 0.5500  [t0]" in text
    assert "weights: [large: 0.0000, small: 1.0000]" in text
    assert "batch size" not in text
    with pytest.raises(ValueError, match="'decimals' parameter"):
        export_text(fitted, decimals=-1)


def test_index_features_named_from_fit():
    X = np.array([[0.0, 1], [1, 0], [2, 1], [3, 0]])
    clf = MDTreeClassifier(Hierarchy(Split("a", 1, bounds=(0, 1)))).fit(X, [0, 1, 0, 1])
    assert export_text(clf).splitlines()[0].startswith("|--- feature_1 <= ")
    named = MDTreeClassifier(Hierarchy(Split("a", 1, bounds=(0, 1)))).fit(
        pd.DataFrame(X, columns=["u", "v"]), [0, 1, 0, 1])
    assert export_text(named).splitlines()[0].startswith("|--- v <= ")


def test_unfitted():
    with pytest.raises(NotFittedError):
        export_text(MDTreeClassifier())


@pytest.mark.parametrize(
    "kwargs, name",
    [({"decimals": 1.5}, "decimals"), ({"show_weights": "yes"}, "show_weights"),
     ({"show_actions": None}, "show_actions")],
)
def test_parameters_are_validated(fitted, kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter of export_text"):
        export_text(fitted, **kwargs)
    with pytest.raises(ValueError, match="'mdtree' parameter of export_text"):
        export_text("tree")
