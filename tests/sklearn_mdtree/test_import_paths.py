"""Every public import path of sklearn_mdtree that worked before the layout of issue 9.

The list is literal, read from the ``__all__`` of each public module, from
``docs/api.rst`` and from the README before the move (``sklearn_mdtree._paper`` became a
subpackage; the one-step evaluation moved from ``diagnosis`` to ``one_step``; the input
checks moved from ``rfi`` to ``_validation``). A name may move, but its old path must
keep working; add a path here when a public name is added, never remove one.
"""

import importlib

import pytest

OLD_PATHS = {
    "sklearn_mdtree": [
        "MDTreeClassifier", "Hierarchy", "Split", "Leaf", "PRESETS", "get_preset",
        "export_text", "__version__", "diagnose", "DiagnosisReport", "OutOfDomainWarning",
        "RecipeWarning",
    ],
    "sklearn_mdtree.pretrained": [
        "PretrainedTree", "available_trees", "load_tree", "resolve_family", "tree_from_dict",
        "tree_to_dict",
    ],
    "sklearn_mdtree.datasets": ["fetch_model_diagnosis", "read_model_diagnosis_csv"],
    "sklearn_mdtree.diagnosis": [
        "Decision", "Diagnosis", "Recommendation", "TreeVerdict", "diagnose", "recommend",
        "DiagnosisReport", "GroupReport", "VerdictReport", "DecisionReport", "FeatureReport",
        "one_step_gains", "optimal_diagnosis_moves", "random_diagnosis_gains",
        "recommend_moves",
    ],
    "sklearn_mdtree.model_selection": [
        "DEFAULT_SEEDS", "FewShotTransfer", "SCHEMES", "seeded_cross_val_score",
    ],
    "sklearn_mdtree.plotting": [
        "plot_accuracy_curves", "plot_one_step_gains", "plot_tree", "plot_regimes",
        "plot_model_position", "plot_connectivity_curve", "plot_trace_estimates",
        # issue 19: plotting became a package, with Display objects
        "TreeDisplay", "RegimesDisplay",
    ],
    "sklearn_mdtree.compare": [
        "METHODS", "BRENT_DATA", "EXHAUSTIVE_DATA", "Transfer", "curves_table",
        "learning_curves", "method_estimator", "score", "transfer_scores",
        # issue 19: compare owns the method names and settings (_paper imports them)
        "BRENT", "EXHAUSTIVE", "HYPER_DT", "VALID_DT", "HYPER_VALID_DT", "LL_DT", "Setting",
    ],
    "sklearn_mdtree.rfi": [
        "LABEL_COLUMNS", "LABEL_MEANINGS", "LabelMeaning", "RFI_COLUMNS", "failure_labels",
        "label_configurations", "label_meaning", "room_for_improvement",
    ],
    # the console script ``mdtree`` (pyproject.toml)
    "sklearn_mdtree._cli": ["main", "build_parser"],
}

PATHS = [(module, name) for module, names in OLD_PATHS.items() for name in names]


@pytest.mark.parametrize("module_name, name", PATHS, ids=[f"{m}.{n}" for m, n in PATHS])
def test_old_import_path_still_works(module_name, name):
    module = importlib.import_module(module_name)
    assert hasattr(module, name), f"from {module_name} import {name} no longer works"


@pytest.mark.parametrize("module_name", [m for m in OLD_PATHS if not m.endswith("_cli")])
def test_old_public_names_are_still_listed_in_all(module_name):
    module = importlib.import_module(module_name)
    assert set(OLD_PATHS[module_name]) <= set(module.__all__)


def test_moved_names_are_the_same_objects_at_both_paths():
    from sklearn_mdtree import diagnosis, one_step

    for name in one_step.__all__:
        assert getattr(diagnosis, name) is getattr(one_step, name)


def test_version_comes_from_the_distribution_metadata():
    from importlib.metadata import PackageNotFoundError, version

    import sklearn_mdtree

    try:
        expected = version("sklearn-mdtree")
    except PackageNotFoundError:
        expected = "0+unknown"
    assert sklearn_mdtree.__version__ == expected


