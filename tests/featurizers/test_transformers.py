"""Tests of featurizers/_transformers.py: the scikit-learn featurizers of model groups."""

import copy
import math
import os
import re
import warnings

import joblib
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import make_union  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from _torch_helpers import (  # noqa: E402
    PairDataset,
    TinyCNN,
    digits_mlp,
    digits_tensors,
    state_hash,
    NegatedLoss,
    PidWarningLoss,
    train,
)

import featurizers.hessian._model as hessian_model_module  # noqa: E402
import featurizers.hessian._trace as hessian_trace_module  # noqa: E402
from featurizers import (  # noqa: E402
    FeaturizationWarning,
    HyperparameterFeaturizer,
    LossLandscapeFeaturizer,
    ModelGroup,
    ValidationFeaturizer,
    curve_errors,
    evaluate_model,
    init_bend,
    mode_connectivity,
    mode_connectivity_peak,
)

ALL = [
    "train_error",
    "train_loss",
    "hessian_t",
    "hessian_e",
    "mode_connectivity_peak",
    "mode_connectivity",
    "CKA",
]
MD_TREE = ["train_error", "mode_connectivity_peak", "hessian_t", "CKA"]
# Small budgets keep every transform well under a second.
FAST = dict(curve_epochs=2, trace_matvecs=10, verbose=0)


# ---------------------------------------------------------------------------
# tiny models on digits


@pytest.fixture(scope="module")
def digits():
    X, y = digits_tensors()
    return (X[:240], y[:240]), (X[240:360], y[240:360])


def mlp(width=12):
    return digits_mlp(width)


def cnn():
    return TinyCNN(channels=3, dropout=0.2)


def trained(factory, data, seeds, steps=100, **kwargs):
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(train(factory(), data, steps, seed=seed, **kwargs))
    return models


@pytest.fixture(scope="module")
def groups(digits):
    train_data, val_data = digits
    return [
        ModelGroup(
            trained(mlp, train_data, (0, 1, 2), batch_size=batch_size),
            train_data,
            val_data,
            metadata={"batch_size": batch_size},
            name=f"bs{batch_size}",
        )
        for batch_size in (8, 64)
    ]


@pytest.fixture(scope="module")
def cnn_group(digits):
    train_data, val_data = digits
    models = trained(cnn, train_data, (0, 1), steps=60)
    return ModelGroup(models, train_data, val_data, name="cnn")


# ---------------------------------------------------------------------------
# output


def test_default_features_are_the_md_tree_ones(groups):
    featurizer = LossLandscapeFeaturizer(random_state=0, **FAST)
    out = featurizer.fit_transform(groups)
    assert out.shape == (2, 4) and out.dtype == np.float64
    assert np.isfinite(out).all()
    assert list(featurizer.get_feature_names_out()) == MD_TREE
    assert featurizer.features_ == tuple(MD_TREE)
    assert featurizer.n_groups_fit_ == 2


def test_selected_features_in_the_given_order_and_pandas_output(groups):
    features = ["CKA", "hessian_e", "train_loss", "mode_connectivity", "train_error"]
    featurizer = LossLandscapeFeaturizer(features, random_state=0, **FAST)
    table = featurizer.set_output(transform="pandas").fit_transform(groups)
    assert list(table.columns) == features
    assert table.shape == (2, 5)
    array = clone(featurizer).set_output(transform="default").transform(groups)
    np.testing.assert_array_equal(table.to_numpy(), array)


def test_transform_needs_no_fit(groups):
    out = LossLandscapeFeaturizer(["train_error"], verbose=0).transform(groups[:1])
    assert out.shape == (1, 1)


def test_train_error_and_loss_are_means_over_models(groups):
    group = groups[0]
    out = LossLandscapeFeaturizer(["train_error", "train_loss"], verbose=0).transform([group])
    by_hand = np.mean([evaluate_model(m, group.train_data) for m in group.models], axis=0)
    np.testing.assert_allclose(out[0], by_hand)
    val = ValidationFeaturizer(verbose=0).transform([group])
    val_by_hand = np.mean([evaluate_model(m, group.val_data) for m in group.models], axis=0)
    np.testing.assert_allclose(val[0], np.r_[by_hand, val_by_hand])


