"""Tests of benchmarks/reproduce.py: a thin caller of ``sklearn_mdtree._paper``.

The full run (``python -m benchmarks.reproduce``) is not a unit test: here the
experiments are replaced by a stub, to check what the script itself does (options,
the summary it prints, its exit status). The experiments and the report are tested in
``tests/sklearn_mdtree/_paper/test_paper.py``. The script is loaded from its file: the
tests do not need the repository root on sys.path.
"""

import importlib.util
from pathlib import Path

import pytest

from sklearn_mdtree import _paper


@pytest.fixture(scope="module")
def reproduce():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "reproduce.py"
    spec = importlib.util.spec_from_file_location("_benchmarks_reproduce", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("verdict, status", [("pass", 0), ("FAIL", 1)])
def test_main_passes_its_options_and_prints_the_acceptance(
    reproduce, monkeypatch, tmp_path, capsys, verdict, status
):
    calls = []

    def fetch(collection, *, data_home):
        calls.append(("fetch", collection, data_home))
        return type("Bunch", (), {"frame": "FRAME"})

    def write_report(frame, docs, *, n_jobs, progress):
        calls.append(("write_report", frame, docs, n_jobs, progress))
        return [("Table B, MD tree (Brent)", "0.0012", "0.01", verdict)], 1.5

    monkeypatch.setattr(reproduce, "fetch_model_diagnosis", fetch)
    monkeypatch.setattr(_paper, "write_report", write_report)
    docs = tmp_path / "docs"
    argv = ["--data-home", "DATA", "--n-jobs", "2", "--docs", str(docs), "--no-progress"]
    assert reproduce.main(argv) == status
    assert calls == [("fetch", "both", "DATA"), ("write_report", "FRAME", docs, 2, False)]
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| check | largest abs gap | tolerance | verdict |"
    assert out[2] == f"| Table B, MD tree (Brent) | 0.0012 | 0.01 | {verdict} |"
    images = docs / "_static" / "reproduction"
    assert out[-1] == f"Report: {docs / 'reproduction.md'}; plots in {images}; 1.5 s."


def test_help_names_the_defaults(reproduce, capsys):
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(["--help"])
    assert exit_info.value.code == 0
    assert "(default: docs)" in capsys.readouterr().out
