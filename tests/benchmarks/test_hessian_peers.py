"""The peers' wrappers of benchmarks/bench_hessian.py (section 5) on a tiny model.

curvlinops and hessian-eigenthings are pinned in the 'hessian-peers' extra because their
APIs change between releases: these tests call the wrappers the benchmark uses on a tiny
float64 network with BatchNorm, in eval mode, whose dense Hessian is computed exactly,
and check that each returns its trace and top eigenvalue within its expected error, with
the number of products the benchmark reports.
"""

import copy
import json

import numpy as np
import pytest
from _helpers import import_benchmark

torch = pytest.importorskip("torch")
pytest.importorskip(
    "curvlinops", reason="curvlinops is not installed (the 'hessian-peers' extra)"
)
pytest.importorskip(
    "hessian_eigenthings", reason="hessian-eigenthings is not installed (the 'hessian-peers' extra)"
)


@pytest.fixture(scope="module")
def bench():
    return import_benchmark("bench_hessian")


@pytest.fixture(scope="module")
def problem(bench):
    """A tiny trained conv-BN network (float64, eval mode), its batch and dense Hessian."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1),
        torch.nn.BatchNorm2d(3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 4 * 4, 3),
    ).double()
    x = torch.randn(40, 2, 4, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (40,))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for _ in range(50):
        optimizer.zero_grad()
        bench.LOSS(model(x), y).backward()
        optimizer.step()
    model.eval()
    from featurizers.hessian import HessianOperator

    op = HessianOperator(model, bench.LOSS, x, y)
    n = op.n_parameters
    dense = np.column_stack([op.to_linear_operator().matvec(e) for e in np.eye(n)])
    dense = (dense + dense.T) / 2
    eigenvalues = np.linalg.eigvalsh(dense)
    return {
        "model": model,
        "x": x,
        "y": y,
        "n": n,
        "trace": float(np.trace(dense)),
        "top": float(eigenvalues[np.argmax(np.abs(eigenvalues))]),
    }


def _bn_state(model):
    return [b.clone() for b in model.buffers()]


def _check_unbiased(estimates, truth):
    estimates = np.asarray(estimates)
    se = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - truth) < 4 * se + 1e-9 * abs(truth)
    # and not a trivial estimator: each estimate within 50% of the truth
    assert np.all(np.abs(estimates - truth) < 0.5 * abs(truth))


@pytest.mark.parametrize("method", ["hutch++", "xtrace"])
def test_curvlinops_trace_is_unbiased_at_its_budget(bench, problem, method):
    model = copy.deepcopy(problem["model"])
    buffers = _bn_state(model)
    op = bench.curvlinops_operator(model, problem["x"], problem["y"])
    assert op.count == 0  # check_deterministic=False: no product at set-up
    estimates = []
    for seed in range(40):
        before = op.count
        estimates.append(bench.curvlinops_trace(op, method, 13, seed))
        # the budget rounded to a multiple of 3 (Hutch++) or an even number (XTrace)
        assert op.count - before == (12 if method == "hutch++" else 14)
    _check_unbiased(estimates, problem["trace"])
    for before, after in zip(buffers, _bn_state(model)):
        assert torch.equal(before, after)


def test_curvlinops_eigsh_finds_the_top_eigenvalue(bench, problem):
    op = bench.curvlinops_operator(copy.deepcopy(problem["model"]), problem["x"], problem["y"])
    value, products = bench.curvlinops_top_eigenvalue(op, seed=0, tol=1e-8)
    assert value == pytest.approx(problem["top"], rel=1e-6)
    assert products > 0


def test_eigenthings_trace_and_lanczos(bench, problem):
    model = copy.deepcopy(problem["model"])
    buffers = _bn_state(model)
    op = bench.eigenthings_operator(model, problem["x"], problem["y"])
    estimates, errors = [], []
    for seed in range(40):
        before = op.count
        estimate, stderr = bench.eigenthings_trace(op, 13, seed)
        assert op.count - before == 12  # three phases of 13 // 3 = 4 products
        estimates.append(estimate)
        errors.append(stderr)
    _check_unbiased(estimates, problem["trace"])
    before = op.count
    value = bench.eigenthings_top_eigenvalue(op, seed=0)
    assert op.count - before == 20  # k=10: 2k Lanczos steps
    assert value == pytest.approx(problem["top"], rel=1e-4)
    # in eval mode the BatchNorm statistics do not move
    for before, after in zip(buffers, _bn_state(model)):
        assert torch.equal(before, after)


def test_reference_trace_and_rms_error(bench, problem):
    reference, se = bench.reference_trace(
        problem["model"], problem["x"], problem["y"], n_probes=20
    )
    assert abs(reference - problem["trace"]) < 4 * se + 1e-9 * abs(problem["trace"])
    rms, low, high = bench.rms_error([1.0, -1.0, 1.0, -1.0], 0.0)
    assert rms == pytest.approx(1.0)
    assert low < 1.0 < high


def test_bench_peers_runs_every_method(bench, problem, tmp_path):
    model = problem["model"]
    buffers = _bn_state(model)
    log = tmp_path / "peers.log"
    with open(log, "w") as f:
        print(json.dumps({"model": "tiny", "budget": 13}), file=f)
        runs = bench.bench_peers(
            model, problem["x"], problem["y"], range(2), 13, problem["top"], log=f
        )
    assert set(runs) == set(bench.PEERS)
    for method, results in runs.items():
        assert len(results) == 2
        for r in results:
            assert r["time"] > 0 and r["cpu"] >= 0
            assert abs(r["trace"] - problem["trace"]) < 0.5 * abs(problem["trace"]), method
            assert r["eig_err"] < 0.2, method
    # every method worked on its own copy
    for before, after in zip(buffers, _bn_state(model)):
        assert torch.equal(before, after)
    # the table's row, from the runs and from the per-seed log of a stopped run
    reference = (problem["trace"], 0.0)
    row = bench._peers_row("tiny", problem["n"], runs, *reference)
    assert row.startswith(f"| tiny | {problem['n']:,} | 2 |")
    assert bench.peers_rows_from_log(log, {"tiny": reference}, {"tiny": problem["n"]}) == [row]


def test_bench_peers_runs_a_subset_of_the_packages(bench, problem, tmp_path):
    log = tmp_path / "peers.log"
    with open(log, "w") as f:
        print(json.dumps({"model": "tiny", "budget": 13}), file=f)
        runs = bench.bench_peers(model := problem["model"], problem["x"], problem["y"],
                                 range(2), 13, problem["top"], log=f,
                                 packages=("ours", "PyHessian"))
    assert model is problem["model"]
    assert {m for m, r in runs.items() if r} == {"ours", "PyHessian"}
    assert all(len(runs[m]) == 2 for m in ("ours", "PyHessian"))
    reference = (problem["trace"], 0.0)
    row = bench._peers_row("tiny", problem["n"], runs, *reference)
    cells = row.split(" | ")
    assert cells[4].endswith("--, -- / --") and cells[7] == "-- / --" and cells[8] == "--"
    assert cells[6] != "--" and cells[9].endswith("/ -- / -- / --")  # PyHessian has figures
    assert bench.peers_rows_from_log(log, {"tiny": reference}, {"tiny": problem["n"]}) == [row]
    for packages in (("PyHessian",), ("ours", "WeightWatcher")):
        with pytest.raises(ValueError, match="subset of"):
            bench.bench_peers(model, problem["x"], problem["y"], range(1), 13, problem["top"],
                              packages=packages)
