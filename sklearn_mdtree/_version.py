"""The installed distribution's version, read once from its metadata (pyproject.toml sets it).

Private, so that modules below the package face (the tree files, the featurizers'
caches) read the version from here rather than from ``sklearn_mdtree/__init__.py``.
"""

from importlib.metadata import PackageNotFoundError, version


def _version():
    """The version of the installed ``sklearn-mdtree`` distribution."""
    try:
        return version("sklearn-mdtree")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


__version__ = _version()
