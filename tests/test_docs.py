"""Tests of the documentation, without building it.

- The doctests of every module of ``sklearn_mdtree`` and ``featurizers``, run in
  process as ``pytest --doctest-modules sklearn_mdtree featurizers`` would (same
  default option flag, ELLIPSIS), one test per docstring; ``featurizers`` is skipped
  without torch.
- The API reference (``docs/api.rst``) documents every name in the ``__all__`` of
  every public module, and every name it documents exists.
- The ``>>>`` examples of the user guide's pages run and print what the pages say.
- The gallery examples are sphinx-gallery scripts (``plot_*.py`` with a titled
  docstring). They are run by the Sphinx build, not here.

The HTML build (``sphinx-build -W -b html docs docs/_build/html``) is too slow for
the test suite; it is run separately.
"""

import ast
import copy
import doctest
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_RST = DOCS / "api.rst"
PACKAGES = ("sklearn_mdtree", "featurizers")
TORCH_PACKAGES = ("featurizers",)
HAS_TORCH = importlib.util.find_spec("torch") is not None
NEEDS_TORCH = pytest.mark.skipif(not HAS_TORCH, reason="needs torch (extra 'torch')")
#: pytest's default doctest_optionflags, so that results match --doctest-modules.
OPTIONFLAGS = doctest.ELLIPSIS


def _available(package):
    return HAS_TORCH or package not in TORCH_PACKAGES


def _module_names(package):
    """The package and every module below it, private ones included."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
        names.append(info.name)
    return sorted(names)


def _is_public(module_name):
    return not any(part.startswith("_") for part in module_name.split("."))


def _skipped(package):
    return pytest.param(None, id=package, marks=pytest.mark.skip(reason="needs torch"))


# --------------------------------------------------------------------------------------
# (a) doctests of the modules
# --------------------------------------------------------------------------------------


def _collect_doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    params = []
    for package in PACKAGES:
        if not _available(package):
            params.append(_skipped(package))
            continue
        for name in _module_names(package):
            module = importlib.import_module(name)
            for test in sorted(finder.find(module, name), key=lambda t: t.name):
                if test.examples:
                    params.append(pytest.param(test, id=test.name))
    return params


@pytest.fixture
def _doc_environment():
    """Plots drawn with Agg and closed after (one thread: see ``tests/conftest.py``)."""
    try:
        import matplotlib
    except ImportError:
        matplotlib = None
    else:
        matplotlib.use("Agg")
    yield
    if matplotlib is not None:
        import matplotlib.pyplot as plt

        plt.close("all")


def _run_doctest(test):
    test = copy.copy(test)
    test.globs = dict(test.globs)  # a fresh namespace each run
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    report = []
    result = runner.run(test, out=report.append)
    if result.failed:
        pytest.fail("".join(report), pytrace=False)


@pytest.mark.parametrize("test", _collect_doctests())
def test_module_doctests(test, _doc_environment):
    _run_doctest(test)


# --------------------------------------------------------------------------------------
# (b) the API reference covers every public name
# --------------------------------------------------------------------------------------

_DIRECTIVE = re.compile(
    r"^\.\. (?:py:)?(?:auto)?(?:data|function|class|exception|attribute)::\s+(\S+)"
)


def _documented_names(text):
    """Fully qualified names documented by ``text``: autosummary entries and directives.

    Autosummary entries are relative to the preceding ``currentmodule``; directive
    targets are taken as written when they start with a package name.
    """
    names = []
    current = None
    in_autosummary = False
    for line in text.splitlines():
        if in_autosummary:
            if not line.strip():
                continue
            if line.startswith(" "):
                entry = line.strip()
                if not entry.startswith(":"):  # an option such as :toctree:
                    names.append(f"{current}.{entry.lstrip('~')}")
                continue
            in_autosummary = False
        match = re.match(r"^\.\. currentmodule::\s+(\S+)", line)
        if match:
            current = match.group(1)
            continue
        if re.match(r"^\.\. autosummary::", line):
            in_autosummary = True
            continue
        match = _DIRECTIVE.match(line)
        if match:
            target = match.group(1)
            absolute = target.split(".")[0] in PACKAGES
            names.append(target if absolute else f"{current}.{target}")
    return names


def _resolve(qualified_name):
    """The object named ``package.module.name``: longest importable module, then attributes."""
    parts = qualified_name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(qualified_name)


def _public_modules():
    params = []
    for package in PACKAGES:
        if not _available(package):
            params.append(_skipped(package))
            continue
        params += [pytest.param(n, id=n) for n in _module_names(package) if _is_public(n)]
    return params


@pytest.fixture(scope="module")
def documented():
    """``{fully qualified name: object}`` of the names the API reference documents."""
    objects = {}
    for name in _documented_names(API_RST.read_text(encoding="utf-8")):
        if name.split(".")[0] in TORCH_PACKAGES and not HAS_TORCH:
            continue
        try:
            objects[name] = _resolve(name)
        except (ImportError, AttributeError):
            objects[name] = None  # reported by test_api_reference_names_exist
    return objects


@pytest.mark.parametrize("module_name", _public_modules())
def test_api_reference_covers_all(module_name, documented):
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), (
        f"The public module {module_name} has no __all__: list its public names there, "
        "or rename it with a leading underscore."
    )
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        # documented here, or wherever the same object is documented under that name
        if not any(
            doc_name.rsplit(".", 1)[-1] == name and doc_obj is obj
            for doc_name, doc_obj in documented.items()
        ):
            missing.append(name)
    assert not missing, (
        f"{module_name}.__all__ names {missing}, which docs/api.rst does not document. "
        f"Add them to the autosummary table of {module_name}."
    )


def test_api_reference_names_exist(documented):
    stale = sorted(name for name, obj in documented.items() if obj is None)
    assert not stale, f"docs/api.rst documents names that do not exist: {stale}"


def test_api_reference_documents_each_name_once():
    names = _documented_names(API_RST.read_text(encoding="utf-8"))
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"docs/api.rst documents {repeated} more than once"


def test_documented_names_parser():
    text = """
