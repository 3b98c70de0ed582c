"""Tests of featurizers.zoo._train: the vectorised path against one model at a time."""

import copy

import pytest

torch = pytest.importorskip("torch")

from _torch_helpers import TinyCNN, digits_mlp  # noqa: E402

from featurizers.zoo import batch_schedule, can_stack, train_one, train_stacked  # noqa: E402


class Residual(torch.nn.Module):
    """Not a Sequential: trained through torch.func under vmap."""

    def __init__(self, width=8):
        super().__init__()
        self.inp = torch.nn.Linear(64, width)
        self.hidden = torch.nn.Linear(width, width)
        self.out = torch.nn.Linear(width, 10)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        return self.out(h + torch.tanh(self.hidden(h)))


def _mlp(width):
    return torch.nn.Sequential(
        torch.nn.Linear(64, width), torch.nn.Tanh(), torch.nn.Linear(width, width),
        torch.nn.Tanh(), torch.nn.Linear(width, 10),
    )


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(120, 64, generator=g)
    y = torch.randint(0, 10, (120,), generator=g)
    return X, y


def test_batch_schedule_is_seeded_and_in_range():
    a = batch_schedule(50, 8, 30, seed=3)
    assert a.shape == (30, 8) and a.dtype == torch.int64
    assert int(a.min()) >= 0 and int(a.max()) < 50
    assert torch.equal(a, batch_schedule(50, 8, 30, seed=3))
    assert not torch.equal(a, batch_schedule(50, 8, 30, seed=4))


@pytest.mark.parametrize("build", [_mlp, Residual], ids=["mlp-bmm", "module-vmap"])
def test_stacked_equals_one_at_a_time(data, build):
    X, y = data
    n_models, steps = 4, 25
    models = []
    for seed in range(n_models):
        torch.manual_seed(seed)
        models.append(build(8))
    reference = copy.deepcopy(models)
    initial = copy.deepcopy(models)
    # models differ in labels, training-set size and learning rate
    labels = torch.stack([y, (y + 1) % 10, y, (y + 3) % 10])
    sizes, lrs = [120, 60, 120, 30], [0.1, 0.1, 0.05, 0.2]
    schedules = torch.stack([batch_schedule(n, 16, steps, s) for s, n in enumerate(sizes)])
    train_stacked(models, X, labels, schedules, lrs=lrs, momentum=0.9)
    for m, model in enumerate(reference):
        train_one(model, X, labels[m], schedules[m], lr=lrs[m], momentum=0.9)
    for m, (a, b, c) in enumerate(zip(models, reference, initial)):
        assert not a.training and not b.training
        for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
            torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6, msg=f"model {m} {name}")
            assert pa.grad is None and pb.grad is None
            assert not torch.equal(pa, pc)  # trained


def test_training_moves_weights_and_learns(data):
    X, y = data
    torch.manual_seed(0)
    model = _mlp(16)
    before = copy.deepcopy(model)
    train_one(model, X, y, batch_schedule(120, 16, 200, 0), lr=0.1)
    assert any(not torch.equal(a, b) for a, b in zip(model.parameters(), before.parameters()))
    with torch.no_grad():
        acc = float((model(X).argmax(1) == y).float().mean())
    assert acc > 0.5  # random labels, memorised in part


def test_can_stack():
    assert can_stack(_mlp(4)) and can_stack(Residual())
    assert not can_stack(TinyCNN())  # BatchNorm buffers
    assert not can_stack(digits_mlp(4, dropout=0.2))


def test_one_at_a_time_trains_batchnorm_models(data):
    X, y = data
    torch.manual_seed(0)
    cnn = TinyCNN()
    train_one(cnn, X, y, batch_schedule(120, 16, 5, 0), lr=0.05)
    assert not cnn.training and int(cnn.bn.num_batches_tracked) == 5
