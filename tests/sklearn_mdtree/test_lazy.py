"""sklearn_mdtree._lazy.attach: a package's names imported when first used."""

import sys
import types

import pytest

from sklearn_mdtree._lazy import attach


@pytest.fixture
def package(monkeypatch):
    """A throwaway package ``lazypkg`` whose ``lazypkg.mod`` defines ``VALUE``."""
    pkg = types.ModuleType("lazypkg")
    pkg.__path__ = []
    mod = types.ModuleType("lazypkg.mod")
    mod.VALUE = 42
    sub = types.ModuleType("lazypkg.sub")
    monkeypatch.setitem(sys.modules, "lazypkg", pkg)
    monkeypatch.setitem(sys.modules, "lazypkg.mod", mod)
    monkeypatch.setitem(sys.modules, "lazypkg.sub", sub)
    pkg.__getattr__, pkg.__dir__ = attach("lazypkg", {"VALUE": ".mod"}, ("sub",))
    return pkg


def test_a_name_is_imported_at_first_use_and_kept(package):
    assert "VALUE" not in vars(package)
    assert package.VALUE == 42
    assert vars(package)["VALUE"] == 42  # later look-ups skip __getattr__


def test_a_submodule_is_an_attribute(package):
    assert package.sub is sys.modules["lazypkg.sub"]


def test_dir_lists_lazy_names_and_submodules(package):
    listed = package.__dir__()
    assert {"VALUE", "sub"} <= set(listed)
    assert listed == sorted(listed)


def test_an_unknown_name_raises_attribute_error_naming_it(package):
    with pytest.raises(AttributeError, match="module 'lazypkg' has no attribute 'nope'"):
        package.nope
