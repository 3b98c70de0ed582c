"""Tests of featurizers.zoo._structure: the figures of the paper's structure."""

import math

import numpy as np
import pandas as pd
import pytest

from featurizers.zoo import (
    STRUCTURE_FIGURES,
    format_structure,
    structure_report,
    structure_table,
    structure_text,
)


def _table(hot_trace, cold_trace, hot_peak, cold_peak, relative):
    n_hot, n_cold = len(hot_trace), len(cold_trace)
    return pd.DataFrame({
        "train_error": [10.0] * (n_hot + n_cold) + [0.5],
        "hessian_t": [*hot_trace, *cold_trace, 9.0],
        "mode_connectivity_peak": [*hot_peak, *cold_peak, 0.0],
        "mode_connectivity": [*relative, 5.0],
        "bs_failure": ["large"] * n_hot + ["small"] * n_cold + ["small"],
        "rfi_inc_temp": [0.0] * n_hot + [3.0] * n_cold + [0.2],
        "rfi_dec_temp": [2.0, 0.5, 4.0][:n_hot] + [0.0] * n_cold + [0.0],
    })


def test_paper_direction():
    table = _table([1.0, 2.0, 3.0], [4.0, 5.0], [-1.0, -2.0, -3.0], [-10.0, -20.0],
                   [1.0, -1.0, 2.0, -5.0, 0.0])
    report = structure_report(table)
    assert list(report.index) == list(STRUCTURE_FIGURES)
    assert report["rows"] == 6
    # the interpolating row (train error 0.5 <= 1) is left out of the branch
    assert report["non_interp_hot"] == 3 and report["non_interp_cold"] == 2
    assert report["sharpness_auc"] == 1.0 and report["connectivity_auc"] == 1.0
    assert report["relative_connectivity_auc"] == pytest.approx(5 / 6)
    assert report["curves_beat_endpoints"] == pytest.approx(2 / 5)
    # margins |rfi_inc - rfi_dec| of the 6 labelled rows: 2, 0.5, 4, 3, 3, 0.2
    assert report["labels_below_1pt"] == pytest.approx(2 / 6)
    assert math.isnan(report["labels_below_noise"])  # no seeds' errors


def test_reversed_direction_and_ties():
    table = _table([5.0, 6.0], [1.0, 1.0], [-30.0, -40.0], [-1.0, -1.0], [0, 0, 0, 0])
    report = structure_report(table)
    assert report["sharpness_auc"] == 0.0 and report["connectivity_auc"] == 0.0
    assert report["relative_connectivity_auc"] == 0.5  # all tied
    assert report["curves_beat_endpoints"] == 0.0


def test_gain_columns_and_other_task():
    table = pd.DataFrame({
        "train_error": [20.0, 20.0, 20.0, 20.0],
        "hessian_t": [1.0, 2.0, 3.0, np.nan],
        "mode_connectivity_peak": [-1.0, -5.0, -9.0, -9.0],
        "mode_connectivity": [-1.0, -5.0, -9.0, -9.0],
        "lr_failure": ["large", "small", "small", "optimal"],
        "lr_failure_gain": [3.0, 0.9, 2.5, 0.1],
        "lr_failure_gain_se": [1.0, 0.1, 2.0, 1.0],
    })
    report = structure_report(table, task="lr_failure")
    assert report["sharpness_auc"] == 1.0  # the NaN trace is dropped
    assert report["labels_below_1pt"] == pytest.approx(1 / 3)
    assert report["labels_below_noise"] == pytest.approx(1 / 3)  # 2.5 <= 2 * 2.0
    assert report["curves_beat_endpoints"] == 0.0


def test_one_class_gives_nan_and_missing_columns_raise():
    table = _table([1.0, 2.0], [], [-1.0, -2.0], [], [1.0, 1.0])
    report = structure_report(table)
    assert math.isnan(report["sharpness_auc"]) and math.isnan(report["connectivity_auc"])
    with pytest.raises(ValueError, match=r"must have the columns.*\['hessian_t'\] missing"):
        structure_report(table.drop(columns="hessian_t"))


def test_structure_table_side_by_side():
    a = _table([1.0, 2.0], [4.0, 5.0], [-1.0, -2.0], [-10.0, -20.0], [1.0, -1.0, 2.0, -5.0])
    b = _table([5.0, 6.0], [1.0, 1.0], [-30.0, -40.0], [-1.0, -1.0], [0, 0, 0, 0])
    frame = structure_table({"a": a, "b": b})
    assert list(frame.columns) == ["a", "b"] and list(frame.index) == list(STRUCTURE_FIGURES)
    text = format_structure(frame)
    assert "sharpness_auc" in text and "1.00" in text and "0.00" in text
    assert text.splitlines()[1].split()[1:] == ["5", "5"]  # rows as integers


def test_structure_text_sets_the_zoo_beside_f_and_adds_the_lr_label_where_it_varies():
    from sklearn_mdtree.pretrained._recipes import read_zoo_table

    zoo = read_zoo_table()
    clean, noisy = zoo[zoo["collection"] == "normal"], zoo[zoo["collection"] == "noise"]
    alone = format_structure(structure_table({"zoo clean": clean, "zoo noisy": noisy}))
    public = zoo.assign(collection=np.where(zoo["collection"] == "normal", "noise", "normal"))
    beside = format_structure(structure_table({
        "zoo clean": clean, "zoo noisy": noisy, "F": public[public["collection"] == "normal"],
        "F'": public[public["collection"] == "noise"]}))
    one_lr = zoo.assign(lr=0.1)
    assert structure_text(one_lr) == alone
    assert structure_text(one_lr, public) == beside
    assert zoo["lr"].nunique() > 1  # the shipped zoo varies the learning rate
    lr = format_structure(structure_table({"zoo clean": clean, "zoo noisy": noisy},
                                          task="lr_failure"))
    assert structure_text(zoo) == (alone + "\n\nThe same for the learning-rate label "
                                   "(lr_failure):\n\n" + lr)
