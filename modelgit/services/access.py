"""Who is asking and may they: keys to subjects, store rows to ``ModelFacts``, ``decide()``.

The one place that builds ``ModelFacts`` and subjects, so the server, nginx's auth_request,
Apache's credential check, the hooks and the gating service cannot disagree. It runs on the
credential check's cold path (a fresh process per request): it imports only the pure ``authz``
modules here, never click, YAML or git.
"""

from __future__ import annotations

from modelgit.authz import keys, roles
from modelgit.authz.decide import Decision, ModelFacts, Subject, decide
from modelgit.errors import Forbidden, ModelgitError, NotFound, Unauthorized, with_status
from modelgit.values import Value

TYPE_CHECKING = False  # typing is start-up cost for credential-check's cold path
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from modelgit.store import Store

#: ``last_used`` is written at most this often per key, so that reads stay reads.
TOUCH_EVERY_SECONDS = 60


class Authenticated(Value):
    """A key that checked out: who it proves, and which key (for ``whoami``, never the key)."""

    _fields = ("subject", "key_id")
    subject: Subject
    key_id: str

    def __init__(self, subject: Subject, key_id: str) -> None:
        self._init(subject=subject, key_id=key_id)


def authenticate(store: Store, user: str | None, key: str) -> Authenticated | None:
    """The subject ``key`` proves, or None: wrong, expired, revoked, or not ``user``'s.

    ``user`` None (a Bearer key, or the key sent as the user name) accepts any owner. One
    sha256, one indexed query and a constant-time comparison; the key is never logged.
    """
    from modelgit.store import now_iso

    if not keys.looks_like_key(key):
        return None
    row = store.key_by_hash(keys.digest(key))
    if row is None or not keys.verify(key, row["hash"]):
        return None
    now = now_iso()
    if not keys.is_live(row, now):
        return None
    if user and user != row["user"]:  # Basic: the user name must name the key's owner
        return None
    last = row.get("last_used")
    if not last or _seconds_between(last, now) >= TOUCH_EVERY_SECONDS:
        store.touch_key(row["id"], now)
    subject = Subject(user=row["user"], is_admin=bool(row["is_admin"]), scope=row["scope"])
    return Authenticated(subject, str(row["id"]))


def subject_for(store: Store, name: str, scope: str = "write") -> Subject | None:
    """The subject for a user someone else authenticated (Apache, a hook's pusher), or None
    for an unknown user."""
    row = store.get_user(name) if name else None
    if row is None:
        return None
    return Subject(user=name, is_admin=bool(row["is_admin"]), scope=scope)


def facts_of(row: Mapping[str, Any]) -> ModelFacts:
    """A store row with ``decide()``'s columns (``access_facts``, ``hub_models_for``)."""
    return ModelFacts(id=row["id"], owner=row["owner"], space_owner=row["space_owner"],
                      visibility=row["visibility"], gated=row["gated"],
                      model_role=row["model_role"], space_role=row["space_role"],
                      request_status=row.get("request_status"))


def facts(store: Store, model_id: str, user: str | None) -> ModelFacts | None:
    """What ``decide()`` needs about (model, user), in one query; None for no such model."""
    row = store.access_facts(model_id, user)
    return None if row is None else facts_of(row)


def check(subject: Subject, model: ModelFacts | None, action: str, *, model_id: str = "",
          allow_anonymous_read: bool = True) -> Decision:
    """``decide()``, with the model named in the refusal even when it does not exist."""
    decision = decide(subject, model, action, allow_anonymous_read=allow_anonymous_read)
    if model is None and decision.status == 404 and model_id:
        decision = Decision(False, 404, "not_found",
                            f"model {model_id} not found: check the name, or ask its owner"
                            " for access")
    return decision


def check_model(store: Store, subject: Subject, model_id: str, action: str, *,
                allow_anonymous_read: bool = True) -> tuple[Decision, dict[str, Any] | None]:
    """The decision for a model named by id (as in a URL), and its facts row when it exists.

    A name that breaks the rules is answered as a model that does not exist.
    """
    from modelgit.names import InvalidName, check_model_id

    try:
        check_model_id(model_id)
    except InvalidName:
        return decide(subject, None, action), None
    row = store.access_facts(model_id, subject.user)
    model = None if row is None else facts_of(row)
    return check(subject, model, action, model_id=model_id,
                 allow_anonymous_read=allow_anonymous_read), row


def role_of(store: Store, model_id: str, user: str) -> str | None:
    """The role ``user`` holds on the model (site admin, owners and grants counted)."""
    subject = subject_for(store, user)
    model = facts(store, model_id, user)
    if subject is None or model is None:
        return None
    return roles.effective_role(
        user=user, is_admin=subject.is_admin, model_owner=model.owner,
        space_owner=model.space_owner, model_role=model.model_role,
        space_role=model.space_role)


def refusal(decision: Decision) -> ModelgitError:
    """A denial as the one error hierarchy (hub code ``RepoNotFound`` when existence is not
    revealed, ``GatedRepo`` for a gated read)."""
    if decision.status == 404:
        return NotFound(decision.reason, code="RepoNotFound")
    if decision.status == 401:
        return Unauthorized(decision.reason)
    if decision.code == "gated":
        return Forbidden(decision.reason, code="GatedRepo")
    return with_status(decision.status, decision.reason)


def _seconds_between(earlier: str, later: str) -> float:
    """Seconds between two ``now_iso()`` stamps; infinity for anything else.

    ``fromisoformat`` rather than ``strptime``: ``_strptime`` and its regexes are a measurable
    part of ``credential-check``'s cold start."""
    from datetime import datetime

    if not (earlier.endswith("Z") and later.endswith("Z")
            and "." in earlier and "." in later):
        return float("inf")
    try:
        return (datetime.fromisoformat(later[:-1])
                - datetime.fromisoformat(earlier[:-1])).total_seconds()
    except ValueError:
        return float("inf")
