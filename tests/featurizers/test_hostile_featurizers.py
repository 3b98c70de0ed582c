"""Models, data and losses of the wrong form: errors that name the problem and the fix,
or the same rows as with the expected form (issue 13's adversarial pass, torch side)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torch_helpers import PairDataset, digits_mlp, digits_tensors, train  # noqa: E402

from featurizers import (  # noqa: E402
    FeaturizationWarning,
    HyperparameterFeaturizer,
    LossLandscapeFeaturizer,
    ModelGroup,
    ValidationFeaturizer,
    evaluate_model,
    fit_bend,
    mixup_batches,
    output_cka,
)

ALL = ["train_error", "train_loss", "hessian_t", "hessian_e",
       "mode_connectivity_peak", "mode_connectivity", "CKA"]
FAST = dict(curve_epochs=1, trace_matvecs=4, random_state=0, verbose=0)


@pytest.fixture(scope="module")
def data():
    X, y = digits_tensors()
    return X[:150], y[:150]


@pytest.fixture(scope="module")
def models(data):
    out = []
    for seed in range(2):
        torch.manual_seed(seed)
        out.append(train(digits_mlp(6), data, steps=20, seed=seed))
    return out


class Wrapped(torch.nn.Module):
    """Returns the logits of ``inner`` inside a tuple or a dict."""

    def __init__(self, inner, form):
        super().__init__()
        self.inner, self.form = inner, form

    def forward(self, x):
        out = self.inner(x)
        return (out, x) if self.form == "tuple" else {"logits": out}


class NoParameters(torch.nn.Module):
    def forward(self, x):
        return x[:, :10]


def _featurizers():
    return [ValidationFeaturizer(["train_error", "train_loss"], verbose=0),
            LossLandscapeFeaturizer(ALL, **FAST)]


# -- models returning a tuple or a dict ---------------------------------------------------

@pytest.mark.parametrize("form, fix", [("tuple", r"out\[0\]"), ("dict", r"out\['logits'\]")])
def test_models_returning_a_tuple_or_a_dict(models, data, form, fix):
    wrapped = [Wrapped(m, form) for m in models]
    group = ModelGroup(wrapped, data)
    message = f"Models must return one tensor of .* logits.*got a {form}.*{fix}"
    for featurizer in _featurizers():
        with pytest.raises(TypeError, match=message):
            featurizer.transform([group])
    with pytest.raises(TypeError, match=message):
        evaluate_model(wrapped[0], data)
    batches = mixup_batches(data[0], n_batches=1, batch_size=16, random_state=0)
    with pytest.raises(TypeError, match=message):
        output_cka(wrapped[0], wrapped[1], batches)
    with pytest.raises(TypeError, match=message):
        fit_bend(wrapped[0], wrapped[1], data, epochs=1, random_state=0)


# -- integer inputs, labels of other integer dtypes or shapes ----------------------------

def test_integer_input_tensors_name_the_conversion(models, data):
    X, y = data
    group = ModelGroup(models, ((X * 16).long(), y))
    for featurizer in _featurizers():
        with pytest.raises(TypeError, match=r"inputs of dtype torch.int64.*X.float\(\)"):
            featurizer.transform([group])
    with pytest.raises(TypeError, match=r"inputs of dtype torch.int64.*X.float\(\)"):
        evaluate_model(models[0], ((X * 16).long(), y))


def test_integer_inputs_still_work_for_models_that_take_them(data):
    X, y = data
    embed = torch.nn.Sequential(torch.nn.Embedding(17, 3), torch.nn.Flatten(),
                                torch.nn.Linear(64 * 3, 10))
    error, loss = evaluate_model(embed, ((X * 16).long(), y))
    assert 0 <= error <= 100 and np.isfinite(loss)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8, torch.int8])
def test_labels_of_other_integer_dtypes_give_the_same_rows(models, data, dtype):
    X, y = data
    reference = ModelGroup(models, (X, y))
    other = ModelGroup(models, (X, y.to(dtype)))
    dataset = ModelGroup(models, PairDataset(X, y.to(dtype)))
    for featurizer in _featurizers():
        expected = featurizer.transform([reference])
        np.testing.assert_array_equal(featurizer.transform([other]), expected)
        np.testing.assert_array_equal(featurizer.transform([dataset]), expected)
    assert y.dtype == torch.int64 and other.train_data[1].dtype == dtype  # untouched


class ColumnLabels(torch.utils.data.Dataset):
    """Labels as tensors of shape (1,): batches of labels of shape (n, 1)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i : i + 1]


def test_labels_of_shape_n_1_are_refused_with_the_fix(models, data):
    X, y = data
    with pytest.raises(ValueError, match=r"labels has shape \(150, 1\)\. Pass y.squeeze\(1\)"):
        ModelGroup(models, (X, y[:, None]))
    with pytest.raises(ValueError, match=r"one-hot"):
        ModelGroup(models, (X, torch.nn.functional.one_hot(y, 10)))
    group = ModelGroup(models, ColumnLabels(X, y))
    for featurizer in _featurizers():
        with pytest.raises(ValueError, match=r"shape \(\d+, 1\)\. Pass y.squeeze\(1\)"):
            featurizer.transform([group])


