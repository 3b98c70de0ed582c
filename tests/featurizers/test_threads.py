"""Tests of the thread policy (featurizers/_threads.py) and of the progress reports
(featurizers/_progress.py) of the featurizers."""

import pytest

torch = pytest.importorskip("torch")

from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

from _torch_helpers import TinyCNN, digits_mlp, digits_tensors, train  # noqa: E402

from featurizers import LossLandscapeFeaturizer, ModelGroup, ValidationFeaturizer  # noqa: E402
from featurizers._threads import (  # noqa: E402
    DEFAULT_THREADS,
    limit_threads,
    resolve_threads,
)

ALL = ["train_error", "train_loss", "hessian_t", "hessian_e", "mode_connectivity_peak",
       "mode_connectivity", "CKA"]
FAST = dict(curve_epochs=2, trace_matvecs=10, verbose=0)


def _group(factory, seeds, steps, data):
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(train(factory(), data, steps, seed=seed, batch_size=32))
    return ModelGroup(models, data)


@pytest.fixture(scope="module")
def data():
    X, y = digits_tensors()
    return X[:240], y[:240]


@pytest.fixture(scope="module")
def groups(data):
    return [_group(lambda: digits_mlp(12), (0, 1, 2), 100, data),
            _group(lambda: TinyCNN(channels=3, dropout=0.2), (0, 1), 60, data)]


@pytest.fixture
def four_threads():
    """torch at 4 intra-op threads for the test (the session runs on 1), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    yield 4
    torch.set_num_threads(before)


class ThreadsSeen:
    """Cross-entropy that records torch's thread count at each call (and can fail)."""

    def __init__(self, fail_after=None):
        self.seen, self.fail_after = [], fail_after

    def __call__(self, logits, labels):
        self.seen.append(torch.get_num_threads())
        if self.fail_after is not None and len(self.seen) > self.fail_after:
            raise RuntimeError("boom")
        return torch.nn.functional.cross_entropy(logits, labels)


# ---------------------------------------------------------------------------
# the policy


def test_policy_is_one_thread_per_process():
    assert DEFAULT_THREADS == 1
    assert resolve_threads(None) == 1
    assert resolve_threads(3) == 3


def test_limit_threads_restores_also_after_an_error(four_threads):
    with limit_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == four_threads
    with pytest.raises(RuntimeError, match="boom"), limit_threads(2):
        assert torch.get_num_threads() == 2
        raise RuntimeError("boom")
    assert torch.get_num_threads() == four_threads


@pytest.mark.parametrize("Featurizer", [LossLandscapeFeaturizer, ValidationFeaturizer])
@pytest.mark.parametrize("torch_threads, expected", [(None, 1), (2, 2)])
def test_transform_runs_at_the_policy_and_restores(
    groups, four_threads, Featurizer, torch_threads, expected
):
    loss = ThreadsSeen()
    params = FAST if Featurizer is LossLandscapeFeaturizer else dict(
        features=["train_error"], verbose=0)
    Featurizer(loss_fn=loss, torch_threads=torch_threads, **params).transform(groups[:1])
    assert loss.seen and set(loss.seen) == {expected}
    assert torch.get_num_threads() == four_threads


def test_threads_restored_after_an_error_in_transform(groups, four_threads):
    loss = ThreadsSeen(fail_after=3)
    with pytest.raises(RuntimeError, match="boom"):
        LossLandscapeFeaturizer(loss_fn=loss, **FAST).transform(groups[:1])
    assert set(loss.seen) == {1}
    assert torch.get_num_threads() == four_threads


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_torch_threads_is_validated(groups, bad):
    with pytest.raises(InvalidParameterError, match="torch_threads"):
        LossLandscapeFeaturizer(torch_threads=bad, **FAST).transform(groups[:1])
    with pytest.raises(InvalidParameterError, match="progress"):
        LossLandscapeFeaturizer(progress="yes", **FAST).transform(groups[:1])


def test_workers_follow_the_policy(groups, four_threads):
    """In joblib workers the groups run at torch_threads too (one thread by default)."""

    class Strict:
        def __init__(self, expected):
            self.expected = expected

        def __call__(self, logits, labels):
            if torch.get_num_threads() != self.expected:
                raise RuntimeError(f"{torch.get_num_threads()} threads")
            return torch.nn.functional.cross_entropy(logits, labels)

    for torch_threads, expected in ((None, 1), (2, 2)):
        LossLandscapeFeaturizer(loss_fn=Strict(expected), torch_threads=torch_threads,
                                n_jobs=2, **FAST).transform(groups)
    assert torch.get_num_threads() == four_threads


