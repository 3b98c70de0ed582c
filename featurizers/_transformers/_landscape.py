"""The loss-landscape features of model groups, and their recipes per feature family.

:class:`LossLandscapeFeaturizer` calls the documented functions of
:mod:`featurizers.connectivity` and the per-model recipes of
:mod:`featurizers.hessian` (``_model_sharpness``) and :mod:`featurizers.similarity`
(``_group_cka``); what stays here is the averaging over each group's models and
the policy for the log of a non-positive mean. The definitions match the public
MD tree collections (means over each group's seeds, errors in percent, natural
logs).
"""

from __future__ import annotations

import math
import re
import warnings
from itertools import combinations
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_mdtree._vocabulary import LOSS_LANDSCAPE_FEATURES, WEIGHT_FEATURES

from .._precision import log_mean_se, mean_se
from .._utils import _RANDOM_STATE, _forked_rng
from ..connectivity import curve_errors, fit_bend, mode_connectivity, mode_connectivity_peak
from ..hessian._model import _model_sharpness, _model_spectrum, _trace_budget
from ..similarity import _group_cka
from ._base import (
    _COMMON_PARAMS,
    _CONNECTIVITY,
    _N_JOBS_PARAM,
    FeaturizationWarning,
    _GroupFeaturizer,
)
from ._validation import ValidationFeaturizer
from ._weights import _weight_features

__all__ = ["LossLandscapeFeaturizer"]

#: Features of the weights' displacement (:mod:`featurizers.weights`).
_WEIGHTS = frozenset(WEIGHT_FEATURES)

#: The optional Hessian features of LossLandscapeFeaturizer: ``hessian_e<k>`` (the k-th
#: eigenvalue), ``hessian_t_<module>`` and ``hessian_e_<module>`` (a module's block).
_HESSIAN_SPECTRUM = re.compile(r"hessian_e(?P<k>[1-9][0-9]*)|hessian_(?P<kind>[te])_(?P<layer>.+)")


