"""Tests of the statistics of benchmarks/bench_hessian.py (what its variance figures rest on)."""

import numpy as np
import pytest
from _helpers import import_benchmark

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def bench():
    return import_benchmark("bench_hessian")


def _rule_by_loop(draws, max_iter=100, tol=1e-3):
    """pyhessian.hessian.trace's rule, one sample at a time (no abs in the denominator)."""
    total, previous = 0.0, 0.0
    for i, sample in enumerate(draws[:max_iter], start=1):
        total += sample
        mean = total / i
        if abs(mean - previous) / (previous + 1e-6) < tol:
            return mean, i
        previous = mean
    return mean, max_iter


def test_replay_is_the_rule_on_draws_with_replacement(bench):
    pool = np.random.default_rng(1).normal(10.0, 3.0, size=25)
    estimates, counts = bench.replay_pyhessian_rule(pool, 200, max_iter=40, seed=7)
    # the same draws as the replay's
    draws = pool[np.random.default_rng(7).integers(len(pool), size=(200, 40))]
    for row, estimate, count in zip(draws, estimates, counts):
        expected_estimate, expected_count = _rule_by_loop(row, max_iter=40)
        assert count == expected_count
        assert estimate == pytest.approx(expected_estimate, rel=1e-12)
    assert counts.min() >= 2 and counts.max() <= 40


def test_replay_of_a_negative_pool_stops_at_the_second_sample(bench):
    # The package's rule: (trace + 1e-6) < 0 makes every ratio negative.
    estimates, counts = bench.replay_pyhessian_rule(np.array([-3.0, -1.0, -7.0]), 50, seed=1)
    np.testing.assert_array_equal(counts, 2)
    assert np.all(estimates < 0)


def test_replay_of_a_constant_pool_stops_at_the_second_sample(bench):
    estimates, counts = bench.replay_pyhessian_rule(np.full(5, 3.0), 10)
    np.testing.assert_array_equal(counts, 2)
    np.testing.assert_allclose(estimates, 3.0)


def test_within_run_std_interval_covers_the_truth(bench):
    # Runs of 4 normal samples of standard deviation 2: the estimate's std is 1.
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(400):
        runs = [{"samples": rng.normal(scale=2.0, size=4)} for _ in range(8)]
        std, low, high = bench.within_run_std(runs)
        assert low < std < high
        covered += low <= 1.0 <= high
    assert 0.85 <= covered / 400 <= 0.95


def test_replayed_std_interval(bench):
    pool = np.random.default_rng(2).normal(10.0, 3.0, size=100)
    std, low, high, mean_count = bench.replayed_std(pool, 2000, n_boot=50)
    estimates, counts = bench.replay_pyhessian_rule(pool, 2000)
    assert std == pytest.approx(estimates.std(ddof=1))
    assert mean_count == pytest.approx(counts.mean())
    assert low < std < high


def test_within_run_std_matches_the_spread_of_deflated_estimates(bench):
    # The conditional-variance estimate of the deflated trace estimator agrees with
    # the spread of its estimates over many runs (the law of total variance, since
    # the estimate is unbiased given any basis).
    from featurizers.hessian._deflated import _lanczos_deflated

    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    A = (U * np.r_[50.0, np.linspace(20.0, 5.0, 5), rng.uniform(0, 1, 194)]) @ U.T
    runs = []
    for seed in range(300):
        trace_basis, samples, _, _, _ = _lanczos_deflated(
            A, 4, 4, 0.0, 0.0, np.random.RandomState(seed)
        )
        runs.append({"trace": trace_basis + samples.mean(), "samples": samples})
    spread = np.std([r["trace"] for r in runs], ddof=1)
    assert np.mean([r["trace"] for r in runs]) == pytest.approx(np.trace(A), abs=3 * spread / 17)
    assert bench.within_run_std(runs)[0] == pytest.approx(spread, rel=0.15)


def test_paired_ratio_is_the_median_of_per_seed_ratios(bench):
    theirs = np.array([2.0, 4.0, 3.0, 9.0, 5.0, 6.0])
    ours = np.array([1.0, 2.0, 1.0, 3.0, 2.5, 2.0])
    median, low, high = bench.paired_ratio(theirs, ours)
    assert median == pytest.approx(np.median(theirs / ours))
    assert (theirs / ours).min() <= low <= median <= high <= (theirs / ours).max()
    # below 5 seeds the interval is the range
    assert bench.paired_ratio([2.0, 6.0], [1.0, 2.0]) == (2.5, 2.0, 3.0)


def test_spread_std_interval_covers_the_truth(bench):
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(400):
        std, low, high = bench.spread_std(rng.normal(scale=2.0, size=10))
        assert low < std < high
        covered += low <= 2.0 <= high
    assert 0.85 <= covered / 400 <= 0.95
    assert np.all(np.isnan(bench.spread_std([1.0])))
