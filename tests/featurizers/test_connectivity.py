"""Tests of featurizers/connectivity.py: Bezier curves, BatchNorm recomputation, metrics."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torch_helpers import (  # noqa: E402
    CountsCalls,
    TinyCNN,
    digits_mlp,
    digits_tensors,
    state_hash,
    train,
)

from featurizers.connectivity import (  # noqa: E402
    CURVE_TS,
    bezier_point,
    curve_errors,
    curve_lr,
    curve_model,
    evaluate_model,
    fit_bend,
    init_bend,
    mode_connectivity,
    mode_connectivity_peak,
    recompute_bn_statistics,
)


# ---------------------------------------------------------------------------
# tiny models on digits (the 8x8 images ship with scikit-learn)


@pytest.fixture(scope="module")
def digits():
    X, y = digits_tensors()
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def mlps(digits):
    out = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        out.append(train(digits_mlp(16), digits, 150, seed=seed))
    return out


@pytest.fixture(scope="module")
def cnns(digits):
    out = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        out.append(train(TinyCNN(), digits, 100, seed=seed))
    return out


# ---------------------------------------------------------------------------
# the curve


def test_bezier_point_end_points_and_middle():
    w0, theta, w1 = torch.tensor([1.0, 2.0]), torch.tensor([5.0, -1.0]), torch.tensor([3.0, 0.0])
    torch.testing.assert_close(bezier_point(w0, theta, w1, 0.0), w0)
    torch.testing.assert_close(bezier_point(w0, theta, w1, 1.0), w1)
    torch.testing.assert_close(bezier_point(w0, theta, w1, 0.5), (w0 + 2 * theta + w1) / 4)
    t = 0.3
    expected = 0.49 * w0 + 0.42 * theta + 0.09 * w1
    torch.testing.assert_close(bezier_point(w0, theta, w1, t), expected)
    as_dicts = bezier_point({"a": w0}, {"a": theta}, {"a": w1}, t)
    torch.testing.assert_close(as_dicts["a"], expected)


def test_curve_lr_schedule():
    lrs = [curve_lr(e, 50) for e in range(50)]
    assert lrs[:26] == [0.01] * 26  # flat through half of the epochs
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert lrs[45:] == pytest.approx([1e-4] * 5)  # 1% from 90% on
    assert curve_lr(35, 50) == pytest.approx(0.01 * (1 - 0.2 / 0.4 * 0.99))


def test_init_bend_midpoint_and_random(mlps):
    a, b = mlps
    mid = init_bend(a, b)
    for name, p in a.named_parameters():
        torch.testing.assert_close(mid[name], (p + dict(b.named_parameters())[name]) / 2)
    r1 = init_bend(a, b, init="random", random_state=0)
    r2 = init_bend(a, b, init="random", random_state=0)
    r3 = init_bend(a, b, init="random", random_state=1)
    assert all(torch.equal(r1[k], r2[k]) for k in r1)
    assert not torch.equal(r1["0.weight"], r3["0.weight"])
    assert not torch.equal(r1["0.weight"], mid["0.weight"])
    with pytest.raises(ValueError, match="'midpoint' or 'random'; got 'linear'"):
        init_bend(a, b, init="linear")


def test_fit_bend_is_reproducible_and_leaves_models_and_rng_alone(mlps, digits):
    a, b = mlps
    before = [state_hash(a), state_hash(b)]
    rng_state = torch.get_rng_state()
    t1 = fit_bend(a, b, digits, epochs=2, random_state=0)
    t2 = fit_bend(a, b, digits, epochs=2, random_state=0)
    t3 = fit_bend(a, b, digits, epochs=2, random_state=1)
    assert all(torch.equal(t1[k], t2[k]) for k in t1)
    assert not torch.equal(t1["0.weight"], t3["0.weight"])
    assert not torch.equal(t1["0.weight"], init_bend(a, b)["0.weight"])  # it trained
    assert [state_hash(a), state_hash(b)] == before
    assert torch.equal(torch.get_rng_state(), rng_state)


def test_fit_bend_with_dropout_is_reproducible(digits):
    torch.manual_seed(0)
    a, b = digits_mlp(16, dropout=0.3), digits_mlp(16, dropout=0.3)
    t1 = fit_bend(a, b, digits, epochs=1, random_state=0)
    t2 = fit_bend(a, b, digits, epochs=1, random_state=0)
    assert all(torch.equal(t1[k], t2[k]) for k in t1)


def test_curve_training_lowers_the_midpoint_error(mlps, digits):
    a, b = mlps
    straight = curve_errors(a, init_bend(a, b), b, digits)[0]
    fitted = curve_errors(a, fit_bend(a, b, digits, epochs=10, random_state=0), b, digits)[0]
    assert fitted[2] < straight[2]


def test_fit_bend_reports_divergence(mlps, digits):
    def nan_loss(out, y):
        return out.sum() * float("nan")

    with pytest.raises(FloatingPointError, match="diverged"):
        fit_bend(*mlps, digits, epochs=1, loss_fn=nan_loss, random_state=0)


def test_fit_bend_checks_labels(mlps, digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 10\).*from 0 to 12"):
        fit_bend(*mlps, (X, torch.where(y == 9, 12, y)), epochs=1)


# ---------------------------------------------------------------------------
# evaluation


def test_evaluate_model_by_hand_and_mode_restored():
    model = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    y = torch.tensor([0, 1, 1, 1])
    model.train()
    error, loss = evaluate_model(model, (X, y), batch_size=3)
    assert error == pytest.approx(25.0)
    logits = X @ torch.eye(2)
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)), rel=1e-6)
    assert model.training


def test_evaluate_model_restores_buffers_a_forward_updates(digits):
    model = CountsCalls(64, 10)
    evaluate_model(model, digits, batch_size=100)
    assert int(model.calls) == 0


def test_evaluate_model_bad_labels():
    model = torch.nn.Linear(2, 3)
    X = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"\[0, 3\) for a model with 3 outputs; got labels fro"):
        evaluate_model(model, (X, torch.tensor([0, 1, 2, -1])))
    with pytest.raises(ValueError, match="from 0 to 3"):
        evaluate_model(model, (X, torch.tensor([0, 1, 2, 3])))
    with pytest.raises(TypeError, match="integer class indices"):
        evaluate_model(model, (X, torch.zeros(4)))


def test_recompute_bn_statistics_matches_the_full_data_moments():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Dropout(0.5)
    )
    model.eval()
    X = torch.randn(100, 3) * 3 + 1
    recompute_bn_statistics(model, (X, torch.zeros(100, dtype=torch.long)), batch_size=100)
    h = model[0](X).detach()
    bn = model[1]
    torch.testing.assert_close(bn.running_mean, h.mean(0))
    torch.testing.assert_close(bn.running_var, h.var(0))  # unbiased, as BatchNorm tracks
    assert not model.training and not bn.training
    assert bn.momentum == 0.1
    # with batches: the mean is the exact full-data mean (batch means weighted by size)
    recompute_bn_statistics(model, (X, torch.zeros(100, dtype=torch.long)), batch_size=30)
    torch.testing.assert_close(bn.running_mean, h.mean(0))


def test_curve_end_points_reproduce_the_models_errors(mlps, digits):
    a, b = mlps
    bend = fit_bend(a, b, digits, epochs=2, random_state=0)
    errors, losses = curve_errors(a, bend, b, digits)
    assert errors.shape == losses.shape == (5,)
    for i, model in ((0, a), (4, b)):
        error, loss = evaluate_model(model, digits)
        assert errors[i] == error
        assert losses[i] == pytest.approx(loss, rel=1e-5)


def test_curve_end_points_with_batchnorm_after_recomputation(cnns, digits):
    a, b = cnns
    before = [state_hash(a), state_hash(b)]
    bend = fit_bend(a, b, digits, epochs=1, random_state=0)
    errors, losses = curve_errors(a, bend, b, digits)
    for i, model in ((0, a), (4, b)):
        recomputed = recompute_bn_statistics(copy.deepcopy(model), digits)
        error, loss = evaluate_model(recomputed, digits)
        assert errors[i] == error
        assert losses[i] == pytest.approx(loss, rel=1e-5)
    assert [state_hash(a), state_hash(b)] == before


def test_curve_model_holds_the_curve_weights(mlps):
    a, b = mlps
    bend = init_bend(a, b, init="random", random_state=0)
    model = curve_model(a, bend, b, 0.25)
    assert not model.training and model is not a
    expected = bezier_point(
        dict(a.named_parameters()), bend, dict(b.named_parameters()), 0.25
    )
    for name, p in model.named_parameters():
        torch.testing.assert_close(p, expected[name])


def test_identical_end_points_have_no_barrier(mlps, digits):
    a = mlps[0]
    error, _ = evaluate_model(a, digits)
    # Without training the curve is the point itself: exactly no barrier.
    errors, _ = curve_errors(a, init_bend(a, a), a, digits)
    np.testing.assert_array_equal(errors, np.full(5, error))
    assert mode_connectivity_peak(errors) == -error
    assert mode_connectivity(errors) == 0
    # Training the bend keeps a well-trained model's curve at its error.
    twin = copy.deepcopy(a)
    errors, _ = curve_errors(a, fit_bend(a, twin, digits, epochs=3, random_state=0), twin, digits)
    assert mode_connectivity_peak(errors) == pytest.approx(-error, abs=1.0)
    assert mode_connectivity(errors) == pytest.approx(0.0, abs=1.0)


def test_curve_errors_accept_every_data_form(mlps, digits):
    from torch.utils.data import DataLoader, TensorDataset

    a, b = mlps
    bend = init_bend(a, b)
    ref = curve_errors(a, bend, b, digits, ts=(0.5,))
    loader = DataLoader(TensorDataset(*digits), batch_size=17, shuffle=True)
    np.testing.assert_allclose(curve_errors(a, bend, b, loader, ts=(0.5,)), ref, rtol=1e-6)


# ---------------------------------------------------------------------------
# the metrics, against hand-computed error vectors

METRIC_CASES = {
    # errors at t = 0, .25, .5, .75, 1 -> (peak, mode connectivity)
    "barrier": ([2.0, 10.0, 30.0, 12.0, 4.0], -30.0, 3.0 - 30.0),
    "flat": ([5.0, 5.0, 5.0, 5.0, 5.0], -5.0, 0.0),
    "below-the-ends": ([10.0, 4.0, 5.0, 9.0, 12.0], -9.0, 11.0 - 4.0),
    # the end points can be the farthest points: |e0 - 6| = 4 beats |e2 - 6| = 3
    "end-point-farthest": ([2.0, 7.0, 9.0, 8.0, 10.0], -9.0, 6.0 - 2.0),
    # ties go to the first point: e1 and e3 are both 5 away from 5
    "tie": ([5.0, 10.0, 5.0, 0.0, 5.0], -10.0, -5.0),
}


@pytest.mark.parametrize("errors, peak, mc", METRIC_CASES.values(), ids=METRIC_CASES.keys())
def test_metrics_by_hand(errors, peak, mc):
    assert mode_connectivity_peak(errors) == peak
    assert mode_connectivity(errors) == mc


def test_metrics_are_vectorised():
    errors = np.array([case[0] for case in METRIC_CASES.values()])
    np.testing.assert_array_equal(
        mode_connectivity_peak(errors), [case[1] for case in METRIC_CASES.values()]
    )
    np.testing.assert_array_equal(
        mode_connectivity(errors), [case[2] for case in METRIC_CASES.values()]
    )


def test_metrics_need_five_points():
    with pytest.raises(ValueError, match=r"5 values\); got shape \(4,\)"):
        mode_connectivity([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="5 values"):
        mode_connectivity_peak(np.zeros((2, 3)))


def test_curve_ts():
    assert CURVE_TS == (0.0, 0.25, 0.5, 0.75, 1.0)


# --------------------------------------------------------------------------- validation
_LIN = torch.nn.Linear(2, 2)
_BEND = {"weight": torch.zeros(2, 2), "bias": torch.zeros(2)}
_DATA = (torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bezier_point(1.0, _BEND, _BEND, 0.5), "'start' parameter of bezier_point"),
        (lambda: bezier_point(_BEND, _BEND, _BEND, "half"), "'t' parameter of bezier_point"),
        (lambda: curve_lr(-1, 10), "'epoch' parameter of curve_lr"),
        (lambda: curve_lr(0, 0), "'epochs' parameter of curve_lr"),
        (lambda: init_bend(_LIN, "model"), "'model_b' parameter of init_bend"),
        (lambda: init_bend(_LIN, _LIN, random_state="0"), "'random_state' parameter"),
        (lambda: fit_bend(_LIN, _LIN, _DATA, epochs=-1), "'epochs' parameter of fit_bend"),
        (lambda: fit_bend(_LIN, _LIN, _DATA, init="linear"), "'init' parameter of fit_bend"),
        (lambda: fit_bend(_LIN, _LIN, _DATA, lr=-0.1), "'lr' parameter of fit_bend"),
        (lambda: fit_bend(_LIN, _LIN, _DATA, batch_size=0), "'batch_size' parameter"),
        (lambda: fit_bend(_LIN, _LIN, _DATA, loss_fn="ce"), "'loss_fn' parameter of fit_bend"),
        (lambda: recompute_bn_statistics(None, _DATA), "'model' parameter of recompute_bn"),
        (lambda: evaluate_model(_LIN, _DATA, batch_size=0), "'batch_size' parameter of eval"),
        (lambda: curve_model(_LIN, [1.0], _LIN, 0.5), "'bend' parameter of curve_model"),
        (lambda: curve_errors(_LIN, _BEND, _LIN, _DATA, ts=0.5), "'ts' parameter of curve_err"),
        (lambda: mode_connectivity_peak(None), "'errors' parameter of mode_connectivity_peak"),
        (lambda: mode_connectivity(3.0), "'errors' parameter of mode_connectivity"),
    ],
)
def test_parameters_are_validated(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_random_state_generator_is_accepted():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    r1 = init_bend(a, b, init="random", random_state=np.random.default_rng(0))
    r2 = init_bend(a, b, init="random", random_state=np.random.default_rng(0))
    assert all(torch.equal(r1[k], r2[k]) for k in r1)
