"""``Value``: the immutable record behind the types on ``credential-check``'s cold path.

``@dataclass(frozen=True)`` would do, but importing ``dataclasses`` loads ``inspect`` (and
``ast``, ``dis``, ``tokenize``), a tenth of that helper's start, paid on every git request
Apache checks while the server is down. A subclass names its fields in ``_fields`` and sets
them in ``__init__`` with ``_init``; equality, hashing, ``repr`` and refusing assignment
follow the fields, as a frozen dataclass's do.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from typing import Any


class Value:
    """An immutable record compared, hashed and shown field by field."""

    _fields: tuple[str, ...] = ()

    def _init(self, **values: Any) -> None:
        for name in self._fields:
            object.__setattr__(self, name, values[name])

    def _astuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._astuple() == other._astuple()

    def __hash__(self) -> int:
        return hash(self._astuple())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({inner})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")
