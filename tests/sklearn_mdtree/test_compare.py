"""Tests of sklearn_mdtree.compare: the method comparison as learning curves."""

import subprocess
import sys

import numpy as np
import pytest

from sklearn_mdtree.compare import (
    BRENT,
    BRENT_DATA,
    HYPER_VALID_DT,
    METHODS,
    VALID,
    VALID_DT,
    Setting,
    Transfer,
    curves_table,
    learning_curves,
    method_estimator,
    score,
)


def test_curves_match_table_b_on_the_public_collections(stacked_frame):
    transfer = Transfer("Q1, random pairs", "bs_failure", "random_pairs", (8,))
    curves = learning_curves(stacked_frame, [transfer],
                             methods=[BRENT, VALID_DT, BRENT_DATA])
    by_method = curves.set_index("method")["mean"]
    # the paper's Table B, case 1 (to the rounding of its figures)
    assert by_method[BRENT] == pytest.approx(87.70, abs=0.01)
    assert by_method[VALID_DT] == pytest.approx(73.54, abs=0.01)
    assert 0 < by_method[BRENT_DATA] <= 100
    row = curves[curves["method"] == VALID_DT].iloc[0]
    assert row["std"] == pytest.approx(np.std(row["scores"]), abs=1e-3)
    assert len(row["scores"]) == 5
    same = score(stacked_frame, transfer.setting(8), VALID_DT)
    np.testing.assert_allclose(row["scores"], same, atol=1e-4)
    text = curves_table(curves)
    assert "**Q1, random pairs**" in text and "| MD tree (Brent) | 87.7 ±" in text


def test_transfer_defaults_and_validation():
    q2 = Transfer("Q2", "width_vs_batch", "random_data", [1, 2])
    assert q2.preset == "q2" and q2.hyper == ("log_data_amount",) and q2.ks == (1, 2)
    assert q2.setting(2).k == 2 and q2.setting(2).scheme == "random_data"
    with pytest.raises(ValueError, match="'task' parameter of Transfer"):
        Transfer("x", "q1", "random_pairs", (1,))
    with pytest.raises(ValueError, match="'ks' parameter of Transfer"):
        Transfer("x", "bs_failure", "random_pairs", ())
    with pytest.raises(ValueError, match="'methods' parameter must name methods"):
        learning_curves(None, [q2], methods=["SVM"])


def test_method_estimators():
    setting = Transfer("Q1", "bs_failure", "random_pairs", (1,)).setting(1)
    for method in METHODS:
        estimator, features = method_estimator(method, setting)
        if method.startswith("MD tree"):
            assert features is None
            assert estimator.bounds == ("data" if "data bounds" in method else "hierarchy")
        else:
            assert features and estimator.max_depth == 4
    # the validation features in another order (the paper's one-step tables)
    order = VALID[::-1]
    _, features = method_estimator(HYPER_VALID_DT, setting, valid=order)
    assert features == list(setting.hyper + order)
    with pytest.raises(ValueError, match="Unknown method 'SVM'"):
        method_estimator("SVM", setting)


def test_compare_owns_its_methods_and_settings_and_never_loads_the_paper():
    from sklearn_mdtree import _paper, compare

    assert isinstance(Transfer("Q1", "bs_failure", "random_pairs", (1,)).setting(1), Setting)
    for name in ["BRENT", "EXHAUSTIVE", "HYPER_DT", "VALID_DT", "HYPER_VALID_DT", "LL_DT",
                 "VALID", "LOSS_LANDSCAPE", "HYPER_Q1", "Setting"]:
        assert getattr(_paper, name) is getattr(compare, name)
    code = "import sys, sklearn_mdtree.compare; print('sklearn_mdtree._paper' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_import_stays_torch_free():
    code = "import sys, sklearn_mdtree.compare; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_constant_method_is_the_training_majority():
    """The constant answer (training-set majority) is a method of learning_curves; the
    paper's METHODS, which the reproduction uses, are unchanged."""
    import numpy as np
    import pandas as pd

    from sklearn_mdtree.compare import CONSTANT, METHODS, Transfer, learning_curves

    assert CONSTANT not in METHODS
    frame = pd.DataFrame({"collection": ["normal"] * 8 + ["noise"] * 4,
                          "data": [1, 1, 2, 2, 1, 1, 2, 2, 1, 2, 1, 2],
                          "width": [4, 8] * 6,
                          "train_error": np.arange(12.0), "test_error": np.arange(12.0),
                          "generalization_gap": 0.0,
                          "bs_failure": ["large"] * 6 + ["small"] * 2
                          + ["large", "small", "small", "small"]})
    curves = learning_curves(frame, [Transfer("Q1", "bs_failure", "data_limit", (2,))],
                             methods=[CONSTANT], seeds=[0])
    # trained on 6 large + 2 small: answers "large", right on 1 of 4 noisy rows
    assert curves["mean"].tolist() == [25.0]