def test_connectivity_without_curve_training_is_the_straight_line(groups):
    group = groups[0]
    a, b, c = group.models
    features = ["mode_connectivity_peak", "mode_connectivity"]
    out = LossLandscapeFeaturizer(features, curve_epochs=0, verbose=0).transform([group])
    errors, _ = curve_errors(a, init_bend(a, b), b, group.train_data)
    np.testing.assert_allclose(out[0], [mode_connectivity_peak(errors), mode_connectivity(errors)])
    # n_pairs="all": the mean over the three pairs
    out = LossLandscapeFeaturizer(features, curve_epochs=0, n_pairs="all", verbose=0).transform(
        [group]
    )
    per_pair = [
        curve_errors(m, init_bend(m, n), n, group.train_data)[0]
        for m, n in ((a, b), (a, c), (b, c))
    ]
    np.testing.assert_allclose(
        out[0],
        [np.mean([mode_connectivity_peak(e) for e in per_pair]),
         np.mean([mode_connectivity(e) for e in per_pair])],
    )


def test_identical_models_have_cka_one_and_no_barrier(groups):
    model = groups[1].models[0]
    group = ModelGroup([model, copy.deepcopy(model)], groups[1].train_data)
    error, _ = evaluate_model(model, group.train_data)
    features = ["CKA", "mode_connectivity_peak", "mode_connectivity"]
    with pytest.warns(FeaturizationWarning, match="identical weights"):
        out = LossLandscapeFeaturizer(features, curve_epochs=0, verbose=0).transform([group])
    np.testing.assert_allclose(out[0], [1.0, -error, 0.0])


def hessian_by_hand(model, X, y):
    """Exact float64 Hessian of the mean cross-entropy w.r.t. all parameters."""
    model = copy.deepcopy(model).double().eval()
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().flatten() for _, p in model.named_parameters()])

    def loss(w):
        params, i = {}, 0
        for name, shape in zip(names, shapes):
            params[name] = w[i : i + shape.numel()].reshape(shape)
            i += shape.numel()
        out = torch.func.functional_call(model, params, (X.double(),))
        return torch.nn.functional.cross_entropy(out, y)

    return torch.autograd.functional.hessian(loss, flat)


def test_hessian_features_match_exact_hessians():
    # 67 parameters; a batch as large as the data makes every model's batch the
    # whole data.
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(
            train(
                torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)),
                (X, y),
                steps=30,
                seed=seed,
            )
        )
    group = ModelGroup(models, (X, y))
    hessians = [hessian_by_hand(m, X, y) for m in models]
    traces = [float(torch.trace(h)) for h in hessians]
    tops = []
    for h in hessians:
        eig = torch.linalg.eigvalsh(h)
        tops.append(float(eig[eig.abs().argmax()]))
    log_trace, log_top = math.log(np.mean(traces)), math.log(np.mean(tops))
    # The default: one Lanczos run for both, deflating 6 Hutchinson probes
    featurizer = LossLandscapeFeaturizer(
        ["hessian_t", "hessian_e"], hessian_batch_size=40, random_state=0, verbose=0
    )
    out = featurizer.transform([group])[0]
    assert out[0] == pytest.approx(log_trace, abs=0.05)
    assert out[1] == pytest.approx(log_top, rel=1e-4)
    # the same eigenvalue whichever feature is selected
    only_e = clone(featurizer).set_params(features=["hessian_e"])
    assert only_e.transform([group])[0, 0] == out[1]
    # exact when the Lanczos steps and the probes cover the 67 parameters
    exact = clone(featurizer).set_params(trace_matvecs=43)
    np.testing.assert_allclose(exact.transform([group])[0], [log_trace, log_top], rtol=1e-6)
    # XTrace with as many products as parameters is exact too; the eigenvalue is
    # then ARPACK's
    xtrace = clone(featurizer).set_params(trace_method="xtrace", trace_matvecs=67)
    out = xtrace.transform([group])[0]
    assert out[0] == pytest.approx(log_trace, rel=1e-6)
    assert out[1] == pytest.approx(log_top, rel=1e-4)
    # Hutchinson (constant memory) estimates the same trace
    hutch = clone(featurizer).set_params(
        features=["hessian_t"], trace_method="hutchinson", trace_matvecs=400
    )
    estimate = math.exp(hutch.transform([group])[0, 0])
    assert estimate == pytest.approx(np.mean(traces), rel=0.25)