def test_zero_dimensional_data_is_refused(models):
    with pytest.raises(ValueError, match="1-d tensor of class indices"):
        ModelGroup(models, (torch.zeros(3, 64), torch.tensor(1)))
    with pytest.raises(ValueError, match="0-d tensor"):
        ModelGroup(models, (torch.tensor(1.0), torch.zeros(1, dtype=torch.long)))


# -- losses that are not a batch mean -------------------------------------------------------

@pytest.mark.parametrize("reduction", ["none"])
def test_a_loss_with_reduction_none_names_the_fix(models, data, reduction):
    loss = torch.nn.CrossEntropyLoss(reduction=reduction)
    group = ModelGroup(models, data)
    message = r"mean loss of a batch as a 0-d tensor.*shape \(\d+,\).*reduction='mean'"
    for featurizer in _featurizers():
        with pytest.raises(ValueError, match=message):
            featurizer.set_params(loss_fn=loss).transform([group])
    with pytest.raises(ValueError, match=message):
        evaluate_model(models[0], data, loss_fn=loss)
    with pytest.raises(ValueError, match=message):
        fit_bend(models[0], models[1], data, epochs=1, loss_fn=loss, random_state=0)


def test_a_loss_returning_a_float_names_the_fix(models, data):
    group = ModelGroup(models, data)
    featurizer = LossLandscapeFeaturizer(["hessian_t"], **FAST,
                                         loss_fn=lambda out, y: 1.0)
    with pytest.raises(ValueError, match="0-d tensor.*got a float"):
        featurizer.transform([group])


# -- models without parameters ----------------------------------------------------------

def test_models_without_parameters(data):
    group = ModelGroup([NoParameters(), NoParameters()], data)
    with pytest.raises(ValueError, match="no floating-point parameters.*log_para_amount"):
        HyperparameterFeaturizer().transform([group])
    np.testing.assert_array_equal(  # log_data_amount alone needs none
        HyperparameterFeaturizer(["log_data_amount"]).transform([group]), [[np.log(150)]]
    )
    for features in (["hessian_t"], ["hessian_e"], ["mode_connectivity_peak"]):
        with pytest.raises(ValueError, match="no floating-point parameters"):
            LossLandscapeFeaturizer(features, **FAST).transform([group])
    # errors and CKA of a fixed function need none
    rows = LossLandscapeFeaturizer(["train_error", "CKA"], **FAST).transform([group])
    assert np.isfinite(rows).all()
    with pytest.raises(ValueError, match="fit_bend needs models with parameters"):
        fit_bend(NoParameters(), NoParameters(), data, epochs=1, random_state=0)


# -- the same model twice (found by the second adversarial pass) ---------------------------

def test_the_same_model_twice_is_warned_about_for_pairwise_features(models, data):
    # it gave CKA = 1 and the connectivity of a curve between one point and itself, silently
    import copy
    import warnings

    for twins in ([models[0], models[0]], [models[0], copy.deepcopy(models[0])],
                  [models[0], models[1], copy.deepcopy(models[1])]):
        group = ModelGroup(twins, data)
        for features in (["CKA"], ["mode_connectivity_peak"]):
            with pytest.warns(FeaturizationWarning, match="identical weights .*given twice"):
                LossLandscapeFeaturizer(features, **FAST).transform([group])
        with warnings.catch_warnings():  # features of one model at a time compare none
            warnings.simplefilter("error")
            rows = LossLandscapeFeaturizer(["train_error"], **FAST).transform([group])
        assert np.isfinite(rows).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LossLandscapeFeaturizer(["CKA"], **FAST).transform([ModelGroup(models, data)])


def test_a_group_of_a_slice_pickles_its_own_data_not_the_pool(models, data):
    # a task shipped the whole storage a training prefix views (the zoo's digits pool)
    import pickle

    pool_X, pool_y = torch.cat([data[0]] * 20), torch.cat([data[1]] * 20)
    group = ModelGroup(models, (pool_X[:150], pool_y[:150]), (pool_X[150:300], pool_y[150:300]))
    payload = pickle.dumps(group)
    assert len(payload) < pool_X.untyped_storage().nbytes() / 5
    copy = pickle.loads(payload)
    for a, b in zip(copy.train_data + copy.val_data, group.train_data + group.val_data):
        assert torch.equal(a, b)
    assert group.train_data[0].untyped_storage().nbytes() == pool_X.untyped_storage().nbytes()
    featurizer = LossLandscapeFeaturizer(["train_error", "CKA", "hessian_t"], **FAST)
    np.testing.assert_array_equal(featurizer.transform([copy]), featurizer.transform([group]))
