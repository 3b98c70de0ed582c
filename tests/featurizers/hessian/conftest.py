"""The ``case`` fixture of the featurizers.hessian tests: a trained tiny network and its Hessian."""

import pytest

torch = pytest.importorskip("torch")

from _hessian_cases import CASES, LOSS, _dense_hessian  # noqa: E402

from featurizers.hessian import HessianOperator  # noqa: E402


@pytest.fixture(scope="module", params=sorted(CASES), ids=sorted(CASES))
def case(request):
    model, x, y = CASES[request.param]()
    H = _dense_hessian(model, x, y)
    op = HessianOperator(model, LOSS, x, y)
    return {"name": request.param, "model": model, "x": x, "y": y, "H": H, "op": op}
