"""Credentials on an HTTP request -> a ``Subject``. Basic (password = key) or Bearer.

Also the habit public hosts accept, ``https://KEY@host/...``: the key as the Basic user name
with an empty or ``x-oauth-basic`` password authenticates as the key's owner.

The key itself is checked by :func:`modelgit.services.access.authenticate`; what the client
sent as its user name is kept only when it is shaped like a user name (a key never is), so a
key typed into the wrong field is not recorded either.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from modelgit.authz import keys
from modelgit.authz.brake import user_name_or_empty
from modelgit.authz.decide import Subject
from modelgit.services import access
from modelgit.store import Store
from modelgit.xet import tokens as xet_tokens

ANONYMOUS = Subject(user=None, is_admin=False, scope="read")


@dataclass(frozen=True)
class AuthResult:
    subject: Subject
    presented: bool          # the request carried credentials
    failed: bool             # ...and they were wrong (bad, revoked, expired, user mismatch)
    claimed_user: str | None = None  # a user name's shape or None: never a key
    name_sent: bool = False  # a Basic user name came, whether or not it could be kept
    key_id: str | None = None


#: Passwords that say "the key is the user name" (curl ``-u KEY:``, git's ``KEY@host`` with an
#: empty password, and the ``x-oauth-basic`` of GitHub's token URLs).
KEY_AS_USER_PASSWORDS = ("", "x-oauth-basic")


def parse_authorization(header: str | None) -> tuple[str | None, str] | None:
    """(username or None, key) from an Authorization header, or None if there is none.

    A key sent as the Basic user name with an empty or ``x-oauth-basic`` password comes back
    as ``(None, key)``, as a Bearer key does: nobody's name was given.
    """
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return None, value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        user, sep, password = decoded.partition(":")
        if password in KEY_AS_USER_PASSWORDS and keys.looks_like_key(user):
            return None, user
        return (user if sep else ""), password
    return "", ""


def authenticate(store: Store, header: str | None) -> AuthResult:
    """The request's subject from its Authorization header (the key check is the service's)."""
    creds = parse_authorization(header)
    if creds is None:
        return AuthResult(ANONYMOUS, presented=False, failed=False)
    claimed, candidate = creds
    if claimed is None and xet_tokens.looks_like_token(candidate):
        # A Xet CAS token is not a key: its routes check it themselves (services.xet); on any
        # other route the request is anonymous, never a failed login that feeds the brake.
        return AuthResult(ANONYMOUS, presented=False, failed=False)
    basic = header is not None and header.strip()[:6].lower() == "basic "
    proved = access.authenticate(store, claimed or None, candidate)
    if proved is None:
        return AuthResult(ANONYMOUS, presented=True, failed=True,
                          claimed_user=user_name_or_empty(claimed) or None,
                          name_sent=basic and claimed != "")
    return AuthResult(proved.subject, presented=True, failed=False,
                      claimed_user=proved.subject.user, key_id=proved.key_id)
