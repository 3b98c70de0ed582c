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
