"""What a card check hands back: each problem as a ``CardError`` with its README line, and the
``CardResult`` that holds them all, so that a push is refused once with the whole list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_ERRORS", "CardError", "CardResult", "CardSchemaError"]

#: Most errors reported for one card; the rest are counted in a last line.
MAX_ERRORS = 100


class CardSchemaError(ValueError):
    """The site's schema file cannot be used (unreadable, not JSON, not a valid JSON Schema).

    This is a configuration problem of the site, not of the person pushing, so it is raised
    rather than reported as a card error: blaming the card would send the author hunting for
    a mistake that is not theirs.
    """


@dataclass(frozen=True)
class CardError:
    """One problem with a card, worded so that the author can fix it without help.

    ``line`` is the 1-based README line (None when the problem has no place, e.g. a missing
    README), ``field`` the path of the offending value (``""`` for whole-document problems).
    """

    line: int | None
    field: str
    message: str

    def format(self, path: str = "README.md") -> str:
        """``README.md:12: Job type.Algorithm: ...``: the shape compilers use, so editors and
        terminals can jump to the line."""
        where = f"{path}:{self.line}" if self.line is not None else path
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class CardResult:
    """The parsed front matter (None when there is none or it cannot be read) and every
    problem found, so that a push is refused once with the whole list."""

    data: dict[str, Any] | None
    errors: list[CardError]

    @property
    def ok(self) -> bool:
        """True when the card may be pushed."""
        return not self.errors
