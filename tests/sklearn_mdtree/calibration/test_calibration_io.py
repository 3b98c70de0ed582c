"""Reading calibration files never blocks on a special file (issue 23's FIFO hangs)."""

import os
import threading

import pytest

from sklearn_mdtree.calibration import CalibrationFileError, is_calibration_file, load_calibrated

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


def _within(seconds, call):
    """Run ``call`` in a thread; fail if it has not returned after ``seconds``."""
    result = {}

    def target():
        try:
            result["value"] = call()
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"blocked for more than {seconds} s"
    return result


def test_a_fifo_is_not_a_calibration_file_and_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "calibrated.json"
    os.mkfifo(fifo)
    assert _within(20, lambda: is_calibration_file(fifo)) == {"value": False}
    error = _within(20, lambda: load_calibrated(fifo)).get("error")
    assert isinstance(error, CalibrationFileError)
    assert "FIFO" in str(error) and "\n" not in str(error)
