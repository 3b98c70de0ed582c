"""No input lookup of the zoo cache, the checkpoint loader or the data loaders blocks
on a FIFO or trips on a folder (issue 23): a one-line error, within seconds."""

import os

import pytest

torch = pytest.importorskip("torch")

from _helpers import within  # noqa: E402
from featurizers.checkpoints import CheckpointError, load_data, load_state_dict  # noqa: E402
from featurizers.zoo import ZooGrid, train_zoo  # noqa: E402
from sklearn_mdtree._files import open_regular  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def _tiny():
    return ZooGrid(width=(4,), bs=(8,), data_amount=(60,), noise=(0.0,), seeds=(0, 1),
                   steps=5)


@pytest.mark.parametrize("kind", ["models", "features"])
@pytest.mark.parametrize("special", ["fifo", "folder"])
def test_a_cache_entry_that_is_not_a_file_is_refused_in_one_line(tmp_path, kind, special):
    zoo = train_zoo(_tiny(), cache_dir=tmp_path, verbose=0)
    zoo.featurize()
    entry = sorted((tmp_path / kind).iterdir())[0]
    entry.unlink()
    if special == "fifo":
        os.mkfifo(entry)
    else:
        entry.mkdir()

    def again():
        return train_zoo(_tiny(), cache_dir=tmp_path, verbose=0).featurize()

    error = within(60, again).get("error")
    assert isinstance(error, FileExistsError), error
    what = "a FIFO (named pipe)" if special == "fifo" else "a folder"
    message = str(error)
    assert "\n" not in message
    assert f"The zoo cache entry {str(entry)!r} is {what}, not a regular file" in message
    assert "cache_dir" in message
    # nothing was replaced
    assert (entry.is_dir() if special == "folder" else not entry.is_file())


def test_checkpoint_and_data_fifos_and_folders_are_refused(tmp_path):
    fifo = tmp_path / "seed0.pt"
    os.mkfifo(fifo)
    error = within(20, lambda: load_state_dict(fifo)).get("error")
    assert isinstance(error, CheckpointError)
    assert "is a FIFO (named pipe), not a regular file" in str(error)
    data = tmp_path / "train.npz"
    os.mkfifo(data)
    error = within(20, lambda: load_data(data)).get("error")
    assert isinstance(error, CheckpointError) and "data file" in str(error)
    assert "FIFO" in str(error)
    folder = tmp_path / "folder.pt"
    folder.mkdir()
    with pytest.raises(CheckpointError, match="is a folder, not a regular file"):
        load_state_dict(folder)


@pytest.mark.filterwarnings("ignore:ModelGroup.from_checkpoints is deprecated:FutureWarning")
def test_a_checkpoint_group_hashes_no_fifo(tmp_path):
    from featurizers import ModelGroup

    fifo = tmp_path / "seed0.pt"
    os.mkfifo(fifo)
    X, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    outcome = within(20, lambda: ModelGroup.from_checkpoints(
        lambda: torch.nn.Linear(2, 2), [fifo], (X, y)))
    assert isinstance(outcome.get("error"), ValueError)
    assert "checkpoint" in str(outcome["error"]) and "FIFO" in str(outcome["error"])


def test_open_regular_refuses_a_file_swapped_for_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    error = within(20, lambda: open_regular(fifo, "tree file")).get("error")
    assert isinstance(error, ValueError) and "FIFO" in str(error)
    path = tmp_path / "ok.bin"
    path.write_bytes(b"abc")
    with open_regular(path, "file") as handle:
        assert handle.read() == b"abc"
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing", "file")


def test_a_file_swapped_for_a_fifo_after_the_stat_is_refused(tmp_path, monkeypatch):
    """The check is made on the opened file (fstat), not only on the name (stat)."""
    import stat as stat_module

    from sklearn_mdtree import _files

    fifo = tmp_path / "tree.json"
    os.mkfifo(fifo)
    real_stat = os.stat

    class Regular:
        st_mode = stat_module.S_IFREG | 0o644

    # the name looks like a regular file when stat'ed, as if swapped just after
    monkeypatch.setattr(_files.os, "stat", lambda p, *a, **k: Regular()
                        if os.fspath(p) == str(fifo) else real_stat(p, *a, **k))
    error = within(20, lambda: open_regular(fifo, "tree file")).get("error")
    assert isinstance(error, ValueError) and "is a FIFO (named pipe)" in str(error)


def test_an_output_that_is_a_hard_link_of_an_input_is_refused(tmp_path):
    # `ln seed1.pt out.csv; mdtree featurize ... --out out.csv` replaced the checkpoint:
    # the CLI compared resolved names; this helper compares files (device and inode)
    from sklearn_mdtree._files import check_not_an_input as check_output_is_no_input

    seed = tmp_path / "seed1.pt"
    seed.write_bytes(b"weights")
    os.link(seed, tmp_path / "out.csv")
    os.symlink(seed, tmp_path / "alias.pt")
    for output in ("out.csv", "alias.pt"):
        with pytest.raises(ValueError, match="The --out path '.*' is one of the inputs "
                                             "..*seed1.pt'"):
            check_output_is_no_input(tmp_path / output, [tmp_path / "other.pt", seed],
                                     option="--out")
    check_output_is_no_input(tmp_path / "new.csv", [seed])  # does not exist yet
    (tmp_path / "copy.csv").write_bytes(b"weights")
    check_output_is_no_input(tmp_path / "copy.csv", [seed])  # equal bytes, another file
