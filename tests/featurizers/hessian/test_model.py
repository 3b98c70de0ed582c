"""Tests of featurizers.hessian._model and of what every estimator shares.

The model-level wrappers, reproducibility, the operators accepted, no mutation of the
model, bad input and the docstring examples of every module of the subpackage.
"""

import doctest

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg

torch = pytest.importorskip("torch")

from _torch_helpers import CountsCalls, state_hash  # noqa: E402
from _hessian_cases import DTYPE, LOSS, _cnn, _dense_hessian, _mlp, _top_dense  # noqa: E402

from featurizers.hessian import _deflated as hessian_deflated  # noqa: E402
from featurizers.hessian import _eigenvalue as hessian_eigenvalue  # noqa: E402
from featurizers.hessian import _model as hessian_model  # noqa: E402
from featurizers.hessian import _operator as hessian_operator  # noqa: E402
from featurizers.hessian import _trace as hessian_trace_module  # noqa: E402
from featurizers.hessian import (  # noqa: E402
    HessianOperator,
    hessian_top_eigenvalue,
    hessian_trace,
    hutchinson_trace,
    pyhessian_trace,
    top_eigenvalue,
    trace_and_top_eigenvalue,
    xtrace,
)

# torch.func.hessian (the dense reference) loads TorchScript decompositions internally.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------- wrappers
def test_hessian_top_eigenvalue_wrapper(case):
    expected = _top_dense(case["H"])
    got = hessian_top_eigenvalue(
        case["model"], LOSS, case["x"], case["y"], random_state=0
    )
    assert abs(got - expected) <= 1e-4 * abs(expected)


@pytest.mark.parametrize("method", ["xtrace", "hutchinson", "pyhessian"])
def test_hessian_trace_wrapper(case, method):
    exact = np.trace(case["H"])
    got = hessian_trace(
        case["model"], LOSS, case["x"], case["y"], method=method, n_matvecs=40,
        random_state=0,
    )
    assert np.isfinite(got)
    assert got == hessian_trace(
        case["model"], LOSS, case["x"], case["y"], method=method, n_matvecs=40,
        random_state=0,
    )
    if method == "xtrace":
        assert abs(got - exact) < 0.1 * abs(exact)


# ------------------------------------------------------------ reproducibility
@pytest.mark.parametrize(
    "func",
    [
        lambda A, rs: hutchinson_trace(A, 5, random_state=rs),
        lambda A, rs: hutchinson_trace(A, 5, distribution="normal", random_state=rs),
        lambda A, rs: pyhessian_trace(A, random_state=rs),
        lambda A, rs: xtrace(A, 10, random_state=rs),
        lambda A, rs: top_eigenvalue(A, method="power", random_state=rs),
        lambda A, rs: top_eigenvalue(A, random_state=rs),
        lambda A, rs: trace_and_top_eigenvalue(
            A, n_probes=6, max_lanczos_steps=4, random_state=rs
        )[0],
        lambda A, rs: trace_and_top_eigenvalue(
            A, n_probes=6, max_lanczos_steps=4, random_state=rs
        )[1],
    ],
    ids=[
        "hutchinson",
        "hutchinson-normal",
        "pyhessian",
        "xtrace",
        "power",
        "lanczos",
        "deflated-trace",
        "deflated-eigenvalue",
    ],
)
def test_random_state(func):
    rng = np.random.default_rng(0)
    M = rng.standard_normal((30, 30))
    A = M + M.T
    assert func(A, 0) == func(A, 0)
    assert func(A, np.random.RandomState(1)) == func(A, np.random.RandomState(1))
    assert func(A, np.random.default_rng(2)) == func(A, np.random.default_rng(2))
    assert np.isfinite(func(A, None))


def test_estimators_accept_operators_of_any_kind():
    A = np.diag(np.arange(1.0, 21.0))
    exact = A.trace()
    for op in (A, scipy.sparse.csr_matrix(A), scipy.sparse.linalg.aslinearoperator(A)):
        assert xtrace(op, 40) == pytest.approx(exact)
        assert hutchinson_trace(op, 3, random_state=0) == pytest.approx(exact)
        assert top_eigenvalue(op, random_state=0) == pytest.approx(20.0, rel=1e-6)


# ----------------------------------------------------------- no mutation
def _mlp_eval():
    model, x, y = _mlp()
    return model.eval(), x, y


def _cnn_train():
    model, x, y = _cnn(dropout=0.3)
    return model.train(), x, y


def _cnn_mixed_modes():
    model, x, y = _cnn_train()
    model[5].eval()  # a submodule in another mode than its parent
    model[0].bias.requires_grad_(False)
    model[6].weight.grad = torch.full_like(model[6].weight, 0.5)
    return model, x, y


@pytest.mark.parametrize(
    "make",
    [_mlp_eval, _cnn_train, _cnn_mixed_modes],
    ids=["mlp-eval", "cnn-bn-dropout-train", "cnn-mixed-modes"],
)
def test_model_is_not_mutated(make):
    model, x, y = make()
    before = state_hash(model)
    op = HessianOperator(model, LOSS, x, y)
    assert state_hash(model) == before
    op.matvec(torch.ones(op.n_parameters, dtype=DTYPE))
    xtrace(op, 10, random_state=0)
    hutchinson_trace(op, 2, random_state=0)
    pyhessian_trace(op, max_iter=3, random_state=0)
    top_eigenvalue(op, random_state=0)
    top_eigenvalue(op, method="power", max_iter=3, random_state=0)
    assert state_hash(model) == before
    hessian_trace(model, LOSS, x, y, n_matvecs=10, random_state=0)
    hessian_top_eigenvalue(model, LOSS, x, y, random_state=0)
    assert state_hash(model) == before


