"""Tests of featurizers._utils: the former names of renamed parameters and attributes."""

import inspect
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from featurizers._utils import _renamed_parameters  # noqa: E402
from featurizers.hessian import (  # noqa: E402
    HessianOperator,
    hessian_trace,
    hutchinson_trace,
    trace_and_top_eigenvalue,
    xtrace,
)


@_renamed_parameters(num_things="n_things")
def _count(a, *, n_things=1):
    """Return what it got."""
    return a, n_things


def test_renamed_parameter_works_with_a_future_warning():
    with pytest.warns(FutureWarning, match="'num_things' of _count was renamed 'n_things'"):
        assert _count(1, num_things=3) == (1, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _count(1, n_things=3) == (1, 3)
        assert _count(2) == (2, 1)


def test_renamed_parameter_warning_points_at_the_caller():
    with pytest.warns(FutureWarning) as record:
        _count(1, num_things=3)
    assert record[0].filename == __file__


def test_renamed_parameter_and_its_new_name_together_is_an_error():
    with pytest.raises(TypeError, match="got both 'n_things' and its former name 'num_things'"):
        _count(1, n_things=2, num_things=3)


def test_renamed_parameters_keep_the_signature_and_doc():
    assert list(inspect.signature(_count).parameters) == ["a", "n_things"]
    assert _count.__doc__ == "Return what it got."
    assert list(inspect.signature(hutchinson_trace).parameters)[1] == "n_matvecs"


A = np.diag(np.arange(1.0, 41.0))


@pytest.mark.parametrize(
    "func, old, new, value",
    [
        (lambda **k: hutchinson_trace(A, random_state=0, **k), "num_matvecs", "n_matvecs", 5),
        (lambda **k: xtrace(A, random_state=0, **k), "num_matvecs", "n_matvecs", 10),
        (
            lambda **k: trace_and_top_eigenvalue(
                A, max_lanczos_steps=4, random_state=0, **k
            ),
            "num_probes",
            "n_probes",
            3,
        ),
    ],
    ids=["hutchinson_trace", "xtrace", "trace_and_top_eigenvalue"],
)
def test_public_functions_accept_their_former_names(func, old, new, value):
    with pytest.warns(FutureWarning, match=f"'{old}' .* renamed '{new}'"):
        got = func(**{old: value})
    assert got == func(**{new: value})


def _linear():
    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    x = torch.arange(12, dtype=torch.float64).reshape(4, 3) / 10
    return model, torch.nn.MSELoss(), x, torch.zeros(4, 1, dtype=torch.float64)


def test_hessian_trace_accepts_num_matvecs():
    args = _linear()
    with pytest.warns(FutureWarning, match="'num_matvecs' of hessian_trace"):
        got = hessian_trace(*args, num_matvecs=3, method="hutchinson", random_state=0)
    assert got == hessian_trace(*args, n_matvecs=3, method="hutchinson", random_state=0)


def test_hessian_operator_num_params_is_the_former_name_of_n_parameters():
    op = HessianOperator(*_linear())
    with pytest.warns(FutureWarning, match="'num_params' of HessianOperator"):
        assert op.num_params == op.n_parameters == 4