def test_trace_matvecs_none_is_the_default_budget_of_the_method(groups):
    def hessian_t(**params):
        featurizer = LossLandscapeFeaturizer(["hessian_t"], random_state=0, verbose=0)
        return featurizer.set_params(**params).transform(groups[:1])

    np.testing.assert_array_equal(hessian_t(), hessian_t(trace_matvecs=6))
    assert not np.array_equal(hessian_t(), hessian_t(trace_matvecs=5))
    np.testing.assert_array_equal(
        hessian_t(trace_method="hutchinson"),
        hessian_t(trace_method="hutchinson", trace_matvecs=100),
    )


@pytest.mark.parametrize("trace_method", ["deflated", "xtrace"])
def test_one_hessian_operator_per_model_for_both_features(groups, monkeypatch, trace_method):
    built = []

    class Counting(hessian_model_module.HessianOperator):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    featurizer = LossLandscapeFeaturizer(
        ["hessian_t", "hessian_e"], trace_method=trace_method, random_state=0, **FAST
    )
    expected = featurizer.transform(groups[:1])
    monkeypatch.setattr(hessian_model_module, "HessianOperator", Counting)
    np.testing.assert_array_equal(featurizer.transform(groups[:1]), expected)
    assert len(built) == groups[0].n_models


def test_auto_trace_method_switches_to_hutchinson_above_the_memory_budget(groups, monkeypatch):
    def hessian_t(method):
        featurizer = LossLandscapeFeaturizer(
            ["hessian_t"], trace_method=method, random_state=0, **FAST
        )
        return featurizer.transform(groups[:1])

    xtrace, hutchinson = hessian_t("xtrace"), hessian_t("hutchinson")
    assert not np.array_equal(xtrace, hutchinson)
    np.testing.assert_array_equal(hessian_t("auto"), xtrace)
    # 10 products: an XTrace workspace of 8 * n * (5 + 5) bytes for n parameters
    workspace = 8 * groups[0].n_parameters * 10
    monkeypatch.setattr(hessian_trace_module, "_XTRACE_MEMORY_BUDGET", workspace)
    np.testing.assert_array_equal(hessian_t("auto"), xtrace)
    monkeypatch.setattr(hessian_trace_module, "_XTRACE_MEMORY_BUDGET", workspace - 1)
    np.testing.assert_array_equal(hessian_t("auto"), hutchinson)


def test_auto_trace_method_with_one_product_is_hutchinson(groups):
    def hessian_t(method):
        featurizer = LossLandscapeFeaturizer(
            ["hessian_t"], trace_method=method, random_state=0, verbose=0, trace_matvecs=1
        )
        return featurizer.fit_transform(groups[:1])

    np.testing.assert_array_equal(hessian_t("auto"), hessian_t("hutchinson"))


# ---------------------------------------------------------------------------
# randomness


