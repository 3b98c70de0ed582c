"""The optional spectral features of LossLandscapeFeaturizer: hessian_e<k>, hessian_t_<module>."""

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torch_helpers import train  # noqa: E402

from featurizers import LossLandscapeFeaturizer, ModelGroup  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


def _dense(model, X, y):
    model = copy.deepcopy(model).double().eval()
    named = list(model.named_parameters())
    flat = torch.cat([p.detach().flatten() for _, p in named])

    def loss(w):
        params, i = {}, 0
        for name, p in named:
            params[name] = w[i : i + p.numel()].reshape(p.shape)
            i += p.numel()
        return torch.nn.functional.cross_entropy(
            torch.func.functional_call(model, params, (X.double(),)), y
        )

    return torch.autograd.functional.hessian(loss, flat).numpy()


@pytest.fixture(scope="module")
def tiny():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
        models.append(train(net, (X, y), steps=30, seed=seed))
    return ModelGroup(models, (X, y)), [_dense(m, X, y) for m in models]


def _featurizer(features, **kwargs):
    return LossLandscapeFeaturizer(
        features, hessian_batch_size=40, random_state=0, verbose=0, **kwargs
    )


def test_top_k_features_match_dense(tiny):
    group, hessians = tiny
    tops = []
    for H in hessians:
        eig = np.linalg.eigvalsh(H)
        tops.append(eig[np.argsort(-np.abs(eig))][:3])
    expected = np.log(np.mean(tops, axis=0))
    out = _featurizer(["hessian_e1", "hessian_e2", "hessian_e3"]).transform([group])[0]
    # float32 products, residuals at most 1e-4 of the top eigenvalue
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-3)


def test_per_layer_features_match_dense_blocks(tiny):
    group, hessians = tiny
    # "0": 40 parameters (Lanczos, 24 steps + 6 probes); "2": 27 (exact, dense block)
    blocks = {"0": np.arange(0, 40), "2": np.arange(40, 67)}
    features = [f"hessian_{kind}_{m}" for m in blocks for kind in "te"]
    out = _featurizer(features, return_se=True).transform([group])[0]
    values, ses = out[: len(features)], out[len(features) :]
    for i, f in enumerate(features):
        kind, module = f.split("_")[1], f.split("_")[2]
        per_model = []
        for H in hessians:
            eig = np.linalg.eigvalsh(H[np.ix_(blocks[module], blocks[module])])
            per_model.append(eig.sum() if kind == "t" else eig[np.argmax(np.abs(eig))])
        expected = math.log(np.mean(per_model))
        if module == "2" or kind == "e":
            assert values[i] == pytest.approx(expected, abs=2e-3), f
        else:  # the deflated trace of the first layer: within its own noise and the seeds'
            assert abs(values[i] - expected) <= 3 * ses[i] + 1e-3, (f, values[i], expected, ses[i])
        assert np.isfinite(ses[i])


def test_optional_features_do_not_change_the_defaults(tiny):
    group, _ = tiny
    base = _featurizer(["hessian_t", "hessian_e"]).transform([group])[0]
    more = _featurizer(
        ["hessian_t", "hessian_e", "hessian_e2", "hessian_t_2"]
    ).transform([group])[0]
    assert np.array_equal(base, more[:2])
    default = LossLandscapeFeaturizer()
    assert default.features == ("train_error", "mode_connectivity_peak", "hessian_t", "CKA")
    names = _featurizer(["hessian_e2", "hessian_t_0"], return_se=True).get_feature_names_out()
    assert names.tolist() == ["hessian_e2", "hessian_t_0", "hessian_e2_se", "hessian_t_0_se"]


def test_optional_features_errors(tiny):
    group, _ = tiny
    with pytest.raises(ValueError, match="unknown"):
        _featurizer(["hessian_x"]).transform([group])
    with pytest.raises(ValueError, match="unknown"):
        _featurizer(["hessian_e0"]).transform([group])
    with pytest.raises(ValueError, match="no parameters under a module named 'fc'"):
        _featurizer(["hessian_t_fc"]).transform([group])
    X, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    free = ModelGroup([torch.nn.Flatten()], (X, y))
    with pytest.raises(ValueError, match="no floating-point parameters"):
        _featurizer(["hessian_e2"]).transform([free])
