"""The two training paths of a zoo: many models as one vectorised network, or one at a time.

Both run the same recipe: SGD with momentum on the mean cross-entropy of a batch,
for a fixed number of steps, each step's batch given by a precomputed schedule of
indices (:func:`batch_schedule`), so that a model's weights depend only on its
initialisation, its data, its schedule and its learning rate -- not on the path.

The vectorised path (:func:`train_stacked`) stacks the parameters of models of one
architecture and runs them as one network: one forward and one backward pass per
step for all of them (batched matrix products for MLPs, :func:`torch.vmap` for
other architectures). It needs models without buffers (BatchNorm statistics) and without random
layers (dropout); :func:`train_one` trains anything else, one model at a time.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch.func import functional_call

__all__ = ["batch_schedule", "can_stack", "momentum_step", "train_one", "train_stacked"]


def batch_schedule(n_samples, batch_size, steps, seed):
    """Indices of every step's batch: ``(steps, batch_size)``, drawn with replacement.

    Parameters
    ----------
    n_samples : int
        Training-set size; indices are in ``[0, n_samples)``.
    batch_size, steps : int
    seed : int
        Seed of a private ``torch.Generator`` (the global RNG is not touched).

    Returns
    -------
    Tensor of int64, shape (steps, batch_size)

    Examples
    --------
    >>> import torch
    >>> from featurizers.zoo import batch_schedule
    >>> schedule = batch_schedule(100, batch_size=8, steps=5, seed=0)
    >>> tuple(schedule.shape), schedule.dtype, bool(schedule.max() < 100)
    ((5, 8), torch.int64, True)
    >>> bool(torch.equal(schedule, batch_schedule(100, 8, 5, seed=0)))
    True
    """
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randint(0, int(n_samples), (int(steps), int(batch_size)), generator=generator)


def can_stack(model):
    """Whether ``model`` can train in the vectorised path: no buffers, no dropout.

    Examples
    --------
    >>> import torch
    >>> from featurizers.zoo import can_stack
    >>> can_stack(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()))
    True
    >>> can_stack(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5)))
    False
    >>> can_stack(torch.nn.BatchNorm1d(3))
    False
    """
    if any(True for _ in model.buffers()):
        return False
    return not any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in model.modules())


def train_one(model, X, y, schedule, *, lr, momentum=0.9, seed=0):
    """Train ``model`` in place by SGD on the batches of ``schedule``; return it in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (train mode during training, eval mode after; no gradients
        left).
    X, y : Tensor
        Inputs and integer labels; ``schedule`` indexes them.
    schedule : Tensor of shape (steps, batch_size)
        From :func:`batch_schedule`.
    lr, momentum : float
        SGD settings (``torch.optim.SGD``, no weight decay, no dampening).
    seed : int, default=0
        Seeds torch's global RNG, forked, for random layers (dropout).

    Returns
    -------
    model : torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from featurizers.zoo import batch_schedule, train_one
    >>> X = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    >>> y = (X[:, 0] > 0).long()
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 2))
    >>> model = train_one(model, X, y, batch_schedule(20, 4, steps=3, seed=0), lr=0.1)
    >>> model.training, model(X).shape
    (False, torch.Size([20, 2]))
    """
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model.train()
        for idx in schedule:
            loss = F.cross_entropy(model(X[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    for p in model.parameters():
        p.grad = None
    return model.eval()


_ELEMENTWISE = (
    torch.nn.Tanh, torch.nn.ReLU, torch.nn.Sigmoid, torch.nn.GELU, torch.nn.SiLU,
    torch.nn.ELU, torch.nn.LeakyReLU, torch.nn.Softplus, torch.nn.Identity,
)


def _is_linear_stack(model):
    """A ``Sequential`` of ``Linear`` layers and elementwise activations only."""
    return isinstance(model, torch.nn.Sequential) and all(
        isinstance(m, (torch.nn.Linear, *_ELEMENTWISE)) for m in model
    )


def _linear_stack_forward(model, tensors, x):
    """Forward of a stacked linear stack: one batched matmul per layer."""
    it = iter(tensors)
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            weight = next(it)
            bias = next(it) if layer.bias is not None else None
            if bias is None:
                x = torch.bmm(x, weight.transpose(1, 2))
            else:
                x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
        else:
            x = layer(x)
    return x


def momentum_step(tensors, grads, velocity, momentum, lrs):
    """One step of momentum SGD on stacked tensors, in place (``torch.optim.SGD``'s
    update without dampening or weight decay: ``v = momentum * v + g``, ``t -= lr * v``).

    Parameters
    ----------
    tensors : list of torch.Tensor
        The parameters, updated in place.
    grads : sequence of torch.Tensor
        Their gradients.
    velocity : list of torch.Tensor or None
        The velocities of the previous step (None at the first: ``v = g``).
    momentum : float
    lrs : sequence of float or torch.Tensor
        Per tensor, its learning rate (a tensor broadcasting against it gives each
        stacked model its own).

    Returns
    -------
    velocity : list of torch.Tensor
        The velocities to pass to the next step.
    """
    with torch.no_grad():
        if velocity is None:
            velocity = [g.clone() for g in grads]
        else:
            torch._foreach_mul_(velocity, momentum)
            torch._foreach_add_(velocity, grads)
        for t, v, lr in zip(tensors, velocity, lrs):
            t.sub_(lr * v)
    return velocity


def train_stacked(models, X, labels, schedules, *, lrs, momentum=0.9):
    """Train models of one architecture at once, as one vectorised network.

    Model ``m`` sees the batches ``X[schedules[m, s]]`` with labels
    ``labels[m, schedules[m, s]]``: models may differ in their labels (label
    noise), their training-set size (their schedule's range) and their
    learning rate, but share the batch size, the number of steps and ``X``. The
    result equals :func:`train_one` of each model to float tolerance (the
    reductions are the same, their order may differ; SGD on these networks is
    chaotic, so that differences of 1e-7 grow over thousands of steps).

    A ``Sequential`` of ``Linear`` layers and elementwise activations runs as
    one batched matrix product per layer (``torch.bmm``); any other model
    through :func:`torch.func.functional_call` under :func:`torch.vmap`.

    Parameters
    ----------
    models : list of torch.nn.Module
        Of one architecture, without buffers or random layers (:func:`can_stack`).
        Their weights are replaced by the trained ones; they are returned in eval
        mode.
    X : Tensor of shape (n_samples, ...)
        The inputs all models index.
    labels : Tensor of int64, shape (n_models, n_samples)
        Each model's labels.
    schedules : Tensor of int64, shape (n_models, steps, batch_size)
    lrs : sequence of float
        Each model's learning rate.
    momentum : float, default=0.9

    Returns
    -------
    models : list of torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from featurizers.zoo import batch_schedule, train_one, train_stacked
    >>> X = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    >>> y = (X[:, 0] > 0).long()
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> models = [torch.nn.Sequential(torch.nn.Linear(4, 2)) for _ in range(3)]
    >>> copies = [torch.nn.Sequential(torch.nn.Linear(4, 2)) for _ in range(3)]
    >>> for m, c in zip(models, copies):
    ...     _ = c.load_state_dict(m.state_dict())
    >>> schedules = torch.stack([batch_schedule(20, 4, steps=3, seed=s) for s in range(3)])
    >>> models = train_stacked(models, X, y.expand(3, -1), schedules, lrs=[0.1, 0.1, 0.05])
    >>> one = train_one(copies[2], X, y, schedules[2], lr=0.05)
    >>> torch.allclose(models[2](X), one(X), atol=1e-5)
    True
    """
    n_models = len(models)
    names = [name for name, _ in models[0].named_parameters()]
    tensors = [
        torch.stack([dict(m.named_parameters())[n].detach() for m in models]).requires_grad_(True)
        for n in names
    ]
    lr = torch.as_tensor(list(lrs), dtype=tensors[0].dtype)
    lr_views = [lr.view(n_models, *([1] * (t.ndim - 1))) for t in tensors]
    if _is_linear_stack(models[0]):
        template = models[0]

        def batched(flat, x):
            return _linear_stack_forward(template, flat, x)
    else:
        base = copy.deepcopy(models[0]).to("meta").train()

        def forward(flat, x):
            return functional_call(base, dict(zip(names, flat)), (x,))

        batched = torch.vmap(forward, in_dims=(0, 0), randomness="error")
    velocity = None
    rows = torch.arange(n_models).unsqueeze(1)
    for step in range(schedules.shape[1]):
        idx = schedules[:, step]  # (n_models, batch_size)
        out = batched(tensors, X[idx])
        n_classes = out.shape[-1]
        per_sample = F.cross_entropy(
            out.reshape(-1, n_classes), labels[rows, idx].reshape(-1), reduction="none"
        )
        loss = per_sample.view(n_models, -1).mean(dim=1).sum()
        grads = torch.autograd.grad(loss, tensors)
        velocity = momentum_step(tensors, grads, velocity, momentum, lr_views)
    with torch.no_grad():
        for m, model in enumerate(models):
            own = dict(model.named_parameters())
            for name, t in zip(names, tensors):
                own[name].copy_(t[m])
            model.eval()
    return models
