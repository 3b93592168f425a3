"""Paths and branch names from the network, checked before anything touches git."""

from __future__ import annotations

import re

import pygit2

from modelgit.hubcommit.limits import MAX_PATH_BYTES, MAX_SEGMENT_BYTES, HubError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_path(value: object, what: str = "path") -> str:
    """A repository path from the network, checked as a git tree path; raises 400.

    The rules are git's own (fsck refuses ``.git`` in any case and ``..``) plus: no empty
    segment, no control characters (they end up in headers and logs), bounded lengths.
    """
    if not isinstance(value, str) or not value:
        raise HubError(400, f"{what} must be a non-empty string")
    encoded = value.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_PATH_BYTES:
        raise HubError(400, f"{what} is longer than {MAX_PATH_BYTES} bytes")
    if _CONTROL.search(value) or "\\" in value:
        raise HubError(400, f"{what} {value!r} contains a control character or a backslash")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise HubError(400, f"{what} {value!r} is not valid UTF-8") from None
    for part in value.split("/"):
        if part in ("", ".", ".."):
            raise HubError(400, f"{what} {value!r}: empty, '.' and '..' segments are not"
                                " allowed (paths are relative to the repository root)")
        if part.lower().rstrip(". ") == ".git":
            raise HubError(400, f"{what} {value!r}: '.git' cannot be part of a path")
        if len(part.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise HubError(400, f"{what} {value!r}: a segment is longer than"
                                f" {MAX_SEGMENT_BYTES} bytes")
    return value


def valid_branch(branch: str) -> str:
    """A branch name the hub API may commit to; ``refs/heads/x`` and ``x`` both name ``x``."""
    name = branch.removeprefix("refs/heads/")
    if (not name or len(name) > 255 or name.startswith(("refs/", "-")) or _CONTROL.search(name)
            or not pygit2.reference_is_valid_name(f"refs/heads/{name}")):
        raise HubError(400, f"invalid branch name {branch!r}: commits go to a branch such as"
                            " 'main'", "RevisionNotFound")
    return name
