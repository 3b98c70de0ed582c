"""Speed of MDTreeClassifier.fit against two baselines, side by side in one run.

1. A per-sample-loop implementation of the same Brent search (the tree as a
   Python ``if`` per row and ``-accuracy_score`` as the objective, as research
   code writes it), fitted on all of collection F. Goal: ours >= 50x faster.
   Reported twice: our whole ``fit`` (with scikit-learn's input validation of a
   DataFrame and label encoding), and our search alone on the same arrays the
   baseline takes.
2. ``DecisionTreeClassifier(max_depth=4)`` on 10**6 synthetic rows with the
   MD tree's three features. Goal: ours no slower (ratio <= 1).

Run from the repository root::

    python -m benchmarks.bench_mdtree_fit [--rows 1000000] [--repeat 3]

Prints a markdown table of best-of-``repeat`` wall times and their ratios.
"""

import argparse
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from sklearn.metrics import accuracy_score
from sklearn.tree import DecisionTreeClassifier

from sklearn_mdtree import MDTreeClassifier, get_preset
from sklearn_mdtree._search import brent_threshold, compile_tree, position_scores
from sklearn_mdtree.datasets import fetch_model_diagnosis

FEATURES = ["train_error", "mode_connectivity_peak", "hessian_t"]


def loop_fit(X, y, init=(0.5, -10.0, 7.0), bounds=((0, 1), (-30, 0), (4, 9))):
    """The baseline: Brent on a per-sample Python predictor."""

    def predict(thr):  # the per-row rule, written as research code writes it
        out = []
        for i in range(X.shape[0]):
            if X[i, 0] <= thr[0]:
                out.append("small")
            else:
                if X[i, 1] <= thr[1]:
                    if X[i, 2] <= thr[2]:
                        out.append("large")
                    else:
                        out.append("small")
                else:
                    out.append("large")
        return np.array(out)

    thr = list(init)
    for k in range(3):

        def objective(t, k=k):
            thr[k] = t
            return -accuracy_score(y, predict(thr))

        thr[k] = minimize_scalar(objective, bounds=bounds[k], method="bounded").x
    return thr


def vectorised_search(X, y_code):
    """Our search alone: the three Brent searches of the Q1 tree on arrays."""
    h = get_preset("q1")
    tree = compile_tree(h.root, ["t0", "t1", "t2"], {f: i for i, f in enumerate(FEATURES)},
                        {"large": 0, "small": 1})
    thr = np.array([0.5, -10.0, 7.0])
    presorted = [np.argsort(X[:, c], kind="stable") for c in range(3)]
    for k, bounds in enumerate([(0, 1), (-30, 0), (4, 9)]):
        values, scores = position_scores(tree, X, y_code, None, thr, k, 2, presorted[k])
        thr[k] = brent_threshold(values, scores, len(y_code), bounds)
    return thr


def best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic problem")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; the best is kept")
    args = parser.parse_args(argv)

    F = fetch_model_diagnosis("normal").frame
    F = F[F.bs_failure != "optimal"]
    X, y = F[FEATURES], F.bs_failure.to_numpy()
    ours = MDTreeClassifier().fit(X, y)
    ref = loop_fit(X.to_numpy(), y)
    assert np.allclose(list(ours.thresholds_.values()), ref), "implementations disagree"
    Xa, y_code = X.to_numpy(), (y == "small").astype(np.intp)
    assert np.array_equal(vectorised_search(Xa, y_code), ref)
    t_ours = best_time(lambda: MDTreeClassifier().fit(X, y), args.repeat)
    t_search = best_time(lambda: vectorised_search(Xa, y_code), args.repeat)
    t_loop = best_time(lambda: loop_fit(Xa, y), args.repeat)

    rng = np.random.RandomState(0)
    n = args.rows
    big = pd.DataFrame({"train_error": rng.exponential(2, n),
                        "mode_connectivity_peak": -rng.exponential(10, n),
                        "hessian_t": rng.uniform(3, 10, n)})
    yb = np.where(big.hessian_t + rng.normal(0, 1, n) > 6.5, "small", "large")
    t_big = {}
    for search in ("brent", "exhaustive"):
        t_big[search] = best_time(
            lambda s=search: MDTreeClassifier(threshold_search=s).fit(big, yb), args.repeat)
    t_dt = best_time(lambda: DecisionTreeClassifier(max_depth=4, random_state=0).fit(big, yb),
                     args.repeat)

    print("| fit | rows | ours (s) | baseline (s) | baseline / ours |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| Q1 Brent on F, whole fit vs per-sample loop | {len(X)} | {t_ours:.4f} | "
          f"{t_loop:.3f} | {t_loop / t_ours:.0f}x |")
    print(f"| Q1 Brent on F, search alone vs per-sample loop | {len(X)} | {t_search:.4f} | "
          f"{t_loop:.3f} | {t_loop / t_search:.0f}x |")
    for search, t in t_big.items():
        print(f"| Q1 {search} vs DecisionTreeClassifier(max_depth=4) | {n} | {t:.3f} | "
              f"{t_dt:.3f} | {t_dt / t:.2f}x |")


if __name__ == "__main__":
    main()
