"""A hostile new user, round 5: argparse's own errors (one line, not the usage above it),
a Q1 tree as --q2-tree, a failed download, a value beyond the float range, an --html
page that is no .html file. Each is one error line naming the option, exit status 2,
nothing on stdout and nothing left behind. None needs torch."""

import contextlib
import io
import logging
import os
import shutil
import sys

import pytest

import sklearn_mdtree._cli as cli
from _helpers import error_line, run_cli
from sklearn_mdtree._cli._parser import COMMANDS

FEATURES = ("group,train_error,mode_connectivity_peak,hessian_t,CKA\n"
            "a,2,-30,5,0.9\nb,3,-20,4,0.8\n")
TREE = ["--tree", "cifar10-resnet18"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "features.csv").write_text(FEATURES)
    return tmp_path


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- 1. argparse's errors: one line, naming the option, pointing to --help ---------------

#: The required arguments of each command (a new command needs an entry here).
REQUIRED = {
    "reproduce": [], "presets": [], "demo": [], "diagnose": ["features.csv"],
    "featurize": ["--model", "m:f", "--checkpoints", "a", "--train-data", "d",
                  "--output", "o.csv"],
    "calibrate": ["--model", "m:f", "--train-data", "a", "--test-data", "b", "--base", "1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unknown_option_of_every_command_is_one_line(folder, command):
    line = error_line([command, *REQUIRED[command], "--no-such-option"],
                      "unrecognized arguments: --no-such-option",
                      f"; see mdtree {command} --help")
    assert "usage:" not in line


@pytest.mark.parametrize("argv, words", [
    (["diagnose", "features.csv", "--format", "xml"],
     ["argument --format: invalid choice: 'xml'", "text", "csv", "json",
      "; see mdtree diagnose --help"]),
    (["diagnose", "features.csv", "--seed", "1e400"],
     ["argument --seed: invalid int value: '1e400'"]),
    (["diagnose"], ["give FEATURES.csv, or --model, --checkpoints and --train-data"]),
    (["diagnose", "features.csv", "--q2-tree", "x"], ["argument --q2-tree: only with --tree"]),
    (["reproduce", "--n-jobs", "0"], ["argument --n-jobs: expected a non-zero int", "'0'"]),
    (["featurize"], ["the following arguments are required: --model"]),
    (["featurize", "--model", "m:f", "--checkpoints", "a", "--train-data", "d"],
     ["the following arguments are required: --output"]),
    (["calibrate"], ["the following arguments are required: --model"]),
    (["calibrate", "--model", "m:f", "--train-data", "a", "--test-data", "b", "--base", "-1"],
     ["argument --base: "]),
    (["demo", "--preset", "huge"], ["argument --preset: invalid choice: 'huge'"]),
    (["presets", "a", "b"], ["unrecognized arguments: b"]),
])
def test_a_bad_value_or_a_missing_argument_is_one_line(folder, argv, words):
    error_line(argv, *words)


@pytest.mark.parametrize("argv, words", [
    ([], ["the following arguments are required: COMMAND", "; see mdtree --help"]),
    (["nope"], ["argument COMMAND: invalid choice: 'nope'", "diagnose"]),
    (["--nope"], ["COMMAND"]),
])
def test_the_main_parser_errors_are_one_line(argv, words):
    error_line(argv, *words, prog="mdtree")


@pytest.mark.parametrize("command", ["", *sorted(COMMANDS)])
def test_help_is_the_whole_usage_and_exits_0(command):
    argv = [command, "--help"] if command else ["--help"]
    status, out, err = run_cli(argv)
    parser, parsers = cli._parser.build_parsers()
    assert status == 0 and err == ""
    assert out == (parsers[command] if command else parser).format_help()
    assert out.startswith(f"usage: mdtree {command}".rstrip()) and "options:" in out


# -- 2. a Q1 tree (or a family) as --q2-tree --------------------------------------------

@pytest.mark.parametrize("value, words", [
    ("cifar10-resnet18-q1", ["expected a Q2 tree", "'cifar10-resnet18-q1' is a Q1 tree",
                             "give it as --tree"]),
    ("cifar10-resnet18", ["'cifar10-resnet18' is a family",
                          "--q2-tree cifar10-resnet18-q2"]),
    # no digits tree is shipped since the reference zoo (issue 21): refused saying why
    ("digits-mlp", ["The pretrained tree 'digits-mlp' is not shipped",
                    "did not clearly beat a constant answer", "Shipped trees are"]),
])
def test_a_q1_tree_or_a_family_as_q2_tree(folder, value, words):
    line = error_line(["diagnose", "features.csv", *TREE, "--q2-tree", value],
                      "argument --q2-tree: ", *words)
    assert "recommend" not in line and "'q2_tree'" not in line


def test_a_family_with_no_q2_tree_as_q2_tree(folder, monkeypatch):
    # no shipped family lacks its Q2 tree today; an installation whose family has a Q1
    # tree alone is told to give it as --tree
    import sklearn_mdtree.pretrained as pretrained

    real = pretrained.resolve_family
    monkeypatch.setattr(pretrained, "resolve_family",
                        lambda name: ("x-q1", None) if name == "x" else real(name))
    error_line(["diagnose", "features.csv", *TREE, "--q2-tree", "x"],
               "argument --q2-tree: expected a Q2 tree; 'x' is a family with no Q2 tree: "
               "give it as --tree")


# -- 3. a failed download: the error line alone -----------------------------------------

@pytest.fixture
def pooch_stderr(monkeypatch):
    """pooch's logger writing to this test's stderr, as it writes to a terminal's."""
    pooch = pytest.importorskip("pooch")
    handler = logging.Handler()  # sys.stderr looked up at each message: run_cli() redirects it
    handler.emit = lambda record: print(record.getMessage(), file=sys.stderr)
    monkeypatch.setattr(pooch.get_logger(), "handlers", [handler])
    return pooch


def test_a_failed_download_leaves_the_error_line_alone(folder, pooch_stderr, monkeypatch):
    def offline(url, known_hash, fname, path, progressbar):
        os.makedirs(path, exist_ok=True)  # as pooch does before downloading
        pooch_stderr.get_logger().info(f"Downloading data from '{url}' to file '{path}'.")
        raise OSError("HTTPSConnectionPool: Max retries exceeded (no internet)")

    monkeypatch.setattr(pooch_stderr, "retrieve", offline)
    before = listing(folder)
    line = error_line(["reproduce", "--data-home", "missing"], "is not available",
                      "the download failed", "https://")
    assert "Downloading data from" not in line
    assert listing(folder) == before  # the folder made to download into is gone again


def test_a_download_that_succeeds_still_says_so(folder, pooch_stderr, monkeypatch):
    from sklearn_mdtree._cli import _common

    def download(url, known_hash, fname, path, progressbar):
        pooch_stderr.get_logger().info(f"Downloading data from '{url}' to file '{path}'.")
        source = _common.collection_files(None)  # the copies the other tests read
        found = next(f for f in source if f.name == fname and f.is_file())
        (folder / path).mkdir(parents=True, exist_ok=True)
        return shutil.copy(found, folder / path / fname)

    monkeypatch.setattr(pooch_stderr, "retrieve", download)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        frame = _common.load_collections("fresh")
    assert len(frame) == 3380
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("Downloading data from") for line in lines)


# -- 4. a value beyond the float range is quoted as written ------------------------------

@pytest.mark.parametrize("text, words", [
    ("1e400", ["'1e400', which is beyond the float range"]),
    ("-inf", ["'-inf', which is infinite"]),
])
@pytest.mark.parametrize("option", [None, "--fit-on"])
def test_an_infinite_value_is_quoted_as_written(folder, text, words, option):
    table = FEATURES.replace("b,3,", f"b,{text},")
    if option is None:
        (folder / "bad.csv").write_text(table)
        argv = ["diagnose", "bad.csv", *TREE]
    else:
        labelled = table.replace(",CKA\n", ",CKA,bs_failure\n").replace(
            "0.9\n", "0.9,small\n").replace("0.8\n", "0.8,large\n")
        (folder / "bad.csv").write_text(labelled)
        argv = ["diagnose", "features.csv", "--fit-on", "bad.csv"]
    error_line(argv, "Column 'train_error' of the CSV file 'bad.csv', line 3: expected a "
               "finite number, got ", *words, *([f"argument {option}: "] if option else []))


def test_more_infinite_values_are_counted_after_the_first(folder):
    rows = "".join(f"r{i},1e999,-20,4,0.8\n" for i in range(9))
    (folder / "bad.csv").write_text(FEATURES + rows)
    error_line(["diagnose", "bad.csv", *TREE], "line 4: ", "'1e999'",
               "(also line(s) [5, 6, 7, 8, 9] and more)")


# -- 5. an --html page whose name is no .html -------------------------------------------

@pytest.mark.parametrize("name", ["page.txt", "page", "new/report.csv"])
def test_an_html_page_not_named_html_is_refused(folder, name):
    before = listing(folder)
    error_line(["diagnose", "features.csv", *TREE, "--html", name],
               "argument --html: expected a file name ending in .html or .htm",
               repr(name), "--output")
    assert listing(folder) == before


def test_an_html_page_named_htm_is_written(folder):
    pytest.importorskip("matplotlib")
    status, out, err = run_cli(["diagnose", "features.csv", *TREE, "--html", "Page.HTM"])
    assert status == 0, err
    assert "<html" in (folder / "Page.HTM").read_text().lower()
