"""Linear CKA between representations, and the ``CKA`` feature of two models.

The ``CKA`` column of the public MD tree collections is the linear centred kernel
alignment (Kornblith et al., 2019) between the softmax outputs of two models of a
group on the same mixup batches: :func:`mixup_batches` draws the batches and
:func:`output_cka` averages :func:`linear_cka` over them.
"""

import math
import warnings
from itertools import combinations
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, validate_params

from ._precision import mean_se
from ._utils import _RANDOM_STATE, _check_random_state, _eval_mode, _logits

__all__ = ["linear_cka", "mixup_batches", "output_cka"]

# The CKA feature of the public MD tree collections (the paper's Appendix B): the
# models' outputs on 6 mixup batches of 128 training samples, lam ~ Beta(16, 16).
_CKA_N_BATCHES = 6
_CKA_BATCH_SIZE = 128
_CKA_MIXUP_ALPHA = 16.0


def _as_float64_matrix(X, name):
    """Validate a (n, d) matrix given as a tensor or an array-like, as float64 numpy."""
    if isinstance(X, torch.Tensor):
        X = X.detach().to(device="cpu", dtype=torch.float64).numpy()
    shape = np.shape(X)
    if len(shape) != 2 or shape[0] < 2:
        raise ValueError(
            f"The '{name}' parameter of linear_cka must be a 2-D matrix of shape "
            f"(n_samples, n_features) with n_samples >= 2. Got shape {shape} instead."
        )
    return check_array(X, dtype=np.float64, input_name=name)


@validate_params(
    {"X": ["array-like", torch.Tensor], "Y": ["array-like", torch.Tensor]},
    prefer_skip_nested_validation=True,
)
def _power_of_two_scaled(A):
    """``A * 2**-e`` with ``max |A|`` in ``[2**(e-1), 2**e)``; ``A`` if all zero."""
    peak = float(np.max(np.abs(A))) if A.size else 0.0
    if peak == 0 or not np.isfinite(peak):
        return A
    return np.ldexp(A, -np.frexp(peak)[1])


def linear_cka(X, Y):
    """Linear centred kernel alignment of two representations of the same samples.

    With ``Xc`` and ``Yc`` the column-centred matrices, this is the biased (plug-in)
    estimate ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)``, the alignment of the
    centred linear kernels ``Xc Xc^T`` and ``Yc Yc^T``. It is 1 for identical
    representations, symmetric, and invariant to orthogonal transforms and
    isotropic scaling of either one. Computed in float64, in the feature space or in
    the sample space, whichever is smaller.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features_x)
        First representation, one row per sample.
    Y : array-like or torch.Tensor of shape (n_samples, n_features_y)
        Second representation of the same samples, in the same order.

    Returns
    -------
    float
        CKA in [0, 1]. NaN (with a :class:`RuntimeWarning`) when one of the two
        representations is constant over the samples, where CKA is undefined.

    See Also
    --------
    output_cka : CKA of two models' softmax outputs, averaged over batches.

    References
    ----------
    S. Kornblith, M. Norouzi, H. Lee and G. Hinton, "Similarity of neural network
    representations revisited", ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.similarity import linear_cka
    >>> X = np.random.default_rng(0).normal(size=(50, 4))
    >>> round(linear_cka(X, 3 * X), 6)
    1.0
    >>> round(linear_cka(X, X[:, :2]), 3)
    0.611
    """
    X = _as_float64_matrix(X, "X")
    Y = _as_float64_matrix(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            "The 'X' and 'Y' parameters of linear_cka must have the same number of "
            f"rows (samples). Got {X.shape[0]} and {Y.shape[0]} instead."
        )
    # CKA is invariant to isotropic scaling: bring each representation to a largest
    # magnitude in [0.5, 1) by a power of two (exact, so ordinary inputs give the same
    # bits), so that the mean and the products of inputs near 1e200 do not overflow.
    X, Y = _power_of_two_scaled(X), _power_of_two_scaled(Y)
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    n = X.shape[0]
    if max(X.shape[1], Y.shape[1]) <= n:
        cross = np.sum((Y.T @ X) ** 2)
        norm_x = np.linalg.norm(X.T @ X)
        norm_y = np.linalg.norm(Y.T @ Y)
    else:
        K, L = X @ X.T, Y @ Y.T
        cross = np.sum(K * L)
        norm_x, norm_y = np.linalg.norm(K), np.linalg.norm(L)
    if norm_x == 0 or norm_y == 0:
        warnings.warn(
            "linear_cka is undefined when a representation is constant over the "
            f"samples ('X' constant: {norm_x == 0}, 'Y' constant: {norm_y == 0}); "
            "returning NaN.",
            RuntimeWarning,
            stacklevel=2,
        )
        return float("nan")
    return float(cross / (norm_x * norm_y))


