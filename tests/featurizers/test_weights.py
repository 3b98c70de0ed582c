"""Tests of featurizers.weights and the weight features of LossLandscapeFeaturizer."""

import math

import pytest

torch = pytest.importorskip("torch")

from featurizers import LossLandscapeFeaturizer, ModelGroup  # noqa: E402
from featurizers.weights import (  # noqa: E402
    fresh_initialization,
    weight_displacement,
    weight_norm_ratio,
)


def _linear(weight, bias):
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([weight]))
        model.bias.copy_(torch.tensor([bias]))
    return model


def test_fresh_initialization_does_not_touch_the_model_or_the_rng():
    model = _linear([3.0, 4.0], 0.0)
    state = torch.random.get_rng_state()
    fresh = fresh_initialization(model, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert model.weight.tolist() == [[3.0, 4.0]]
    assert not torch.equal(fresh.weight, model.weight)
    assert torch.equal(fresh.weight, fresh_initialization(model, seed=3).weight)


def test_weight_norm_ratio_exact():
    model = _linear([0.0, 0.0], 0.0)
    fresh = fresh_initialization(model, seed=5)
    norm = math.sqrt(sum(float(p.pow(2).sum()) for p in fresh.parameters()))
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[3.0, 4.0]]))
    assert weight_norm_ratio(model, seed=5) == pytest.approx(5.0 / norm)


def test_weight_displacement_exact():
    model = _linear([3.0, 4.0], 1.0)
    initial = {"weight": torch.tensor([[3.0, 0.0]]), "bias": torch.tensor([4.0])}
    # ||(0, 4, -3)|| / ||(3, 0, 4)|| = 5 / 5
    assert weight_displacement(model, initial) == pytest.approx(1.0)
    assert weight_displacement(model, model) == 0.0
    with pytest.raises(ValueError, match="must hold parameter 'bias'"):
        weight_displacement(model, {"weight": initial["weight"]})


def test_non_finite_weights_give_inf():
    model = _linear([math.inf, 0.0], 0.0)
    assert weight_norm_ratio(model) == math.inf
    assert weight_displacement(model, _linear([1.0, 0.0], 0.0)) == math.inf


def test_featurizer_means_and_standard_errors():
    X, y = torch.randn(16, 2), torch.randint(0, 1, (16,))
    initial = [_linear([3.0, 0.0], 4.0), _linear([0.0, 0.0], 1.0)]
    models = [_linear([3.0, 4.0], 1.0), _linear([0.0, 0.0], 3.0)]  # displacements 1 and 2
    group = ModelGroup(models, (X, y), metadata={
        "initial_states": [m.state_dict() for m in initial]})
    featurizer = LossLandscapeFeaturizer(
        features=["weight_displacement", "weight_norm_ratio"], return_se=True,
        random_state=0, verbose=0).set_output(transform="pandas")
    row = featurizer.fit_transform([group]).iloc[0]
    assert row["weight_displacement"] == pytest.approx(1.5)
    assert row["weight_displacement_se"] == pytest.approx(0.5)  # std 0.707 / sqrt(2)
    assert 0 < row["weight_norm_ratio"] < math.inf and row["weight_norm_ratio_se"] > 0
    # the models were not modified
    assert models[0].weight.tolist() == [[3.0, 4.0]]


def test_weight_displacement_needs_initial_states():
    X, y = torch.randn(8, 2), torch.zeros(8, dtype=torch.long)
    group = ModelGroup([_linear([1.0, 0.0], 0.0)], (X, y))
    with pytest.raises(ValueError, match="initial_states"):
        LossLandscapeFeaturizer(features=["weight_displacement"], verbose=0).fit_transform([group])


def test_weight_features_are_not_default():
    assert "weight_norm_ratio" not in LossLandscapeFeaturizer().features
