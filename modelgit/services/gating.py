"""Gated models' store side: load a request row, apply one pure rule, save, audit, notify.

The rules (the state machine, field checks, refusal texts) are :mod:`modelgit.gating`'s, pure;
this is the thin layer the gating API and the CLI share, so a request made with a key and one
made by an administrator are refused, validated, audited and notified alike. Heavy imports
(git, YAML, smtplib) happen inside the functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelgit.gating import (
    AccessRequest,
    GatingError,
    Outcome,
    cancel,
    country_labels,
    denial_message,
    grant,
    handle,
    iso_now,
    request_access,
    require_gated,
)
from modelgit.services import access

if TYPE_CHECKING:
    from modelgit.authz.decide import Decision
    from modelgit.config import Config
    from modelgit.store import Store

__all__ = ["GatingError", "Outcome", "require_gated"]  # what callers also need from the rules

log = logging.getLogger("modelgit.gating")

MAX_README_BYTES = 256 * 1024
"""Most of a README read to find the gate form: the front matter is capped at 64 KiB by the
parser, so the rest of a (possibly huge) README is never needed."""


@dataclass(frozen=True)
class GateForm:
    """What a model asks of requesters, from its README: the prompt and the fields."""

    prompt: str | None
    spec: dict[str, dict[str, Any]]
    heading: str | None = None
    description: str | None = None
    button: str | None = None


def gate_form(cfg: Config, model: Mapping[str, Any]) -> GateForm:
    """The ``extra_gated_prompt`` and ``extra_gated_fields`` at the default branch's tip (and
    the web page's ``extra_gated_heading``, ``_description`` and ``_button_content``).

    Read from git on every use rather than from an index, so a push that changes the form takes
    effect at once and no second front end can hold a stale copy. A README that is missing or
    cannot be parsed gives an empty form: the authors see the card errors on push, and an
    unanswerable form must not lock everyone out.
    """
    from modelgit.schema.gated import gated_fields
    from modelgit.schema.parse import parse_front_matter

    content = _read_readme(cfg, str(model["id"]), str(model.get("default_branch") or "main"))
    if content is None:
        return GateForm(None, {})
    card = parse_front_matter(content)
    data = card.data if isinstance(card.data, dict) else None
    if data is None:
        return GateForm(None, {})
    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and value.strip() else None

    return GateForm(text("extra_gated_prompt"), gated_fields(data),
                    heading=text("extra_gated_heading"),
                    description=text("extra_gated_description"),
                    button=text("extra_gated_button_content"))


def _read_readme(cfg: Config, model_id: str, branch: str) -> bytes | None:
    """The first ``MAX_README_BYTES`` of README.md on ``branch``, or None when there is none.

    Read with a bound: a pushed README can be any size, and this runs inside an HTTP request.
    """
    from modelgit.git import revisions, trees
    from modelgit.git.errors import RepositoryNotFound
    from modelgit.git.repo import open_model

    try:
        repo = open_model(cfg, model_id)
    except RepositoryNotFound:
        return None
    tip = revisions.ref_commit(repo, f"refs/heads/{branch}")
    entry = trees.lookup(tip.tree if tip is not None else None, "README.md")
    if entry is None or entry.filemode not in trees.FILE_MODES:
        return None
    return trees.read_blob_head(repo, entry.id, MAX_README_BYTES)


def stored_request(row: Mapping[str, Any] | None) -> AccessRequest | None:
    """A store row as the pure functions take it."""
    if row is None:
        return None
    return AccessRequest(
        user=str(row["user"]),
        status=str(row["status"]),
        fields={str(k): str(v) for k, v in dict(row.get("fields") or {}).items()},
        timestamp=str(row["timestamp"]),
        reviewed_at=row.get("reviewed_at"),
        granted_by=row.get("granted_by"),
        reason=row.get("reason"),
    )


def request(
    store: Store,
    cfg: Config,
    model: Mapping[str, Any],
    user: str,
    fields: Mapping[str, object],
    *,
    actor: str | None = None,
    address: str | None = None,
) -> Outcome:
    """A user asks for access (the API for themselves, the CLI on their behalf).

    Refused on a private model: gating only opens public models (docs/access.md), so an accepted
    request there would promise a download that never works. A user who can already read
    through a role is told so and nothing is stored. A new pending request on a
    manual-approval model notifies the model's authors; the row is saved first, so a failed
    email never loses it (the next digest retries it).
    """
    model_id = str(model["id"])
    require_gated(str(model["gated"]))
    if model.get("visibility") != "public":
        raise GatingError(
            400,
            f"{model_id} is private: access requests only open public gated models; "
            "ask its owner for a role instead",
        )
    if store.get_user(user) is None:
        raise GatingError(404, f"no user named {user!r}")
    role = access.role_of(store, model_id, user)
    if role is not None and role != "visitor":
        return Outcome(None, False, f"{user} already has access to {model_id} as {role}")
    existing = stored_request(store.get_request(model_id, user))
    form = gate_form(cfg, model)
    outcome = request_access(
        str(model["gated"]), existing, user, fields, iso_now(), spec=form.spec
    )
    if outcome.request is None:
        return outcome
    row = _save(store, model_id, outcome.request)
    store.audit("access.request", actor=actor or user, target=model_id, address=address,
                detail={"user": user, "status": row["status"]})
    if row["status"] == "pending" and model.get("notify") == "realtime":
        _notify_quietly(store, cfg, model, row)
    return outcome


def _request_under_review(store: Store, model: Mapping[str, Any], user: str
                          ) -> tuple[str, AccessRequest | None]:
    """What a reviewer's action starts from: a gated model, a known user, their row."""
    model_id = str(model["id"])
    require_gated(str(model["gated"]))
    if store.get_user(user) is None:
        raise GatingError(404, f"no user named {user!r}")
    return model_id, stored_request(store.get_request(model_id, user))


