"""The per-group row cache of the featurizers (``cache_dir``), shared with the zoo's."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torch_helpers import digits_mlp, digits_tensors, train  # noqa: E402

from featurizers import LossLandscapeFeaturizer, ModelGroup, ValidationFeaturizer  # noqa: E402
from featurizers._cache import Cache  # noqa: E402

FEATURES = ["train_error", "hessian_t", "mode_connectivity_peak", "CKA"]
FAST = dict(curve_epochs=1, trace_matvecs=4, random_state=0, verbose=0)


@pytest.fixture(scope="module")
def groups():
    X, y = digits_tensors()
    out = []
    for g, width in enumerate((4, 5, 6, 7)):
        data = (X[: 100 + 20 * g], y[: 100 + 20 * g])
        models = []
        for seed in range(2):
            torch.manual_seed(10 * g + seed)
            models.append(train(digits_mlp(width), data, steps=15, seed=seed))
        out.append(ModelGroup(models, data, name=f"w{width}"))
    return out


class Interrupt:
    """Patches ``_group_values`` to count the groups computed and to raise
    KeyboardInterrupt (Ctrl-C) when group ``at`` starts."""

    def __init__(self, monkeypatch, at=None):
        self.computed = []
        original = LossLandscapeFeaturizer._group_values

        def patched(featurizer, group, index, *args):
            if index == at:
                raise KeyboardInterrupt
            self.computed.append(index)
            return original(featurizer, group, index, *args)

        monkeypatch.setattr(LossLandscapeFeaturizer, "_group_values", patched)


def test_a_run_interrupted_and_run_again_computes_only_what_is_missing(
    groups, tmp_path, monkeypatch
):
    reference = LossLandscapeFeaturizer(FEATURES, **FAST).transform(groups)
    featurizer = LossLandscapeFeaturizer(FEATURES, cache_dir=tmp_path, **FAST)
    with monkeypatch.context() as patch:
        first = Interrupt(patch, at=2)
        with pytest.raises(KeyboardInterrupt):
            featurizer.transform(groups)
    assert first.computed == [0, 1]
    assert len(list((tmp_path / "features").glob("*.csv"))) == 2  # saved as they came
    with monkeypatch.context() as patch:
        second = Interrupt(patch)
        rows = featurizer.transform(groups)
    assert second.computed == [2, 3] and featurizer.n_groups_computed_ == 2
    np.testing.assert_array_equal(rows, reference)  # bit for bit, cached or not
    with monkeypatch.context() as patch:
        third = Interrupt(patch)
        np.testing.assert_array_equal(featurizer.transform(groups), reference)
    assert third.computed == []


def test_the_key_covers_weights_data_parameters_and_stream(groups, tmp_path):
    featurizer = LossLandscapeFeaturizer(FEATURES, cache_dir=tmp_path, **FAST)
    featurizer.transform(groups[:2])
    assert featurizer.n_groups_computed_ == 2
    # other weights (one parameter nudged), other data, other parameters, another
    # random state or position: computed again, never read from another entry
    changed = [digits_mlp(4), digits_mlp(4)]
    for new, old in zip(changed, groups[0].models):
        new.load_state_dict(old.state_dict())
    with torch.no_grad():
        changed[1][0].bias[0] += 1e-6
    variants = [
        (featurizer, [ModelGroup(changed, groups[0].train_data)]),
        (featurizer, [ModelGroup(groups[0].models, (groups[0].train_data[0][:-1],
                                                    groups[0].train_data[1][:-1]))]),
        (LossLandscapeFeaturizer(FEATURES, cache_dir=tmp_path, **{**FAST, "curve_epochs": 2}),
         groups[:1]),
        (LossLandscapeFeaturizer(FEATURES, cache_dir=tmp_path, **{**FAST, "random_state": 1}),
         groups[:1]),
        (featurizer, groups[1:2]),  # group 1 at position 0: another stream
    ]
    for variant, data in variants:
        variant.transform(data)
        assert variant.n_groups_computed_ == 1


def test_rows_cached_before_a_revision_of_the_computation_are_computed_again(
    groups, tmp_path, monkeypatch
):
    from featurizers._transformers import _cache_key

    featurizer = LossLandscapeFeaturizer(FEATURES, cache_dir=tmp_path, **FAST)
    featurizer.transform(groups[:1])
    featurizer.transform(groups[:1])
    assert featurizer.n_groups_computed_ == 0  # read back under the same revision
    monkeypatch.setattr(_cache_key, "ROW_REVISION", _cache_key.ROW_REVISION + 1)
    featurizer.transform(groups[:1])
    assert featurizer.n_groups_computed_ == 1


def test_the_cache_is_the_zoos(groups, tmp_path):
    featurizer = ValidationFeaturizer(["train_error", "train_loss"], verbose=0,
                                      cache_dir=tmp_path)
    rows = featurizer.transform(groups)
    entries = sorted((tmp_path / "features").glob("*.csv"))
    assert len(entries) == len(groups)
    # read back through the zoo's own reader, which checks each entry's meta
    cache = Cache(tmp_path)
    metas = [featurizer._cache_meta(g, ["train_error", "train_loss"], torch.device("cpu"), s)
             for g, s in zip(groups, np.random.SeedSequence(0).spawn(len(groups)))]
    loaded = [cache.load_row(m, ["train_error", "train_loss"]) for m in metas]
    np.testing.assert_array_equal([[r["train_error"], r["train_loss"]] for r in loaded], rows)
