"""Tests of featurizers/_groups.py: ModelGroup and the data forms it accepts."""

import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader, IterableDataset, TensorDataset  # noqa: E402

from _torch_helpers import PairDataset  # noqa: E402

from featurizers import ModelGroup  # noqa: E402
from featurizers._groups import _Data  # noqa: E402


def mlp(width=8, n_in=4, n_out=3):
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, width), torch.nn.Tanh(), torch.nn.Linear(width, n_out)
    )


@pytest.fixture
def tensors():
    g = torch.Generator().manual_seed(0)
    return torch.randn(30, 4, generator=g), torch.randint(0, 3, (30,), generator=g)


class Stream(IterableDataset):
    def __iter__(self):
        yield torch.zeros(4), 0


DATA_FORMS = {
    "tuple": lambda X, y: (X, y),
    "tensor-dataset": lambda X, y: TensorDataset(X, y),
    "dataset": lambda X, y: PairDataset(X, y),
    "dataloader": lambda X, y: DataLoader(PairDataset(X, y), batch_size=7, shuffle=True),
}


@pytest.mark.parametrize("form", DATA_FORMS.values(), ids=DATA_FORMS.keys())
def test_data_forms_read_the_same_samples(form, tensors):
    X, y = tensors
    data = _Data(form(X, y))
    assert len(data) == 30
    Xb, yb = data.take([3, 1, 4])
    torch.testing.assert_close(Xb, X[[3, 1, 4]])
    torch.testing.assert_close(yb, y[[3, 1, 4]])
    batches = list(data.batches(8))
    assert [len(b[1]) for b in batches] == [8, 8, 8, 6]
    torch.testing.assert_close(torch.cat([b[0] for b in batches]), X)
    assert data.label_range() == (int(y.min()), int(y.max()))
    torch.testing.assert_close(data.inputs(), X)


def test_shuffled_batches_and_samples_follow_the_generator(tensors):
    data = _Data(tensors)
    a = [yb for _, yb in data.batches(8, shuffle=True, generator=torch.Generator().manual_seed(1))]
    b = [yb for _, yb in data.batches(8, shuffle=True, generator=torch.Generator().manual_seed(1))]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert sorted(torch.cat(a).tolist()) == sorted(tensors[1].tolist())
    Xs, ys = data.sample(100, generator=torch.Generator().manual_seed(0))
    assert len(ys) == 30  # capped at the data size, without replacement


def test_dataloader_collate_fn_is_used(tensors):
    def collate(items):
        xs, ys = zip(*items)
        return torch.stack(xs) * 0, torch.tensor(ys)

    data = _Data(DataLoader(PairDataset(*tensors), collate_fn=collate))
    X, _ = data.take([0, 1])
    assert torch.count_nonzero(X) == 0


def test_group_attributes_and_repr(tensors):
    models = [mlp(), mlp()]
    meta = {"data_amount": 600}
    group = ModelGroup(models, tensors, tensors, metadata=meta, name="w8")
    meta["data_amount"] = 1  # the group keeps its own copy
    assert group.metadata == {"data_amount": 600}
    assert group.models == models and group.models[0] is models[0]
    assert group.n_models == 2
    assert group.n_train_samples == 30
    assert group.n_parameters == 4 * 8 + 8 + 8 * 3 + 3
    assert repr(group) == (
        "ModelGroup(name='w8', n_models=2, n_train_samples=30, n_val_samples=30, "
        "metadata={'data_amount': 600})"
    )
    assert group._label(3) == "group 'w8' (index 3)"
    assert ModelGroup(models, tensors)._label(3) == "group 3"


def test_one_model_is_a_valid_group(tensors):
    assert ModelGroup([mlp()], tensors).n_models == 1


@pytest.mark.parametrize(
    "models, error, match",
    [
        ([], ValueError, "at least one model"),
        ("not models", TypeError, "sequence"),
        ([mlp(), "x"], TypeError, "model 1 is a str"),
        ([mlp(8), mlp(16)], ValueError, r"'0.weight' of model 1 has \(shape, dtype\)"),
        ([mlp(), torch.nn.Linear(4, 3)], ValueError, "model 1 is a Linear"),
        (
            [
                torch.nn.Sequential(torch.nn.Linear(4, 3)),
                torch.nn.Sequential(torch.nn.Linear(4, 3, bias=False)),
            ],
            ValueError,
            "'0.bias' of model 1",
        ),
    ],
    ids=["empty", "string", "not-a-module", "other-width", "other-class", "missing-bias"],
)
def test_bad_models(models, error, match, tensors):
    with pytest.raises(error, match=match):
        ModelGroup(models, tensors)


def test_a_single_module_is_not_a_list(tensors):
    with pytest.raises(TypeError, match="sequence"):
        ModelGroup(mlp(), tensors)


@pytest.mark.parametrize(
    "data, error, match",
    [
        ((torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)), ValueError, "data is empty"),
        (TensorDataset(torch.zeros(0, 4), torch.zeros(0)), ValueError, "empty"),
        ((torch.zeros(5, 4), torch.zeros(4, dtype=torch.long)), ValueError, r"len\(X\)=5 and"),
        (([[0.0] * 4], [0]), TypeError, "torch.as_tensor"),
        ((torch.zeros(5, 4),), TypeError, "tuple \\(X, y\\)"),
        (Stream(), TypeError, "IterableDataset"),
        ("data.csv", TypeError, "got str"),
    ],
    ids=[
        "empty-tuple", "empty-dataset", "length-mismatch", "lists", "one-tensor", "iterable", "path"
    ],
)
def test_bad_train_data(data, error, match):
    with pytest.raises(error, match=match):
        ModelGroup([mlp()], data)


def test_empty_validation_data_is_named(tensors):
    with pytest.raises(ValueError, match="validation data is empty"):
        ModelGroup([mlp()], tensors, (torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)))


def test_float_labels_are_refused_when_read(tensors):
    data = _Data((tensors[0], tensors[1].float()))
    with pytest.raises(TypeError, match="integer class indices; got dtype torch.float32"):
        data.label_range()


def test_metadata_must_be_a_mapping(tensors):
    with pytest.raises(TypeError, match="metadata must be a dict"):
        ModelGroup([mlp()], tensors, metadata=[("data_amount", 3)])
