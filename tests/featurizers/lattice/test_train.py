"""Tests of featurizers.lattice._train and measure_one_step: cache round trip, failure records."""

import math

import pytest

torch = pytest.importorskip("torch")

from featurizers.lattice import (  # noqa: E402
    LatticeConfig,
    LatticeFamily,
    measure_one_step,
    train_runs,
)


def _mlp(width):
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(),
                               torch.nn.Linear(width, 3))


def _family(name="test-family", knob="learning rate", epochs=3):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(80, 4, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    return LatticeFamily(name, _mlp, (X[:60], y[:60]), (X[60:], y[60:]), knob=knob,
                         batch_size=8, lr=0.05, epochs=epochs)


def test_cache_round_trip(tmp_path):
    family, config = _family(), LatticeConfig(0.05, 4, 40)
    first = train_runs(family, config, [0, 1, 2], cache_dir=tmp_path)
    assert len(list((tmp_path / "models").glob("*.pt"))) == 3
    again = train_runs(family, config, [0, 1, 2], cache_dir=tmp_path)
    for a, b in zip(first, again):
        assert a.seed == b.seed
        for (k, v), w in zip(a.model.state_dict().items(), b.model.state_dict().values()):
            assert torch.equal(v, w), k
        assert a.test_error == b.test_error and a.displacement == b.displacement
    # another family name is another cache entry
    train_runs(_family(name="other"), config, [0], cache_dir=tmp_path)
    assert len(list((tmp_path / "models").glob("*.pt"))) == 4


def test_seeds_trained_one_at_a_time_match_stacked(tmp_path):
    family, config = _family(), LatticeConfig(0.05, 4, 40)
    together = train_runs(family, config, [0, 1])
    alone = train_runs(family, config, [1])
    assert together[1].test_error == pytest.approx(alone[0].test_error, abs=2.0)
    x = family.test[0]
    assert torch.allclose(together[1].model(x), alone[0].model(x), atol=1e-4)


def test_stalled_and_diverged_records():
    family = _family(epochs=2)
    stalled = train_runs(family, LatticeConfig(1e-7, 4, 60), [0, 1])
    assert all(r.stalled and not r.diverged for r in stalled if r.train_error >= 0.8 * 200 / 3)
    assert all(r.displacement < 1e-4 for r in stalled)
    diverged = train_runs(family, LatticeConfig(1e4, 4, 60), [0, 1])
    assert all(r.diverged for r in diverged)
    assert all(r.test_error == pytest.approx(family.chance_error) or math.isfinite(r.test_error)
               for r in diverged)


def test_measure_one_step_labels_twice(tmp_path):
    family = _family()
    rows, runs = measure_one_step(family, [LatticeConfig(0.05, 2, 30)], label_seeds=[0, 1],
                                  repro_seeds=[2, 3], cache_dir=tmp_path)
    (row,) = rows
    assert row["label"] in {"knob_up", "knob_down", "width_up", "data_up", "none"}
    assert row["repro_label"] in {"knob_up", "knob_down", "width_up", "data_up", "none"}
    assert {"gain_knob_up", "gain_se_width_up", "n_diverged", "n_stalled_data_up"} <= set(row)
    assert [r.seed for r in runs[0]] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="disjoint"):
        measure_one_step(family, [LatticeConfig(0.05, 2, 30)], label_seeds=[0, 1],
                         repro_seeds=[1, 2])


def _bn_cnn(width, batchnorm=True):
    layers = [torch.nn.Unflatten(1, (1, 2, 2)), torch.nn.Conv2d(1, width, 2, padding=1)]
    if batchnorm:
        layers.append(torch.nn.BatchNorm2d(width))
    layers += [torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
               torch.nn.Linear(width, 3)]
    return torch.nn.Sequential(*layers)


def test_batchnorm_seeds_trained_stacked_match_one_at_a_time_over_a_few_steps():
    from featurizers.lattice._train import can_stack_buffers, train_stacked_buffers
    from featurizers.zoo import batch_schedule, train_one

    assert can_stack_buffers(_bn_cnn(3)) and not can_stack_buffers(_bn_cnn(3, False))
    family = _family()
    X, y = family.train
    seeds = [0, 1, 2]
    schedules = [batch_schedule(len(X), 4, 6, s) for s in seeds]

    def fresh():
        out = []
        for s in seeds:
            torch.manual_seed(s)
            out.append(_bn_cnn(3))
        return out

    alone = [train_one(m, X, y, sch, lr=0.1, momentum=0.9, seed=s)
             for m, sch, s in zip(fresh(), schedules, seeds)]
    together = train_stacked_buffers(fresh(), X, y, torch.stack(schedules), lr=0.1,
                                     momentum=0.9)
    for a, b in zip(alone, together):
        assert not b.training
        for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.allclose(v.float(), w.float(), atol=1e-5), k  # BN statistics too
        assert int(b.state_dict()["2.num_batches_tracked"]) == 6


def test_stacked_batchnorm_trainings_have_their_own_cache_entries(tmp_path):
    import dataclasses

    family = dataclasses.replace(_family(), factory=_bn_cnn, name="bn-family")
    config = LatticeConfig(0.05, 3, 40)
    stacked = train_runs(family, config, [0, 1], cache_dir=tmp_path, stack_buffers=True)
    assert len(list((tmp_path / "models").glob("*.pt"))) == 2
    again = train_runs(family, config, [0, 1], cache_dir=tmp_path, stack_buffers=True)
    assert [r.test_error for r in again] == [r.test_error for r in stacked]
    train_runs(family, config, [0, 1], cache_dir=tmp_path)  # one at a time: apart
    assert len(list((tmp_path / "models").glob("*.pt"))) == 4
