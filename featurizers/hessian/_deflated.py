"""Trace and top eigenvalue from one Lanczos run: the featurizers' default estimator.

Lanczos with full reorthogonalisation gives the top eigenvalue and a Krylov basis
that holds the few outlier eigenvalues of a trained network's Hessian; that basis
then deflates a Hutchinson estimate of the trace (:func:`trace_and_top_eigenvalue`),
whose first probes also tell Lanczos when its basis stops paying (:class:`_ProbeStop`).
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._utils import _RANDOM_STATE, _check_random_state, _renamed_parameters, _torch_seed
from ._operator import _OPERATOR, _as_linear_operator, _dense, _empty_rows, _torch_matvec


# Hutchinson probes of trace_and_top_eigenvalue by default: the fewest with which the
# estimate is faster than the real PyHessian's on every model of
# benchmarks/bench_hessian.py and less variable on the MLP and the CNN; on ResNet-18 it
# is not less variable over seeds (sections 5 and 6, figures in benchmarks/README.md).
_DEFAULT_N_PROBES = 6
# Probes of trace_and_top_eigenvalue projected per pass over its basis.
_DEFLATED_PROBE_BLOCK = 4
# Probes drawn before Lanczos that decide, two by two, when the basis stops paying
# (_ProbeStop); the rule needs at least two per half.
_STOP_PROBES = 4
# _ProbeStop: the remainder's trace must be spread over at least this many times
# (max_lanczos_steps + n_probes) eigenvalues of its size, the two probes of a half
# must see squared Frobenius norms within this ratio of each other (a remainder
# still holding an outlier shows in one probe and not the other), and each of the
# last two steps must have removed at most this many times 1 / (steps + n_probes)
# of the remainder's squared Frobenius norm. Chosen by replaying the rule on the
# benchmark's three models: it must stop ResNet-18's broad remainder, never the MLP's
# or the CNN's before their last outliers (benchmarks/README.md).
_SPREAD_FACTOR = 3.0
_FLAT_RATIO = 2.0
_GAIN_FACTOR = 2.0
# Probes in all when the probes' rule stops Lanczos on a broad bulk (the ``bulk_probes``
# of trace_and_top_eigenvalue). On ResNet-18 the extra probes lower the error about as
# 1 / sqrt(probes) at one product each; 12 was chosen on seeds that section 5 of
# benchmarks/bench_hessian.py does not use (benchmarks/README.md, "Broad bulk: probes
# for the steps saved"). Where the rule does not fire (the MLP, the CNN, the digits
# zoo) nothing changes.
_DEFAULT_BULK_PROBES = 12


_SHIFTS = torch.arange(8, dtype=torch.uint8)


def _random_signs(row, generator):
    """Fill ``row`` with Rademacher signs, eight from each random byte.

    A third of the time of :func:`torch.randint` with one draw per entry, and no new
    float array of size ``n`` (fresh memory costs as much as the draws).
    """
    n = row.shape[0]
    bits = torch.randint(0, 256, ((n + 7) // 8,), generator=generator, dtype=torch.uint8)
    row.copy_(((bits[:, None] >> _SHIFTS) & 1).reshape(-1)[:n]).mul_(2).sub_(1)


def _lanczos(matvec, Q, tol, deflation_tol, generator, monitor=None):
    """Lanczos with full reorthogonalisation for the top eigenvalue and a deflation basis.

    ``Q`` is an empty ``(max_steps, n)`` tensor that receives the basis, one row per
    step. Returns ``(steps, T, beta, theta, residual)``: the number of steps taken
    (rows of ``Q`` filled), ``T = Q^T A Q`` on them (float64, with the
    reorthogonalisation coefficients folded in), the norm of the last residual,
    the top (largest-magnitude) Ritz value and the last residual ``r`` itself:
    ``A Q = Q T + r e_m^T`` to rounding, with ``Q`` the ``(n, steps)`` matrix whose
    columns are the filled rows (the notation below).

    Lanczos stops after ``max_steps`` steps, on an invariant subspace, or once
    both the top Ritz pair has converged (ARPACK's criterion: residual
    ``|beta_m y_m| <= tol * |theta|``) and the deflation has stalled. A probe of
    the remainder ``(I - P) A (I - P)``, ``P = Q Q^T``, has a variance of about
    twice its squared Frobenius norm; the basis removes
    ``||A||_F^2 - ||(I - P) A (I - P)||_F^2 = ||T||_F^2 + 2 beta_m^2`` of it,
    which grows by ``alpha_m^2 + 2 beta_m^2`` at step ``m``; Lanczos stops once
    each of the last two steps grew it by at most ``deflation_tol`` of its value.
    That happens once the basis holds the few large eigenvalues that carry most
    of ``||A||_F^2`` and has moved on to the flat bulk of the spectrum (one step
    alone sometimes gains little before the last outlier is found).

    Each step costs one product and two passes over the basis: the three-term
    recurrence, then one classical Gram-Schmidt pass against the whole basis, and a
    second pass when the first left less than ``1 / sqrt(2)`` of the vector's norm
    (the criterion of Daniel, Gragg, Kaufman and Stewart, 1976: then rounding may
    have left it far from orthogonal), as it does near an invariant subspace. The
    subspace counts as invariant once the residual is at most
    ``sqrt(eps) * ||A q_m||`` (``eps`` of the basis' dtype): products in float32
    are themselves only that accurate, and the next vector would be rounding
    noise. Stopping there is safe, since the probes estimate whatever the basis
    leaves out.

    ``monitor``, a :class:`_ProbeStop`, draws its probes right after the start
    vector and sees every step that neither breaks down nor ends by the rule
    above (each costs it one pass over its 8 rows of probes and products);
    Lanczos also stops once it says so.
    """
    max_steps, n = Q.shape
    breakdown = math.sqrt(torch.finfo(Q.dtype).eps)
    Q[0] = torch.randn(n, generator=generator, dtype=Q.dtype).to(Q.device)
    Q[0] /= torch.linalg.vector_norm(Q[0])
    if monitor is not None:
        monitor.start(generator)
    T = np.zeros((max_steps, max_steps))
    gains = []  # squared Frobenius norm removed by each step
    for j in range(max_steps):
        w = matvec(Q[j])
        scale = float(torch.linalg.vector_norm(w))  # ||A q_j||
        T[j, j] = float(torch.dot(Q[j], w))
        w.sub_(Q[j], alpha=T[j, j])
        if j:
            w.sub_(Q[j - 1], alpha=T[j, j - 1])
        basis = Q[: j + 1]
        for _ in range(2):
            before = float(torch.linalg.vector_norm(w))
            c = basis @ w
            w.addmv_(basis.T, c, alpha=-1.0)
            T[: j + 1, j] += c.double().cpu().numpy()
            beta = float(torch.linalg.vector_norm(w))
            if beta > before / math.sqrt(2):
                break
        T[j, : j + 1] = T[: j + 1, j]
        steps = j + 1
        ritz_values, ritz_vectors = np.linalg.eigh(T[:steps, :steps])
        top = int(np.argmax(np.abs(ritz_values)))
        theta = float(ritz_values[top])
        if beta <= breakdown * scale:
            break  # invariant subspace: T is exact on it
        converged = abs(beta * ritz_vectors[-1, top]) <= tol * abs(theta)
        removed = float(np.sum(T[:steps, :steps] ** 2)) + 2 * beta**2
        gains.append(T[j, j] ** 2 + 2 * beta**2)
        stalled = steps >= 2 and max(gains[-2:]) <= deflation_tol * removed
        if converged and stalled:
            break
        if monitor is not None and monitor.step(Q[j], T[:steps, :steps], w, beta, gains[-1],
                                                converged):
            break
        if steps < max_steps:
            T[j + 1, j] = T[j, j + 1] = beta
            torch.div(w, beta, out=Q[j + 1])
    return steps, T[:steps, :steps], beta, theta, w


def _deflated_samples(matvec, QR, T, n_probes, generator):
    """Hutchinson samples ``g^T (I - Q Q^T) A (I - Q Q^T) g``, Rademacher ``g``.

    ``QR`` is ``(m + 1, n)``: the ``m`` Lanczos vectors (the columns of ``Q``) as
    rows, then the last residual ``r``. Each probe costs one product ``A g``.
    With ``c = Q^T g``, ``(g - Q c)^T A (g - Q c) = g^T A g - 2 c^T Q^T A g +
    c^T T c``, and the Lanczos relation ``A Q = Q T + r e_m^T`` gives
    ``Q^T A g = T c + (r^T g) e_m``, so a sample is
    ``g^T A g - c^T T c - 2 c_m (r^T g)``: the product ``A g`` is only needed
    for ``g^T A g``, and ``c`` and ``r^T g`` come from one product of ``QR``
    with a block of probes (half the rows of also projecting the products
    ``A g``, and no memory to keep them).
    """
    n = QR.shape[1]
    samples = np.empty(n_probes)
    block = min(n_probes, _DEFLATED_PROBE_BLOCK)
    G = _empty_rows(block, n, QR.dtype, QR.device)
    quad = torch.empty(block, dtype=torch.float64, device=QR.device)  # g^T A g
    for start in range(0, n_probes, block):
        size = min(block, n_probes - start)
        for b in range(size):
            _random_signs(G[b], generator)
            quad[b] = torch.dot(G[b], matvec(G[b]))  # on the device: no wait per probe
        samples[start : start + size] = _projected_forms(G[:size], quad[:size], QR, T)
    return samples


def _projected_forms(G, quad, QR, T):
    """``g^T A g - c^T T c - 2 c_m (r^T g)`` for the rows ``g`` of ``G`` (see above)."""
    return _forms((G @ QR.T).double().cpu().numpy(), quad.cpu().numpy(), T)


def _forms(CR, quad, T):
    """The same from ``CR``, whose rows are ``Q^T g`` then ``r^T g``."""
    m = len(T)
    C, rg = CR[:, :m], CR[:, m]
    return quad - np.einsum("bi,ij,bj->b", C, T, C) - 2 * C[:, -1] * rg


class _ProbeStop:
    """The first probes, drawn before Lanczos, telling when its basis stops paying.

    Lanczos's own stopping rule (:func:`_lanczos`) sees only what the basis removed,
    not what is left: on a network whose remainder after the outliers is a broad
    bulk (ResNet-18 in the benchmark) it runs on for steps that hardly lower the
    probes' variance. The probes see what is left. Their products ``A g`` are
    kept, so that at every step, for the remainder ``R = (I - P) A (I - P)`` of
    the current basis, each gives without another product both its sample
    ``g^T R g`` (as in :func:`_deflated_samples`) and ``||R g||^2``, whose mean is
    ``||R||_F^2``: with ``c = Q^T g``, ``t = T c``, ``rho = r^T g`` and
    ``sigma = r^T A g``, ``||R g||^2 = ||A g||^2 - ||t||^2 - 2 rho t_m -
    2 c_m sigma - rho^2 + c_m^2 ||r||^2`` (from ``A Q = Q T + r e_m^T``).

    The probes are split in two halves, and each half decides for the other: the
    half stops at the first step where the eigenvalue has converged, the
    remainder's trace is spread over many eigenvalues (``tr(R)^2 >= _SPREAD_FACTOR
    (max_steps + n_probes) ||R||_F^2``, both estimated by the half; a flat
    remainder of that rank is out of reach of the steps left), its two probes see
    ``||R g||^2`` within a factor ``_FLAT_RATIO`` (an outlier still in the
    remainder shows in one probe rather than both) and each of the last two steps
    removed at most ``_GAIN_FACTOR / (steps + n_probes)`` of ``||R||_F^2`` (a
    step that does not pay for itself in variance). The other
    half's samples are then taken on the basis of that step. A half's samples are
    independent of the basis they are taken on, so the estimate stays unbiased
    (cross-fitting: a rule that looked at the samples it is applied to would bias
    them). Lanczos stops once both halves have stopped.
    """

    def __init__(self, matvec, n, n_probes, max_steps, dtype, device):
        self._matvec = matvec
        self._size = min(n_probes, _STOP_PROBES)
        self._n_probes = n_probes
        # The probes, then their products: one pass over r gives r^T g and r^T A g.
        self._GA = _empty_rows(2 * self._size, n, dtype, device)
        self.G, self._AG = self._GA[: self._size], self._GA[self._size :]
        self.quad = torch.empty(self._size, dtype=torch.float64, device=device)  # g^T A g
        half = self._size // 2
        self.halves = (np.arange(half), np.arange(half, self._size))
        self._C = np.zeros((self._size, max_steps))  # Q^T g, one column per step
        self._spread = _SPREAD_FACTOR * (max_steps + n_probes)
        self.stops = [None, None]  # the step at which each half stopped
        self._gains = ([], [])  # per half: each step's gain over ||R||_F^2

    def start(self, generator):
        """Draw the probes (after the start vector) and multiply them."""
        for b in range(self._size):
            _random_signs(self.G[b], generator)
            self._AG[b].copy_(self._matvec(self.G[b]))
            self.quad[b] = torch.dot(self.G[b], self._AG[b])
        self._a2 = (torch.linalg.vector_norm(self._AG, dim=1).double() ** 2).cpu().numpy()
        self._rho = None
        self.betas = []  # ||r|| of each step: the norm that made the next vector

    def step(self, q, T, r, beta, gain, converged):
        """Take step ``m = len(T)`` (vector ``q``, residual ``r`` of norm ``beta``).

        Returns True once both halves have stopped.
        """
        m = len(T)
        # q^T g: from the start vector, then from the last step's r^T g (q = r / beta).
        if m == 1:
            self._C[:, 0] = (self.G @ q).double().cpu().numpy()
        else:
            self._C[:, m - 1] = self._rho / self.betas[m - 2]
        self.betas.append(beta)
        projections = (self._GA @ r).double().cpu().numpy()
        rho, sigma = projections[: self._size], projections[self._size :]
        self._rho = rho
        r2 = float(torch.dot(r, r))
        samples, frobenius = self._remainder(T, rho, sigma, r2)
        for h, rows in enumerate(self.halves):
            if self.stops[h] is not None:
                continue
            remainder = float(np.mean(frobenius[rows]))  # ||R||_F^2
            if remainder <= 0:  # nothing measurable left: let Lanczos's rule decide
                self._gains[h].append(math.inf)
                continue
            self._gains[h].append(gain / remainder * (m + self._n_probes))
            spread = float(np.mean(samples[rows])) ** 2 >= self._spread * remainder
            seen = frobenius[rows]
            flat = seen.min() > 0 and seen.max() <= _FLAT_RATIO * seen.min()
            paid = m < 2 or max(self._gains[h][-2:]) > _GAIN_FACTOR
            if converged and spread and flat and not paid:
                self.stops[h] = m
        return all(stop is not None for stop in self.stops)

    def _remainder(self, T, rho, sigma, r2):
        """Each probe's ``g^T R g`` and ``||R g||^2`` on the current basis."""
        C = self._C[:, : len(T)]
        t = C @ T
        quad = self.quad.cpu().numpy()
        samples = quad - np.einsum("bi,bi->b", t, C) - 2 * C[:, -1] * rho
        frobenius = (
            self._a2
            - np.einsum("bi,bi->b", t, t)
            - 2 * rho * t[:, -1]
            - 2 * C[:, -1] * sigma
            - rho**2
            + C[:, -1] ** 2 * r2
        )
        return samples, frobenius

    def bases(self, steps):
        """The number of basis vectors each probe is taken on (see :meth:`samples`)."""
        used = np.full(self._size, steps)
        other = [stop if stop is not None else steps for stop in self.stops[::-1]]
        for rows, k in zip(self.halves, other, strict=True):
            used[rows] = min(k, steps)
        return used

    def samples(self, QR, T):
        """The probes' samples and the number of basis vectors each was taken on.

        ``QR`` holds the final basis (``steps = len(T)`` rows) and residual, ``T``
        is ``Q^T A Q`` on it. A half's probes are taken on the basis at which the
        other half stopped, ``k`` vectors: their sample is then ``g^T R_k g +
        tr(T_k) - tr(T)``, so that ``tr(T)`` plus the mean of all samples is the
        estimate. On the final basis the sample is ``g^T R g``, computed as in
        :func:`_deflated_samples`.
        """
        steps = len(T)
        values = _projected_forms(self.G, self.quad, QR, T)
        used = np.full(self._size, steps)
        other = [stop if stop is not None else steps for stop in self.stops[::-1]]
        for rows, k in zip(self.halves, other, strict=True):
            if k < steps:  # residual at step k: beta_k q_{k+1}
                CR = (self.G[rows] @ QR[: k + 1].T).double().cpu().numpy()
                CR[:, k] *= self.betas[k - 1]
                offset = float(np.trace(T[:k, :k])) - float(np.trace(T))
                values[rows] = _forms(CR, self.quad.cpu().numpy()[rows], T[:k, :k]) + offset
                used[rows] = k
        return values, used


