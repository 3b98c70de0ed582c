"""Tests of featurizers.similarity: linear CKA, mixup batches, output CKA."""

import doctest
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from _torch_helpers import state_hash  # noqa: E402

from featurizers import similarity  # noqa: E402
from featurizers.similarity import linear_cka, mixup_batches, output_cka  # noqa: E402


def _cka_reference(X, Y):
    """CKA from the HSIC formula with the centring matrix, straight from the paper."""
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = X @ X.T, Y @ Y.T
    hsic = np.trace(K @ H @ L @ H)
    return hsic / np.sqrt(np.trace(K @ H @ K @ H) * np.trace(L @ H @ L @ H))


def _random_pair(seed, n, dx, dy):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx))
    Y = X @ rng.standard_normal((dx, dy)) + 0.5 * rng.standard_normal((n, dy))
    return X, Y


SHAPES = st.tuples(
    st.integers(0, 2**32 - 1), st.integers(3, 25), st.integers(1, 8), st.integers(1, 8)
)


# ------------------------------------------------------------------ linear CKA
def test_matches_the_hsic_formula_on_a_tiny_example():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])
    Y = np.array([[0.5], [1.0], [-1.0], [0.0]])
    assert linear_cka(X, Y) == pytest.approx(_cka_reference(X, Y), rel=1e-12)
    # By hand: centred Y = (0.375, 0.875, -1.125, -0.125), Y^T X = (-0.375, -1.375)...
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    by_hand = np.sum((Yc.T @ Xc) ** 2) / (
        np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)
    )
    assert linear_cka(X, Y) == pytest.approx(by_hand, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(SHAPES)
def test_matches_the_hsic_formula(shape):
    X, Y = _random_pair(*shape)
    assert linear_cka(X, Y) == pytest.approx(_cka_reference(X, Y), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(SHAPES)
def test_identical_inputs_give_one_and_symmetry(shape):
    X, Y = _random_pair(*shape)
    assert linear_cka(X, X) == pytest.approx(1.0, rel=1e-12)
    assert linear_cka(X, Y) == pytest.approx(linear_cka(Y, X), rel=1e-12)
    assert -1e-12 <= linear_cka(X, Y) <= 1 + 1e-12


@settings(max_examples=40, deadline=None)
@given(SHAPES, st.floats(1e-3, 1e3), st.floats(-10, 10))
def test_invariant_to_orthogonal_transforms_scaling_and_shifts(shape, scale, shift):
    X, Y = _random_pair(*shape)
    rng = np.random.default_rng(shape[0] + 1)
    Q, _ = np.linalg.qr(rng.standard_normal((X.shape[1], X.shape[1])))
    expected = linear_cka(X, Y)
    assert linear_cka(X @ Q, Y) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert linear_cka(scale * X, Y) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert linear_cka(X + shift, Y) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_wide_representations_use_the_sample_space():
    # More features than samples: the Gram-matrix path.
    X, Y = _random_pair(0, 6, 30, 20)
    assert linear_cka(X, Y) == pytest.approx(_cka_reference(X, Y), rel=1e-10)
    assert linear_cka(X, X[:, :3]) == pytest.approx(_cka_reference(X, X[:, :3]), rel=1e-10)


def test_accepts_tensors_and_lists():
    X, Y = _random_pair(1, 10, 3, 2)
    expected = linear_cka(X, Y)
    tx = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    assert linear_cka(tx, torch.tensor(Y)) == pytest.approx(expected, rel=1e-5)
    assert linear_cka(X.tolist(), Y.tolist()) == pytest.approx(expected, rel=1e-12)
    assert isinstance(linear_cka(X, Y), float)


def test_constant_representation_gives_nan_with_a_warning():
    X, _ = _random_pair(2, 8, 3, 2)
    with pytest.warns(RuntimeWarning, match="undefined"):
        assert np.isnan(linear_cka(X, np.ones((8, 3))))


@pytest.mark.parametrize(
    "X, Y, match",
    [
        (np.ones((5, 2)), np.ones((4, 2)), r"same number of rows .* Got 5 and 4"),
        (np.ones((1, 2)), np.ones((1, 2)), r"'X' parameter .* Got shape \(1, 2\)"),
        (np.ones((5, 2)), np.ones(5), r"'Y' parameter .* 2-D .* Got shape \(5,\)"),
        (np.full((5, 2), np.nan), np.ones((5, 2)), "Input X contains NaN"),
        (np.ones((5, 2)), np.full((5, 2), np.inf), "Input Y contains infinity"),
        ("abc", np.ones((5, 2)), "'X' parameter of linear_cka"),
    ],
)
def test_linear_cka_bad_input(X, Y, match):
    with pytest.raises(ValueError, match=match):
        linear_cka(X, Y)


# ------------------------------------------------------------------- mixup
def test_mixup_batches_structure():
    # With one-hot inputs, each mixed row reveals which samples were mixed and how.
    n = 40
    inputs = torch.eye(n, dtype=torch.float64)
    batches = mixup_batches(inputs, n_batches=5, batch_size=16, alpha=16.0, random_state=0)
    assert len(batches) == 5
    lams = []
    for batch in batches:
        assert batch.shape == (16, n) and batch.dtype == torch.float64
        weights = batch.numpy()
        np.testing.assert_allclose(weights.sum(axis=1), 1.0)
        # The samples drawn are the columns that appear; distinct: no replacement.
        drawn = np.flatnonzero(weights.sum(axis=0) > 0)
        assert len(drawn) == 16
        # Column sums are lam + (1 - lam) = 1 for every drawn sample (a permutation).
        np.testing.assert_allclose(weights.sum(axis=0)[drawn], 1.0)
        # One lam per batch: every row's largest weight is max(lam, 1 - lam), unless
        # the row was mixed with itself.
        top = np.sort(weights, axis=1)[:, -1]
        mixed = top < 1.0
        assert mixed.any()
        np.testing.assert_allclose(top[mixed], top[mixed][0])
        lams.append(top[mixed][0])
    assert all(0.5 <= lam < 1.0 for lam in lams)


def test_mixup_weight_distribution():
    inputs = torch.tensor([[0.0], [1.0]])
    # x = (0, 1), x[perm] is either x or its reverse: row 0 becomes 1 - lam or 0.
    lams = []
    for seed in range(400):
        (batch,) = mixup_batches(inputs, n_batches=1, batch_size=2, alpha=16.0, random_state=seed)
        values = sorted(batch[:, 0].tolist())
        if values != [0.0, 1.0]:
            lams.append(values[1])
    lams = np.array(lams)
    # Beta(16, 16): mean 1/2, sd 1 / (2 sqrt(33)); folded around 1/2 here.
    assert len(lams) > 100
    assert np.all((lams > 0) & (lams < 1))
    assert np.std(np.abs(lams - 0.5)) < 0.1


@pytest.mark.parametrize(
    "make", [lambda: 0, lambda: np.random.RandomState(0), lambda: np.random.default_rng(0)]
)
def test_mixup_is_reproducible(make):
    inputs = torch.randn(50, 3, 4, 4)
    first = mixup_batches(inputs, n_batches=3, batch_size=10, random_state=make())
    second = mixup_batches(inputs, n_batches=3, batch_size=10, random_state=make())
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other = mixup_batches(inputs, n_batches=3, batch_size=10, random_state=1)
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"inputs": torch.ones(0, 3)}, ValueError, r"at least one sample. Got .*\(0, 3\)"),
        ({"inputs": torch.ones(10, 3, dtype=torch.int64)}, TypeError, "floating-point"),
        ({"batch_size": 11}, ValueError, r"at most the number of samples .* \(10\). Got 11"),
        ({"batch_size": 0}, ValueError, "'batch_size' parameter of mixup_batches"),
        ({"n_batches": 0}, ValueError, "'n_batches' parameter of mixup_batches"),
        ({"alpha": 0.0}, ValueError, "'alpha' parameter of mixup_batches"),
        ({"inputs": np.ones((10, 3))}, ValueError, "'inputs' parameter of mixup_batches"),
        ({"random_state": "x"}, ValueError, "'random_state' parameter"),
    ],
)
def test_mixup_bad_input(kwargs, error, match):
    arguments = {"inputs": torch.ones(10, 3), "batch_size": 4, **kwargs}
    with pytest.raises(error, match=match):
        mixup_batches(**arguments)