class LossLandscapeFeaturizer(_GroupFeaturizer):
    """Loss-landscape features of model groups, as in the public MD tree collections.

    For each group (one training configuration, its models trained with
    different seeds) the row holds the selected features among:

    ``train_error``, ``train_loss``
        Mean over models of the training error (percent) and mean
        cross-entropy, eval mode, whole training data.
    ``hessian_t``, ``hessian_e``
        ``ln`` of the mean over models of the Hessian trace and of the top
        (largest-magnitude, signed) Hessian eigenvalue of the mean training loss
        with respect to all parameters, eval mode, each model on its own random
        batch of ``hessian_batch_size`` training samples. One
        :class:`~featurizers.hessian.HessianOperator` per model serves both: by
        default one Lanczos run gives the eigenvalue and deflates the trace
        estimate (:func:`~featurizers.hessian.trace_and_top_eigenvalue`), see
        ``trace_method``. When the mean is <= 0 the log is undefined: see
        ``nonpositive``.
    ``hessian_e<k>`` (``hessian_e1``, ``hessian_e2``, ...), optional
        ``ln`` of the mean over models of the ``k``-th eigenvalue of largest
        magnitude of the same Hessian (same batch), by
        :func:`~featurizers.hessian.top_eigenvalues` (Lanczos, residuals at most
        1e-4 of the top eigenvalue; one run serves all ``k``: 10 to 15
        products for ``k`` up to 5 on small trained networks). ``hessian_e1``
        is ``hessian_e`` to that tolerance.
    ``hessian_t_<module>``, ``hessian_e_<module>``, optional
        Per layer: ``ln`` of the mean over models of the trace and of the top
        eigenvalue of the diagonal Hessian block of the parameters under the module
        named ``<module>`` (``hessian_t_0`` for the first layer of a
        ``Sequential``, ``hessian_e_fc`` for a module ``fc``), by
        :func:`~featurizers.hessian.layer_sharpness` (up to 30 block products
        each; exact for blocks of at most 30 parameters). Every group must have
        the module. The optional features add one
        :class:`~featurizers.hessian.HessianOperator` per model; they do not
        change the others.
    ``mode_connectivity_peak``, ``mode_connectivity``
        From the training error at ``t = 0, .25, .5, .75, 1`` along a quadratic
        Bezier curve between two models, trained for ``curve_epochs`` epochs
        (:func:`~featurizers.connectivity.fit_bend`, BatchNorm recomputed at
        each ``t``): ``-max(e1, e2, e3)`` and ``(e0 + e4) / 2 - e_u``. Mean over
        ``n_pairs`` pairs of models.
    ``CKA``
        Mean over all pairs of models of the linear CKA between their softmax
        outputs on 6 mixup batches of 128 training samples (``lam ~ Beta(16,
        16)``), :func:`~featurizers.similarity.output_cka`. Groups with fewer
        than 128 training samples use batches of all of them.
    ``weight_norm_ratio``, ``weight_displacement`` (optional, not in the default)
        Mean over models of ``||w|| / ||w_fresh||`` (a fresh, seeded
        initialization of a copy of the model) and of ``||w - w0|| / ||w0||``
        (``w0`` the model's initial weights, given as
        ``metadata["initial_states"]``, one ``state_dict`` per model):
        :mod:`featurizers.weights`. They tell a model that never moved (stalled)
        from one that blew up (diverged).

    Parameters
    ----------
    features : list of str, default=("train_error", "mode_connectivity_peak", "hessian_t", "CKA")
        Output columns, in order. The default is the MD tree's features.
{common}
    hessian_batch_size : int, default=200
        Training samples in each model's Hessian batch (all of them if fewer).
    trace_method : {"deflated", "auto", "xtrace", "hutchinson", "pyhessian"}, default="deflated"
        How the trace (and with it the eigenvalue) is computed.
        ``"deflated"``: :func:`~featurizers.hessian.trace_and_top_eigenvalue`
        with its defaults: Lanczos gives ``hessian_e`` and runs on until its
        basis holds the outlier eigenvalues of the Hessian, which carry most of
        the variance of a trace estimate; the trace is the Hessian's on that
        basis plus a Hutchinson estimate of the rest from ``trace_matvecs``
        probes: half to three quarters of the products of PyHessian's adaptive
        Hutchinson plus power iteration, at a lower variance of the trace on an MLP
        and a small CNN (on ResNet-18 about PyHessian's). Its basis holds up to 24
        vectors of the model's size. The others estimate the trace alone, with
        :func:`~featurizers.hessian.hessian_trace`, and the eigenvalue with a
        separate ARPACK run (:func:`~featurizers.hessian.top_eigenvalue`):
        ``"xtrace"`` has the lowest variance for a large budget on trained
        networks, but holds about ``4 * trace_matvecs`` bytes per parameter
        (about 6 GB for a ResNet-18's 11 million parameters at 100 products),
        where ``"hutchinson"`` holds a few vectors; ``"auto"`` uses XTrace when
        that workspace is at most 1 GiB and Hutchinson otherwise;
        ``"pyhessian"`` is PyHessian's adaptive rule, to compare with published
        numbers. Figures: the documentation's benchmarks page.
    trace_matvecs : int or None, default=None
        Hessian-vector products the trace costs beyond the eigenvalue's. With
        ``"deflated"``, the Hutchinson probes of the deflated remainder (the
        Lanczos steps, shared with the eigenvalue, come on top); otherwise the
        trace estimator's whole budget (the ``max_iter`` of ``"pyhessian"``), at
        least 2 with ``"xtrace"``, which spends half of them on a basis
        (``"auto"`` uses Hutchinson below 2). None: 6 for ``"deflated"`` -- 12
        where the probes find a broad bulk and stop Lanczos early (the
        ``bulk_probes`` of :func:`~featurizers.hessian.trace_and_top_eigenvalue`)
        -- and 100 for the others. An int is used as given, on a broad bulk too,
        so that it bounds the cost.
    curve_epochs : int, default=50
        Epochs of curve training (50 in the collections); 0 keeps the initial
        bend. What matters is the number of SGD steps: on small training sets 50
        epochs are few steps and the peak may not have converged (see the
        documentation's benchmarks page). Keep 50 to compare with the
        collections.
    curve_init : {"midpoint", "random"}, default="midpoint"
        Initial bend: the midpoint of the two models (the curve starts as the
        straight segment between them), or a fresh random initialisation as in
        the original experiments. Neither settled faster in
        ``benchmarks/bench_connectivity.py``; their peaks differ, so compare
        groups featurized with the same one.
    n_pairs : int or "all", default=1
        Pairs of models whose curves are averaged: the first ``n_pairs`` of
        ``(0, 1), (0, 2), ..., (1, 2), ...``. The collections use one.
    return_se : bool, default=False
        Also output the standard error of each feature, as a ``<feature>_se``
        column after the features (:func:`sklearn_mdtree.diagnose` reads them):
        for the means over the group's models (``train_error``, ``train_loss``)
        the spread over seeds; for ``hessian_t`` that spread combined with the
        trace estimator's own noise from its probes (deflated trace only), by the
        delta method for the log (``hessian_e``: seeds only); for
        ``mode_connectivity_peak``, ``mode_connectivity`` and ``CKA`` the spread
        over pairs of models (take ``n_pairs="all"``: one pair gives NaN). NaN
        where unknown (one model); see :mod:`featurizers._precision`. The
        features themselves do not change.
    nonpositive : {"nan", "raise"} or float, default="nan"
        ``hessian_t`` / ``hessian_e`` when the mean trace / eigenvalue is <= 0
        (seen on small, hot tanh networks), where ``ln`` is undefined:
        ``"nan"`` reports NaN with a :class:`FeaturizationWarning` naming the
        group; ``"raise"`` raises a ``ValueError``; a positive float ``c``
        reports ``ln(max(mean, c))`` silently (``0.01`` floors at -4.6).
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the Hessian batches and probes, curve training and the mixup
        batches. With an int, ``transform`` is reproducible; the row of the
        ``i``-th group depends only on ``random_state``, ``i`` and that group
        (not on the other groups, the selected features or the form of the data).
        A :class:`numpy.random.RandomState` or :class:`numpy.random.Generator` is
        drawn from once per ``transform`` (so two calls differ, and a clone,
        which copies it in its current state, repeats the original's next call).
        The global torch RNG is left untouched.
{n_jobs}
    verbose : int, default=1
        Progress bars over groups and over curve epochs (with one job) when
        positive, on stderr; the bar over groups names the group and feature
        under way (``"group 2/3: curves"``).

    Attributes
    ----------
    features_ : tuple of str
        Output columns, set by ``fit``.
    n_groups_fit_ : int
        Number of groups seen by ``fit``.

    See Also
    --------
    ValidationFeaturizer : train and validation error and loss.
    HyperparameterFeaturizer : log data amount and log parameter count.

    Notes
    -----
    ``fit`` learns nothing; ``transform`` works without it. The models are never
    modified: every computation that needs eval mode, gradients or new
    BatchNorm statistics runs on a private copy.

    Examples
    --------
    >>> import torch
    >>> from featurizers import LossLandscapeFeaturizer, ModelGroup
    >>> X, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    >>> models = [torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
    ...                               torch.nn.Linear(8, 3)) for _ in range(2)]
    >>> featurizer = LossLandscapeFeaturizer(curve_epochs=2, random_state=0, verbose=0)
    >>> featurizer = featurizer.set_output(transform="pandas")
    >>> table = featurizer.fit_transform([ModelGroup(models, (X, y))])
    >>> list(table.columns)
    ['train_error', 'mode_connectivity_peak', 'hessian_t', 'CKA']
    """

    # the collections' features, then the optional ones of :mod:`featurizers.weights`
    _all_features = (*LOSS_LANDSCAPE_FEATURES, *WEIGHT_FEATURES)

    @staticmethod
    def _extra_feature(name):
        return isinstance(name, str) and _HESSIAN_SPECTRUM.fullmatch(name) is not None

    _parameter_constraints: dict = {
        **ValidationFeaturizer._parameter_constraints,
        "hessian_batch_size": [Interval(Integral, 1, None, closed="left")],
        "trace_method": [
            StrOptions({"deflated", "auto", "xtrace", "hutchinson", "pyhessian"})
        ],
        "trace_matvecs": [Interval(Integral, 1, None, closed="left"), None],
        "curve_epochs": [Interval(Integral, 0, None, closed="left")],
        "curve_init": [StrOptions({"midpoint", "random"})],
        "n_pairs": [Interval(Integral, 1, None, closed="left"), StrOptions({"all"})],
        "nonpositive": [StrOptions({"nan", "raise"}), Interval(Real, 0, None, closed="neither")],
        "return_se": ["boolean"],
        "random_state": _RANDOM_STATE,
    }

    def __init__(
        self,
        features=("train_error", "mode_connectivity_peak", "hessian_t", "CKA"),
        *,
        loss_fn=None,
        device="cpu",
        batch_size=256,
        hessian_batch_size=200,
        trace_method="deflated",
        trace_matvecs=None,
        curve_epochs=50,
        curve_init="midpoint",
        n_pairs=1,
        nonpositive="nan",
        return_se=False,
        on_nan="warn",
        random_state=None,
        n_jobs=None,
        cache_dir=None,
        torch_threads=None,
        progress=None,
        verbose=1,
    ):
        self.features = features
        self.loss_fn = loss_fn
        self.device = device
        self.batch_size = batch_size
        self.hessian_batch_size = hessian_batch_size
        self.trace_method = trace_method
        self.trace_matvecs = trace_matvecs
        self.curve_epochs = curve_epochs
        self.curve_init = curve_init
        self.n_pairs = n_pairs
        self.nonpositive = nonpositive
        self.return_se = return_se
        self.on_nan = on_nan
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.torch_threads = torch_threads
        self.progress = progress
        self.verbose = verbose

    def _check_params(self):
        budget = _trace_budget(self.trace_method, self.trace_matvecs)
        if self.trace_method == "xtrace" and budget < 2:
            raise ValueError(
                "The 'trace_matvecs' parameter of LossLandscapeFeaturizer must be at least "
                "2 with trace_method='xtrace' (it spends half of its products on a "
                f"basis). Got {self.trace_matvecs} instead."
            )

    def _group_values(self, group, index, features, device, seed):
        # One independent stream per feature family, so that a feature does not
        # depend on which others are selected.
        hess_seed, curve_seed, cka_seed, weights_seed = (
            int(s.generate_state(1)[0] >> 1) for s in seed.spawn(4)
        )
        values, handled = {}, set()
        with _forked_rng(int(seed.generate_state(1)[0] >> 1), device):
            if "train_error" in features or "train_loss" in features:
                self._stage(index, "train_error")
            self._train_metrics(group, group._train, "train", features, values)
            if any(f.startswith("hessian_") for f in features):
                self._stage(index, "hessian")
                self._hessian(group, index, features, device, hess_seed, values, handled)
            if _CONNECTIVITY.intersection(features):
                self._stage(index, "curves")
                self._connectivity(group, curve_seed, values)
            if "CKA" in features:
                self._stage(index, "CKA")
                self._cka(group, device, cka_seed, values)
            if _WEIGHTS.intersection(features):
                self._stage(index, "weights")
                _weight_features(group, index, features, weights_seed, values)
        return values, handled

    def _hessian(self, group, index, features, device, seed, values, handled):
        rng = np.random.default_rng(seed)
        traces, eigenvalues, trace_ses = [], [], []
        extra = {f: _HESSIAN_SPECTRUM.fullmatch(f) for f in features if self._extra_feature(f)}
        top_k = max((int(m["k"]) for m in extra.values() if m["k"]), default=0)
        layers = list(dict.fromkeys(m["layer"] for m in extra.values() if m["layer"]))
        names = [n for n, p in group.models[0].named_parameters() if p.is_floating_point()]
        for layer in layers:
            if not any(n == layer or n.startswith(f"{layer}.") for n in names):
                raise ValueError(
                    f"{type(self).__name__}: the models of {group._label(index)} have no "
                    f"parameters under a module named {layer!r}, which the features "
                    f"{[f for f, m in extra.items() if m['layer'] == layer]} need; their "
                    f"parameters are {names}."
                )
        spectra = []
        for model in group.models:
            generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
            X, y = group._train.sample(self.hessian_batch_size, generator=generator)
            model_seed = int(rng.integers(2**31))
            if "hessian_t" in features or "hessian_e" in features:
                result = _model_sharpness(
                    model,
                    self._loss_fn(),
                    X.to(device),
                    y.to(device),
                    trace_method=self.trace_method,
                    n_matvecs=self.trace_matvecs,
                    trace="hessian_t" in features,
                    eigenvalue="hessian_e" in features,
                    random_state=model_seed,
                    return_se=self.return_se,
                )
                traces.append(result[0])
                eigenvalues.append(result[1])
                trace_ses.append(result[2] if self.return_se else math.nan)
            if extra:
                spectra.append(_model_spectrum(
                    model, self._loss_fn(), X.to(device), y.to(device), top_k=top_k,
                    layers=layers, random_state=model_seed,
                ))
        columns = [
            ("hessian_t", "Hessian trace", traces, trace_ses),
            ("hessian_e", "top Hessian eigenvalue", eigenvalues, None),
        ]
        for name, m in extra.items():
            if m["k"]:
                k = int(m["k"])
                per_model = [s["e"][k - 1] for s in spectra]
                columns.append((name, f"Hessian eigenvalue number {k}", per_model, None))
            elif m["kind"] == "t":
                per_model = [s["t"][m["layer"]] for s in spectra]
                noise = [s["t_se"][m["layer"]] for s in spectra]
                columns.append((name, f"Hessian trace of {m['layer']}", per_model, noise))
            else:
                per_model = [s["e_layer"][m["layer"]] for s in spectra]
                columns.append((name, f"top Hessian eigenvalue of {m['layer']}", per_model, None))
        for name, what, per_model, noise in columns:
            if name in features:
                values[name] = self._log_mean(per_model, name, what, group, index, handled)
                values[f"{name}_se"] = log_mean_se(per_model, noise)

    def _log_mean(self, per_model, name, what, group, index, handled):
        mean = float(np.mean(per_model))
        if not math.isfinite(mean) or mean > 0:
            return math.log(mean) if mean > 0 else mean
        if isinstance(self.nonpositive, Real) and not isinstance(self.nonpositive, str):
            return math.log(max(mean, self.nonpositive))
        msg = (
            f"{type(self).__name__}: the mean {what} of {group._label(index)} is {mean:.4g} "
            f"<= 0, so {name} = ln(mean) is undefined (per model: "
            f"{[round(float(v), 4) for v in per_model]})"
        )
        if self.nonpositive == "raise":
            raise ValueError(
                msg + ". Set nonpositive='nan' to report NaN, or nonpositive=<floor> (e.g. "
                "0.01) to report ln(max(mean, floor))."
            )
        warnings.warn(
            msg + "; reported as NaN (nonpositive=<floor> reports ln(max(mean, floor)) "
            "instead).",
            FeaturizationWarning,
            stacklevel=4,
        )
        handled.add(name)
        return math.nan

    def _connectivity(self, group, seed, values):
        pairs = list(combinations(range(group.n_models), 2))
        if self.n_pairs != "all":
            pairs = pairs[: self.n_pairs]
        rng = np.random.default_rng(seed)
        peaks, gaps = [], []
        for i, j in pairs:
            a, b = group.models[i], group.models[j]
            try:
                bend = fit_bend(
                    a,
                    b,
                    group._train,
                    epochs=self.curve_epochs,
                    init=self.curve_init,
                    loss_fn=self._loss_fn(),
                    random_state=int(rng.integers(2**31)),
                    verbose=self.verbose,
                )
                errors, losses = curve_errors(a, bend, b, group._train, loss_fn=self._loss_fn())
            except FloatingPointError:
                errors = losses = np.full(5, np.nan)
            if not np.all(np.isfinite(losses)):
                errors = np.full(5, np.nan)
            peaks.append(mode_connectivity_peak(errors))
            gaps.append(mode_connectivity(errors))
        values["mode_connectivity_peak"] = float(np.mean(peaks))
        values["mode_connectivity"] = float(np.mean(gaps))
        values["mode_connectivity_peak_se"] = mean_se(peaks)  # spread over the pairs
        values["mode_connectivity_se"] = mean_se(gaps)

    def _cka(self, group, device, seed, values):
        values["CKA"], values["CKA_se"] = _group_cka(
            group.models, group._train, device, seed, return_se=True
        )


LossLandscapeFeaturizer.__doc__ = LossLandscapeFeaturizer.__doc__.replace(
    "{common}", _COMMON_PARAMS).replace("{n_jobs}", _N_JOBS_PARAM)