def test_reproducible_with_random_state(groups, cnn_group):
    featurizer = LossLandscapeFeaturizer(ALL, random_state=0, **FAST)
    data = groups + [cnn_group]
    first = featurizer.transform(data)
    np.testing.assert_array_equal(first, clone(featurizer).transform(data))
    other = featurizer.set_params(random_state=1).transform(data)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    "make", [np.random.default_rng, np.random.RandomState], ids=["Generator", "RandomState"]
)
def test_random_state_instances_are_accepted_like_the_functions(groups, make):
    # The constraint of the functions: a Generator is accepted as well as a
    # RandomState. Either is drawn from once per transform, as scikit-learn does with
    # a RandomState: equal seeds give equal rows, a second call differs, and a clone
    # (which deep-copies the instance in its current state) repeats the next call.
    features = ["train_error", "hessian_t", "CKA"]
    featurizer = LossLandscapeFeaturizer(features, random_state=make(5), **FAST)
    assert isinstance(featurizer.get_params()["random_state"], type(make(5)))
    first = featurizer.transform(groups)
    np.testing.assert_array_equal(
        first, LossLandscapeFeaturizer(features, random_state=make(5), **FAST).transform(groups)
    )
    copy_ = clone(featurizer)
    assert copy_.random_state is not featurizer.random_state
    second = featurizer.transform(groups)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(copy_.transform(groups), second)


def test_random_state_of_an_unaccepted_type_is_refused():
    with pytest.raises(InvalidParameterError, match="'random_state' parameter"):
        LossLandscapeFeaturizer(random_state="seed").fit([])


def test_a_row_depends_on_its_position_and_group_only(groups, cnn_group):
    featurizer = LossLandscapeFeaturizer(ALL, random_state=0, **FAST)
    a = featurizer.transform([groups[0], groups[1]])
    b = featurizer.transform([cnn_group, groups[1]])
    np.testing.assert_array_equal(a[1], b[1])
    # ... nor on the other features selected
    only_cka = clone(featurizer).set_params(features=["CKA"]).transform([groups[0], groups[1]])
    np.testing.assert_array_equal(only_cka[:, 0], a[:, ALL.index("CKA")])


def test_a_row_does_not_depend_on_the_form_of_the_data(groups):
    group = groups[0]
    loader = DataLoader(PairDataset(*group.train_data), batch_size=5, shuffle=True)
    same = ModelGroup(group.models, loader)
    featurizer = LossLandscapeFeaturizer(ALL, random_state=0, **FAST)
    np.testing.assert_allclose(
        featurizer.transform([same]), featurizer.transform([group]), rtol=1e-6
    )


# ---------------------------------------------------------------------------
# n_jobs


@pytest.mark.slow
def test_n_jobs_gives_the_rows_of_one_job(groups, cnn_group, broken):
    featurizer = LossLandscapeFeaturizer(ALL, random_state=0, **FAST)
    data = groups + [cnn_group, broken]
    with pytest.warns(FeaturizationWarning, match=r"group 'broken' \(index 3\)"):
        serial = featurizer.transform(data)
    with pytest.warns(FeaturizationWarning, match=r"group 'broken' \(index 3\)"):
        parallel = clone(featurizer).set_params(n_jobs=2).transform(data)
    # Workers run torch on one thread each, the parent on two: rounding differs.
    np.testing.assert_allclose(parallel, serial, rtol=1e-5, atol=1e-6)
    assert np.isnan(parallel[3]).sum() == np.isnan(serial[3]).sum() > 0
    with joblib.parallel_config(n_jobs=2):  # n_jobs=None follows the context
        np.testing.assert_allclose(featurizer.transform(data[:2]), serial[:2], rtol=1e-5, atol=1e-6)


