"""Tests of HessianBlock and layer_sharpness against the blocks of dense Hessians."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _hessian_cases import LOSS  # noqa: E402

from featurizers.hessian import (  # noqa: E402
    HessianBlock,
    hessian_layer_sharpness,
    layer_sharpness,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


def _offsets(model):
    out, start = {}, 0
    for name, p in model.named_parameters():
        out[name] = np.arange(start, start + p.numel())
        start += p.numel()
    return out


def _dense_block(case, names):
    offsets = _offsets(case["model"])
    idx = np.concatenate([offsets[n] for n in names])
    return case["H"][np.ix_(idx, idx)]


def _modules(model):
    groups = {}
    for name, _ in model.named_parameters():
        groups.setdefault(name.rpartition(".")[0], []).append(name)
    return groups


def test_block_matvec_is_dense_block(case):
    for names in _modules(case["model"]).values():
        block = HessianBlock(case["op"], names)
        Hb = _dense_block(case, names)
        v = torch.randn(block.n_parameters, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(0))
        np.testing.assert_allclose(block.matvec(v).numpy(), Hb @ v.numpy(),
                                   rtol=1e-10, atol=1e-12)


def test_layer_sharpness_exact(case):
    """Blocks small enough for the dense path: exact trace and top eigenvalue."""
    table = layer_sharpness(case["op"], max_lanczos_steps=200, random_state=0)
    groups = _modules(case["model"])
    assert table.index.tolist() == list(groups)
    for label, names in groups.items():
        eigvals = np.linalg.eigvalsh(_dense_block(case, names))
        top = eigvals[np.argmax(np.abs(eigvals))]
        row = table.loc[label]
        assert row["n_parameters"] == len(eigvals)
        assert abs(row["trace"] - eigvals.sum()) <= 1e-10 * np.abs(eigvals).sum()
        assert abs(row["top_eigenvalue"] - top) <= 1e-10 * abs(top)
        assert row["trace_se"] == 0 and row["top_eigenvalue_se"] == 0
    assert abs(table["trace"].sum() - np.trace(case["H"])) <= 1e-10 * np.abs(case["H"]).sum()


def test_layer_sharpness_lanczos_se_covers_truth(case):
    """Lanczos path (blocks larger than steps + probes): the SEs cover the truth."""
    groups = {label: names for label, names in _modules(case["model"]).items()
              if sum(len(_offsets(case["model"])[n]) for n in names) > 12}
    exact = {}
    for label, names in groups.items():
        eigvals = np.linalg.eigvalsh(_dense_block(case, names))
        exact[label] = (eigvals.sum(), eigvals)
    hits, bounds = [], []
    for seed in range(30):
        table = layer_sharpness(case["op"], groups, n_probes=6, max_lanczos_steps=6,
                                tol=1e-12, random_state=seed)
        for label, (trace, eigvals) in exact.items():
            row = table.loc[label]
            assert row["n_matvecs"] == 12
            hits.append(abs(row["trace"] - trace) <= 2 * row["trace_se"])
            # the residual bound is rigorous: an eigenvalue of the block within it
            nearest = np.min(np.abs(eigvals - row["top_eigenvalue"]))
            bounds.append(nearest <= row["top_eigenvalue_se"] * (1 + 1e-8) + 1e-12)
    assert np.mean(hits) >= 0.75, np.mean(hits)
    assert all(bounds)


def test_layer_sharpness_groups(case):
    model = case["model"]
    by_parameter = layer_sharpness(case["op"], "parameter", max_lanczos_steps=200)
    assert by_parameter.index.tolist() == [n for n, _ in model.named_parameters()]
    last = list(_modules(model))[-1]
    head = [p for n, p in model.named_parameters() if n.startswith(f"{last}.")]
    table = hessian_layer_sharpness(model, LOSS, case["x"], case["y"],
                                    groups={"head": head, "rest": [list(_modules(model))[0]]},
                                    max_lanczos_steps=200)
    names = [n for n, _ in model.named_parameters() if n.startswith(f"{last}.")]
    eigvals = np.linalg.eigvalsh(_dense_block(case, names))
    assert abs(table.loc["head", "trace"] - eigvals.sum()) <= 1e-10 * np.abs(eigvals).sum()
    with pytest.raises(ValueError, match="names no parameter"):
        layer_sharpness(case["op"], {"x": ["nope"]})
    with pytest.raises(ValueError, match="not a parameter"):
        hessian_layer_sharpness(model, LOSS, case["x"], case["y"],
                                groups={"x": [torch.zeros(2)]})


def test_block_with_the_other_estimators(case):
    """A HessianBlock is an operator like any: top-k and the SLQ density of the block."""
    from featurizers.hessian import spectral_density, spectral_moments, top_eigenvalues

    names = list(_modules(case["model"]).values())[-1]
    Hb = _dense_block(case, names)
    block = HessianBlock(case["op"], names)
    eigvals = np.linalg.eigvalsh(Hb)
    expected = eigvals[np.argsort(-np.abs(eigvals))][:3]
    got = top_eigenvalues(block, k=3, tol=1e-12, max_steps=len(Hb), random_state=0)
    np.testing.assert_allclose(got, expected, atol=1e-8 * abs(expected[0]))
    density = spectral_density(block, n_probes=2, n_steps=len(Hb), random_state=0)
    mean, _ = spectral_moments(density, orders=(1,))
    assert density.n_parameters == len(Hb)
    assert abs(mean[0] * len(Hb) - density.trace) <= 1e-10 * abs(density.trace)
