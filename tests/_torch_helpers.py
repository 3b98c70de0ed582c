"""Helpers shared by the tests of ``featurizers``: tiny models, training, a state hash.

A plain module, imported by the test files as ``from _torch_helpers import ...``
(pytest puts ``tests/`` on ``sys.path``, which has no ``__init__.py``). Import it
after ``pytest.importorskip("torch")``: it needs torch.
"""

import hashlib

import torch
from sklearn.datasets import load_digits
from torch.utils.data import Dataset


def digits_tensors():
    """The 1,797 8x8 digits of scikit-learn: float32 inputs in [0, 1] and labels."""
    X, y = load_digits(return_X_y=True)
    return torch.tensor(X / 16, dtype=torch.float32), torch.tensor(y)


def digits_mlp(width, dropout=0.0):
    """Linear -> Tanh -> (Dropout) -> Linear, from 64 pixels to 10 classes."""
    layers = [torch.nn.Linear(64, width), torch.nn.Tanh()]
    if dropout:
        layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))


class TinyCNN(torch.nn.Module):
    """Conv -> BatchNorm -> ReLU -> (dropout) -> pool -> linear, on 1x8x8 digits."""

    def __init__(self, channels=4, dropout=0.0):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, channels, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(channels)
        self.drop = torch.nn.Dropout(dropout) if dropout else torch.nn.Identity()
        self.fc = torch.nn.Linear(channels * 16, 10)

    def forward(self, x):
        x = self.drop(torch.relu(self.bn(self.conv(x.reshape(-1, 1, 8, 8)))))
        return self.fc(torch.nn.functional.max_pool2d(x, 2).flatten(1))


def sgd(params):
    """The default optimizer of :func:`train`: SGD, lr 0.1, momentum 0.9."""
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def train(model, data, steps=100, *, seed=0, batch_size=32, optimizer=sgd):
    """Train ``model`` in place with cross-entropy; return it in eval mode, no grads.

    Each of the ``steps`` steps uses ``batch_size`` samples drawn with replacement
    from a generator seeded by ``seed`` (the whole data when ``batch_size`` is
    None). ``optimizer(params)`` builds the optimizer. Dropout draws from torch's
    global generator: seed it before calling for reproducible models.
    """
    X, y = data
    generator = torch.Generator().manual_seed(seed)
    opt = optimizer(model.parameters())
    model.train()
    for _ in range(steps):
        if batch_size is None:
            xb, yb = X, y
        else:
            idx = torch.randint(0, len(X), (batch_size,), generator=generator)
            xb, yb = X[idx], y[idx]
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        p.grad = None
    return model.eval()


class PairDataset(Dataset):
    """A plain map-style dataset of ``(x, int label)`` pairs."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], int(self.y[i])


def state_hash(*models):
    """Hash of everything the featurizers must not change in ``models``.

    Parameter values, ``requires_grad`` flags and gradients, buffers (BatchNorm
    statistics, persistent or not) and every submodule's train/eval flag.
    """
    h = hashlib.sha256()
    for model in models:
        for name, p in model.named_parameters():
            h.update(name.encode())
            h.update(p.detach().cpu().numpy().tobytes())
            h.update(str(p.requires_grad).encode())
            h.update(b"nograd" if p.grad is None else p.grad.cpu().numpy().tobytes())
        for name, b in model.named_buffers():
            h.update(name.encode())
            h.update(b.cpu().numpy().tobytes())
        for name, m in model.named_modules():
            h.update(f"{name}:{m.training}".encode())
    return h.hexdigest()


class CountsCalls(torch.nn.Module):
    """A linear layer that updates a buffer in every forward, whatever its mode."""

    def __init__(self, n_in=4, n_out=3, dtype=torch.float32):
        super().__init__()
        self.linear = torch.nn.Linear(n_in, n_out, dtype=dtype)
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        self.calls += 1
        return self.linear(x)


class PidWarningLoss:
    """Cross-entropy that warns with the id of the process computing it.

    A module-level class, so that joblib workers can unpickle it: the ``n_jobs``
    tests tell from its warnings that workers computed the groups, and that
    their warnings came back.
    """

    def __call__(self, logits, labels):
        import os
        import warnings

        warnings.warn(f"loss computed in process {os.getpid()}", UserWarning)
        return torch.nn.functional.cross_entropy(logits, labels)


class NegatedLoss:
    """Minus the cross-entropy: a negative Hessian trace, computed in any process."""

    def __call__(self, logits, labels):
        return -torch.nn.functional.cross_entropy(logits, labels)