def test_warnings_of_workers_come_back_from_where_they_arose(groups):
    featurizer = ValidationFeaturizer(["train_loss"], loss_fn=PidWarningLoss(), verbose=0)
    with pytest.warns(UserWarning, match="loss computed in process"):
        serial = featurizer.transform(groups)
    with pytest.warns(UserWarning, match="loss computed in process") as record:
        parallel = clone(featurizer).set_params(n_jobs=2).transform(groups)
    np.testing.assert_allclose(parallel, serial, rtol=1e-5)
    pids = {int(str(w.message).rsplit(" ", 1)[1]) for w in record}
    assert pids and os.getpid() not in pids  # computed by the workers ...
    # ... and issued here from the line that warned, so that filters by module apply.
    assert {os.path.basename(w.filename) for w in record} == {"_torch_helpers.py"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", module="_torch_helpers")
        clone(featurizer).set_params(n_jobs=2).transform(groups)


@pytest.mark.slow
def test_n_jobs_raises_for_the_first_failing_group_in_order(groups):
    # Minus the cross-entropy: both groups' mean traces are negative, in the workers.
    featurizer = LossLandscapeFeaturizer(
        ["hessian_t"], loss_fn=NegatedLoss(), n_jobs=2, random_state=0, verbose=0
    )
    with pytest.warns(FeaturizationWarning) as record:
        out = featurizer.transform(groups)
    assert np.isnan(out).all()
    assert [re.search(r"group '(\w+)'", str(w.message)).group(1) for w in record] == [
        "bs8",
        "bs64",
    ]
    for _ in range(3):
        with pytest.raises(ValueError, match=r"group 'bs8' \(index 0\)"):
            clone(featurizer).set_params(nonpositive="raise").transform(groups)


@pytest.mark.slow
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_n_jobs_with_on_nan_raise_stops_without_other_warnings(broken, groups):
    featurizer = LossLandscapeFeaturizer(["train_loss"], on_nan="raise", n_jobs=2, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor joblib's about the cancelled groups
        with pytest.raises(ValueError, match=r"group 'broken' \(index 0\)"):
            featurizer.transform([broken] + groups * 2)


def test_groups_run_in_turn_under_threads_and_without_n_jobs(groups, cnn_group):
    # The curve training of the CNN draws dropout masks from torch's global RNG,
    # which threads would share: a threading backend runs the groups in turn.
    featurizer = LossLandscapeFeaturizer(["mode_connectivity_peak"], random_state=0, **FAST)
    data = [cnn_group, cnn_group, cnn_group]
    serial = featurizer.transform(data)
    with joblib.parallel_config(backend="threading", n_jobs=2):
        np.testing.assert_array_equal(featurizer.transform(data), serial)
    # HyperparameterFeaturizer has no n_jobs (nor verbose): a context does not apply.
    with joblib.parallel_config(n_jobs=2):
        out = HyperparameterFeaturizer().transform(groups)
    np.testing.assert_array_equal(out, HyperparameterFeaturizer().transform(groups))


def test_n_jobs_with_threads_passes_warnings_on(negative_trace, groups):
    featurizer = LossLandscapeFeaturizer(["hessian_t"], n_jobs=2, verbose=0)
    with joblib.parallel_config(backend="threading"):
        with pytest.warns(FeaturizationWarning) as record:
            out = featurizer.transform(groups)
    assert np.isnan(out).all()
    labels = [re.search(r"group '(\w+)'", str(w.message)).group(1) for w in record]
    assert labels == ["bs8", "bs64"]


# ---------------------------------------------------------------------------
# the user's models are never modified


def test_models_are_not_modified(cnn_group, groups):
    models = [copy.deepcopy(m) for m in cnn_group.models]
    # A mixed state: one model training, one frozen layer, a gradient left over.
    models[0].train()
    models[1].bn.train()
    models[1].conv.weight.requires_grad_(False)
    models[0].fc.weight.grad = torch.ones_like(models[0].fc.weight)
    group = ModelGroup(models, cnn_group.train_data, cnn_group.val_data)
    before = state_hash(*models)
    rng = torch.get_rng_state()
    featurizer = LossLandscapeFeaturizer(
        ALL, random_state=0, n_pairs="all", curve_init="random", **FAST
    )
    featurizer.transform([group])
    ValidationFeaturizer(verbose=0).transform([group])
    HyperparameterFeaturizer().transform([group])
    assert state_hash(*models) == before
    assert torch.equal(torch.get_rng_state(), rng)


# ---------------------------------------------------------------------------
# bad input


def test_one_model_and_a_pairwise_feature(groups):
    group = ModelGroup(groups[0].models[:1], groups[0].train_data, name="alone")
    with pytest.raises(ValueError, match=r"group 'alone' \(index 1\) has 1 model.*\['CKA'\]"):
        LossLandscapeFeaturizer(["train_error", "CKA"], verbose=0).transform([groups[1], group])
    # the other features are fine with one model
    out = LossLandscapeFeaturizer(["train_error", "hessian_t"], **FAST).transform([group])
    assert out.shape == (1, 2)


def test_too_many_pairs(groups):
    with pytest.raises(ValueError, match=r"n_pairs=4 but group 'bs8' \(index 0\) has 3 models"):
        LossLandscapeFeaturizer(n_pairs=4, verbose=0).transform(groups)


def test_models_of_different_architectures(digits):
    with pytest.raises(ValueError, match="share one architecture"):
        ModelGroup([mlp(12), mlp(13)], digits[0])


def test_empty_dataset():
    with pytest.raises(ValueError, match="training data is empty"):
        ModelGroup([mlp()], (torch.zeros(0, 64), torch.zeros(0, dtype=torch.long)))


def test_labels_outside_the_output_range(groups):
    X, y = groups[0].train_data
    group = ModelGroup(groups[0].models, (X, y + 1), name="shifted")
    with pytest.raises(
        ValueError,
        match=r"training labels of group 'shifted' \(index 0\) must lie in \[0, 10\).*1 to 10",
    ):
        LossLandscapeFeaturizer(["hessian_t"], verbose=0).transform([group])
    val = ModelGroup(groups[0].models, (X, y), (X, y - 1), name="val")
    with pytest.raises(ValueError, match=r"validation labels of group 'val'.*-1 to 8"):
        ValidationFeaturizer(verbose=0).transform([val])


def test_missing_validation_data(groups):
    group = ModelGroup(groups[0].models, groups[0].train_data)
    with pytest.raises(ValueError, match=r"no validation data.*\['test_error', 'test_loss'\]"):
        ValidationFeaturizer(verbose=0).transform([group])
    assert ValidationFeaturizer(["train_error"], verbose=0).transform([group]).shape == (1, 1)


@pytest.fixture
def broken(groups):
    models = [copy.deepcopy(m) for m in groups[0].models]
    with torch.no_grad():
        models[1][0].weight[0, 0] = float("nan")
    return ModelGroup(models, groups[0].train_data, name="broken")


def test_nan_losses_are_reported_as_nan_with_a_warning(broken, groups):
    featurizer = LossLandscapeFeaturizer(ALL, random_state=0, **FAST)
    with pytest.warns(FeaturizationWarning, match=r"group 'broken' \(index 1\) gives non-finite"):
        out = featurizer.transform([groups[1], broken])
    assert np.isfinite(out[0]).all()
    row = dict(zip(ALL, out[1]))
    for name in ALL[1:]:  # the error of a NaN model is finite (argmax of NaN), the rest NaN
        assert math.isnan(row[name]), name


def test_nan_losses_raise_on_request(broken):
    match = r"group 'broken' \(index 0\) gives non-finite.*on_nan='warn'"
    with pytest.raises(ValueError, match=match):
        LossLandscapeFeaturizer(["train_loss"], on_nan="raise", verbose=0).transform([broken])


def test_model_on_another_device(digits):
    meta = [torch.nn.Linear(64, 10, device="meta") for _ in range(2)]
    group = ModelGroup(meta, digits[0], name="meta")
    match = r"model 0 of group 'meta' \(index 0\) is on device meta.*device='cpu'"
    with pytest.raises(ValueError, match=match):
        LossLandscapeFeaturizer(verbose=0).transform([group])


def test_inputs_of_another_dtype_than_the_models(groups):
    X, y = groups[0].train_data
    group = ModelGroup(groups[0].models, (X.double(), y), name="float64")
    match = (
        r"training inputs of group 'float64' \(index 0\) have dtype torch.float64 but the "
        r"models' parameters torch.float32"
    )
    with pytest.raises(TypeError, match=match):
        LossLandscapeFeaturizer(["train_error"], verbose=0).fit_transform([group])
    val = ModelGroup(groups[0].models, (X, y), (X.double(), y), name="val")
    with pytest.raises(TypeError, match=r"validation inputs of group 'val'.*float64"):
        ValidationFeaturizer(verbose=0).transform([val])
    # models in float64 accept float64 inputs
    models = [copy.deepcopy(m).double() for m in groups[0].models]
    out = LossLandscapeFeaturizer(["train_error"], verbose=0).transform(
        [ModelGroup(models, (X.double(), y))]
    )
    assert np.isfinite(out).all()


def test_device_not_available_for_the_models(groups):
    with pytest.raises(ValueError, match=r"is on device cpu .* but device='cuda:0'"):
        LossLandscapeFeaturizer(device="cuda:0", verbose=0).transform(groups)
    with pytest.raises(ValueError, match=r"'device' parameter of LossLandscapeFeaturizer.*'gpu'"):
        LossLandscapeFeaturizer(device="gpu", verbose=0).transform(groups)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"features": ["train_error", "sharpness"]}, ValueError, r"Got unknown \['sharpness'\]"),
        ({"features": []}, ValueError, "at least one feature"),
        ({"features": ["CKA", "CKA"]}, ValueError, "must not repeat"),
        ({"features": "CKA"}, InvalidParameterError, "'features' parameter"),
        ({"curve_init": "linear"}, InvalidParameterError, "'curve_init' parameter"),
        ({"curve_epochs": -1}, InvalidParameterError, "'curve_epochs' parameter"),
        ({"nonpositive": 0.0}, InvalidParameterError, "'nonpositive' parameter"),
        ({"nonpositive": "clip"}, InvalidParameterError, "'nonpositive' parameter"),
        ({"on_nan": "ignore"}, InvalidParameterError, "'on_nan' parameter"),
        ({"trace_method": "hutch++"}, InvalidParameterError, "'trace_method' parameter"),
        ({"n_pairs": 0}, InvalidParameterError, "'n_pairs' parameter"),
        ({"n_jobs": 0}, InvalidParameterError, "'n_jobs' parameter"),
        ({"n_jobs": 1.5}, InvalidParameterError, "'n_jobs' parameter"),
        ({"hessian_batch_size": 0}, InvalidParameterError, "'hessian_batch_size' parameter"),
        (
            {"trace_method": "xtrace", "trace_matvecs": 1},
            ValueError,
            r"'trace_matvecs' parameter of LossLandscapeFeaturizer must be at least 2 with "
            r"trace_method='xtrace'.*Got 1",
        ),
    ],
)
def test_bad_parameters(params, error, match, groups):
    with pytest.raises(error, match=match):
        LossLandscapeFeaturizer(verbose=0, **params).fit(groups)


