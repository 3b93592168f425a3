"""Name rules of docs/access.md. Every name from the network, a push or the CLI passes here first.

The patterns are ASCII-only on purpose: Unicode look-alikes, separators and dots-only names
never reach the file system or the database.
"""

from __future__ import annotations

import re

USER_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,38}$")
PART_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,95}$")


class InvalidName(ValueError):
    """A name that breaks the rules; the message says which rule and what is allowed."""


def check_user(name: str) -> str:
    if not isinstance(name, str) or not USER_RE.fullmatch(name):
        raise InvalidName(
            f"invalid user name {name!r}: use 1-39 characters a-z, 0-9, '_', '.', '-',"
            " starting with a letter or digit"
        )
    if ".." in name:
        # Never a path component today, but a name that reads as one has no place anywhere
        # (logs, REMOTE_USER, a web server's own config): the same rule as spaces and models.
        raise InvalidName(f"invalid user name {name!r}: '..' is not allowed")
    return name


def check_part(name: str, what: str = "space") -> str:
    if not isinstance(name, str) or not PART_RE.fullmatch(name):
        raise InvalidName(
            f"invalid {what} name {name!r}: use 1-96 characters a-z, 0-9, '_', '.', '-',"
            " starting with a letter or digit"
        )
    if ".." in name:
        raise InvalidName(f"invalid {what} name {name!r}: '..' is not allowed")
    if name.endswith(".git"):
        raise InvalidName(f"invalid {what} name {name!r}: drop the '.git' suffix")
    return name


def check_space(name: str) -> str:
    return check_part(name, "space")


def check_model_id(model_id: str) -> tuple[str, str]:
    """``space/model`` split into its two checked parts."""
    if not isinstance(model_id, str) or model_id.count("/") != 1:
        raise InvalidName(f"invalid model id {model_id!r}: use SPACE/MODEL, e.g. acme/bert-small")
    space, model = model_id.split("/")
    return check_part(space, "space"), check_part(model, "model")


def is_model_id(model_id: str) -> bool:
    try:
        check_model_id(model_id)
    except InvalidName:
        return False
    return True