def test_modules_below_the_package_face_read_the_version_from_version_py():
    import ast
    from pathlib import Path

    root = Path(importlib.import_module("sklearn_mdtree").__file__).parents[1]
    offenders = []
    for package in ("sklearn_mdtree", "featurizers"):
        for path in sorted((root / package).rglob("*.py")):
            if path == root / "sklearn_mdtree" / "__init__.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and any(
                    a.name == "__version__" for a in node.names
                ) and node.module not in ("_version", "sklearn_mdtree._version"):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, f"import __version__ from sklearn_mdtree._version: {offenders}"


def _modules_after(code):
    """The ``sklearn_mdtree``/``featurizers``/``sklearn`` modules loaded after ``code``,
    in a fresh interpreter."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(importlib.import_module("sklearn_mdtree").__file__).parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sorted(sys.modules)))"],
        capture_output=True, text=True, cwd=root, check=True)
    return set(done.stdout.split())


# the modules of the estimator and of the diagnosis that the package face no longer
# imports until one of their names is used (the featurizers and mdtree featurize
# import the vocabulary and file modules only)
_HEAVY = {"sklearn_mdtree._classes", "sklearn_mdtree.diagnosis._diagnose",
          "sklearn_mdtree.diagnosis._report", "sklearn_mdtree.calibration"}


def test_the_package_face_imports_its_names_when_first_used():
    loaded = _modules_after("import sklearn_mdtree, sklearn_mdtree.diagnosis._kinds")
    assert not _HEAVY & loaded
    loaded = _modules_after("import sklearn_mdtree; sklearn_mdtree.MDTreeClassifier; "
                            "sklearn_mdtree.diagnose")
    assert {"sklearn_mdtree._classes", "sklearn_mdtree.diagnosis._diagnose"} <= loaded


@pytest.mark.parametrize("module_name", ["sklearn_mdtree", "sklearn_mdtree.diagnosis"])
def test_lazy_names_are_listed_and_unknown_names_refused(module_name):
    module = importlib.import_module(module_name)
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match=f"module '{module_name}' has no attribute "
                       "'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_lazy_names_are_the_objects_of_their_modules():
    import sklearn_mdtree
    from sklearn_mdtree import diagnosis
    from sklearn_mdtree._classes import MDTreeClassifier
    from sklearn_mdtree.diagnosis import _diagnose, _recommend, _report

    assert sklearn_mdtree.MDTreeClassifier is MDTreeClassifier
    assert sklearn_mdtree.diagnose is _diagnose.diagnose  # not the deprecated wrapper
    assert diagnosis.DiagnosisReport is _report.DiagnosisReport is sklearn_mdtree.DiagnosisReport
    assert diagnosis.recommend is _recommend.recommend


def test_scheme_names_are_read_without_scikit_learn_model_selection():
    from sklearn_mdtree import _vocabulary, model_selection

    assert model_selection.SCHEMES is _vocabulary.SCHEMES
    assert "sklearn.model_selection" not in _modules_after(
        "from sklearn_mdtree._cli import build_parser; build_parser()")


def test_public_submodules_are_attributes_after_a_bare_import():
    # ``import sklearn_mdtree`` then ``sklearn_mdtree.diagnosis.recommend`` worked while
    # the package face imported the diagnosis eagerly; with its names imported when
    # first used, the public submodules are imported on first access instead.
    code = ("import sklearn_mdtree, featurizers\n"
            "recommend = sklearn_mdtree.diagnosis.recommend\n"
            "calibrate = featurizers.calibration.calibrate\n"
            "from sklearn_mdtree.diagnosis._recommend import recommend as expected\n"
            "assert recommend is expected and calibrate is featurizers.calibrate\n"
            "for name in sklearn_mdtree._SUBMODULES:\n"
            "    assert getattr(sklearn_mdtree, name).__name__ == 'sklearn_mdtree.' + name\n"
            "    assert name in dir(sklearn_mdtree)\n"
            "for name in featurizers._SUBMODULES:\n"
            "    assert getattr(featurizers, name).__name__ == 'featurizers.' + name\n"
            "    assert name in dir(featurizers)\n")
    loaded = _modules_after(code)
    assert {"sklearn_mdtree.one_step", "featurizers.zoo"} <= loaded
    assert _HEAVY & _modules_after("import sklearn_mdtree; sklearn_mdtree.diagnosis") == set()