@pytest.mark.parametrize(
    "data, error, match",
    [
        ("groups", TypeError, "got a single ModelGroup"),
        ([], ValueError, "at least one ModelGroup"),
        ([np.zeros(3)], TypeError, "element 0 is a ndarray"),
        (3, TypeError, "got int"),
    ],
)
def test_bad_groups(data, error, match, groups):
    data = groups[0] if data == "groups" else data
    with pytest.raises(error, match=match):
        LossLandscapeFeaturizer(verbose=0).transform(data)


# ---------------------------------------------------------------------------
# ln of a non-positive mean trace


@pytest.fixture
def negative_trace(monkeypatch):
    # Both paths: the default shared Lanczos run and the trace-only estimators.
    monkeypatch.setattr(
        hessian_model_module, "trace_and_top_eigenvalue", lambda *a, **k: (-0.5, 1.0)
    )
    monkeypatch.setattr(hessian_model_module, "_estimate_trace", lambda *a, **k: -0.5)


def test_nonpositive_trace_is_nan_with_a_warning(negative_trace, groups):
    featurizer = LossLandscapeFeaturizer(["hessian_t", "train_error"], verbose=0)
    match = r"Hessian trace of group 'bs8' \(index 0\) is -0.5 <= 0"
    with pytest.warns(FeaturizationWarning, match=match):
        out = featurizer.transform(groups[:1])
    assert math.isnan(out[0, 0]) and np.isfinite(out[0, 1])


