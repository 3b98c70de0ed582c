"""Sphinx configuration of the sklearn-mdtree documentation.

Build from the repository root (warnings are errors)::

    python -m sphinx -W -b html docs docs/_build/html

Needs the package installed with its ``docs`` extra (``pip install -e ".[docs]"``);
the public collections are read from ``$SKLEARN_MDTREE_DATA`` (see below).
Extensions: autodoc, autosummary, numpydoc, sphinx-gallery, matplotlib's plot
directive, myst-parser (the reproduction report is Markdown) and the theme
pydata-sphinx-theme; no intersphinx and nothing fetched at build or view time (the
build machines have no internet): math is drawn by matplotlib's mathtext into
inline SVG (``docs/_ext/mathtext_svg.py``), not by MathJax from a CDN.
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

import sys  # noqa: E402

import sklearn_mdtree  # noqa: E402

sys.path.insert(0, str(DOCS / "_ext"))

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
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "myst_parser",
    "mathtext_svg",  # docs/_ext: math as inline SVG, offline
    "report_figures",  # docs/_ext: the report's images as captioned figures
]
html_math_renderer = "mathtext_svg"
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
    "reproduction.md",  # included by reproduction.rst
    "readme_figures.py",
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
    # sections in reading order (each a folder of docs/examples with its GALLERY_HEADER.rst)
    "subsection_order": [
        "examples/getting_started",
        "examples/paper",
        "examples/own_models",
        "examples/advanced",
    ],
    "within_subsection_order": "FileNameSortKey",
    "image_srcset": ["2x"],  # every figure also at twice its resolution
    # "Examples using X" on the API pages
    "doc_module": ("sklearn_mdtree", "featurizers"),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_mdtree": None, "featurizers": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "matplotlib_animations": False,
    "min_reported_time": 1,
    # no sg_execution_times pages: they load DataTables and jQuery from a CDN
    "write_computation_times": False,
}

# -- matplotlib's plot directive (pictures of the user guide) ----------------------------
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 200)]  # 2x the 100 dpi the page shows them at
plot_rcparams = {"figure.dpi": 100, "savefig.bbox": "tight"}
plot_pre_code = "import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\n"

# -- HTML ---------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-mdtree {release}"
html_short_title = "sklearn-mdtree"
# docs/_static holds the plots of the reproduction report (written by the benchmark),
# the README's pictures and the stylesheet.
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    # the top bar: the main sections, then the search box; no external links or icons
    # (nothing loaded from outside), no theme switcher's remote assets
    "navbar_start": ["navbar-logo"],
    "navbar_center": ["navbar-nav"],
    "navbar_end": ["theme-switcher"],
    "navbar_persistent": ["search-button"],
    "header_links_before_dropdown": 5,
    # the report's wide tables get the whole width: no "on this page" column there
    "secondary_sidebar_items": {"**": ["page-toc"], "reproduction": []},
    "show_prev_next": True,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# no left sidebar on pages without sub-pages (the wide tables of the report need the room)
html_sidebars = {name: [] for name in (
    "index", "getting_started", "install", "glossary", "changelog", "citing", "design",
    "reproduction", "api", "benchmarks",
)}
html_show_sourcelink = False
html_copy_source = False

# -- myst-parser (the reproduction report) ------------------------------------------------
myst_heading_anchors = 3
# reproduction.rst includes the report from its second line: its "##" sections then sit
# under the page's own title, which myst would report as headings not starting at H1.
suppress_warnings = ["myst.header"]

# -- The reproduction report ---------------------------------------------------------
# docs/reproduction.md is written by `python -m benchmarks.reproduce`, its plots in
# docs/_static/reproduction/. reproduction.rst includes it, parsed by myst-parser
# (real tables); docs/_ext/report_figures.py turns each image into a figure whose
# caption is the image's alt text. The page is built whether or not the report exists.
REPORT = DOCS / "reproduction.md"


def _report_rst():
    if not REPORT.is_file():
        return (
            "\n.. note::\n\n   The report has not been generated in this checkout. Run\n"
            "   ``python -m benchmarks.reproduce`` to write ``docs/reproduction.md``\n"
            "   and its plots, then rebuild.\n"
        )
    # from the second line: the report's own title is this page's
    return ("\n.. include:: reproduction.md\n   :parser: myst_parser.sphinx_\n"
            "   :start-line: 1\n")


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


def _data_comment_docs(app, what, name, obj, options, lines):
    """The ``#:`` comment of a constant re-exported from a private module.

    autodoc reads such comments from the module the name is documented under (here
    the package's ``__init__``), where a re-exported constant has none; look for it in
    the package's modules that hold the same object.
    """
    text = [line for line in lines if line.strip() and line.strip() not in (
        "..", "!! processed by numpydoc !!")]  # numpydoc's marker is not a docstring
    if what != "data" or text:
        return
    import importlib
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    package, _, attr = name.rpartition(".")
    try:
        pkg = importlib.import_module(package)
    except ImportError:
        return
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), prefix=package + "."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue
        if getattr(module, attr, None) is not obj:
            continue
        docs = ModuleAnalyzer.for_module(info.name).find_attr_docs().get(("", attr))
        if docs:
            lines[:] = list(docs)
            return


def setup(app):
    app.connect("source-read", _add_report)
    app.connect("autodoc-process-docstring", _data_comment_docs)
    app.connect("autodoc-process-docstring", _unlink_sklearn_roles)
