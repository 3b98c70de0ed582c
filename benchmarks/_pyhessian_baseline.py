"""A PyHessian-style Hessian class, the baseline of ``bench_hessian``.

Written for the benchmark after the structure of ``pyhessian.hessian`` (Yao et al.,
"PyHessian: Neural Networks Through the Lens of the Hessian", 2020): the model is put
in eval mode, the gradient of the loss on one batch is built once with
``create_graph=True`` and cached, and each Hessian-vector product is
``torch.autograd.grad(gradsH, params, grad_outputs=v)`` over lists of tensors. The
trace is Hutchinson's method with PyHessian's adaptive stopping rule and the top
eigenvalue power iteration with its stopping rule.

Two deliberate differences from PyHessian: the gradient is taken with
``torch.autograd.grad`` rather than ``loss.backward(create_graph=True)`` (same cost,
but it neither fills ``.grad`` nor creates a reference cycle), and random numbers come
from an explicit ``torch.Generator`` rather than the global one.
"""

import torch


def _group_product(xs, ys):
    return sum(torch.sum(x * y) for x, y in zip(xs, ys))


def _normalization(vs):
    norm = torch.sqrt(_group_product(vs, vs))
    return [v / (norm + 1e-6) for v in vs]


class PyHessianBaseline:
    """Hessian of the loss of ``model`` on one batch, PyHessian style.

    Parameters
    ----------
    model : torch.nn.Module
        Put in eval mode (and left so, as PyHessian does).
    criterion : callable
        ``criterion(outputs, targets)``, the mean loss.
    inputs, targets : torch.Tensor
        The batch.
    """

    def __init__(self, model, criterion, inputs, targets):
        model.eval()
        self.params = [p for p in model.parameters() if p.requires_grad]
        loss = criterion(model(inputs), targets)
        self.gradsH = torch.autograd.grad(loss, self.params, create_graph=True)
        self.num_matvecs = 0

    def hv(self, v):
        """Hessian-vector product for a list of tensors shaped like the parameters."""
        self.num_matvecs += 1
        return torch.autograd.grad(
            self.gradsH, self.params, grad_outputs=v, only_inputs=True, retain_graph=True
        )

    def trace(self, max_iter=100, tol=1e-3, generator=None):
        """Hutchinson samples with PyHessian's adaptive rule; their mean is the trace."""
        trace_vhv = []
        trace = 0.0
        for _ in range(max_iter):
            v = [
                torch.randint(0, 2, p.shape, generator=generator).to(p) * 2 - 1
                for p in self.params
            ]
            trace_vhv.append(float(_group_product(self.hv(v), v)))
            mean = sum(trace_vhv) / len(trace_vhv)
            if abs(mean - trace) / (abs(trace) + 1e-6) < tol:
                return trace_vhv
            trace = mean
        return trace_vhv

    def eigenvalue(self, max_iter=100, tol=1e-3, generator=None):
        """Top eigenvalue by power iteration with PyHessian's stopping rule."""
        v = _normalization(
            [torch.randn(p.shape, generator=generator).to(p) for p in self.params]
        )
        eigenvalue = None
        for _ in range(max_iter):
            hv = self.hv(v)
            current = float(_group_product(hv, v))
            v = _normalization(hv)
            if eigenvalue is not None and abs(eigenvalue - current) / (
                abs(eigenvalue) + 1e-6
            ) < tol:
                break
            eigenvalue = current
        return eigenvalue