# Estimators of the trace of the deflated remainder (the ``remainder`` option of
# trace_and_top_eigenvalue): Hutchinson's (the default), a Nystrom Hutch++ and an
# exchangeable Nystrom (XNysTrace-style) estimator, all from the probes' own products.
_REMAINDERS = ("hutchinson", "hutchpp", "xnystrace")
# Eigenvalues of a Nystrom core matrix at or below this fraction of its largest are
# dropped (the core is indefinite when the Hessian is; any rule that sees only the
# sketch keeps the estimators unbiased).
_NYSTROM_RCOND = 1e-6


def _probe_products(matvec, n_probes, n, dtype, device, generator):
    """``n_probes`` Rademacher probes and their products, drawn as ``_deflated_samples`` does."""
    GA = _empty_rows(2 * n_probes, n, dtype, device)
    G, AG = GA[:n_probes], GA[n_probes:]
    for b in range(n_probes):
        _random_signs(G[b], generator)
        AG[b].copy_(matvec(G[b]))
    return G, AG


def _remainder_grams(G, AG, QR, T, k, beta_k):
    """Gram matrices of the probes for the remainder of the basis' first ``k`` vectors.

    ``R_k = (I - P_k) A (I - P_k)``, ``P_k`` the projector on the first ``k`` rows of
    ``QR``. Returns ``(C, F)`` (float64, ``p x p``): ``C[i, j] = g_i^T R_k g_j`` and
    ``F[i, j] = (R_k g_i)^T (R_k g_j)``, from the probes ``G`` and their products
    ``AG`` without another product: with ``u = (I - P_k) g`` and ``c = Q_k g``,
    ``A u = A g - Q_k^T T_k c - c_k r_k`` (``A Q_k^T = Q_k^T T_k + r_k e_k^T``), ``r_k``
    the residual at step ``k``: the last row of ``QR`` when ``k`` is the whole basis,
    else ``beta_k`` times row ``k``.
    """
    Q = QR[:k]
    r = QR[k] * (1.0 if k == len(T) else beta_k)
    Tk = torch.as_tensor(T[:k, :k], dtype=G.dtype, device=G.device)
    C = G @ Q.T
    U = G - C @ Q
    AU = AG - (C @ Tk) @ Q - torch.outer(C[:, k - 1], r)
    V = AU - (AU @ Q.T) @ Q
    U, V = U.double(), V.double()
    gram, frobenius = (U @ V.T).cpu().numpy(), (V @ V.T).cpu().numpy()
    return (gram + gram.T) / 2, frobenius


