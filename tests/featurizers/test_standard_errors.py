"""Standard errors of the features (``return_se=True``), on cases where the noise is known."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from featurizers import LossLandscapeFeaturizer, ModelGroup  # noqa: E402
from featurizers.connectivity import evaluate_model  # noqa: E402
from featurizers.hessian import trace_and_top_eigenvalue  # noqa: E402
from featurizers.similarity import _group_cka  # noqa: E402


def _mlp(seed, width=6):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.Tanh(),
                               torch.nn.Linear(width, 3)).eval()


@pytest.fixture(scope="module")
def group():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(24, 4, generator=g), torch.randint(0, 3, (24,), generator=g)
    return ModelGroup([_mlp(s) for s in range(3)], (X, y))


@pytest.fixture(scope="module")
def rows(group):
    kwargs = dict(curve_epochs=1, n_pairs="all", random_state=0, verbose=0)
    with_se = LossLandscapeFeaturizer(return_se=True, **kwargs).set_output(transform="pandas")
    without = LossLandscapeFeaturizer(**kwargs).set_output(transform="pandas")
    return with_se.fit_transform([group]), without.fit_transform([group])


def test_columns_and_unchanged_features(rows):
    with_se, without = rows
    features = ["train_error", "mode_connectivity_peak", "hessian_t", "CKA"]
    assert list(with_se.columns) == features + [f"{f}_se" for f in features]
    np.testing.assert_array_equal(with_se[features].to_numpy(), without.to_numpy())
    featurizer = LossLandscapeFeaturizer(return_se=True)
    assert featurizer.get_feature_names_out().tolist() == list(with_se.columns)


def test_train_error_se_is_the_spread_over_seeds(group, rows):
    errors = [evaluate_model(m, group._train)[0] for m in group.models]
    assert rows[0]["train_error_se"].iloc[0] == pytest.approx(
        np.std(errors, ddof=1) / math.sqrt(3))


def test_cka_se_is_the_spread_over_pairs(group):
    from featurizers.similarity import output_cka  # noqa: F401

    mean, se = _group_cka(group.models, group._train, torch.device("cpu"), 5, return_se=True)
    assert mean == _group_cka(group.models, group._train, torch.device("cpu"), 5)
    assert se > 0 and math.isfinite(se)


def test_one_pair_gives_an_unknown_connectivity_se(group):
    table = LossLandscapeFeaturizer(["mode_connectivity_peak"], curve_epochs=1, return_se=True,
                                    random_state=0, verbose=0).fit_transform([group])
    assert math.isfinite(table[0, 0]) and math.isnan(table[0, 1])


def test_hessian_se_of_a_tiny_model_is_the_seed_spread(group, rows):
    # 45 parameters: the trace is exact (dense), so only the seeds vary
    se = rows[0]["hessian_t_se"].iloc[0]
    assert math.isfinite(se) and se > 0


def test_deflated_trace_se_is_calibrated():
    """Over independent probe draws, the reported SE matches the estimates' spread."""
    rng = np.random.default_rng(0)
    n = 150
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (U * np.linspace(0.5, 2.0, n)) @ U.T  # no outliers: the probes carry the noise
    draws = [trace_and_top_eigenvalue(A, n_probes=8, max_lanczos_steps=3, tol=0,
                                      deflation_tol=0, random_state=s, return_se=True)
             for s in range(120)]
    traces = np.array([d[0] for d in draws])
    se2 = np.array([d[2] for d in draws]) ** 2
    assert abs(traces.mean() - np.trace(A)) < 4 * traces.std() / math.sqrt(len(traces))
    assert se2.mean() == pytest.approx(traces.var(ddof=1), rel=0.3)
    # the dense path is exact
    assert trace_and_top_eigenvalue(np.eye(10), return_se=True)[2] == 0.0
    assert trace_and_top_eigenvalue(np.eye(10)) == (10.0, 1.0)
