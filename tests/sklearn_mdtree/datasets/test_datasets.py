"""Tests of sklearn_mdtree.datasets: fetch_model_diagnosis and read_model_diagnosis_csv."""

import functools
import http.server
import io
import shutil
import socket
import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from sklearn_mdtree.datasets import (
    _model_diagnosis,
    fetch_model_diagnosis,
    read_model_diagnosis_csv,
)
from sklearn_mdtree.datasets._registry import COLLECTION_FILES, DATA_ENV_VAR, REGISTRY
from sklearn_mdtree.rfi import LABEL_COLUMNS, RFI_COLUMNS

NORMAL = COLLECTION_FILES["normal"]
NOISE = COLLECTION_FILES["noise"]


# --------------------------------------------------------------------------------------
# helpers


def _copy_collections(source, target, *, corrupt=None):
    """Copy both files into ``target``; flip one byte of the file named ``corrupt``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in REGISTRY:
        shutil.copyfile(source / name, target / name)
    if corrupt is not None:
        content = bytearray((target / corrupt).read_bytes())
        content[100] ^= 1
        (target / corrupt).write_bytes(bytes(content))
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_folder(tmp_path, monkeypatch):
    """Serve a temporary folder over http on localhost; the loader downloads from it."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(
        _model_diagnosis, "BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/"
    )
    yield folder, server
    server.shutdown()
    server.server_close()


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------
# the published files


@pytest.mark.parametrize("collection", ["normal", "noise"])
def test_fetch_matches_published_file(collection, published_frames):
    bunch = fetch_model_diagnosis(collection, download_if_missing=False)
    published = published_frames[collection]
    assert isinstance(bunch, Bunch)
    assert bunch.frame.shape == (1690, 28)
    assert bunch.frame.columns[0] == "collection"
    assert (bunch.frame["collection"] == collection).all()
    pd.testing.assert_frame_equal(
        bunch.frame.drop(columns="collection"), published, check_dtype=False
    )
    assert bunch.data.shape == (1690, 20)
    assert bunch.feature_names == list(bunch.data.columns)
    assert not set(bunch.feature_names) & set(RFI_COLUMNS + LABEL_COLUMNS)
    assert bunch.target_names == list(LABEL_COLUMNS)
    assert list(bunch.target.columns) == list(LABEL_COLUMNS)
    assert "Model-diagnosis collections" in bunch.DESCR


def test_fetch_target_choice_and_return_X_y():
    bunch = fetch_model_diagnosis("normal", target="bs_failure")
    assert bunch.target.name == "bs_failure"
    assert bunch.target_names == ["bs_failure"]
    assert bunch.target.value_counts().to_dict() == {"small": 846, "large": 714, "optimal": 130}

    X, y = fetch_model_diagnosis("noise", target="width_vs_batch", return_X_y=True)
    assert X.shape == (1690, 20) and y.shape == (1690,)


def test_fetch_as_arrays():
    bunch = fetch_model_diagnosis("noise", as_frame=False, target="data_vs_batch")
    assert bunch.frame is None
    assert isinstance(bunch.data, np.ndarray) and bunch.data.dtype == np.float64
    assert bunch.data.shape == (1690, 20)
    assert bunch.target.dtype == object and bunch.target.shape == (1690,)
    X, Y = fetch_model_diagnosis("normal", as_frame=False, return_X_y=True)
    assert Y.shape == (1690, 3)


def test_fetch_both_stacks_normal_then_noise():
    frame = fetch_model_diagnosis("both").frame
    assert frame.shape == (3380, 28)
    assert isinstance(frame.index, pd.RangeIndex)
    assert (frame["collection"].iloc[:1690] == "normal").all()
    assert (frame["collection"].iloc[1690:] == "noise").all()


def test_fetch_rejects_bad_parameters():
    with pytest.raises(ValueError, match="'collection' parameter of fetch_model_diagnosis"):
        fetch_model_diagnosis("clean")
    with pytest.raises(ValueError, match="'target' parameter of fetch_model_diagnosis"):
        fetch_model_diagnosis("normal", target="test_error")


# --------------------------------------------------------------------------------------
# where files come from: local folder, cache, download; checksums


