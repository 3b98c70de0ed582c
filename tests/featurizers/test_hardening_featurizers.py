"""Issue 23, library side of featurizers: silently wrong values and raw errors."""

import warnings

import numpy as np
import pytest

pytest.importorskip("torch")

from featurizers.similarity import linear_cka  # noqa: E402


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e300])
def test_linear_cka_of_large_or_tiny_finite_inputs(scale):
    # inputs near 1e200 returned NaN with only RuntimeWarnings (the products overflowed)
    X = np.random.default_rng(0).normal(size=(50, 4))
    expected = linear_cka(X, X[:, :2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert linear_cka(X * scale, X[:, :2] * scale) == pytest.approx(expected, rel=1e-12)
        assert linear_cka(X * scale, X[:, :2]) == pytest.approx(expected, rel=1e-12)
        # the sample-space path (more features than samples)
        wide = np.random.default_rng(1).normal(size=(5, 9))
        assert linear_cka(wide * scale, wide[:, :3] * scale) == pytest.approx(
            linear_cka(wide, wide[:, :3]), rel=1e-12)


def test_linear_cka_of_ordinary_inputs_is_unchanged_bit_for_bit():
    X = np.random.default_rng(0).normal(size=(50, 4)) * 3.7
    Xc, Yc = X - X.mean(axis=0), X[:, :2] - X[:, :2].mean(axis=0)
    # scaling by a power of two is exact: the same bits as the unscaled formula
    cross = np.sum((Yc.T @ Xc) ** 2)
    reference = cross / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    assert abs(linear_cka(X, X[:, :2]) - reference) <= 4e-16
