"""Tests of featurizers._precision: standard errors of means over seeds and pairs."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")  # the featurizers package imports it

from featurizers._precision import log_mean_se, mean_se  # noqa: E402


def test_exact_values():
    assert mean_se([1.0, 2.0, 3.0]) == pytest.approx(1 / math.sqrt(3))
    assert math.isnan(mean_se([4.0]))  # one exact value: unknown
    assert math.isnan(mean_se([1.0, math.nan]))
    assert math.isnan(mean_se([]))


def test_noisy_values_floor_at_the_estimator_noise():
    # equal values: the spread says 0, the probes say 0.3 and 0.4
    assert mean_se([5.0, 5.0], [0.3, 0.4]) == pytest.approx(math.sqrt((0.09 + 0.16) / 2 / 2))
    # a spread larger than the probe noise wins
    assert mean_se([1.0, 3.0], [0.1, 0.1]) == pytest.approx(math.sqrt(2.0 / 2))
    assert mean_se([5.0], [0.3]) == 0.3
    assert mean_se([5.0, 6.0], [0.1, math.nan]) == pytest.approx(0.5)  # seeds only


def test_log_of_the_mean_by_the_delta_method():
    assert log_mean_se([10.0, 12.0, 14.0]) == pytest.approx(2 / math.sqrt(3) / 12)
    assert math.isnan(log_mean_se([-1.0, 0.5]))


@settings(max_examples=8, deadline=None)
@given(st.integers(2, 6), st.floats(0.1, 5.0), st.integers(0, 10_000))
def test_calibrated_on_simulated_seeds(m, sigma, seed):
    """Over many simulated groups, the squared SE averages the variance of the mean."""
    rng = np.random.default_rng(seed)
    values = rng.normal(10.0, sigma, size=(1500, m))
    se2 = np.array([mean_se(v) ** 2 for v in values])
    variance = sigma**2 / m
    assert se2.mean() == pytest.approx(variance, rel=0.2)
    assert values.mean(axis=1).var() == pytest.approx(variance, rel=0.2)