.. currentmodule:: sklearn_mdtree

.. autosummary::
   :toctree: generated/
   :nosignatures:

   MDTreeClassifier
   ~get_preset

.. py:data:: sklearn_mdtree.__version__

Text.
"""
    assert _documented_names(text) == [
        "sklearn_mdtree.MDTreeClassifier",
        "sklearn_mdtree.get_preset",
        "sklearn_mdtree.__version__",
    ]


# --------------------------------------------------------------------------------------
# (c) the user guide's examples
# --------------------------------------------------------------------------------------


def _guide_pages():
    params = []
    for path in sorted(DOCS.rglob("*.rst")):
        relative = path.relative_to(DOCS)
        if relative.parts[0] in ("_build", "_templates", "generated", "auto_examples"):
            continue
        text = path.read_text(encoding="utf-8")
        if ">>>" not in text:
            continue
        uses_torch = re.search(r"^\s*>>> (from|import) (featurizers|torch)\b", text, re.M)
        marks = [NEEDS_TORCH] if uses_torch else []
        params.append(pytest.param(path, id=relative.as_posix(), marks=marks))
    return params


@pytest.mark.parametrize("path", _guide_pages())
def test_user_guide_examples(path, _doc_environment):
    text = path.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": "__main__"}, path.name, str(path), 0)
    _run_doctest(test)


# --------------------------------------------------------------------------------------
# (d) the gallery's scripts are well formed
# --------------------------------------------------------------------------------------

EXAMPLES = sorted((DOCS / "examples").rglob("*.py"))


@pytest.mark.parametrize(
    "path", EXAMPLES, ids=[p.relative_to(DOCS / "examples").as_posix() for p in EXAMPLES]
)
def test_gallery_example_is_well_formed(path):
    assert path.name.startswith("plot_"), "sphinx-gallery runs only plot_*.py files"
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source), clean=False)
    assert docstring, f"{path.name} needs a module docstring (the example's title and intro)"
    lines = [line.rstrip() for line in docstring.strip("\n").splitlines()]
    if lines and set(lines[0]) == {"="}:  # an overline
        lines = lines[1:]
    assert len(lines) >= 2 and set(lines[1]) == {"="} and len(lines[1]) >= len(lines[0]), (
        f"{path.name}: the docstring must start with a title underlined with '='"
    )