def handle_request(
    store: Store,
    model: Mapping[str, Any],
    user: str,
    status: str,
    reviewer: str,
    reason: str | None = None,
    *,
    address: str | None = None,
) -> Outcome:
    """A maintainer accepts, rejects (with a reason) or resets a user's request."""
    model_id, existing = _request_under_review(store, model, user)
    outcome = handle(existing, status, reviewer, iso_now(), reason)
    return _record(store, model_id, outcome, "access.handle", reviewer, address)


def cancel_request(
    store: Store, model: Mapping[str, Any], user: str, reviewer: str, *,
    address: str | None = None,
) -> Outcome:
    """A maintainer withdraws access: accepted goes back to pending."""
    model_id, existing = _request_under_review(store, model, user)
    outcome = cancel(existing, reviewer, iso_now())
    return _record(store, model_id, outcome, "access.cancel", reviewer, address)


def grant_request(
    store: Store, model: Mapping[str, Any], user: str, reviewer: str, *,
    address: str | None = None,
) -> Outcome:
    """A maintainer gives access to a user who may never have asked.

    A user who can already read through a role is refused like one with an accepted request:
    the grant would change nothing, and saying so beats a silent success.
    """
    model_id = str(model["id"])
    gated = str(model["gated"])
    require_gated(gated)
    exists = store.get_user(user) is not None
    role = access.role_of(store, model_id, user) if exists else None
    if role is not None and role != "visitor":
        raise GatingError(409, f"{user} already has access to {model_id} as {role}")
    existing = stored_request(store.get_request(model_id, user)) if exists else None
    outcome = grant(gated, existing, exists, user, reviewer, iso_now())
    return _record(store, model_id, outcome, "access.grant", reviewer, address)


def request_of(store: Store, model_id: str, user: str) -> dict[str, Any] | None:
    """``user``'s request row for the model (their own status page), or None."""
    return store.get_request(model_id, user)


def user_of_request(store: Store, model_id: str, request_id: int) -> str:
    """The user behind a request id (the hubs let reviewers act by id); 404 if unknown."""
    row = store.get_request_by_id(model_id, request_id)
    if row is None:
        raise GatingError(404, f"no access request with id {request_id} for {model_id}")
    return str(row["user"])


