"""errors.py: one hierarchy, each kind with its status; the older domain errors sit on it so
that each front end maps one type."""

from __future__ import annotations

import pytest

from modelgit import errors
from modelgit.gating import GatingError
from modelgit.http.gating_api import ApiError
from modelgit.http.request import BodyError
from modelgit.hubcommit import HubError
from modelgit.lfs.batch import BatchError
from modelgit.lfs.locks import LockError
from modelgit.lfs.storage import StorageError


@pytest.mark.parametrize(("kind", "status"), [
    (errors.Invalid, 400), (errors.Unauthorized, 401), (errors.Forbidden, 403),
    (errors.NotFound, 404), (errors.Conflict, 409), (errors.TooLarge, 413),
    (errors.Unavailable, 503),
])
def test_each_kind_carries_its_status(kind: type[errors.ModelgitError], status: int) -> None:
    error = kind("no", hint="do this", code="RepoNotFound")
    assert (error.status, error.message, error.hint, error.code) == (status, "no", "do this",
                                                                     "RepoNotFound")
    assert error.lines() == ["no", "hint: do this"]
    assert errors.with_status(status, "no").status == status
    assert type(errors.with_status(status, "no")) is kind


def test_too_many_says_when_to_retry() -> None:
    error = errors.TooMany("slow down", retry_after=30)
    assert (error.status, error.retry_after) == (429, 30)


def test_refused_is_the_base_and_keeps_its_old_call() -> None:
    assert errors.Refused is errors.ModelgitError
    error = errors.Refused("gone", hint="look", status=404)
    assert (error.status, error.lines()) == (404, ["gone", "hint: look"])
    assert errors.Refused(["a", "b"]).message == "a\nb"
    assert errors.with_status(418, "tea").status == 418


@pytest.mark.parametrize("kind", [GatingError, ApiError, BodyError, HubError, StorageError,
                                  LockError, BatchError])
def test_the_domain_errors_are_on_the_hierarchy(kind: type[errors.ModelgitError]) -> None:
    error = kind(413, "too big")
    assert isinstance(error, errors.ModelgitError)
    assert (error.status, error.message, str(error)) == (413, "too big", "too big")
