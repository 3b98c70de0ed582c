"""Tests of sklearn_mdtree.rfi: room for improvement, labels, and their meanings."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_mdtree.rfi import (
    LABEL_CLASSES,
    LABEL_COLUMNS,
    LABEL_MEANINGS,
    RFI_COLUMNS,
    LabelMeaning,
    failure_labels,
    label_configurations,
    label_meaning,
    room_for_improvement,
)


def _grid(errors, widths=(1, 2), datas=(1, 2), batches=(16, 32)):
    """A complete grid, width-major, with the given test errors."""
    points = list(itertools.product(widths, datas, batches))
    frame = pd.DataFrame(points, columns=["width", "data", "bs"])
    frame["test_error"] = np.asarray(errors, dtype=float)
    return frame


def _brute_force_rfi(frame, raise_temperature="decrease"):
    """The definitions of eqs. 1 and 6-8, one configuration at a time (dense reference)."""
    w, d, b, e = (frame[c].to_numpy() for c in ["width", "data", "bs", "test_error"])
    same_db = (d[:, None] == d) & (b[:, None] == b)
    same_wb = (w[:, None] == w) & (b[:, None] == b)
    same_wd = (w[:, None] == w) & (d[:, None] == d)

    def best(mask):
        return np.where(mask, e[None, :], np.inf).min(axis=1)

    smaller_bs, larger_bs = same_wd & (b <= b[:, None]), same_wd & (b >= b[:, None])
    hotter, colder = (smaller_bs, larger_bs)
    if raise_temperature == "increase":
        hotter, colder = colder, hotter
    return pd.DataFrame(
        {
            "rfi_width": e - best(same_db & (w >= w[:, None])),
            "rfi_data": e - best(same_wb & (d >= d[:, None])),
            "rfi_inc_temp": e - best(hotter),
            "rfi_dec_temp": e - best(colder),
        }
    )


# --------------------------------------------------------------------------------------
# the published collections


@pytest.mark.parametrize("collection", ["normal", "noise"])
def test_reproduces_published_rfi_and_labels(collection, published_frames):
    published = published_frames[collection]
    grid = published.drop(columns=list(RFI_COLUMNS + LABEL_COLUMNS))
    labelled = label_configurations(grid)
    for column in RFI_COLUMNS:
        np.testing.assert_allclose(labelled[column], published[column], rtol=0, atol=1e-9)
    for column in LABEL_COLUMNS:
        mismatched = np.flatnonzero(labelled[column].to_numpy() != published[column].to_numpy())
        assert len(mismatched) == 0, (column, mismatched[:5])


def test_published_order_does_not_matter(published_frames):
    published = published_frames["noise"]
    shuffled = published.sample(frac=1.0, random_state=0)
    rfi = room_for_improvement(shuffled)
    assert rfi.index.equals(shuffled.index)
    np.testing.assert_allclose(rfi.sort_index(), published[list(RFI_COLUMNS)], atol=1e-9)


# --------------------------------------------------------------------------------------
# definitions on small grids


def test_hand_computed_grid():
    #             w=1: d=1 bs16, bs32, d=2 bs16, bs32 | w=2: same
    grid = _grid([40.0, 45.0, 30.0, 33.0, 35.0, 38.0, 20.0, 25.0])
    rfi = room_for_improvement(grid)
    expected = pd.DataFrame(
        {
            "rfi_width": [5.0, 7.0, 10.0, 8.0, 0, 0, 0, 0],
            "rfi_data": [10.0, 12.0, 0, 0, 15.0, 13.0, 0, 0],
            "rfi_inc_temp": [0, 5.0, 0, 3.0, 0, 3.0, 0, 5.0],
            "rfi_dec_temp": [0.0] * 8,
        }
    )
    pd.testing.assert_frame_equal(rfi, expected)
    labels = failure_labels(rfi)
    assert labels["bs_failure"].tolist() == ["optimal", "small"] * 4
    assert labels["width_vs_batch"].tolist() == ["width", "width", "width", "width"] + [
        "optimal", "batch", "optimal", "batch"
    ]
    assert labels["data_vs_batch"].tolist()[:2] == ["data", "data"]


def test_raise_temperature_increase_swaps_directions():
    grid = _grid([40.0, 45.0, 30.0, 33.0, 35.0, 38.0, 20.0, 25.0])
    down = room_for_improvement(grid)
    up = room_for_improvement(grid, raise_temperature="increase")
    pd.testing.assert_series_equal(up["rfi_inc_temp"], down["rfi_dec_temp"], check_names=False)
    pd.testing.assert_series_equal(up["rfi_dec_temp"], down["rfi_inc_temp"], check_names=False)


def test_custom_column_names_and_index():
    grid = _grid([40.0, 45.0, 30.0, 33.0, 35.0, 38.0, 20.0, 25.0])
    renamed = grid.rename(
        columns={"width": "params", "data": "n", "bs": "lr", "test_error": "val"}
    ).set_index(pd.Index(list("abcdefgh")))
    rfi = room_for_improvement(renamed, model_size="params", data="n", optimizer="lr", error="val")
    assert list(rfi.columns) == list(RFI_COLUMNS)
    assert list(rfi.index) == list("abcdefgh")
    np.testing.assert_array_equal(rfi.to_numpy(), room_for_improvement(grid).to_numpy())
    labelled = label_configurations(
        renamed, model_size="params", data="n", optimizer="lr", error="val"
    )
    assert list(labelled.columns) == [*renamed.columns, *RFI_COLUMNS, *LABEL_COLUMNS]


def test_existing_columns_are_replaced():
    grid = _grid(np.arange(8.0))
    grid["rfi_width"] = -1.0
    labelled = label_configurations(grid)
    assert (labelled["rfi_width"] >= 0).all()
    assert labelled.columns.tolist().count("rfi_width") == 1


def test_ties_are_optimal():
    rfi = pd.DataFrame(
        {
            "rfi_width": [2.0, 1.0, 3.0],
            "rfi_data": [2.0, 0.5, 1.0],
            "rfi_inc_temp": [2.0, 1.0, 0.0],
            "rfi_dec_temp": [0.0, 1.0, 1.0],
        }
    )
    labels = failure_labels(rfi)
    assert labels["bs_failure"].tolist() == ["small", "optimal", "large"]
    assert labels["width_vs_batch"].tolist() == ["optimal", "optimal", "width"]
    assert labels["data_vs_batch"].tolist() == ["optimal", "batch", "optimal"]


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4)),
    data=st.data(),
    raise_temperature=st.sampled_from(["decrease", "increase"]),
)
def test_matches_brute_force_definition(shape, data, raise_temperature):
    n = int(np.prod(shape))
    errors = data.draw(
        st.lists(st.sampled_from([0.0, 1.5, 2.0, 10.25, 50.0, 99.0]), min_size=n, max_size=n)
    )
    grid = _grid(errors, *(tuple(2 ** np.arange(size)) for size in shape))
    order = data.draw(st.permutations(range(n)))
    grid = grid.iloc[list(order)].reset_index(drop=True)
    rfi = room_for_improvement(grid, raise_temperature=raise_temperature)
    expected = _brute_force_rfi(grid, raise_temperature)
    np.testing.assert_array_equal(rfi.to_numpy(), expected.to_numpy())
    assert (rfi.to_numpy() >= 0).all()
    labels = failure_labels(rfi)
    for column in LABEL_COLUMNS:
        assert set(labels[column]) <= set(LABEL_CLASSES[column])


# --------------------------------------------------------------------------------------
# bad input


def test_grid_with_hole_names_the_missing_configuration():
    grid = _grid(np.arange(8.0)).drop(index=5)
    message = (
        r"not a complete grid .* 1 configuration\(s\) of the 8 are missing, "
        r"e\.g\. \(width=2, data=1, bs=32\)"
    )
    with pytest.raises(ValueError, match=message):
        room_for_improvement(grid)


def test_repeated_configuration_is_named():
    grid = _grid(np.arange(8.0))
    grid = pd.concat([grid, grid.iloc[[3]]], ignore_index=True)
    message = r"more than one row for the same configuration .*row\(s\) 3, 8"
    with pytest.raises(ValueError, match=message):
        room_for_improvement(grid)


def test_nan_error_names_column_and_row():
    grid = _grid(np.arange(8.0))
    grid.loc[6, "test_error"] = np.nan
    message = r"Column 'test_error' .* missing values \(NaN\) in row\(s\) 6"
    with pytest.raises(ValueError, match=message):
        room_for_improvement(grid)


def test_missing_and_non_numeric_columns():
    grid = _grid(np.arange(8.0))
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['test_error'\]"):
        room_for_improvement(grid.drop(columns="test_error"))
    message = r"Column 'bs' .* must be numeric.*row\(s\) 0 .* holds 'x'"
    with pytest.raises(ValueError, match=message):
        room_for_improvement(grid.assign(bs=["x"] + grid["bs"].tolist()[1:]))
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['rfi_data'\]"):
        failure_labels(room_for_improvement(grid).drop(columns="rfi_data"))


@pytest.mark.parametrize("function", [room_for_improvement, label_configurations])
@pytest.mark.parametrize(
    "kwargs, name",
    [({"raise_temperature": "up"}, "raise_temperature"), ({"error": 3}, "error")],
)
def test_both_grid_functions_validate_their_parameters(function, kwargs, name):
    # one constraint table serves both functions, each error names its caller
    with pytest.raises(ValueError, match=f"'{name}' parameter of {function.__name__} must be"):
        function(_grid(np.arange(8.0)), **kwargs)


def test_bad_parameters():
    grid = _grid(np.arange(8.0))
    with pytest.raises(ValueError, match="'raise_temperature' parameter of room_for_improvement"):
        room_for_improvement(grid, raise_temperature="up")
    with pytest.raises(ValueError, match="must name four different columns"):
        room_for_improvement(grid, model_size="bs")
    with pytest.raises(ValueError, match="'frame' parameter of room_for_improvement"):
        room_for_improvement(grid.to_numpy())


# --------------------------------------------------------------------------------------
# meanings


def test_every_label_has_a_meaning():
    for task, classes in LABEL_CLASSES.items():
        assert set(LABEL_MEANINGS[task]) == set(classes)
        for label in classes:
            meaning = label_meaning(task, label)
            assert isinstance(meaning, LabelMeaning)
            assert (meaning.task, meaning.label) == (task, label)
            assert meaning.cause and meaning.action


def test_meanings_give_the_direction():
    assert label_meaning("bs_failure", "small").action == "Lower the batch size."
    assert "too low" in label_meaning("bs_failure", "small").cause
    assert label_meaning("bs_failure", "large").action == "Raise the batch size."
    assert label_meaning("width_vs_batch", "width").action == "Widen the model."
    assert label_meaning("data_vs_batch", "data").action == "Add training data."


def test_unknown_label_or_task():
    message = r"'label' parameter of label_meaning must be one of \['large', 'optimal', 'small'\]"
    with pytest.raises(ValueError, match=message):
        label_meaning("bs_failure", "width")
    with pytest.raises(ValueError, match="'task' parameter of label_meaning"):
        label_meaning("q1", "small")
    with pytest.raises(TypeError):
        LABEL_MEANINGS["bs_failure"]["small"] = None