def _nystrom(C, F, sketch, i, rcond=None):
    """``tr(N) - g_i^T N g_i`` for the Nystrom approximation ``N`` from the ``sketch`` probes.

    ``N = Y K^+ Y^T`` with ``Y = R Omega`` the sketch's images and ``K = Omega^T R
    Omega`` its core: ``tr(N) = tr(K^+ F_S)`` and ``g_i^T N g_i = C[i, S] K^+ C[S, i]``.
    ``K^+`` keeps the eigenvalues of ``K`` above ``_NYSTROM_RCOND`` of the largest
    (positive: a negative or tiny one would blow the approximation up).
    """
    rcond = _NYSTROM_RCOND if rcond is None else rcond
    K = C[np.ix_(sketch, sketch)]
    w, V = np.linalg.eigh(K)
    keep = w > rcond * max(w.max(), 0.0) if w.max() > 0 else np.zeros(len(w), bool)
    if not keep.any():
        return 0.0
    K_plus = (V[:, keep] / w[keep]) @ V[:, keep].T
    cross = C[i, sketch]
    return float(np.sum(K_plus * F[np.ix_(sketch, sketch)]) - cross @ K_plus @ cross)


def _remainder_samples(method, G, AG, bases, QR, T, betas, rcond=None):
    """Per-probe terms of the remainder estimator ``method`` and the basis of each.

    Probe ``i`` is taken on the remainder ``R_k`` of the first ``k = bases[i]``
    Lanczos vectors. Its term is ``tr(T_k) - tr(T)`` plus, for ``"hutchinson"``,
    ``g_i^T R_k g_i``; for ``"xnystrace"`` (exchangeable, Epperly, Tropp and
    Webber's XNysTrace on the remainder), ``tr(N_i) + g_i^T (R_k - N_i) g_i`` with
    ``N_i`` the Nystrom approximation of ``R_k`` from every other probe; for
    ``"hutchpp"`` only the odd-numbered probes have a term, with ``N`` from the
    even-numbered ones (a Nystrom Hutch++, Persson, Cortinovis and Kressner's
    NA-Hutch++ with the sketch's products taken from probes). Each term is
    unbiased for ``tr(A) - tr(T)`` as long as ``g_i`` is independent of the probes
    of its sketch and of ``k`` (the probes' rule makes sure of the latter): then
    ``E[g_i^T (R_k - N_i) g_i | rest] = tr(R_k) - tr(N_i)``. So ``tr(T)`` plus the
    terms' mean estimates the trace without bias. No product is needed beyond the
    probes'.
    """
    grams = {}
    for k in np.unique(bases):
        k = int(k)
        beta_k = betas[k - 1] if k < len(T) else 1.0
        grams[k] = _remainder_grams(G, AG, QR, T, k, beta_k)
    p = len(bases)
    trace = float(np.trace(T))
    offset = {k: float(np.trace(T[:k, :k])) - trace for k in grams}
    rows = range(p) if method != "hutchpp" else range(1, p, 2)
    terms = []
    for i in rows:
        C, F = grams[int(bases[i])]
        term = offset[int(bases[i])] + C[i, i]
        if method == "xnystrace":
            term += _nystrom(C, F, [j for j in range(p) if j != i], i, rcond)
        elif method == "hutchpp":
            term += _nystrom(C, F, list(range(0, p, 2)), i, rcond)
        terms.append(term)
    return np.array(terms), np.asarray(bases)[list(rows)]



