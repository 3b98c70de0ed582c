"""A hostile new user, round 4: folders given as files, empty tables, outputs that cannot
be written, tree names that are files. Each is one error line naming the option, exit
status 2, no traceback, nothing left behind. None needs torch."""

import tempfile

import pytest

from _helpers import error_line, run_cli

FEATURES = ("group,train_error,mode_connectivity_peak,hessian_t,CKA\n"
            "a,2,-30,5,0.9\nb,3,-20,4,0.8\n")
TREE = ["--tree", "cifar10-resnet18"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "features.csv").write_text(FEATURES)
    (tmp_path / "adir").mkdir()
    return tmp_path


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("argv, option", [
    (["diagnose", "features.csv", *TREE, "--output", "adir"], "--output"),
    (["diagnose", "features.csv", *TREE, "--html", "adir"], "--html"),
    (["reproduce", "--output", "adir"], "--output"),
])
def test_an_output_that_is_a_folder(folder, argv, option):
    before = listing(folder)
    line = error_line(argv, f"argument {option}: ", "'adir'", "is a folder",
                      "expected the path of a file")
    assert "Errno" not in line
    assert listing(folder) == before


def test_an_output_below_a_file(folder):
    before = listing(folder)
    error_line(["diagnose", "features.csv", *TREE, "--output", "features.csv/sub/out.txt"],
               "argument --output: ", "'features.csv' is a file, not a folder")
    assert listing(folder) == before


def test_an_output_in_a_folder_that_takes_no_file(folder, monkeypatch):
    # as a folder without write permission (the tests may run as root, who may write)
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/hidden/.out.txt.x.tmp")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    before = listing(folder)
    line = error_line(["diagnose", "features.csv", *TREE, "--output", "new/out.txt"],
                      "argument --output: ", "'new/out.txt'", "in its folder 'new'",
                      "Permission denied")
    assert ".tmp" not in line  # the temporary file's name is no concern of the user's
    assert listing(folder) == before  # the folder it created is gone again


@pytest.mark.parametrize("content, words", [
    (None, ["'adir'", "is a folder; expected a CSV file"]),
    ("", ["is empty (0 bytes)", "expected a header line"]),
    ("\n \n", ["is empty;", "expected a header line"]),
])
@pytest.mark.parametrize("option", [None, "--fit-on"])
def test_a_table_that_is_a_folder_or_empty(folder, content, words, option):
    name = "adir" if content is None else "table.csv"
    if content is not None:
        (folder / name).write_text(content)
    argv = (["diagnose", name, *TREE] if option is None
            else ["diagnose", "features.csv", "--fit-on", name])
    line = error_line(argv, *words, *([f"argument {option}: "] if option else []))
    assert "Errno" not in line and "No columns to parse" not in line


def test_a_missing_labelled_table_names_the_option(folder):
    error_line(["diagnose", "features.csv", "--fit-on", "nope.csv"],
               "argument --fit-on: ", "'nope.csv' does not exist")


def test_tree_names_that_are_no_shipped_tree(folder):
    error_line(["diagnose", "features.csv", "--tree", "nope"], "argument --tree: ",
               "Unknown pretrained tree 'nope'")
    line = error_line(["diagnose", "features.csv", "--tree", "features.csv"],
                      "argument --tree: ", "'features.csv' exists here", "./features.csv")
    assert len(line) < 600
    error_line(["diagnose", "features.csv", *TREE, "--q2-tree", "nope"],
               "argument --q2-tree: ", "'nope'")
    error_line(["diagnose", "features.csv", "--tree", "cifar10-resnet18-q2"],
               "argument --tree: ", "expected a Q1 tree or a family",
               "'cifar10-resnet18-q2' is a Q2 tree", "--q2-tree")


@pytest.mark.parametrize("argv", [["reproduce"], ["diagnose", "features.csv"]])
def test_a_data_home_that_is_a_file(folder, argv):
    error_line([*argv, "--data-home", "features.csv"], "argument --data-home: ",
               "expected a folder", "'features.csv'", "is a file")