@validate_params(
    {
        "inputs": [torch.Tensor],
        "n_batches": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def mixup_batches(
    inputs,
    *,
    n_batches=_CKA_N_BATCHES,
    batch_size=_CKA_BATCH_SIZE,
    alpha=_CKA_MIXUP_ALPHA,
    random_state=None,
):
    """Draw mixup batches from a set of inputs.

    Each batch takes ``batch_size`` distinct rows ``x`` of ``inputs`` (drawn without
    replacement, independently for each batch), a random permutation ``perm`` of
    them and one ``lam ~ Beta(alpha, alpha)``, and returns
    ``lam * x + (1 - lam) * x[perm]``.

    Parameters
    ----------
    inputs : torch.Tensor of shape (n_samples, ...)
        Floating-point inputs, for example training images. Batches are on the same
        device and of the same dtype.
    n_batches : int, default=6
        Number of batches.
    batch_size : int, default=128
        Samples per batch; at most ``n_samples``.
    alpha : float, default=16.0
        Parameter of the symmetric Beta distribution of the mixing weight.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the samples, permutations and weights. Pass an int for
        reproducible batches.

    Returns
    -------
    list of torch.Tensor
        ``n_batches`` tensors of shape ``(batch_size, ...)``.

    See Also
    --------
    output_cka : CKA of two models' softmax outputs on these batches.

    Examples
    --------
    >>> import torch
    >>> from featurizers.similarity import mixup_batches
    >>> x = torch.arange(20.0).reshape(10, 2)
    >>> batches = mixup_batches(x, n_batches=2, batch_size=4, random_state=0)
    >>> [tuple(b.shape) for b in batches]
    [(4, 2), (4, 2)]
    """
    if inputs.ndim == 0 or inputs.shape[0] == 0:
        raise ValueError(
            "The 'inputs' parameter of mixup_batches must hold at least one sample. "
            f"Got a tensor of shape {tuple(inputs.shape)} instead."
        )
    if not inputs.is_floating_point():
        raise TypeError(
            "The 'inputs' parameter of mixup_batches must be a floating-point tensor. "
            f"Got dtype {inputs.dtype} instead."
        )
    n = inputs.shape[0]
    if batch_size > n:
        raise ValueError(
            "The 'batch_size' parameter of mixup_batches must be at most the number of "
            f"samples in 'inputs' ({n}). Got {batch_size} instead."
        )
    rng = _check_random_state(random_state)
    batches = []
    with torch.no_grad():
        for _ in range(n_batches):
            index = rng.choice(n, size=batch_size, replace=False)
            lam = float(rng.beta(alpha, alpha))
            perm = rng.permutation(batch_size)
            x = inputs[torch.as_tensor(index, device=inputs.device)]
            batches.append(lam * x + (1 - lam) * x[torch.as_tensor(perm, device=x.device)])
    return batches


@validate_params(
    {
        "model_a": [torch.nn.Module],
        "model_b": [torch.nn.Module],
        "batches": ["array-like", list, tuple],
    },
    prefer_skip_nested_validation=True,
)
def output_cka(model_a, model_b, batches):
    """Mean linear CKA of two models' softmax outputs over batches.

    Both models are run in eval mode without gradients (every submodule's mode is
    restored afterwards); their outputs (logits of shape ``(batch_size,
    n_classes)``) go through a float64 softmax, and :func:`linear_cka` of the two
    is averaged over the batches.

    Parameters
    ----------
    model_a : torch.nn.Module
        First model.
    model_b : torch.nn.Module
        Second model, with the same number of outputs.
    batches : list of torch.Tensor
        Input batches, on the models' device, for example from
        :func:`mixup_batches`. Each needs at least 2 samples.

    Returns
    -------
    float
        The mean CKA.

    See Also
    --------
    mixup_batches : The batches of the ``CKA`` feature.
    linear_cka : CKA of two matrices.

    Examples
    --------
    >>> import torch
    >>> from featurizers.similarity import mixup_batches, output_cka
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Linear(5, 3)
    >>> batches = mixup_batches(torch.randn(40, 5), n_batches=2, batch_size=16,
    ...                         random_state=0)
    >>> round(output_cka(model, model, batches), 6)
    1.0
    """
    batches = list(batches)
    if not batches:
        raise ValueError(
            "The 'batches' parameter of output_cka must hold at least one batch. Got "
            "an empty sequence instead."
        )
    for i, batch in enumerate(batches):
        if not isinstance(batch, torch.Tensor):
            raise TypeError(
                "The 'batches' parameter of output_cka must be a list of torch.Tensor. "
                f"Got {type(batch).__name__} at position {i} instead."
            )
    scores = []
    with torch.no_grad(), _eval_mode(model_a), _eval_mode(model_b):
        for batch in batches:
            probs = []
            for model in (model_a, model_b):
                logits = _logits(model, batch, " (output_cka)")
                if logits.ndim != 2:
                    raise ValueError(
                        "output_cka needs model outputs of shape (batch_size, "
                        f"n_classes). Got {tuple(logits.shape)} instead."
                    )
                probs.append(torch.softmax(logits.to(torch.float64), dim=1))
            scores.append(linear_cka(*probs))
    return float(np.mean(scores))


@torch.no_grad()
def _finite_outputs(model, batches):
    """Whether ``model`` (in eval mode) outputs only finite values on ``batches``."""
    with _eval_mode(model):
        return all(bool(torch.isfinite(model(x)).all()) for x in batches)


def _group_cka(models, data, device, seed, return_se=False):
    """The ``CKA`` feature of a group: mean :func:`output_cka` over all pairs of models.

    The batches are the collections' (``_CKA_N_BATCHES`` mixup batches of
    ``_CKA_BATCH_SIZE`` samples, ``lam ~ Beta(_CKA_MIXUP_ALPHA, _CKA_MIXUP_ALPHA)``,
    see :func:`mixup_batches`), drawn from one random subset of
    ``_CKA_N_BATCHES * _CKA_BATCH_SIZE`` training samples, the same whatever the
    form of the data, so that the value does not depend on it; with fewer training
    samples than a batch, each batch holds all of them.

    Parameters
    ----------
    models : list of torch.nn.Module
        The group's models, at least two, on ``device``; run in eval mode without
        gradients and left as they were.
    data : featurizers._groups._Data
        The group's training data.
    device : torch.device
        Where the batches go.
    seed : int
        Seed of the subset and of the batches.
    return_se : bool, default=False
        Also return the standard error of the mean over the pairs
        (:func:`featurizers._precision.mean_se`, NaN for one pair).

    Returns
    -------
    float
        The mean CKA; NaN when a model's outputs on a batch are not finite.
    se : float
        Only with ``return_se``.
    """
    generator = torch.Generator().manual_seed(seed)
    inputs, _ = data.sample(_CKA_N_BATCHES * _CKA_BATCH_SIZE, generator=generator)
    batches = mixup_batches(
        inputs.to(device),
        n_batches=_CKA_N_BATCHES,
        batch_size=min(_CKA_BATCH_SIZE, len(inputs)),
        alpha=_CKA_MIXUP_ALPHA,
        random_state=seed,
    )
    if not all(_finite_outputs(m, batches) for m in models):
        return (math.nan, math.nan) if return_se else math.nan
    scores = [output_cka(a, b, batches) for a, b in combinations(models, 2)]
    if return_se:
        return float(np.mean(scores)), mean_se(scores)
    return float(np.mean(scores))