def test_nonpositive_trace_can_raise_or_be_floored(negative_trace, groups):
    with pytest.raises(ValueError, match="ln\\(mean\\) is undefined"):
        LossLandscapeFeaturizer(["hessian_t"], nonpositive="raise", verbose=0).transform(groups[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        floored = LossLandscapeFeaturizer(["hessian_t"], nonpositive=0.01, verbose=0)
        out = floored.transform(groups[:1])
    assert out[0, 0] == pytest.approx(math.log(0.01))


# ---------------------------------------------------------------------------
# scikit-learn API


@pytest.mark.parametrize(
    "featurizer",
    [
        LossLandscapeFeaturizer(["CKA"], curve_epochs=3, device="cpu", random_state=4),
        ValidationFeaturizer(["test_error"], batch_size=32),
        HyperparameterFeaturizer(["log_para_amount"]),
    ],
    ids=lambda f: type(f).__name__,
)
def test_clone_and_get_params(featurizer):
    twin = clone(featurizer)
    assert twin is not featurizer
    assert twin.get_params() == featurizer.get_params()
    twin.set_params(features=list(featurizer.features))
    assert list(twin.features) == list(featurizer.features)
    assert type(featurizer).__name__ in repr(featurizer)


def test_init_stores_parameters_only():
    loss = torch.nn.CrossEntropyLoss()
    featurizer = LossLandscapeFeaturizer(loss_fn=loss, device="cuda:3")
    assert featurizer.loss_fn is loss and featurizer.device == "cuda:3"
    assert not [k for k in vars(featurizer) if k.endswith("_")]


def test_feature_union_with_pandas_output(groups):
    union = make_union(
        LossLandscapeFeaturizer(["train_error", "CKA"], random_state=0, **FAST),
        HyperparameterFeaturizer(),
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    table = union.fit_transform(groups)
    assert list(table.columns) == ["train_error", "CKA", "log_data_amount", "log_para_amount"]


def test_hyperparameter_featurizer(groups):
    g = groups[0]
    with_meta = ModelGroup(g.models, g.train_data, metadata={"data_amount": 5000})
    out = HyperparameterFeaturizer().fit_transform([g, with_meta])
    n_params = 64 * 12 + 12 + 12 * 10 + 10
    np.testing.assert_allclose(
        out, [[math.log(240), math.log(n_params)], [math.log(5000), math.log(n_params)]]
    )
    bad = ModelGroup(g.models, g.train_data, metadata={"data_amount": 0}, name="zero")
    match = r"data_amount'\] of group 'zero' \(index 0\) must be a positive"
    with pytest.raises(ValueError, match=match):
        HyperparameterFeaturizer().transform([bad])


@pytest.mark.parametrize("amount", [True, False, -5, float("nan"), float("inf"), "600"])
def test_hyperparameter_featurizer_refuses_bad_data_amounts(groups, amount):
    g = groups[0]
    bad = ModelGroup(g.models, g.train_data, metadata={"data_amount": amount}, name="bad")
    match = (
        r"metadata\['data_amount'\] of group 'bad' \(index 1\) must be a positive finite "
        rf"number.*got {re.escape(repr(amount))}\."
    )
    with pytest.raises(ValueError, match=match):
        HyperparameterFeaturizer().transform([g, bad])


def test_progress_bars_follow_verbose(groups, capsys):
    LossLandscapeFeaturizer(["mode_connectivity"], curve_epochs=1, verbose=0).transform(groups[:1])
    assert capsys.readouterr().err == ""
    LossLandscapeFeaturizer(["mode_connectivity"], curve_epochs=1, verbose=1).transform(groups[:1])
    err = capsys.readouterr().err
    assert "LossLandscapeFeaturizer" in err and "curve epochs" in err
