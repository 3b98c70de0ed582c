"""The shared test helpers of ``tests/_helpers.py``."""

import threading

import pytest

from _helpers import error_line, result_error_line, run_cli, within


def test_within_returns_the_value_or_the_exception():
    assert within(10, lambda: 3) == {"value": 3}
    outcome = within(10, lambda: 1 / 0)
    assert set(outcome) == {"error"} and isinstance(outcome["error"], ZeroDivisionError)
    assert isinstance(within(10, lambda: exit(2))["error"], SystemExit)


def test_within_fails_on_a_blocked_call_after_unblocking_it():
    release = threading.Event()
    returned = threading.Event()

    def blocked():
        release.wait(30)
        returned.set()

    with pytest.raises(pytest.fail.Exception, match="blocked for more than 0.2 s"):
        within(0.2, blocked, unblock=release.set)
    assert returned.wait(10)  # unblock ran: the thread went on and returned


def test_error_line_accepts_one_refused_line_only():
    status, out, err = run_cli(["diagnose", "--help"])
    assert status == 0 and out.startswith("usage: mdtree diagnose") and err == ""
    line = error_line(["diagnose", "--n-jobs", "zero"], "--n-jobs")
    assert line.startswith("mdtree diagnose: error: ") and "\n" not in line
    with pytest.raises(AssertionError):  # an accepted command
        result_error_line((0, "ok\n", ""), "diagnose")
    with pytest.raises(AssertionError):  # two lines on stderr
        result_error_line((2, "", "mdtree diagnose: error: a\nb\n"), "diagnose")
    with pytest.raises(AssertionError):  # a word missing
        result_error_line((2, "", "mdtree diagnose: error: a\n"), "diagnose", "b")
