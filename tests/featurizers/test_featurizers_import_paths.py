"""Every public import path of ``featurizers`` that worked before the package's layout changed.

The names are those of the ``__all__`` lists of ``featurizers`` and its public modules,
of ``docs/api.rst`` and ``docs/user_guide/featurize.rst`` before ``featurizers.hessian``
became a subpackage, written out here (not read from the package) so that a name that
disappears fails the test; plus the private names the benchmarks import.
"""

import importlib

import pytest

pytest.importorskip("torch")

CONNECTIVITY = [
    "CURVE_TS",
    "bezier_point",
    "curve_errors",
    "curve_lr",
    "curve_model",
    "evaluate_model",
    "fit_bend",
    "init_bend",
    "mode_connectivity",
    "mode_connectivity_peak",
    "recompute_bn_statistics",
]
HESSIAN = [
    "HessianBlock",
    "HessianOperator",
    "density_on_grid",
    "hessian_layer_sharpness",
    "hessian_spectral_density",
    "hessian_top_eigenvalue",
    "hessian_top_eigenvalues",
    "hessian_trace",
    "hutchinson_trace",
    "layer_sharpness",
    "pyhessian_trace",
    "spectral_density",
    "spectral_moments",
    "top_eigenvalue",
    "top_eigenvalues",
    "trace_and_top_eigenvalue",
    "xtrace",
]
#: The Hessian names also exported at the top level of ``featurizers``.
HESSIAN_TOP_LEVEL = [
    "HessianOperator",
    "hessian_top_eigenvalue",
    "hessian_trace",
    "hutchinson_trace",
    "pyhessian_trace",
    "top_eigenvalue",
    "trace_and_top_eigenvalue",
    "xtrace",
]
SIMILARITY = ["linear_cka", "mixup_batches", "output_cka"]
CHECKPOINTS = ["CheckpointError", "load_data", "load_factory", "load_model_group",
               "load_state_dict"]
TOP_LEVEL = [
    "FeaturizationWarning",
    "HyperparameterFeaturizer",
    "LossLandscapeFeaturizer",
    "ModelGroup",
    "ValidationFeaturizer",
    *CONNECTIVITY,
    *HESSIAN_TOP_LEVEL,
    *SIMILARITY,
    # from models in one call (issue 19)
    "featurize_checkpoints",
    "diagnose_models",
    "calibrate",  # added with featurizers.calibration (issue 21)
]

PATHS = (
    [("featurizers", name) for name in TOP_LEVEL]
    + [("featurizers.connectivity", name) for name in CONNECTIVITY]
    + [("featurizers.hessian", name) for name in HESSIAN]
    + [("featurizers.similarity", name) for name in SIMILARITY]
    + [("featurizers.checkpoints", name) for name in CHECKPOINTS]
)


@pytest.mark.parametrize("module, name", PATHS, ids=[f"{m}.{n}" for m, n in PATHS])
def test_import_path(module, name):
    namespace = {}
    exec(f"from {module} import {name}", namespace)
    assert namespace[name] is getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(
    "module, expected",
    [
        ("featurizers", TOP_LEVEL),
        ("featurizers.connectivity", CONNECTIVITY),
        ("featurizers.hessian", HESSIAN),
        ("featurizers.similarity", SIMILARITY),
        ("featurizers.checkpoints", CHECKPOINTS),
    ],
)
def test_all_lists_are_unchanged(module, expected):
    assert sorted(importlib.import_module(module).__all__) == sorted(expected)


def test_the_same_objects_from_the_package_and_its_modules():
    import featurizers
    import featurizers.hessian

    for name in HESSIAN_TOP_LEVEL:
        assert getattr(featurizers, name) is getattr(featurizers.hessian, name)


def test_calibration_is_imported_when_first_used():
    """``import featurizers`` leaves out the calibration (and the zoo's training code it
    brings); ``featurizers.calibrate`` then imports it."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(importlib.import_module("featurizers").__file__).parents[1]
    code = ("import sys, featurizers; print('featurizers.calibration' in sys.modules, "
            "'featurizers.zoo' in sys.modules); from featurizers import calibrate; "
            "print('featurizers.calibration' in sys.modules, calibrate.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=root, check=True)
    assert done.stdout.split("\n")[:2] == ["False False", "True featurizers.calibration"]
    import featurizers
    import featurizers.calibration

    assert featurizers.calibrate is featurizers.calibration.calibrate
    assert "calibrate" in dir(featurizers)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        featurizers.no_such_name  # noqa: B018