def test_rows_do_not_depend_on_n_jobs(groups):
    params = dict(features=ALL, random_state=0, return_se=True, **FAST)
    one = LossLandscapeFeaturizer(**params).transform(groups)
    two = LossLandscapeFeaturizer(n_jobs=2, **params).transform(groups)
    assert one.tobytes() == two.tobytes()


# Rows of a seeded run computed before the thread policy and the progress reports
# (and the speed-ups of benchmarks/bench_featurize_cost.py) were added, as float.hex.
# The CNN row's four Hessian features were re-pinned when HessianOperator's
# convolutions got their own second backward pass and channels-last copies
# (float32 rounding: relative changes of 7e-8 to 5e-7); the MLP row is unchanged.
PINNED = [   [   '0x1.aaaaaaaaaaaabp-1',
        '0x1.1ca5020000000p-4',
        '0x1.ab7640b7a3f9ep+0',
        '-0x1.892def625416fp-4',
        '-0x1.af1c71c71c71cp+3',
        '-0x1.9471c71c71c73p+3',
        '0x1.a18496ad8a4c8p-1',
        '0x0.0p+0',
        '0x1.0df0762f42b15p-8',
        '0x1.1160fa1726cdfp-4',
        '0x1.f156516561445p-6',
        '0x1.0d06cee897c4fp+1',
        '0x1.0d06cee897c50p+1',
        '0x1.008363e562e27p-6'],
    [   '0x1.4000000000000p+1',
        '0x1.2f68090000000p-4',
        '0x1.f8e224ac29825p+0',
        '0x1.97b6420eb6515p-2',
        '-0x1.9000000000000p+3',
        '-0x1.4d55555555555p+3',
        '0x1.0d7928a305e77p-1',
        '0x1.aaaaaaaaaaaa8p-2',
        '0x1.bf7fb00000000p-8',
        '0x1.13139b25a3696p-4',
        '0x1.36ed938aee87fp-3',
        'nan',
        'nan',
        'nan']]


def test_features_bit_identical_to_before(data):
    groups = [_group(lambda: digits_mlp(12), (0, 1, 2), 100, data),
              _group(lambda: TinyCNN(channels=3, dropout=0.2), (0, 1), 60, data)]
    rows = LossLandscapeFeaturizer(ALL, curve_epochs=3, n_pairs="all", return_se=True,
                                   random_state=0, verbose=0).transform(groups)
    assert [[float(v).hex() for v in row] for row in rows] == PINNED


# ---------------------------------------------------------------------------
# progress


def test_progress_hook_per_group_and_feature(groups):
    calls = []
    LossLandscapeFeaturizer(progress=lambda *a: calls.append(a), **FAST).transform(groups)
    stages = ["train_error", "hessian", "curves", "CKA", "done"]
    assert calls == [(i, 2, s) for i in range(2) for s in stages]


def test_progress_hook_of_validation_and_selected_features(groups):
    calls = []
    LossLandscapeFeaturizer(["CKA", "hessian_e"], progress=lambda *a: calls.append(a),
                            **FAST).transform(groups[1:])
    assert calls == [(0, 1, "hessian"), (0, 1, "CKA"), (0, 1, "done")]
    calls.clear()
    group = ModelGroup(groups[0].models, groups[0]._train.take(list(range(50))),
                       groups[0]._train.take(list(range(50, 90))))
    ValidationFeaturizer(progress=lambda *a: calls.append(a), verbose=0).transform([group])
    assert calls == [(0, 1, "train_error"), (0, 1, "validation"), (0, 1, "done")]


def test_progress_with_workers_reports_groups_in_order(groups):
    calls = []
    LossLandscapeFeaturizer(progress=lambda *a: calls.append(a), n_jobs=2,
                            **FAST).transform(groups)
    assert calls == [(0, 2, "done"), (1, 2, "done")]


def test_progress_bar_on_stderr_names_group_and_feature(groups, capsys):
    LossLandscapeFeaturizer(**{**FAST, "verbose": 1}).transform(groups)
    captured = capsys.readouterr()
    assert captured.out == ""
    for text in ("group 1/2: hessian", "group 2/2: curves", "group 2/2: CKA", "2/2"):
        assert text in captured.err
    assert LossLandscapeFeaturizer(**FAST).transform(groups[:1]) is not None
    assert capsys.readouterr().err == ""
