"""Tests of benchmarks/make_pretrained.py: the zoo table's machine record beside it."""

import json

import pytest
from _helpers import import_benchmark

from sklearn_mdtree.pretrained import _data_folder
from sklearn_mdtree.pretrained._io import dumps
from sklearn_mdtree.pretrained._recipes import (
    ZOO_TABLE,
    ZOO_TABLE_MACHINE,
    machine_provenance,
    table_machine_record,
)


@pytest.fixture(scope="module")
def make():
    return import_benchmark("make_pretrained")


def test_a_zoo_run_writes_its_machine_beside_the_table(make, monkeypatch, tmp_path, capsys):
    # the zoo run stood in by the shipped table (the real one takes minutes)
    text = _data_folder().joinpath(ZOO_TABLE).read_text(encoding="utf-8")
    monkeypatch.setattr(make, "zoo_table_text", lambda zoo_cache=None: text)
    monkeypatch.setattr(make, "print_structure", lambda table: None)
    monkeypatch.setattr(make, "DATA", tmp_path)
    assert make.main(["--only", "digits-zoo"]) == 0
    assert (tmp_path / ZOO_TABLE).read_text(encoding="utf-8") == text
    written = (tmp_path / ZOO_TABLE_MACHINE).read_text(encoding="utf-8")
    assert written == dumps(table_machine_record(text, machine_provenance()))
    assert json.loads(written)["machine"] == machine_provenance()
    assert sorted(p.name for p in tmp_path.iterdir()) == [ZOO_TABLE, ZOO_TABLE_MACHINE]
    capsys.readouterr()
    assert make.main(["--only", "digits-zoo", "--check"]) == 0
    out = capsys.readouterr().out
    assert f"{ZOO_TABLE}: same" in out and f"{ZOO_TABLE_MACHINE}: same" in out
    # a record of another machine is reported
    other = json.loads(written)
    other["machine"]["cpu"] = "another CPU"
    (tmp_path / ZOO_TABLE_MACHINE).write_text(dumps(other), encoding="utf-8")
    assert make.main(["--only", "digits-zoo", "--check"]) == 1
    assert f"{ZOO_TABLE_MACHINE}: DIFFERS" in capsys.readouterr().out

