"""Signed, short-lived tokens of the Xet CAS: access tokens, upload grants, fetch links.

A token says who (user and key id) may do what (``purpose``: ``read``/``write`` access to a
model's CAS, or one xorb's grant or fetch link) on which model until when, MACed with the
site's Xet secret (HMAC-SHA256 under a domain prefix of its own, so no other token of the site
can pass for one). Holding a token proves the access decision was made when it was issued;
the CAS checks the user, key and right again on every use (services.xet), so a revoked key or
role stops it at once. The token is opaque to the client: ``mgxet_<payload>.<mac>``, both
unpadded base64url; the payload is a JSON array, so the MAC input is unambiguous.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

PREFIX = "mgxet_"
MAX_TOKEN_CHARS = 2048
_DOMAIN = b"modelgit-xet-token-v1\x00"
_TOKEN_RE = re.compile(r"^mgxet_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Claims:
    model: str
    purpose: str
    user: str  # "" for an anonymous reader of a public model
    key_id: str
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == text else None


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _DOMAIN + payload, hashlib.sha256).digest()


def make(secret: bytes, claims: Claims) -> str:
    """A token carrying ``claims``."""
    if len(secret) < 16:
        raise ValueError("token secret must be at least 16 bytes")
    payload = json.dumps([claims.model, claims.purpose, claims.user, claims.key_id,
                          claims.expires_at], separators=(",", ":")).encode("utf-8")
    return f"{PREFIX}{_b64(payload)}.{_b64(_mac(secret, payload))}"


def looks_like_token(text: str) -> bool:
    """Shaped like a Xet token (not a proof of anything)."""
    return text.startswith(PREFIX)


def check(secret: bytes, token: str, *, now: int) -> Claims | None:
    """The claims of a well-formed, authentic, unexpired token, else None."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    m = _TOKEN_RE.fullmatch(token)
    if m is None:
        return None
    payload, mac = _unb64(m.group(1)), _unb64(m.group(2))
    if payload is None or mac is None:
        return None
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        fields = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not (isinstance(fields, list) and len(fields) == 5
            and all(isinstance(f, str) for f in fields[:4])
            and isinstance(fields[4], int) and not isinstance(fields[4], bool)):
        return None
    claims = Claims(*fields)
    return claims if claims.expires_at > now else None
