"""Tiny networks with their exact dense Hessians, shared by the tests of featurizers.hessian."""

import numpy as np
import torch
from _torch_helpers import train

DTYPE = torch.float64


def _train(model, x, y):
    """30 full-batch Adam steps, so that the Hessian has a trained network's spectrum."""
    torch.manual_seed(0)
    return train(
        model, (x, y), 30, batch_size=None, optimizer=lambda p: torch.optim.Adam(p, lr=0.03)
    )


def _mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)
    ).to(DTYPE)
    x = torch.randn(16, 4, dtype=DTYPE)
    y = torch.randint(0, 3, (16,))
    return _train(model, x, y), x, y


def _cnn(dropout=0.0):
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3),
        torch.nn.BatchNorm2d(3),
        torch.nn.ReLU(),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(12, 3),
    ).to(DTYPE)
    # Non-trivial BatchNorm statistics and affine parameters.
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.2, 0.2)
    x = torch.randn(16, 2, 6, 6, dtype=DTYPE)
    y = torch.randint(0, 3, (16,))
    return _train(model, x, y), x, y


CASES = {"mlp": _mlp, "cnn_bn": _cnn}
LOSS = torch.nn.CrossEntropyLoss()


def _dense_hessian(model, x, y):
    """Exact Hessian over all floating parameters, model in eval mode."""
    names = [n for n, p in model.named_parameters()]
    params = [p.detach() for p in model.parameters()]
    shapes = [p.shape for p in params]
    numels = [p.numel() for p in params]
    flat = torch.cat([p.reshape(-1) for p in params])
    was_training = model.training
    model.eval()

    def loss_of(flat):
        chunks = flat.split(numels)
        values = {n: c.view(s) for n, c, s in zip(names, chunks, shapes)}
        return LOSS(torch.func.functional_call(model, values, (x,)), y)

    H = torch.func.hessian(loss_of)(flat)
    model.train(was_training)
    H = H.numpy()
    return (H + H.T) / 2


def _top_dense(H):
    eigvals = np.linalg.eigvalsh(H)
    return eigvals[np.argmax(np.abs(eigvals))]
