"""Sphinx configuration of the sklearn-mdtree documentation.

Build from the repository root (warnings are errors)::

    SKLEARN_MDTREE_DATA=../shared/data/model_diagnosis \
        sphinx-build -W -b html docs docs/_build/html

Needs the package installed with its ``docs`` extra (``pip install -e ".[docs]"``).
Extensions: autodoc, autosummary, numpydoc and sphinx-gallery; nothing else,
and no intersphinx (the build machines have no internet).
"""

import os
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# -- Data of the gallery ---------------------------------------------------------------
# The examples read the public collections through fetch_model_diagnosis, which looks
# in $SKLEARN_MDTREE_DATA. Sphinx runs this file from docs/ and sphinx-gallery runs
# each example from its own folder, so a relative path (as in the README's commands,
# "../shared/data/model_diagnosis") is taken relative to the repository root and made
# absolute here. Unset, it defaults to the shared copy beside the repository, when
# there is one (as tests/conftest.py does); otherwise the examples download the files.
_DATA_ENV = "SKLEARN_MDTREE_DATA"
_data = os.environ.get(_DATA_ENV)
if _data:
    _path = Path(_data).expanduser()
    os.environ[_DATA_ENV] = str(_path if _path.is_absolute() else (ROOT / _path).resolve())
elif (ROOT.parent / "shared" / "data" / "model_diagnosis").is_dir():
    os.environ[_DATA_ENV] = str(ROOT.parent / "shared" / "data" / "model_diagnosis")

import sklearn_mdtree  # noqa: E402

# -- Project -----------------------------------------------------------------------------
project = "sklearn-mdtree"
author = "sklearn-mdtree developers"
copyright = "2024, sklearn-mdtree developers"
release = sklearn_mdtree.__version__
version = re.sub(r"(\.dev\d*|rc\d*|a\d*|b\d*)$", "", release)

# -- General -----------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "examples",  # the gallery's sources; sphinx-gallery writes auto_examples/
    "_templates",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
]
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc -------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# numpydoc renders the sections; autosummary pages list the members themselves.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Docstrings are checked by their authors' tools (setup.cfg: numpydoc_validation);
# validating here would fail the build on another module's work in progress.
numpydoc_validation_checks = set()

# -- sphinx-gallery ---------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    # "Examples using X" on the API pages
    "doc_module": ("sklearn_mdtree", "featurizers"),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_mdtree": None, "featurizers": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "matplotlib_animations": False,
    "min_reported_time": 1,
}

# -- HTML ---------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"sklearn-mdtree {release}"
# docs/_static holds the plots of the reproduction report (written by the benchmark).
html_static_path = ["_static"] if (DOCS / "_static").is_dir() else []
html_theme_options = {
    "description": "Diagnose why a trained network underperforms, from its loss landscape.",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}

# -- The reproduction report ---------------------------------------------------------
# docs/reproduction.md is written by `python -m benchmarks.reproduce` (another part of
# the project), its plots in docs/_static/reproduction/. Markdown is not parsed here (no extra dependency), so
# reproduction.rst shows the report as text, each plot it references as a figure,
# and the raw file is copied next to the HTML. The page is built whether or not the
# report exists yet.
REPORT = DOCS / "reproduction.md"
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
html_extra_path = [str(REPORT)] if REPORT.is_file() else []


def _report_rst():
    """The generated part of reproduction.rst: the plots, then the report's text."""
    if not REPORT.is_file():
        return (
            "\n.. note::\n\n   The report has not been generated in this checkout. Run\n"
            "   ``python -m benchmarks.reproduce`` to write ``docs/reproduction.md``\n"
            "   and its plots, then rebuild.\n"
        )
    text = REPORT.read_text(encoding="utf-8")
    lines, seen = [], set()
    for alt, target in _IMAGE.findall(text):
        if re.match(r"[a-z]+://", target) or target in seen:
            continue
        seen.add(target)
        path = (DOCS / target).resolve()
        if path.is_file() and DOCS in path.parents:
            alt = " ".join(alt.split()) or path.stem
            rel = path.relative_to(DOCS).as_posix()
            caption = re.sub(r"([\\`*_|<>\[\]])", r"\\\1", alt)  # plain text in rst
            lines += [f".. figure:: /{rel}", "   :width: 90%", f"   :alt: {alt}", "",
                      f"   {caption}", ""]
    if lines:
        lines = ["", "Figures", "-------", ""] + lines
    lines += [
        "",
        "Report",
        "------",
        "",
        "The report as written (Markdown, also as the raw file `reproduction.md "
        "<reproduction.md>`__):",
        "",
        ".. literalinclude:: reproduction.md",
        "   :language: text",
        "",
    ]
    return "\n".join(lines) + "\n"


def _add_report(app, docname, source):
    if docname == "reproduction":
        source[0] += _report_rst()


# -- Docstrings inherited from scikit-learn ---------------------------------------------
# get_params, score, set_output, set_fit_request, ... come from scikit-learn's mixins,
# whose docstrings point into scikit-learn's own documentation (:ref:, :term:).
# Without intersphinx those targets do not exist here: keep the words, drop the link.
_SKLEARN_ROLE = re.compile(r":(?:ref|term|doc):`([^`<]*?)\s*(?:<[^>`]*>)?`")


def _unlink_sklearn_roles(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module == "sklearn" or module.startswith("sklearn."):
        lines[:] = [_SKLEARN_ROLE.sub(lambda m: f"*{m.group(1).strip()}*", ln) for ln in lines]


def setup(app):
    app.connect("source-read", _add_report)
    app.connect("autodoc-process-docstring", _unlink_sklearn_roles)
