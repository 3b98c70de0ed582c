"""Public names of a package imported when first used (:pep:`562`).

:func:`attach` gives a package's ``__init__`` its module-level ``__getattr__`` and
``__dir__``, as ``lazy_loader.attach`` of the Scientific Python ecosystem does, so
that importing the package costs only what the caller uses (``mdtree featurize``
does not import the estimator or the diagnosis).
"""

import importlib
import sys


def attach(package, names, submodules=()):
    """Module-level ``__getattr__`` and ``__dir__`` of a package with lazy names.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : dict of str to str
        Public name -> the module (relative to ``package``) that defines it; the
        value is imported when the name is first looked up and kept in the
        package's namespace, so later look-ups skip ``__getattr__``.
    submodules : tuple of str, default=()
        Public submodules, imported when first used as attributes
        (``import featurizers`` then ``featurizers.zoo``).

    Returns
    -------
    __getattr__, __dir__ : callable
        To assign at the package's module level.
    """
    submodules = frozenset(submodules)

    def __getattr__(name):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        vars(sys.modules[package])[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(names) | submodules)

    return __getattr__, __dir__