def _record(
    store: Store, model_id: str, outcome: Outcome, action: str, reviewer: str,
    address: str | None,
) -> Outcome:
    """Save a reviewer's decision and audit it (every gating decision is audited).

    The row is marked notified: a request a reviewer has acted on (even one set back to
    pending) is known to the authors, and the digest must not announce it as new.
    """
    if outcome.request is not None:
        row = _save(store, model_id, outcome.request)
        store.mark_notified([int(row["id"])])
        detail: dict[str, Any] = {"user": row["user"], "status": row["status"]}
        if row.get("reason"):
            detail["reason"] = row["reason"]
        store.audit(action, actor=reviewer, target=model_id, address=address, detail=detail)
    return outcome


def _save(store: Store, model_id: str, req: AccessRequest) -> dict[str, Any]:
    return store.save_request(
        model_id, req.user, status=req.status, fields=dict(req.fields),
        timestamp=req.timestamp, reviewed_at=req.reviewed_at, granted_by=req.granted_by,
        reason=req.reason,
    )


def country_fields(cfg: Config, model: Mapping[str, Any]) -> frozenset[str]:
    """The labels of the model's gate form fields that ask for a country (for the emails)."""
    return country_labels(gate_form(cfg, model).spec)


def _notify_quietly(
    store: Store, cfg: Config, model: Mapping[str, Any], row: Mapping[str, Any]
) -> None:
    """Send the realtime email; a failure is logged by ``notify`` and never reaches the
    requester, whose request is already stored."""
    import logging

    from modelgit import notify

    try:
        realtime = model.get("notify") == "realtime" and model.get("gated") == "manual"
        notify.notify_new_request(store, cfg, model, row,
                                  country_fields(cfg, model) if realtime else ())
    except Exception:  # a bug in notification must not turn a stored request into a 500
        logging.getLogger("modelgit.notify").exception(
            "notification for %s by %s failed", model.get("id"), row.get("user"))


# --- the access report ------------------------------------------------------------------------
#: Rows fetched from the store per step of a report or a full listing.
REPORT_PAGE = 1000


def requests(store: Store, model_id: str, status: str | None = None
             ) -> Iterator[dict[str, Any]]:
    """Every request of the model (optionally in one status), oldest first, fetched a page
    at a time so a large model costs flat memory."""
    after = 0
    while True:
        rows = store.list_requests(model_id, status=status, after_id=after, limit=REPORT_PAGE)
        yield from rows
        if len(rows) < REPORT_PAGE:
            return
        after = int(rows[-1]["id"])


def report_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the access report (the hubs' report columns): the API's download and the
    CLI's ``access report`` are these rows."""
    item: dict[str, Any] = {
        "user": row["user"],
        "fullname": row.get("fullname") or "",
        "status": row["status"],
        "email": row.get("email") or "",
        "time": row["timestamp"],
        "reviewedAt": row.get("reviewed_at"),
        "fields": dict(row.get("fields") or {}),
    }
    return with_decision(item, row)


def with_decision(item: dict[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """Who decided and why, on list items and report rows alike (only when there is one)."""
    if row.get("granted_by"):
        item["grantedBy"] = row["granted_by"]
    if row.get("reason"):
        item["rejectionReason"] = row["reason"]
    return item


# --- git's 403 ---------------------------------------------------------------------------------
def explain(store: Store, cfg: Config, decision: Decision, model_id: str, user: str | None,
            base_url: str) -> Decision:
    """A gating denial rewritten to say what to do next (git prints it as ``remote:``).

    Other denials pass through untouched and cost nothing. Building the text reads the README
    from git; if that fails for any reason the plain denial is still a correct answer, so the
    error is logged and the original decision returned.
    """
    if decision.code != "gated":
        return decision
    from modelgit.authz.decide import Decision

    try:
        model = store.get_model(model_id)
        if model is None:
            return decision
        existing = stored_request(store.get_request(model_id, user)) if user else None
        form = gate_form(cfg, model)
        text = denial_message(model_id, existing, form.prompt, base_url, user=user,
                              spec=form.spec)
    except Exception:
        log.exception("could not explain the gating denial on %s", model_id)
        return decision
    return Decision(False, decision.status, decision.code, text, decision.role)
