"""Issue 23, library side of sklearn_mdtree: silently wrong fits and raw errors."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sklearn_mdtree import MDTreeClassifier


@pytest.mark.parametrize("search", ["brent", "exhaustive"])
def test_thresholds_stay_inside_bounds_near_the_float64_limit(search):
    # hessian_t between 1.5e308 and 1.7e308 with bounds="data": scipy's Brent
    # overflowed in (a + b) / 2 and fitted t2 = 1.6994458873529013e308 above the
    # bounds' 1.6994419871578422e308 (84 of 400 such fits were outside).
    rng = np.random.default_rng(0)
    for _ in range(20):
        X = pd.DataFrame({"train_error": rng.uniform(0, 1, 12),
                          "mode_connectivity_peak": rng.uniform(-50, 0, 12),
                          "hessian_t": rng.uniform(1.5e308, 1.7e308, 12)})
        y = np.array(["small", "large"] * 6)[rng.permutation(12)]
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            clf = MDTreeClassifier("q1", bounds="data", threshold_search=search).fit(X, y)
        for name, t in clf.thresholds_.items():
            low, high = clf.bounds_[name]
            assert low <= t <= high, (name, t, (low, high))
