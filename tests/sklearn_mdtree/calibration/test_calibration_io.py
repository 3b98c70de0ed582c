"""Reading calibration files never blocks on a special file (issue 23's FIFO hangs)."""

import os

import pytest

from _helpers import within
from sklearn_mdtree.calibration import CalibrationFileError, is_calibration_file, load_calibrated

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


def test_a_fifo_is_not_a_calibration_file_and_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "calibrated.json"
    os.mkfifo(fifo)
    assert within(20, lambda: is_calibration_file(fifo)) == {"value": False}
    error = within(20, lambda: load_calibrated(fifo)).get("error")
    assert isinstance(error, CalibrationFileError)
    assert "FIFO" in str(error) and "\n" not in str(error)
