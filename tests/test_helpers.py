"""The shared test helpers of ``tests/_helpers.py``."""

import threading

import pytest

from _helpers import within


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
