"""The one error hierarchy for expected failures (refusals, invalid input, unknown names).

Core and service code raise these and know nothing of any wire format. Each front end maps
them once: the CLI prints ``error:``/``hint:`` lines and exits 1; git's HTTP answers text/plain
that git prints; LFS answers JSON ``message``; the hub API adds ``X-Error-Code`` (from
``code``). Anything that is not a ``ModelgitError`` is a bug: logged with its traceback.
"""

from __future__ import annotations


class ModelgitError(Exception):
    """An expected failure: what went wrong (``message``), what to do (``hint``).

    ``status`` is the HTTP status a front end answers with: each subclass fixes it; the
    ``status`` argument is for the older domain errors that still choose it per instance.
    ``code`` is a hub error code (``RepoNotFound``, ``GatedRepo``, ``RevisionNotFound``,
    ``EntryNotFound``...) that the hub clients turn into their own exceptions; ``summary``
    a one-line form where only one line fits (``message`` may have several).
    """

    status: int = 400

    def __init__(self, message: str | list[str], *, hint: str = "", code: str | None = None,
                 status: int | None = None, summary: str = "") -> None:
        text = message if isinstance(message, str) else "\n".join(message)
        super().__init__(text)
        self.message = text
        self.hint = hint
        self.code = code
        self.summary = summary
        if status is not None:
            self.status = status

    def lines(self) -> list[str]:
        """The message, then ``hint: ...`` when there is one."""
        out = [self.message]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


#: The name every module used before the hierarchy; ``Refused(msg, status=...)`` still works.
Refused = ModelgitError


class Invalid(ModelgitError):
    """The input breaks a rule (a name, a value, a malformed body)."""

    status = 400


class Unauthorized(ModelgitError):
    """Credentials are missing or wrong: HTTP front ends add the Basic challenge."""

    status = 401


class Forbidden(ModelgitError):
    """A known caller without the right."""

    status = 403


class NotFound(ModelgitError):
    """Unknown, or private and not visible to the caller: the two look the same."""

    status = 404


class Conflict(ModelgitError):
    """The thing exists already, or is already in the asked state."""

    status = 409


class TooLarge(ModelgitError):
    """A body, a file or a list over its limit."""

    status = 413


class TooMany(ModelgitError):
    """Too many attempts: wait ``retry_after`` seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after: int, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class Unavailable(ModelgitError):
    """A part the answer needs is not there right now (storage, a lock, the database)."""

    status = 503


def with_status(status: int, message: str | list[str], *, code: str | None = None,
                hint: str = "") -> ModelgitError:
    """The subclass for an HTTP-shaped status (for code that still thinks in statuses)."""
    kind = _BY_STATUS.get(status)
    if kind is None or kind is TooMany:
        return ModelgitError(message, hint=hint, code=code, status=status)
    return kind(message, hint=hint, code=code)


_BY_STATUS: dict[int, type[ModelgitError]] = {
    400: Invalid, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: TooLarge, 429: TooMany, 503: Unavailable,
}
