"""Tests of sklearn_mdtree._files: file identity, checked and atomic outputs, checksums."""

import hashlib
import os
from pathlib import Path

import pytest

from sklearn_mdtree._files import (
    AtomicOutput,
    check_not_an_input,
    is_tree_path,
    same_file,
    sha256,
)


def test_same_file_sees_hard_and_symbolic_links(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("x")
    os.link(a, tmp_path / "hard.txt")
    os.symlink(a, tmp_path / "soft.txt")
    other = tmp_path / "b.txt"
    other.write_text("x")
    assert same_file(a, tmp_path / "hard.txt") and same_file(a, tmp_path / "soft.txt")
    assert same_file(a, tmp_path / "." / "a.txt")
    assert not same_file(a, other) and not same_file(a, tmp_path / "missing.txt")


def test_check_not_an_input(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("x")
    os.link(a, tmp_path / "hard.txt")
    with pytest.raises(ValueError, match="is one of the inputs"):
        check_not_an_input(tmp_path / "hard.txt", [None, a], option="--output")
    with pytest.raises(ValueError, match="is one of the inputs"):  # neither exists yet
        check_not_an_input(tmp_path / "new.txt", [tmp_path / "." / "new.txt"])
    check_not_an_input(tmp_path / "new.txt", [a])
    check_not_an_input(None, [a])


def test_atomic_output_writes_in_one_step_and_discards_cleanly(tmp_path):
    target = tmp_path / "deep" / "er" / "out.txt"
    out = AtomicOutput(target)
    assert not target.exists()  # opened: the place is checked, nothing is written yet
    out.write("report\n")
    assert target.read_text() == "report\n" and os.listdir(target.parent) == ["out.txt"]
    failed = AtomicOutput(tmp_path / "new" / "out.txt")
    failed.discard()
    assert not (tmp_path / "new").exists()
    with pytest.raises(OSError, match="Could not write"):
        AtomicOutput(tmp_path)  # a folder


def test_sha256(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert sha256(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_is_tree_path_sees_both_separators(monkeypatch):
    monkeypatch.setattr(os, "sep", "/")
    monkeypatch.setattr(os, "altsep", None)  # as on Linux and macOS
    assert not is_tree_path("cifar10-resnet18") and not is_tree_path("cifar10-resnet18-q1")
    assert is_tree_path("mine.json") and is_tree_path("MINE.JSON")
    assert is_tree_path("trees/mine") and not is_tree_path("trees\\mine")
    assert is_tree_path(Path("mine")) and not is_tree_path(None)
    assert not is_tree_path(object())
    monkeypatch.setattr(os, "altsep", "\\")  # a second separator
    assert is_tree_path("trees\\mine") and is_tree_path("trees/mine")
    assert not is_tree_path("cifar10-resnet18")
    monkeypatch.setattr(os, "sep", "\\")
    monkeypatch.setattr(os, "altsep", "/")  # as on Windows
    assert is_tree_path("trees/mine") and is_tree_path("trees\\mine")
    assert not is_tree_path("digits-mlp")
