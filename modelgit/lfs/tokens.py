"""Short-lived signed tokens for LFS action hrefs.

The batch response hands git-lfs an ``href`` per object; the transfer endpoint must then know,
without repeating the batch request's checks, that this user may do this operation on this
object of this model, with this many bytes, and only for a little while. An HMAC-SHA256 over
(repo, oid, op, user, key id, size, expiry) says exactly that. The token carries the user,
the public id of the key the batch request came with, the size the batch approved and the
expiry; repo, oid and op come from the URL being served, so a token copied to another
object, model or operation fails the MAC. The key id lets the transfer endpoint check that
the key is still live (revoked or regenerated keys stop their links at once), and the size
that an upload is exactly what its batch approved against the space's quota. Any front end
holding the site's secret can check a token (no per-process state, docs/architecture.md).

Format: ``<payload>.<mac>``, both unpadded base64url (safe in a query string with no
quoting), payload = JSON ``[user, expires_at, key_id, size]`` (``size`` null when the token
approves no size). JSON arrays keep the MAC input unambiguous
whatever characters a field holds, and a version-tagged prefix keeps these MACs from ever
meaning anything for another purpose that shares the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Operations a token can be made for; one per LFS action.
OPS = frozenset({"upload", "download", "verify"})

#: Length of a secret made by :func:`load_or_create_secret`.
SECRET_BYTES = 32

#: Tokens longer than this are refused before any decoding (hostile query strings).
MAX_TOKEN_CHARS = 1024

_DOMAIN = b"modelgit-lfs-token-v2\x00"
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_MIN_SECRET_BYTES = 16


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Strict unpadded base64url: None for stray characters or a non-canonical encoding.

    Python's decoder skips unknown characters and ignores unused trailing bits, so without
    the round-trip check several spellings would decode to one token.
    """
    if _B64URL_RE.fullmatch(text) is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64encode(raw) == text else None


@dataclass(frozen=True)
class Claims:
    """What a valid token says: who, with which key, and how many bytes were approved."""

    user: str  # "" for an anonymous reader of a public model
    key_id: str  # public id of the key the batch request used; "" when there was none
    size: int | None  # bytes the batch approved for this object; None when none was


def _mac(secret: bytes, repo: str, oid: str, op: str, user: str, expires_at: int,
         key_id: str, size: int | None) -> bytes:
    message = json.dumps([repo, oid, op, user, expires_at, key_id, size],
                         separators=(",", ":"))
    return hmac.new(secret, _DOMAIN + message.encode("utf-8"), hashlib.sha256).digest()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def make_token(secret: bytes, *, repo: str, oid: str, op: str, user: str, expires_at: int,
               key_id: str = "", size: int | None = None) -> str:
    """A token allowing ``user`` (with key ``key_id``) to do ``op`` on ``oid`` of ``size``
    bytes in ``repo`` until ``expires_at``.

    ``expires_at`` is a Unix time in whole seconds; ``user`` and ``key_id`` may be ``""`` for
    an anonymous reader of a public model. Raises ``ValueError`` for arguments that could
    only be a bug.
    """
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"token secret must be at least {_MIN_SECRET_BYTES} bytes")
    if op not in OPS:
        raise ValueError(f"unknown token operation {op!r}")
    if not _is_int(expires_at):
        raise ValueError("expires_at must be an int (Unix seconds)")
    if size is not None and not (_is_int(size) and size >= 0):
        raise ValueError("size must be a non-negative int or None")
    payload = json.dumps([user, expires_at, key_id, size], separators=(",", ":"))
    mac = _mac(secret, repo, oid, op, user, expires_at, key_id, size)
    return f"{_b64encode(payload.encode('utf-8'))}.{_b64encode(mac)}"


def check_token(secret: bytes, token: str, *, repo: str, oid: str, op: str, now: int) -> str | None:
    """The user a valid, unexpired token was made for, or None (see :func:`check_claims`)."""
    claims = check_claims(secret, token, repo=repo, oid=oid, op=op, now=now)
    return claims.user if claims is not None else None


def check_claims(secret: bytes, token: str, *, repo: str, oid: str, op: str, now: int
                 ) -> Claims | None:
    """What a valid, unexpired token says, or None.

    None for anything wrong (malformed, another repo/oid/op, forged, expired) without saying
    which: the caller answers 401 either way, and a forger learns nothing. The MAC is
    compared in constant time. A token is expired from ``expires_at`` on (``now >=``).
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    parts = token.split(".")
    if len(parts) != 2:
        return None
    payload_raw, mac = _b64decode(parts[0]), _b64decode(parts[1])
    if payload_raw is None or mac is None:
        return None
    try:
        payload = json.loads(payload_raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not (isinstance(payload, list) and len(payload) == 4):
        return None
    user, expires_at, key_id, size = payload
    if not isinstance(user, str) or not isinstance(key_id, str) or not _is_int(expires_at):
        return None
    if size is not None and not (_is_int(size) and size >= 0):
        return None
    expected = _mac(secret, repo, oid, op, user, expires_at, key_id, size)
    if not hmac.compare_digest(expected, mac):
        return None
    if now >= expires_at:
        return None
    return Claims(user, key_id, size)


def load_or_create_secret(path: Path) -> bytes:
    """The site's token secret: read from ``path``, or made there on first use.

    Made as 32 random bytes in a ``0600`` temporary file next to ``path``, fsynced, then
    hard-linked into place: ``link`` fails if the name exists, so when several processes
    start at once exactly one secret wins and nobody ever reads a half-written file. Every
    front end sharing the data folder then signs with the same secret.

    Raises ``ValueError`` for a file of the wrong length and ``PermissionError`` for one that
    other users may read (anyone holding it can mint download tokens for every model).
    """
    path = Path(path)
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(SECRET_BYTES))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        os.unlink(tmp_name)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    with path.open("rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"{path}: the token secret must be a regular file")
        if mode & 0o077:
            raise PermissionError(
                f"{path}: the token secret is readable by other users; run: chmod 600 {path}"
            )
        secret = handle.read(SECRET_BYTES + 1)
    if len(secret) != SECRET_BYTES:
        raise ValueError(
            f"{path}: expected {SECRET_BYTES} bytes, found {len(secret)}; "
            "remove the file to make a new secret (outstanding LFS links stop working)"
        )
    return secret
