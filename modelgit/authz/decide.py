"""``decide()``: the one answer to "may this subject do this action on this model?".

Pure: the caller gathers the facts (one store query) and ``decide`` applies docs/access.md.
Every mode (standalone server, nginx ``auth_request``, Apache's ``credential-check``, the
hooks and the HTTP API) calls this function, so they cannot disagree. Any exception inside
denies.
"""

from __future__ import annotations

from modelgit.authz import roles
from modelgit.values import Value


class Subject(Value):
    """Who is asking: ``user`` None is anonymous. ``scope`` is the key's scope."""

    _fields = ("user", "is_admin", "scope")
    user: str | None
    is_admin: bool
    scope: str

    def __init__(self, user: str | None, is_admin: bool = False, scope: str = "write") -> None:
        self._init(user=user, is_admin=is_admin, scope=scope)


class ModelFacts(Value):
    """What ``decide()`` needs to know about a model and the subject's roles on it."""

    _fields = ("id", "owner", "space_owner", "visibility", "gated", "model_role",
               "space_role", "request_status")
    id: str
    owner: str
    space_owner: str
    visibility: str            # private | public
    gated: str                 # off | auto | manual
    model_role: str | None
    space_role: str | None
    request_status: str | None   # the subject's access request, if any

    def __init__(self, id: str, owner: str, space_owner: str, visibility: str, gated: str,
                 model_role: str | None = None, space_role: str | None = None,
                 request_status: str | None = None) -> None:
        self._init(id=id, owner=owner, space_owner=space_owner, visibility=visibility,
                   gated=gated, model_role=model_role, space_role=space_role,
                   request_status=request_status)


class Decision(Value):
    """Allowed or not, with the HTTP status, a code and a reason a person can act on."""

    _fields = ("allowed", "status", "code", "reason", "role")
    allowed: bool
    status: int                # 200 allowed; 401, 403, 404 or 500 denied
    code: str                  # ok | auth | not_found | forbidden | read_only_key | gated | error
    reason: str
    role: str | None

    def __init__(self, allowed: bool, status: int, code: str, reason: str,
                 role: str | None = None) -> None:
        self._init(allowed=allowed, status=status, code=code, reason=reason, role=role)

    def __bool__(self) -> bool:
        return self.allowed


def _ok(role: str | None) -> Decision:
    return Decision(True, 200, "ok", "", role)


#: The one text of every "sign in first" answer (401). It names no model: an anonymous caller
#: gets the same words for a private model as for one that does not exist (docs/access.md: not even
#: existence), on every route - git, LFS, the hub and gating APIs, nginx's auth_request.
AUTH_REQUIRED = ("authentication required: use your user name and a modelgit key as the"
                 " password (create one with `modelgit key create USER`)")


def auth_required() -> Decision:
    """The 401 for a caller without credentials; every front end words it from this."""
    return Decision(False, 401, "auth", AUTH_REQUIRED)


def _not_found(model_id: str) -> Decision:
    return Decision(
        False, 404, "not_found",
        f"model {model_id} not found: check the name, or ask its owner for access",
    )


_VERBS = {
    "view": "view", "retrieve": "list", "read": "read (clone, fetch, download)",
    "write": "write (push, upload)", "edit": "change the settings of",
    "admin": "administer",
}


def decide(subject: Subject, facts: ModelFacts | None, action: str, *,
           allow_anonymous_read: bool = True) -> Decision:
    """Allowed or denied, with the HTTP status and a reason a person can act on."""
    try:
        return _decide(subject, facts, action, allow_anonymous_read)
    except Exception:  # fail closed: a bug here must never open a door
        import logging  # here, not at the top: credential-check's cold start skips it

        logging.getLogger("modelgit.authz").exception(
            "decide() failed for %s on %s", action, getattr(facts, "id", "?"))
        return Decision(False, 500, "error",
                        "internal error while checking access; the server log has details")


def _decide(subject: Subject, facts: ModelFacts | None, action: str,
            allow_anonymous_read: bool) -> Decision:
    if action not in roles.MATRIX:
        raise ValueError(f"unknown action {action!r}")
    model_id = facts.id if facts is not None else "?"
    anonymous = subject.user is None
    if facts is None:
        # Anonymous callers get the challenge so git asks for a key; nothing reveals existence.
        return auth_required() if anonymous else _not_found(model_id)

    role = roles.effective_role(
        user=subject.user, is_admin=subject.is_admin, model_owner=facts.owner,
        space_owner=facts.space_owner, model_role=facts.model_role,
        space_role=facts.space_role,
    )
    writes = action in ("write", "edit", "admin")
    if writes and subject.scope != "write" and not anonymous:
        if role is not None and roles.role_allows(role, action):
            return Decision(False, 403, "read_only_key",
                            f"your key is read-only: it cannot {_VERBS[action]} {model_id}."
                            " Use a key created with `--scope write`.", role)

    if role is not None and roles.RANK[role] >= roles.RANK["user"]:
        if roles.role_allows(role, action):
            return _ok(role)
        return Decision(
            False, 403, "forbidden",
            f"you are {role} on {model_id}; to {_VERBS[action]} it you need "
            f"{roles.min_role(action)} or above. Ask the model's owner or a maintainer.", role,
        )

    # No role of `user` or above: visibility and gating decide (docs/access.md).
    if facts.visibility != "public":
        if role == "visitor" and roles.role_allows(role, action):
            return _ok(role)
        if role == "visitor":
            return Decision(
                False, 403, "forbidden",
                f"you are visitor on {model_id}; to {_VERBS[action]} it you need "
                f"{roles.min_role(action)} or above. Ask the model's owner or a maintainer.",
                role,
            )
        return auth_required() if anonymous else _not_found(model_id)

    gated = facts.gated in ("auto", "manual")
    open_actions = roles.PUBLIC_GATED if gated else roles.PUBLIC_OPEN
    if action in open_actions:
        if anonymous and action == "read" and not allow_anonymous_read:
            return auth_required()
        return _ok(role)
    if anonymous:
        return auth_required()
    if action == "read" and gated:
        if facts.request_status == "accepted":
            return _ok(role)
        return Decision(False, 403, "gated",
                        f"{model_id} is gated: reading its files needs an accepted access "
                        "request", role)
    return Decision(
        False, 403, "forbidden",
        f"you have no role on {model_id}; to {_VERBS[action]} it you need "
        f"{roles.min_role(action)} or above. Ask the model's owner or a maintainer.", role,
    )
