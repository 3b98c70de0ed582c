"""Shared test setup: the public model-diagnosis collections, read from a local folder.

Tests and CI have no internet. When ``SKLEARN_MDTREE_DATA`` is unset, it is pointed for
the whole session at ``shared/data/model_diagnosis`` beside the repository's root
(found relative to this file, so that a clone anywhere next to ``shared`` works).
"""

import os
from pathlib import Path

import pytest

ENV_VAR = "SKLEARN_MDTREE_DATA"

#: The shared copy of the collections, relative to the repository's root.
SHARED_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "model_diagnosis"


@pytest.fixture(scope="session", autouse=True)
def _model_diagnosis_data_env():
    """Point SKLEARN_MDTREE_DATA at the shared copy, if unset and the folder exists."""
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get(ENV_VAR) and SHARED_DATA_DIR.is_dir():
            patch.setenv(ENV_VAR, str(SHARED_DATA_DIR))
        yield


@pytest.fixture(scope="session")
def model_diagnosis_dir(_model_diagnosis_data_env):
    """Folder holding the published CSVs; skips the test when there is none."""
    folder = os.environ.get(ENV_VAR)
    if not folder:
        pytest.skip(f"no local copy of the collections: set {ENV_VAR} or provide {SHARED_DATA_DIR}")
    return Path(folder)


@pytest.fixture(scope="session")
def stacked_frame(model_diagnosis_dir):
    """Both collections stacked (normal first), with a ``collection`` column. Read-only."""
    from sklearn_mdtree.datasets import fetch_model_diagnosis

    return fetch_model_diagnosis("both", download_if_missing=False).frame


@pytest.fixture(scope="session")
def published_frames(model_diagnosis_dir):
    """The two published files as pandas reads them, keyed by collection. Read-only."""
    import pandas as pd

    return {
        "normal": pd.read_csv(model_diagnosis_dir / "dataframe_normal_public.csv"),
        "noise": pd.read_csv(model_diagnosis_dir / "dataframe_noise_public.csv"),
    }


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Run torch and the BLAS on one thread for the whole session.

    The tests use tiny networks, where threads only add synchronisation, and CI shares
    two cores: measured here, two threads made Hessian tests up to ~100x slower under load.
    """
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    try:
        import torch
    except ImportError:
        torch = None
    threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------
# F and F' apart, and MD trees fitted on all of F (tests of diagnosis and one_step)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def collections(stacked_frame):
    normal = stacked_frame[stacked_frame["collection"] == "normal"]
    noise = stacked_frame[stacked_frame["collection"] == "noise"]
    return normal, noise


@pytest.fixture(scope="module")
def trees(collections):
    from sklearn_mdtree import MDTreeClassifier

    normal, _ = collections
    q1_rows = normal[normal["bs_failure"] != "optimal"]
    q2_rows = normal[normal["width_vs_batch"] != "optimal"]
    data_rows = normal[(normal["data_vs_batch"] != "optimal") & (normal["width"] >= 32)]
    return {
        "q1": MDTreeClassifier("q1").fit(q1_rows, q1_rows["bs_failure"]),
        "q2": MDTreeClassifier("q2").fit(q2_rows, q2_rows["width_vs_batch"]),
        "q2_data": MDTreeClassifier("q2_data").fit(data_rows, data_rows["data_vs_batch"]),
    }


def pytest_collection_modifyitems(config, items):
    """Property-based and fuzz tests (hypothesis) are ``slow``: CI runs them second.

    The default run (``pytest -q``, the README's command, ``-m 'not slow'`` in
    pyproject's addopts) keeps under 3 minutes on 2 cores; ``.ci/run`` then runs
    ``pytest -q -m slow``: the hypothesis tests, the fuzz, worker-process and
    subprocess suites and the zoo runs, each marked ``@pytest.mark.slow`` in its file.
    """
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.slow)
