"""End to end: trained PyTorch model groups -> featurizer -> MD tree, in scikit-learn tools.

A tiny zoo on scikit-learn's digits: tanh MLPs trained with SGD for a fixed number of steps
(so the batch size acts as a temperature, as in ``reference/zoo_feasibility.md``), two seeds
per configuration. Labels follow the paper's Q1 rule from the zoo's own validation errors.
"""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from featurizers import LossLandscapeFeaturizer, ModelGroup  # noqa: E402
from sklearn_mdtree import MDTreeClassifier  # noqa: E402

BATCHES = (4, 32, 256)
WIDTHS = (8, 32)


def _train(width, batch, seed, X, y, steps=100):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.Tanh(),
                                torch.nn.Linear(width, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(X), (batch,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def zoo():
    digits = load_digits()
    X = torch.tensor(digits.data / 16, dtype=torch.float32)
    y = torch.tensor(digits.target)
    train, val = (X[:600], y[:600]), (X[1200:], y[1200:])
    groups, val_error, keys = [], [], []
    for width in WIDTHS:
        for batch in BATCHES:
            models = [_train(width, batch, seed, *train) for seed in (0, 1)]
            groups.append(ModelGroup(models, train, val, metadata={"batch_size": batch}))
            with torch.no_grad():
                errs = [100 * (m(val[0]).argmax(1) != val[1]).float().mean().item()
                        for m in models]
            val_error.append(np.mean(errs))
            keys.append((width, batch))
    frame = pd.DataFrame(keys, columns=["width", "bs"]).assign(test_error=val_error)
    # Q1 label from the zoo's own grid: a batch larger than the width's best batch means
    # the temperature is too low ("small"), a smaller one too high ("large")
    best_batch = frame.loc[frame.groupby("width").test_error.idxmin()].set_index("width").bs
    label = np.where(frame.bs > frame.width.map(best_batch), "small", "large")
    return groups, label


@pytest.fixture(scope="module")
def features(zoo):
    groups, _ = zoo
    featurizer = LossLandscapeFeaturizer(curve_epochs=2, trace_matvecs=20, random_state=0,
                                         verbose=0)
    return featurizer.set_output(transform="pandas").fit_transform(groups)


def test_featurizer_rows_feed_the_md_tree(zoo, features):
    groups, y = zoo
    assert list(features.columns) == ["train_error", "mode_connectivity_peak", "hessian_t", "CKA"]
    assert len(features) == len(groups)
    assert np.isfinite(features.to_numpy()).all()
    clf = MDTreeClassifier("q1", bounds="data", threshold_search="exhaustive").fit(features, y)
    assert set(clf.predict(features)) <= {"small", "large"}
    assert clf.score(features, y) >= 0.5


def test_pipeline_from_models_to_diagnosis(zoo):
    groups, y = zoo
    pipe = make_pipeline(
        LossLandscapeFeaturizer(curve_epochs=1, trace_matvecs=10, random_state=0, verbose=0),
        MDTreeClassifier("q1", bounds="data"),
    ).set_output(transform="pandas")
    pipe.fit(groups, y)
    assert pipe.predict(groups).shape == (len(groups),)
    assert "train_error" in pipe[-1].export_text()


def test_cross_val_score_against_decision_tree(zoo, features):
    """Compared with DecisionTreeClassifier through cross_val_score, on the same rows."""
    _, y = zoo
    cv = KFold(2, shuffle=True, random_state=0)
    md = cross_val_score(MDTreeClassifier("q1", bounds="data"), features, y, cv=cv)
    dt = cross_val_score(DecisionTreeClassifier(max_depth=4, random_state=0), features, y, cv=cv)
    assert md.shape == dt.shape == (2,)
    assert ((0 <= md) & (md <= 1)).all()


def test_plain_array_pipeline_names_the_fix(zoo):
    groups, y = zoo
    pipe = make_pipeline(
        LossLandscapeFeaturizer(curve_epochs=0, trace_matvecs=5, random_state=0, verbose=0),
        MDTreeClassifier("q1"),
    )
    with pytest.raises(TypeError, match="set_output"):
        pipe.fit(groups[:2], y[:2])
