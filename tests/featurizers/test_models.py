"""Tests of featurizers._models: from checkpoint files or model groups to features and
to the diagnosis report, in one call (the Python twin of featurize-then-diagnose)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sklearn_mdtree  # noqa: E402
from featurizers import diagnose_models, featurize_checkpoints  # noqa: E402
from featurizers.checkpoints import load_model_group  # noqa: E402

KWARGS = {"in_features": 4, "out_features": 3}


@pytest.fixture
def files(tmp_path):
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
    np.savez(tmp_path / "train.npz", X=X.numpy(), y=y.numpy())
    groups = {}
    for name in ("a", "b"):
        groups[name] = []
        for seed in (0, 1):
            torch.manual_seed(seed + (10 if name == "b" else 0))
            path = tmp_path / f"{name}{seed}.pt"
            torch.save(torch.nn.Linear(4, 3).state_dict(), path)
            groups[name].append(str(path))
    return tmp_path / "train.npz", groups


def test_diagnose_models_is_featurize_then_diagnose(files):
    data, paths = files
    table = featurize_checkpoints("torch.nn:Linear", list(paths.values()), data,
                                  names=list(paths), model_kwargs=KWARGS, curve_epochs=1)
    assert list(table.index) == ["a", "b"] and table.index.name == "group"
    expected = sklearn_mdtree.diagnose(table, "cifar10-resnet18", warn=False)
    groups = {name: load_model_group("torch.nn:Linear", p, data, model_kwargs=KWARGS)
              for name, p in paths.items()}
    report = diagnose_models(groups, tree="cifar10-resnet18", curve_epochs=1, random_state=0,
                             warn=False)
    assert isinstance(report, sklearn_mdtree.DiagnosisReport)
    assert [g.model for g in report] == ["a", "b"]
    assert report == expected


def test_pairwise_features_need_two_checkpoints(files):
    data, paths = files
    with pytest.raises(ValueError, match="has 1 checkpoint, but the pairwise"):
        featurize_checkpoints("torch.nn:Linear", [paths["a"][:1]], data, model_kwargs=KWARGS)


def test_tables_carry_n_classes_and_the_recipe(files):
    import json
    import warnings

    data, paths = files
    table = featurize_checkpoints("torch.nn:Linear", list(paths.values()), data,
                                  names=list(paths), model_kwargs=KWARGS, curve_epochs=2)
    assert table["n_classes"].tolist() == [3, 3]
    recipe = json.loads(table["feature_recipe"].iloc[0])
    assert recipe["curve_epochs"] == 2 and recipe["trace_method"] == "deflated"
    # the ResNet tree's features used 50 curve epochs: the diagnosis warns, naming it
    with pytest.warns(sklearn_mdtree.RecipeWarning, match="curve_epochs"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sklearn_mdtree.OutOfDomainWarning)
            report = sklearn_mdtree.diagnose(table, "cifar10-resnet18-q1")
    assert any("curve_epochs" in w for w in report[0].warnings)


def test_the_digits_trees_recipe_is_the_zoos():
    from featurizers import LossLandscapeFeaturizer
    from featurizers.zoo import Recipe
    from sklearn_mdtree.diagnosis._recipe import FeatureRecipe
    from sklearn_mdtree.pretrained._recipes import FEATURE_RECIPES, fit_document, read_zoo_table

    zoo = Recipe()
    # what featurizers.zoo.Zoo.featurizer builds from its recipe
    featurizer = LossLandscapeFeaturizer(curve_epochs=zoo.curve_epochs,
                                         hessian_batch_size=zoo.hessian_batch_size)
    recipe = FeatureRecipe.from_featurizer(featurizer).to_dict()
    for key, value in FEATURE_RECIPES["digits-zoo"].items():
        assert recipe[key] == value, key
    # what a digits document records (none ships since issue 21; make_pretrained fits them)
    shipped = fit_document("digits-mlp-q1", read_zoo_table())["feature_recipe"]
    assert {k: v for k, v in shipped.items() if v is not None} == {
        k: v for k, v in FEATURE_RECIPES["digits-zoo"].items() if v is not None}