# -------------------------------------------------------------- output CKA
def _net(seed, dropout=0.0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(4 * 6 * 6, 5),
    )


@pytest.fixture(scope="module")
def batches():
    return mixup_batches(torch.randn(64, 3, 8, 8), n_batches=3, batch_size=20, random_state=0)


def test_output_cka_identical_models_is_one(batches):
    model = _net(0, dropout=0.5).train()
    assert output_cka(model, model, batches) == pytest.approx(1.0, rel=1e-12)
    assert output_cka(model, _net(0), batches) == pytest.approx(1.0, rel=1e-12)


def test_output_cka_matches_the_definition(batches):
    a, b = _net(0), _net(1)
    with torch.no_grad():
        expected = np.mean(
            [
                _cka_reference(
                    torch.softmax(a.eval()(x).double(), 1).numpy(),
                    torch.softmax(b.eval()(x).double(), 1).numpy(),
                )
                for x in batches
            ]
        )
    got = output_cka(a, b, batches)
    assert got == pytest.approx(expected, rel=1e-9)
    assert got == pytest.approx(output_cka(b, a, batches), rel=1e-12)
    assert 0 < got < 1


def test_output_cka_does_not_mutate_models(batches):
    a = _net(0, dropout=0.5).train()
    b = _net(1, dropout=0.5).train()
    b[4].eval()  # mixed modes are restored per submodule
    b[0].weight.requires_grad_(False)
    before = (state_hash(a), state_hash(b))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output_cka(a, b, batches)
    assert (state_hash(a), state_hash(b)) == before
    assert all(p.grad is None for p in a.parameters())


def test_output_cka_bad_input(batches):
    a, b = _net(0), _net(1)
    with pytest.raises(ValueError, match="at least one batch"):
        output_cka(a, b, [])
    with pytest.raises(TypeError, match=r"list of torch.Tensor. Got ndarray at position 1"):
        output_cka(a, b, [batches[0], batches[1].numpy()])
    with pytest.raises(ValueError, match="'model_a' parameter of output_cka"):
        output_cka(lambda x: x, b, batches)
    flat = torch.nn.Sequential(torch.nn.Flatten(0))
    with pytest.raises(ValueError, match=r"shape \(batch_size, n_classes\)"):
        output_cka(flat, flat, batches)


def test_docstring_examples():
    result = doctest.testmod(similarity, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