def test_data_home_is_a_local_folder(model_diagnosis_dir, monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    bunch = fetch_model_diagnosis(
        "noise", data_home=model_diagnosis_dir, download_if_missing=False
    )
    frame = bunch.frame
    assert frame.shape == (1690, 28)


def test_env_variable_folder_with_wrong_checksum_is_refused(
    model_diagnosis_dir, tmp_path, monkeypatch
):
    folder = _copy_collections(model_diagnosis_dir, tmp_path / "local", corrupt=NORMAL)
    monkeypatch.setenv(DATA_ENV_VAR, str(folder))
    with pytest.raises(OSError, match=rf"{NORMAL}.*sha256 .*{REGISTRY[NORMAL]}"):
        fetch_model_diagnosis("normal", download_if_missing=False)
    # the intact file of the same folder is accepted
    assert fetch_model_diagnosis("noise", download_if_missing=False).frame.shape == (1690, 28)


def test_data_home_with_wrong_checksum_is_refused(model_diagnosis_dir, tmp_path):
    folder = _copy_collections(model_diagnosis_dir, tmp_path / "home", corrupt=NOISE)
    with pytest.raises(OSError, match="sha256"):
        fetch_model_diagnosis("noise", data_home=folder)


def test_missing_files_without_download_name_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    with pytest.raises(OSError, match=f"download_if_missing=False.*{DATA_ENV_VAR}"):
        fetch_model_diagnosis("normal", data_home=tmp_path, download_if_missing=False)


def test_unreachable_download_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(_model_diagnosis, "BASE_URL", f"http://127.0.0.1:{_closed_port()}/")
    with pytest.raises(OSError, match=f"download failed.*{DATA_ENV_VAR}"):
        fetch_model_diagnosis("normal", data_home=tmp_path / "cache")
    assert not (tmp_path / "cache" / NORMAL).exists()


def test_default_cache_under_scikit_learn_data_home(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    monkeypatch.setattr(_model_diagnosis, "BASE_URL", f"http://127.0.0.1:{_closed_port()}/")
    with pytest.raises(OSError, match=str(tmp_path / "sk" / "mdtree")):
        fetch_model_diagnosis("normal")


def test_local_files_create_no_cache_folder(model_diagnosis_dir, tmp_path, monkeypatch):
    # files found through SKLEARN_MDTREE_DATA: the default cache is not even created
    monkeypatch.setenv(DATA_ENV_VAR, str(model_diagnosis_dir))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert fetch_model_diagnosis("normal", download_if_missing=False).frame.shape[0] == 1690
    monkeypatch.delenv("SCIKIT_LEARN_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fetch_model_diagnosis("noise", download_if_missing=False).frame.shape[0] == 1690
    assert list(tmp_path.iterdir()) == []


def test_failed_download_removes_the_folders_it_created(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(_model_diagnosis, "BASE_URL", f"http://127.0.0.1:{_closed_port()}/")
    with pytest.raises(OSError, match="download failed"):
        fetch_model_diagnosis("normal", data_home=tmp_path / "a" / "b" / "cache")
    assert list(tmp_path.iterdir()) == []
    # a folder that existed before is kept
    (tmp_path / "mine").mkdir()
    with pytest.raises(OSError, match="download failed"):
        fetch_model_diagnosis("normal", data_home=tmp_path / "mine" / "cache")
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]
    assert list((tmp_path / "mine").iterdir()) == []


def test_download_verifies_and_caches(model_diagnosis_dir, http_folder, tmp_path, monkeypatch):
    served, server = http_folder
    _copy_collections(model_diagnosis_dir, served)
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    cache = tmp_path / "cache"
    frame = fetch_model_diagnosis("both", data_home=cache).frame
    assert frame.shape == (3380, 28)
    assert sorted(p.name for p in cache.iterdir()) == sorted(REGISTRY)
    # a second call reads the cache: works with the server gone
    server.shutdown()
    again = fetch_model_diagnosis("normal", data_home=cache, download_if_missing=False)
    assert again.frame.shape == (1690, 28)


def test_download_with_wrong_checksum_is_discarded(model_diagnosis_dir, http_folder, tmp_path):
    served, _ = http_folder
    _copy_collections(model_diagnosis_dir, served, corrupt=NORMAL)
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match=f"{NORMAL}.*published sha256"):
        fetch_model_diagnosis("normal", data_home=cache)
    assert not cache.exists()  # the file, and the folder the download created


def test_loader_never_unpickles():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(_model_diagnosis))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    imports = (node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)))
    names |= {alias.name for node in imports for alias in node.names}
    assert not names & {"pickle", "load", "loads", "read_pickle", "allow_pickle", "joblib"}