def test_buffers_updated_in_forward_are_restored():
    model = CountsCalls(4, 3, DTYPE)
    _, x, y = _mlp()
    before = state_hash(model)
    op = HessianOperator(model, LOSS, x, y)
    assert op.n_parameters == 15
    assert state_hash(model) == before


def test_tied_parameters_count_once():
    model, x, y = _mlp()
    tied = torch.nn.Sequential(
        torch.nn.Linear(4, 4).to(DTYPE), torch.nn.Tanh(), torch.nn.Linear(4, 4).to(DTYPE)
    )
    tied[2].weight = tied[0].weight
    H = _dense_hessian(tied, x, y % 3)
    op = HessianOperator(tied, LOSS, x, y % 3)
    assert op.n_parameters == H.shape[0] == 16 + 4 + 4
    v = np.random.default_rng(0).standard_normal(op.n_parameters)
    np.testing.assert_allclose(op.matvec(torch.from_numpy(v)).numpy(), H @ v, rtol=1e-8)


def test_hessian_uses_eval_mode_whatever_the_models_mode():
    model, x, y = _cnn(dropout=0.3)
    H = _dense_hessian(model, x, y)
    model.train()
    op = HessianOperator(model, LOSS, x, y)
    v = np.random.default_rng(0).standard_normal(op.n_parameters)
    np.testing.assert_allclose(op.matvec(torch.from_numpy(v)).numpy(), H @ v, rtol=1e-8)
    assert model.training


def test_model_is_not_mutated_when_construction_fails():
    model, x, y = _cnn(dropout=0.3)
    model.train()
    before = state_hash(model)
    with pytest.raises(ValueError, match="scalar"):
        HessianOperator(model, torch.nn.CrossEntropyLoss(reduction="none"), x, y)
    assert state_hash(model) == before


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda A: hutchinson_trace(A, 0), "'n_matvecs' parameter of hutchinson_trace"),
        (lambda A: hutchinson_trace(A, 2.5), "'n_matvecs' parameter"),
        (lambda A: xtrace(A, 1), "'n_matvecs' parameter of xtrace"),
        (lambda A: hutchinson_trace(A, distribution="gauss"), "'distribution'"),
        (lambda A: pyhessian_trace(A, max_iter=0), "'max_iter' parameter"),
        (lambda A: pyhessian_trace(A, tol=-1.0), "'tol' parameter"),
        (lambda A: top_eigenvalue(A, method="arnoldi"), "'method' parameter of top_eigenvalue"),
        (lambda A: top_eigenvalue(A, random_state="seed"), "'random_state' parameter"),
        (lambda A: xtrace(A[:, :3]), r"square .* Got shape \(5, 3\)"),
        (lambda A: xtrace([[1.0]]), "'op' parameter of xtrace"),
    ],
)
def test_estimator_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.eye(5))


def test_hessian_functions_bad_arguments():
    model, x, y = _mlp()
    with pytest.raises(ValueError, match="'method' parameter of hessian_trace must be"):
        hessian_trace(model, LOSS, x, y, method="exact")
    with pytest.raises(ValueError, match="'n_matvecs' parameter of hessian_trace"):
        hessian_trace(model, LOSS, x, y, n_matvecs=0)
    with pytest.raises(ValueError, match="at least 2 with method='xtrace'. Got 1"):
        hessian_trace(model, LOSS, x, y, method="xtrace", n_matvecs=1)
    with pytest.raises(ValueError, match="'method' parameter of hessian_top_eigenvalue"):
        hessian_top_eigenvalue(model, LOSS, x, y, method="qr")
    with pytest.raises(ValueError, match=r"non-empty batch .* Got a tensor of shape \(0, 4\)"):
        HessianOperator(model, LOSS, x[:0], y[:0])
    with pytest.raises(ValueError, match=r"as many rows as 'inputs' \(16\)"):
        HessianOperator(model, LOSS, x, y[:3])
    with pytest.raises(ValueError, match="'model' parameter of HessianOperator"):
        HessianOperator(lambda t: t, LOSS, x, y)
    with pytest.raises(ValueError, match="'inputs' parameter of HessianOperator"):
        HessianOperator(model, LOSS, x.numpy(), y)
    with pytest.raises(ValueError, match="at least one floating-point parameter"):
        HessianOperator(torch.nn.Flatten(), torch.nn.MSELoss(), x, x)
    with pytest.raises(FloatingPointError, match="nan"):
        HessianOperator(model, lambda out, t: out.sum() * float("nan"), x, y)


# ---------------------------------------------------------------- doctests
@pytest.mark.parametrize(
    "module",
    [hessian_operator, hessian_trace_module, hessian_eigenvalue, hessian_deflated, hessian_model],
    ids=["operator", "trace", "eigenvalue", "deflated", "model"],
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_given_trace_budget_bounds_the_probes_on_a_broad_bulk_too(monkeypatch):
    """The featurizers' ``trace_matvecs`` None is the deflated estimator's defaults
    (``bulk_probes`` included); an int is the probes, with ``bulk_probes`` off."""
    seen = []
    original = hessian_model.trace_and_top_eigenvalue

    def spy(op, **kwargs):
        seen.append(kwargs)
        return original(op, **kwargs)

    monkeypatch.setattr(hessian_model, "trace_and_top_eigenvalue", spy)
    model, x, y = _mlp()
    for n_matvecs in (None, 6):
        hessian_model._model_sharpness(model, LOSS, x, y, n_matvecs=n_matvecs, random_state=0)
    assert "bulk_probes" not in seen[0] and seen[0]["n_probes"] == 6
    assert seen[1]["bulk_probes"] is None and seen[1]["n_probes"] == 6
