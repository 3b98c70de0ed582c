"""The installed distribution's version, for the package face and the modules below it.

Lower modules import ``__version__`` from here, never from ``sklearn_mdtree`` itself
(whose ``__init__`` imports them: that would be an import cycle).
"""

__all__ = ["__version__"]


def _version():
    """The installed distribution's version (set once, in pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sklearn-mdtree")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


__version__ = _version()
