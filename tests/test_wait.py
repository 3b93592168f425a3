"""tests/helpers/wait.py: the one way the tests wait for something to happen."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers.wait import wait_for


def test_returns_the_first_true_value() -> None:
    calls = itertools.count()
    assert wait_for(lambda: next(calls) >= 3 and "ready", 5, "the third call") == "ready"


def test_fails_naming_what_was_awaited() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.2 s waiting for the moon"):
        wait_for(lambda: False, 0.2, "the moon")


def test_what_may_say_how_far_things_got() -> None:
    seen = [0]

    def grows() -> bool:
        seen[0] += 1
        return False

    with pytest.raises(AssertionError, match=r"waiting for 10 calls \(only \d+\)"):
        wait_for(grows, 0.2, lambda: f"10 calls (only {seen[0]})")


def test_ignored_errors_mean_not_yet_and_are_shown_at_the_end() -> None:
    def refused() -> bool:
        raise ConnectionRefusedError("not listening")

    with pytest.raises(AssertionError, match="not listening"):
        wait_for(refused, 0.2, "a server", ignore=(OSError,))


def test_other_errors_stop_the_wait_at_once() -> None:
    def dead() -> bool:
        raise RuntimeError("the server exited")

    with pytest.raises(RuntimeError, match="exited"):
        wait_for(dead, 30, "a server", ignore=(OSError,))