def _grouped_variance(values, groups):
    """Variance of ``values.mean()`` from the spread within groups.

    Within a group the values are taken as independent and identically
    distributed, and the groups as independent of each other: the variance of
    the mean is then ``sum_g n_g s_g^2 / n^2``, ``s_g^2`` the group's sample
    variance. A group of one value borrows the pooled within-group variance of
    the others; NaN when no group has two.
    """
    n = len(values)
    sizes, variances = [], []
    for g in np.unique(groups):
        group = values[groups == g]
        sizes.append(len(group))
        variances.append(np.var(group, ddof=1) if len(group) > 1 else math.nan)
    sizes, variances = np.array(sizes), np.array(variances)
    known = sizes > 1
    if not known.any():
        return math.nan
    pooled = np.sum((sizes[known] - 1) * variances[known]) / np.sum(sizes[known] - 1)
    variances[~known] = pooled
    return float(np.sum(sizes * variances) / n**2)


def _lanczos_deflated(op, n_probes, max_steps, tol, deflation_tol, rng, remainder="hutchinson",
                      bulk_probes=None):
    """Lanczos then deflated Hutchinson, in torch, in the operator's dtype and device.

    Returns ``(trace_basis, samples, eigenvalue, steps, bases)``: ``tr(T)``,
    ``T = Q^T A Q`` on the Krylov basis ``Q`` of ``steps`` vectors (see
    :func:`_lanczos`), the ``n_probes`` probes' samples of the deflated
    remainder such that ``trace_basis + samples.mean()`` is the trace estimate,
    the top Ritz value, the number of Lanczos steps (products: ``steps +
    n_probes``) and, per sample, the number of basis vectors it was taken on.

    With ``deflation_tol > 0`` and at least 4 probes, the first 4 are drawn and
    multiplied before Lanczos and may stop it earlier (:class:`_ProbeStop`); a
    half of them is then taken on a basis of fewer vectors. Otherwise, and
    whenever both halves go to the end, ``bases`` is ``steps`` throughout and the
    samples are those of :func:`_deflated_samples`, from the same random numbers
    (the start vector, then the probes), bit for bit. The mean is unbiased in
    both cases. Given one basis the samples are independent, and
    ``samples.var(ddof=1) / n_probes`` estimates the variance of the estimate
    without bias (what the benchmark reports); with two,
    :func:`_grouped_variance` estimates it from the spread within the halves,
    approximately (the halves are tied through their stopping steps). Requires
    ``max_steps + n_probes < n``.

    ``remainder`` other than ``"hutchinson"``: the samples are the per-probe terms
    of that estimator of the remainder's trace (:func:`_remainder_samples`), from
    the same random numbers, so the same basis and probes; ``tr(T)`` plus their
    mean is again the estimate. ``remainder`` may also be a tuple of names: the
    second item is then a dict name -> ``(samples, bases)``, every estimator from
    the same run (the benchmark's paired comparison), and the last item is None.

    ``bulk_probes`` (Hutchinson's remainder and the probes' rule only): once a
    half of the rule's probes has stopped, ``bulk_probes - n_probes`` further
    probes are drawn on the final basis, after the others (so the first
    ``n_probes`` samples come from the same random numbers as without them).
    When exactly one half stopped the samples are reweighted and centred
    (:func:`_bulk_weights`), so that ``trace_basis + samples.mean()`` stays the
    estimate and :func:`_standard_error` its standard error.
    """
    matvec, n, dtype, device = _torch_matvec(op)
    generator = torch.Generator().manual_seed(_torch_seed(rng))
    # One row more than the basis can take, for the last residual.
    QR = _empty_rows(max_steps + 1, n, dtype, device)
    monitor = None
    if deflation_tol > 0 and n_probes >= _STOP_PROBES:
        monitor = _ProbeStop(matvec, n, n_probes, max_steps, dtype, device)
    steps, T, _, theta, residual = _lanczos(
        matvec, QR[:max_steps], tol, deflation_tol, generator, monitor
    )
    QR[steps] = residual
    if remainder != "hutchinson":
        if monitor is None:
            G, AG = _probe_products(matvec, n_probes, n, dtype, device, generator)
            bases = np.full(n_probes, steps)
        else:
            G, AG, bases = monitor.G, monitor._AG, monitor.bases(steps)
            if n_probes > len(bases):
                G1, AG1 = _probe_products(matvec, n_probes - len(bases), n, dtype, device,
                                          generator)
                G, AG = torch.cat([G, G1]), torch.cat([AG, AG1])
                bases = np.r_[bases, np.full(n_probes - len(bases), steps)]
        betas = monitor.betas if monitor is not None else []
        names = (remainder,) if isinstance(remainder, str) else tuple(remainder)
        # a name, or (name, rcond of the Nystrom core) for the benchmark's variants
        results = {
            name: _remainder_samples(*((name,) if isinstance(name, str) else name[:1]), G, AG,
                                     bases, QR[: steps + 1], T, betas,
                                     *(() if isinstance(name, str) else name[1:]))
            for name in names
        }
        if isinstance(remainder, str):
            samples, bases = results[remainder]
            return float(np.trace(T)), samples, theta, steps, bases
        return float(np.trace(T)), results, theta, steps, None
    if monitor is None:
        samples = _deflated_samples(matvec, QR[: steps + 1], T, n_probes, generator)
        bases = np.full(n_probes, steps)
    else:
        samples, bases = monitor.samples(QR[: steps + 1], T)
        stopped = [stop is not None for stop in monitor.stops]
        extra = max(0, bulk_probes - n_probes) if bulk_probes is not None else 0
        drawn = extra if any(stopped) else 0
        if n_probes + drawn > len(samples):
            rest = _deflated_samples(matvec, QR[: steps + 1], T,
                                     n_probes + drawn - len(samples), generator)
            samples, bases = np.r_[samples, rest], np.r_[bases, np.full(len(rest), steps)]
        if drawn and not all(stopped):
            # Weighted so that the mean is the estimate; centred first, so that the
            # spread within each basis estimates its weighted variance.
            center = float(np.mean(samples))
            weights = _bulk_weights(monitor, n_probes, extra)
            samples = center + len(samples) * weights * (samples - center)
    return float(np.trace(T)), samples, theta, steps, bases


