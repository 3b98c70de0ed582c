"""Tests of featurizers.zoo._grid: the configuration grid as data, and its presets."""

import pytest

pytest.importorskip("torch")

from featurizers.zoo import ZOO_PRESETS, Configuration, ZooGrid, zoo_preset  # noqa: E402


def test_axes_are_sorted_and_counted():
    grid = ZooGrid(width=(16, 4), bs=(64, 8, 32), data_amount=(300,), lr=(0.1, 0.05),
                   noise=(0.1, 0.0), seeds=(1, 0), steps=10)
    assert grid.width == (4, 16) and grid.bs == (8, 32, 64) and grid.noise == (0.0, 0.1)
    assert grid.lr == (0.05, 0.1) and grid.seeds == (0, 1)
    assert grid.n_configurations == 2 * 3 * 1 * 2 * 2
    assert grid.n_models == 2 * grid.n_configurations
    configs = grid.configurations()
    assert len(configs) == len(set(configs)) == grid.n_configurations
    assert configs[0] == Configuration(noise=0.0, lr=0.05, data_amount=300, width=4, bs=8)
    assert configs == sorted(configs)  # noise, lr, data, width, bs: the last varies fastest
    assert [c.bs for c in configs[:3]] == [8, 32, 64]


def test_presets():
    assert set(ZOO_PRESETS) == {"tiny", "default", "large"}
    default = zoo_preset("default")
    # the reference recipe (benchmarks/README.md): fixed epochs, both knobs, six seeds
    assert default.width == (4, 8, 16, 32) and default.bs == (4, 8, 16, 32, 64, 128, 256)
    assert default.data_amount == (300, 600, 1200) and default.noise == (0.0, 0.1)
    assert default.lr == (0.0125, 0.025, 0.05)
    assert default.steps is None and default.epochs == 40 and default.n_models == 3024
    assert zoo_preset("tiny").n_models < default.n_models < zoo_preset("large").n_models
    for name in ZOO_PRESETS:  # labels need the seeds' noise
        assert len(zoo_preset(name).seeds) >= 6, name
    with pytest.raises(ValueError, match="'preset' parameter must be one of"):
        zoo_preset("huge")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"width": ()}, "'width' axis of ZooGrid must hold at least one value"),
        ({"bs": (8, 16, 8)}, r"'bs' axis of ZooGrid must not repeat a value.*\[8\] repeated"),
        ({"noise": (0.0, 0.0)}, "'noise' axis of ZooGrid must not repeat"),
        ({"noise": (0.0, 1.0)}, "'noise' axis of ZooGrid must hold finite numbers >= 0 and < 1"),
        ({"width": (4, 2.5)}, "'width' axis of ZooGrid must hold integers >= 1; got 2.5"),
        ({"width": (0,)}, "'width' axis of ZooGrid must hold integers >= 1"),
        ({"seeds": (True,)}, "'seeds' axis of ZooGrid must hold integers"),
        ({"lr": (float("nan"),)}, "'lr' axis of ZooGrid must hold finite numbers"),
        ({"lr": (0.0, 0.1)}, "'lr' axis of ZooGrid must hold positive"),
        ({"steps": 0}, "'steps' parameter of ZooGrid must be an int >= 1 or None; got 0"),
        ({"steps": 1.5}, "'steps' parameter of ZooGrid must be an int"),
        ({"epochs": 0}, "'epochs' parameter of ZooGrid must be an int >= 1 or None; got 0"),
        ({"epochs": True}, "'epochs' parameter of ZooGrid must be an int"),
        ({"steps": 10, "epochs": 5}, "'steps' and 'epochs' parameters of ZooGrid exclude"),
    ],
)
def test_bad_axes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ZooGrid(**kwargs)


def test_fixed_epochs_and_fixed_steps():
    # fixed epochs: ceil(epochs * n / bs) steps, so a large batch takes few steps
    grid = ZooGrid(bs=(4, 256), data_amount=(300, 1200), epochs=40)
    steps = {(c.bs, c.data_amount): grid.n_steps(c) for c in grid.configurations()}
    assert steps == {(4, 300): 3000, (4, 1200): 12000, (256, 300): 47, (256, 1200): 188}
    assert grid.training == "40 epochs"
    # fixed steps: the same for every configuration
    grid = ZooGrid(bs=(4, 256), steps=100)
    assert {grid.n_steps(c) for c in grid.configurations()} == {100}
    assert grid.epochs is None and grid.training == "100 SGD steps"
    assert ZooGrid().epochs == 40 and ZooGrid().steps is None


def test_axis_must_be_a_sequence():
    with pytest.raises(TypeError, match="'width' axis of ZooGrid must be a sequence"):
        ZooGrid(width=8)
    with pytest.raises(TypeError, match="'bs' axis"):
        ZooGrid(bs="8")


def test_grid_is_frozen_and_hashable():
    grid = ZooGrid()
    with pytest.raises(AttributeError):
        grid.steps = 10
    assert hash(grid) == hash(ZooGrid())