# --------------------------------------------------------------------------------------
# validation of a CSV


@pytest.fixture(scope="module")
def csv_lines(model_diagnosis_dir):
    return (model_diagnosis_dir / NORMAL).read_text().splitlines(keepends=True)


def _set_field(line, position, value):
    fields = line.rstrip("\n").split(",")
    fields[position] = value
    return ",".join(fields) + "\n"


def _corrupt(kind, lines):
    header = lines[0].rstrip("\n").split(",")
    col = header.index
    if kind == "truncated":
        text = "".join(lines)
        return text[: len(text) // 2]
    if kind == "extra_field":
        return "".join(lines[:4] + [lines[4].rstrip("\n") + ",9\n"] + lines[5:])
    if kind == "extra_field_first_row":
        return "".join(lines[:1] + [lines[1].rstrip("\n") + ",9\n"] + lines[2:])
    if kind == "empty_value":
        return "".join(lines[:7] + [_set_field(lines[7], col("train_error"), "")] + lines[8:])
    if kind == "text_value":
        return "".join(lines[:7] + [_set_field(lines[7], col("CKA"), "abc")] + lines[8:])
    if kind == "nan_label":
        return "".join(lines[:9] + [_set_field(lines[9], col("width_vs_batch"), "")] + lines[10:])
    if kind == "unknown_label":
        return "".join(lines[:3] + [_set_field(lines[3], col("bs_failure"), "huge")] + lines[4:])
    if kind == "hole":
        return "".join(lines[:7] + lines[8:])
    if kind == "duplicate":
        return "".join(lines[:7] + [lines[8]] + lines[8:])
    if kind == "missing_column":
        keep = [i for i, name in enumerate(header) if name != "hessian_t"]
        return "".join(
            ",".join(f for i, f in enumerate(line.rstrip("\n").split(",")) if i in keep) + "\n"
            for line in lines
        )
    if kind == "header_only":
        return lines[0]
    if kind == "empty":
        return ""
    raise AssertionError(kind)


BAD_CSV = {
    "truncated": r"last line \(\d+\).*no value for the column\(s\) \[.*test_error.*truncated",
    "extra_field": r"Could not parse .* Expected 27 fields in line 5, saw 28",
    "extra_field_first_row": r"more fields on its data lines",
    "empty_value": r"Column 'train_error' .* missing values \(NaN\) in line\(s\) 8\b",
    "text_value": r"Column 'CKA' .* must be numeric.*line\(s\) 8 holds 'abc'",
    "nan_label": r"Column 'width_vs_batch' .* must hold one of .*line\(s\) 10\b",
    "unknown_label": r"Column 'bs_failure' .* line\(s\) 4 hold\(s\) 'huge'",
    "hole": r"not a complete grid .* 1 configuration\(s\) of the 1690 are missing, e.g. "
    r"\(width=2, data=4, bs=16\)",
    "duplicate": r"more than one row for the same configuration .* line\(s\) 8, 9",
    "missing_column": r"missing the column\(s\) \['hessian_t'\]",
    "header_only": r"has a header but no rows",
    "empty": r"Could not parse .* as CSV",
}


@pytest.mark.parametrize("kind", sorted(BAD_CSV))
def test_bad_csv_gives_a_clear_error(kind, csv_lines):
    with pytest.raises(ValueError, match=BAD_CSV[kind]):
        read_model_diagnosis_csv(io.StringIO(_corrupt(kind, csv_lines)))


def test_bad_csv_file_is_named(csv_lines, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(_corrupt("hole", csv_lines))
    with pytest.raises(ValueError, match=r"CSV file '.*mine\.csv' is not a complete grid"):
        read_model_diagnosis_csv(path)


def test_read_csv_of_published_file(model_diagnosis_dir):
    frame = read_model_diagnosis_csv(model_diagnosis_dir / NOISE)
    assert frame.shape == (1690, 27)