def _bulk_weights(monitor, n_probes, extra):
    """Weights of the probes when exactly one half of the probes' rule stopped.

    With the rule for the broad bulk, ``extra`` further probes are drawn once a
    half has stopped. A sample's weight must not depend on the sample itself, or
    the estimate would be biased; whether its own half stopped does. So each half
    is weighted as if it were one of ``n_probes + extra`` probes when the other
    half stopped, one of ``n_probes`` otherwise (the weights of the estimate
    without the rule), and the probes drawn after Lanczos, which depend on
    nothing, share the rest of the weight equally. When both halves stopped every
    weight is ``1 / (n_probes + extra)``, when neither ``1 / n_probes``: the mean.

    The caller turns the samples ``x_i`` into ``c + N w_i (x_i - c)``, ``N`` their
    number and ``c`` their plain mean: since the weights sum to 1, the mean of
    these is ``sum_i w_i x_i`` whatever ``c`` is, and as every sample has the
    same expectation (the trace of the remainder on its basis, plus the trace the
    larger basis holds on the rest), ``c`` removes it, so that the spread of these
    values within a basis estimates ``N^2`` times the mean of ``w_i^2 sigma^2``
    there and :func:`_standard_error` the variance ``sum_i w_i^2 sigma_i^2``
    (approximately, as it is with the halves alone).
    """
    size = len(monitor.G)
    weights = []
    for rows, other in zip(monitor.halves, monitor.stops[::-1], strict=True):
        weights.append(np.full(len(rows), 1 / (n_probes + extra * (other is not None))))
    first = np.concatenate(weights)
    rest = n_probes + extra - size
    return np.r_[first, np.full(rest, (1 - first.sum()) / rest)]


