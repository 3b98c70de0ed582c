"""How a table's loss-landscape features were computed, and a warning naming each
setting that differs from a tree's (issue 20, item 4), torch-free:
:class:`FeatureRecipe`, :func:`check_recipe`, :class:`RecipeWarning`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ._validity import _refuse

__all__ = ["FeatureRecipe", "RecipeWarning", "check_recipe", "recipe_warning"]

# --------------------------------------------------------------------------------------
# 6. Feature recipe
# --------------------------------------------------------------------------------------


class RecipeWarning(UserWarning):
    """The features were computed with other settings than the tree's features."""


#: Alias of :class:`RecipeWarning` (the name the issue uses).
recipe_warning = RecipeWarning

#: Why each setting matters, for the warning.
_WHY = {
    "curve_epochs": "connectivity moves with curve training",
    "curve_init": "the connectivity peak depends on the initial bend",
    "n_pairs": "connectivity is averaged over another number of model pairs",
    "hessian_batch_size": "the Hessian trace depends on its batch",
    "trace_method": "trace estimators differ in bias on small budgets",
    "trace_matvecs": "the trace's noise depends on its probes",
    "version": "the featurizer may have changed between versions",
}

# None resolved: the deflated estimator's probes (featurizers.hessian's _DEFAULT_N_PROBES,
# kept equal by a test; this module does not import torch), 100 for the others.
_RECIPE_DEFAULT_MATVECS = {"deflated": 6}


def _library_version():
    try:
        from importlib.metadata import version

        return version("sklearn-mdtree")
    except Exception:  # not installed: unknown
        return None


@dataclass(frozen=True)
class FeatureRecipe:
    """How a table's loss-landscape features were computed.

    Attributes
    ----------
    curve_epochs, curve_init, n_pairs, hessian_batch_size, trace_method, trace_matvecs
        :class:`featurizers.LossLandscapeFeaturizer`'s parameters of the same names
        (None: unknown; ``trace_matvecs`` None is the featurizer's default for the
        method).
    version : str or None
        The sklearn-mdtree version that computed them.
    """

    curve_epochs: int | None = None
    curve_init: str | None = None
    n_pairs: object = None
    hessian_batch_size: int | None = None
    trace_method: str | None = None
    trace_matvecs: int | None = None
    version: str | None = None

    @classmethod
    def from_featurizer(cls, featurizer):
        """The recipe of a :class:`featurizers.LossLandscapeFeaturizer` (its
        ``get_params()``; torch is not imported here), with this library's version."""
        if not hasattr(featurizer, "get_params"):
            _refuse("featurizer", "a LossLandscapeFeaturizer (with get_params)",
                    type(featurizer).__name__, TypeError)
        params = featurizer.get_params(deep=False)
        names = [f for f in _RECIPE_FIELDS if f != "version"]
        missing = [f for f in names if f not in params]
        if missing:
            _refuse("featurizer", f"a featurizer with the parameters {names}",
                    f"{type(featurizer).__name__} without {missing}", TypeError)
        return cls(**{f: params[f] for f in names}, version=_library_version())

    @classmethod
    def from_dict(cls, data):
        """Read :meth:`to_dict`'s dict (unknown keys refused, missing ones None)."""
        if not isinstance(data, Mapping):
            _refuse("data", "a dict of recipe settings", type(data).__name__, TypeError)
        unknown = sorted(set(data) - set(_RECIPE_FIELDS))
        if unknown:
            _refuse("data", f"keys among {list(_RECIPE_FIELDS)}", unknown)
        return cls(**dict(data))

    def to_dict(self):
        """The settings as plain JSON types (for a tree file's ``feature_recipe``)."""
        return asdict(self)

    def effective(self, name):
        """The setting's value, ``trace_matvecs`` None resolved to the method's default."""
        value = getattr(self, name)
        if name == "trace_matvecs" and value is None and self.trace_method is not None:
            return _RECIPE_DEFAULT_MATVECS.get(self.trace_method, 100)
        return value


_RECIPE_FIELDS = ("curve_epochs", "curve_init", "n_pairs", "hessian_batch_size",
                  "trace_method", "trace_matvecs", "version")


def check_recipe(tree_recipe, features_recipe):
    """Name each setting with which the features were computed otherwise than the tree's.

    Parameters
    ----------
    tree_recipe : FeatureRecipe or dict or None
        The recipe of the tree's training features (None: the tree records none).
    features_recipe : FeatureRecipe or dict or None
        The recipe of the features being diagnosed.

    Returns
    -------
    warnings : list of str
        One per setting that differs (a setting unknown on either side is not
        compared); a single note when either recipe is missing. Issue them as
        :class:`RecipeWarning`.
    """
    recipes = []
    for name, r in (("tree_recipe", tree_recipe), ("features_recipe", features_recipe)):
        if isinstance(r, Mapping):
            unknown = sorted(set(r) - set(_RECIPE_FIELDS))
            if unknown:
                _refuse(name, f"a recipe with keys among {list(_RECIPE_FIELDS)}", unknown)
            r = FeatureRecipe.from_dict(r)
        elif r is not None and not isinstance(r, FeatureRecipe):
            _refuse(name, "a FeatureRecipe, a dict or None", type(r).__name__, TypeError)
        recipes.append(r)
    tree, mine = recipes
    if tree is None:
        return ["the tree records no feature recipe: whether your features were computed "
                "like its training features cannot be checked"]
    if mine is None:
        return ["your features' recipe is unknown: check that they were computed like the "
                "tree's (" + ", ".join(f"{f}={getattr(tree, f)!r}" for f in _RECIPE_FIELDS
                                        if getattr(tree, f) is not None) + ")"]
    out = []
    for f in _RECIPE_FIELDS:
        a, b = tree.effective(f), mine.effective(f)
        if a is None or b is None or a == b:
            continue
        fix = (f"recompute with {f}={a!r}" if f != "version"
               else "recompute, or use a tree fitted with this version")
        out.append(f"{f}: the tree's features used {a!r}, yours {b!r} -- {_WHY[f]}; {fix}")
    return out
