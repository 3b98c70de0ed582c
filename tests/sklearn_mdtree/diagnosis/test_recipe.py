"""Tests of sklearn_mdtree.diagnosis._recipe: the feature recipe and its check."""

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split
from sklearn_mdtree.diagnosis import _recipe as V
from sklearn_mdtree.diagnosis._recipe import FeatureRecipe, RecipeWarning, check_recipe


def _one_line(exc_info, *words):
    text = str(exc_info.value)
    assert "\n" not in text
    for w in words:
        assert w in text



# --------------------------------------------------------------------------------------
# 6. Feature recipe
# --------------------------------------------------------------------------------------

DIGITS = FeatureRecipe(curve_epochs=15, curve_init="midpoint", n_pairs=1,
                       hessian_batch_size=200, trace_method="deflated", trace_matvecs=None,
                       version="0.1.0")


def test_check_recipe_names_each_setting():
    mine = FeatureRecipe(**{**DIGITS.to_dict(), "curve_epochs": 50, "trace_matvecs": 6})
    assert check_recipe(DIGITS, mine) == [
        "curve_epochs: the tree's features used 15, yours 50 -- connectivity moves with "
        "curve training; recompute with curve_epochs=15"]
    assert check_recipe(DIGITS, DIGITS) == []
    other = FeatureRecipe(**{**DIGITS.to_dict(), "trace_method": "hutchinson",
                             "n_pairs": "all", "version": "0.2.0"})
    found = check_recipe(DIGITS.to_dict(), other)  # a tree file's dict works too
    assert [w.split(":")[0] for w in found] == ["n_pairs", "trace_method", "trace_matvecs",
                                                "version"]
    # unknown on one side: not compared; a missing recipe: one note
    assert check_recipe(DIGITS, FeatureRecipe(curve_epochs=15)) == []
    assert "records no feature recipe" in check_recipe(None, DIGITS)[0]
    assert "curve_epochs=15" in check_recipe(DIGITS, None)[0]
    assert issubclass(RecipeWarning, UserWarning) and V.recipe_warning is RecipeWarning


def test_recipe_dict_round_trip_and_refusals():
    assert FeatureRecipe.from_dict(DIGITS.to_dict()) == DIGITS
    with pytest.raises(ValueError) as e:
        FeatureRecipe.from_dict({"curve_epoch": 15})
    _one_line(e, "'data'", "curve_epoch")
    with pytest.raises(TypeError) as e:
        check_recipe(DIGITS, 15)
    _one_line(e, "'features_recipe'", "int")
    with pytest.raises(ValueError) as e:
        check_recipe({"epochs": 15}, DIGITS)
    _one_line(e, "'tree_recipe'", "epochs")


def test_recipe_from_featurizer_like_object():
    class Fake:
        def get_params(self, deep=True):
            return {"curve_epochs": 50, "curve_init": "random", "n_pairs": "all",
                    "hessian_batch_size": 100, "trace_method": "xtrace",
                    "trace_matvecs": 20, "verbose": 0}

    recipe = FeatureRecipe.from_featurizer(Fake())
    assert (recipe.curve_epochs, recipe.trace_matvecs, recipe.n_pairs) == (50, 20, "all")
    with pytest.raises(TypeError) as e:
        FeatureRecipe.from_featurizer(object())
    _one_line(e, "'featurizer'")


def test_recipe_from_loss_landscape_featurizer():
    pytest.importorskip("torch")
    from featurizers import LossLandscapeFeaturizer

    recipe = FeatureRecipe.from_featurizer(LossLandscapeFeaturizer(curve_epochs=15))
    assert recipe.curve_epochs == 15 and recipe.trace_method == "deflated"
    assert recipe.effective("trace_matvecs") == 6
    # None means the deflated estimator's default probes, which this torch-free module
    # keeps as a number of its own
    from featurizers.hessian._deflated import _DEFAULT_N_PROBES

    assert recipe.effective("trace_matvecs") == _DEFAULT_N_PROBES
    explicit = FeatureRecipe.from_featurizer(
        LossLandscapeFeaturizer(curve_epochs=15, trace_matvecs=_DEFAULT_N_PROBES))
    assert check_recipe(recipe, explicit) == []


def test_module_does_not_import_torch():
    code = ("import sys, sklearn_mdtree.diagnosis._recipe, sklearn_mdtree.calibration; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