def _standard_error(samples, bases):
    """Standard error of the trace estimate from its samples (NaN for one)."""
    if len(samples) < 2:
        return math.nan
    if np.all(bases == bases[0]):
        return float(np.std(samples, ddof=1) / np.sqrt(len(samples)))
    return math.sqrt(_grouped_variance(samples, bases))


@_renamed_parameters(num_probes="n_probes")
@validate_params(
    {
        "op": _OPERATOR,
        "n_probes": [Interval(Integral, 1, None, closed="left")],
        "max_lanczos_steps": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "deflation_tol": [Interval(Real, 0, 1, closed="both")],
        "random_state": _RANDOM_STATE,
        "return_se": ["boolean"],
        "remainder": [StrOptions(set(_REMAINDERS))],
        "bulk_probes": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def trace_and_top_eigenvalue(
    op,
    *,
    n_probes=_DEFAULT_N_PROBES,
    max_lanczos_steps=24,
    tol=1e-3,
    deflation_tol=1e-2,
    random_state=None,
    return_se=False,
    remainder="hutchinson",
    bulk_probes=_DEFAULT_BULK_PROBES,
):
    """Trace and top eigenvalue of a symmetric operator sharing the products.

    Lanczos with full reorthogonalisation, from a random start, gives the top
    eigenvalue (the largest-magnitude Ritz value ``theta`` of its tridiagonal
    matrix ``T = Q^T A Q``) and a Krylov basis ``Q`` that captures the few large
    eigenvalues first. The trace is ``tr(T)`` (the trace of ``A`` on that basis,
    free) plus a Hutchinson estimate of the trace of the deflated remainder
    ``(I - Q Q^T) A (I - Q Q^T)`` from ``n_probes`` projected Rademacher probes
    ``g - Q (Q^T g)``: unbiased, since ``Q`` does not depend on the probes (as in
    Hutch++, with Lanczos in place of the randomized range finder).

    The variance of a probe is about twice the squared Frobenius norm of the
    remainder, which for trained networks is mostly in the few outlier
    eigenvalues (about one per class). So Lanczos does not stop when its
    eigenvalue has converged (to ``tol``, ARPACK's criterion, as in
    :func:`top_eigenvalue`) but runs on until, in addition, each of its last two
    steps removed at most ``deflation_tol`` of the squared Frobenius norm the
    basis has removed so far (known exactly from ``T`` and the last residual, no
    product needed), or until ``max_lanczos_steps``, or until its basis spans an
    invariant subspace.

    That rule sees only what the basis removed. When the remainder is a broad
    bulk (ResNet-18 in the benchmark), further steps barely lower the probes'
    variance, and only the probes see it. So with at least 4 probes the first 4
    are drawn and multiplied before Lanczos; their kept products give, at every
    step and for free, the remainder's trace and squared Frobenius norm. Two of
    them stop Lanczos for the other two, and the other way round, once the
    eigenvalue has converged, the remainder's trace is spread over many
    eigenvalues and the last two steps did not pay for themselves in variance.
    Each pair's samples are then taken on the basis at which the other pair
    stopped: they do not depend on it, so the estimate stays unbiased. On such a
    broad bulk the error is essentially Hutchinson's, which only more probes
    lower; with ``bulk_probes`` set, the steps the rule saved pay for more
    probes, ``bulk_probes`` in all instead of ``n_probes``, drawn after Lanczos
    on its final basis. Where the probes do not stop Lanczos (the MLP and CNN of
    the benchmark), results are those of the Lanczos rule alone, from the same
    random numbers, whatever ``bulk_probes``. The total cost is the steps taken
    plus ``n_probes`` products, or plus ``max(n_probes, bulk_probes)`` once a
    pair of probes has stopped. When
    ``max_lanczos_steps + n_probes >= n`` both are computed exactly from the
    dense matrix instead (``n`` products with the unit vectors).

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator, which must be symmetric. A :class:`HessianOperator` is
        worked with in its own dtype on its own device (the basis is a
        ``(steps, n)`` tensor there); other operators in float64 on the CPU.
    n_probes : int, default=6
        Hutchinson probes of the deflated remainder, one product each.
    max_lanczos_steps : int, default=24
        Most Lanczos steps (products); each holds one vector of size ``n``.
    tol : float, default=1e-3
        Relative residual of the top Ritz pair at or below which the eigenvalue
        has converged; with 0, Lanczos runs all ``max_lanczos_steps`` (or to an
        invariant subspace).
    deflation_tol : float, default=1e-2
        Lanczos stops, once the eigenvalue has converged, after the first two
        consecutive steps that each removed at most this fraction of the squared
        Frobenius norm removed so far, or when the probes stop it (above); 0
        runs all ``max_lanczos_steps`` (or to an invariant subspace) and turns
        the probes' rule off.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the starting vector and of the probes. Pass an int for
        reproducible results.
    return_se : bool, default=False
        Also return the standard error of the trace estimate.
    remainder : {"hutchinson", "hutchpp", "xnystrace"}, default="hutchinson"
        Estimator of the trace of the deflated remainder, all unbiased and at the
        same products (the probes'): Hutchinson's mean of the probes' samples;
        ``"hutchpp"``, a Nystrom Hutch++ whose sketch is the even-numbered probes'
        images under the remainder (free: each probe's product gives it) and whose
        Hutchinson part is the odd-numbered probes on what the sketch leaves;
        ``"xnystrace"``, the exchangeable version, every probe correcting the
        Nystrom approximation from all the others (XNysTrace on the remainder).
        The last two pay only where the remainder still has a few dominant
        eigenvalues (measured in section 6 of ``benchmarks/bench_hessian.py``).
        They keep every probe and its product (two vectors per probe).
    bulk_probes : int or None, default=12
        Probes in all when the probes' rule finds that what Lanczos leaves is a
        broad bulk (once a pair of its probes has stopped; when both have,
        Lanczos stops there), with at least 4 probes, ``deflation_tol > 0`` and
        ``remainder="hutchinson"``; ignored otherwise. The extra ``bulk_probes -
        n_probes`` probes are drawn after Lanczos, on its final basis, so they do
        not depend on it and the estimate stays unbiased; each of the first
        probes keeps a weight that does not depend on its own sample (see
        Returns). A value at most ``n_probes``, or None, draws no extra probe
        (the estimator of ``n_probes`` alone). Where the rule does not fire the
        results do not depend on it. To choose: on a broad bulk the error falls
        about as ``1 / sqrt(bulk_probes)``, since what is left after Lanczos is
        spread over far more eigenvalues than probes, and the cost grows by one
        product per extra probe (Lanczos itself cannot stop before the
        eigenvalue has converged). Raise it when the trace matters more than the
        time, lower it (or None) for speed; ``benchmarks/README.md``, "Broad
        bulk: probes for the steps saved", has the trade-off measured on
        ResNet-18.

    Returns
    -------
    trace : float
        The trace estimate.
    top_eigenvalue : float
        The eigenvalue of largest magnitude, with its sign.
    trace_se : float
        Only with ``return_se``: the standard error of ``trace`` from the spread of
        the probes, ``std(samples, ddof=1) / sqrt(n_probes)``, which is unbiased in
        its square given the basis (the probes are independent given ``Q``). When
        the probes stopped Lanczos, the two pairs are taken on different bases
        (further probes on the final one), and the spread within each is pooled
        (approximately unbiased: the pairs are tied through the steps at which
        they stopped). With ``bulk_probes`` drawn and one pair stopped but not
        the other, the pairs and the further probes carry different weights (a
        pair counts as one of ``n_probes + extra`` probes if the other pair
        stopped, of ``n_probes`` otherwise; the further probes share the rest):
        the variance is then the sum over the groups of the squared weights
        times the group's spread (approximate in the same way). NaN for one
        probe, 0 when the trace is computed exactly
        from the dense matrix. With ``"xnystrace"``, ``std(terms, ddof=1) /
        sqrt(n_probes)`` over the per-probe terms, XTrace's error estimate: the
        terms are exchangeable but not independent, so it is approximate
        (checked on dense matrices in the tests).

    Notes
    -----
    On trained networks Lanczos stops once the outliers are in its basis or the
    probes see a broad bulk left, and the deflated probes are then several times
    less variable
    than plain Hutchinson probes (sections 2 and 4 of
    ``benchmarks/bench_hessian.py``; figures on the documentation's benchmarks
    page).
    Memory: the basis, one vector of ``n`` entries in the operator's dtype per
    Lanczos step taken (room for ``max_lanczos_steps`` is reserved, but pages
    never written are not backed), one more for the last residual, 8 for the
    first 4 probes and their products, and up to 4 more for further probes
    (``min(n_probes, 4)`` in all without the probes' rule).
    If the eigenvalue has not converged in ``max_lanczos_steps`` products, it is
    the best Ritz value so far (a lower bound of its magnitude); no warning is
    given.

    References
    ----------
    R. A. Meyer, C. Musco, C. Musco and D. P. Woodruff, "Hutch++: optimal
    stochastic trace estimation", SOSA 2021.

    See Also
    --------
    xtrace : Trace estimate of lower variance for a larger budget.
    top_eigenvalue : Top eigenvalue alone, by ARPACK's Lanczos.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import trace_and_top_eigenvalue
    >>> rng = np.random.default_rng(0)
    >>> U, _ = np.linalg.qr(rng.standard_normal((100, 100)))
    >>> A = (U * 0.5 ** np.arange(100)) @ U.T  # trace 2, top eigenvalue 1
    >>> trace, top = trace_and_top_eigenvalue(A, random_state=0)
    >>> round(trace, 4), round(top, 4)
    (1.9969, 1.0)
    >>> A = np.diag(np.linspace(1.0, 2.0, 200))  # no outliers: the probes see it all
    >>> trace, top, se = trace_and_top_eigenvalue(A, n_probes=16, max_lanczos_steps=4,
    ...                                           random_state=0, return_se=True)
    >>> abs(trace - 300.0) < 3 * se
    True
    """
    linop, n = _as_linear_operator(op)
    if max_lanczos_steps + n_probes >= n:
        eigvals = np.linalg.eigvalsh(_dense(linop, n))
        result = float(np.sum(eigvals)), float(eigvals[np.argmax(np.abs(eigvals))])
        return (*result, 0.0) if return_se else result
    rng = _check_random_state(random_state)
    trace_basis, samples, eigenvalue, _, bases = _lanczos_deflated(
        op, n_probes, max_lanczos_steps, tol, deflation_tol, rng, remainder,
        bulk_probes=bulk_probes,
    )
    trace = trace_basis + float(np.mean(samples))
    if not return_se:
        return trace, eigenvalue
    if remainder == "xnystrace":
        se = float(np.std(samples, ddof=1) / np.sqrt(len(samples))) if len(samples) > 1 \
            else math.nan
        return trace, eigenvalue, se
    return trace, eigenvalue, _standard_error(samples, bases)
