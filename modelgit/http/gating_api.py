"""The gating REST API, shaped like the public hubs' so ``huggingface_hub`` works unmodified.

Reviewers (a key with ``edit`` on the model: maintainer and up, write scope)::

    GET  /api/models/<space>/<model>/user-access-request/{pending,accepted,rejected}?limit=N
    POST /api/models/<space>/<model>/user-access-request/handle  {"user"|"requestId", "status",
                                                                  "rejectionReason"?}
    POST /api/models/<space>/<model>/user-access-request/grant   {"user"}
    GET  /api/models/<space>/<model>/user-access-report          (JSON download)

Requesters (any key of theirs, read scope included: asking reads nothing)::

    POST /api/models/<space>/<model>/user-access-request         {"<field label>": answer, ...}

Answers are JSON, errors ``{"error": "..."}`` with the status the hub client expects: 401 (with
the Basic challenge) without a valid key, 403 below maintainer or with a read-scoped key, 400
for a model that is not gated or a malformed body, 404 for an unknown model or user, 409 for a
request already in the asked state. The first line of the error is repeated in
``X-Error-Message``, which ``huggingface_hub`` shows in its exceptions.

Lists page with ``limit`` (default and maximum 1000) and a GitHub-style ``Link: <...>;
rel="next"`` header whose URL carries an ``after`` cursor (the last request id shown): the hub
client follows it as it is, and ids never shift when a request changes state mid-listing.

Bodies are capped (``MAX_BODY_BYTES``), must be ``application/json`` (which a cross-site HTML
form cannot send, so a browser holding cached Basic credentials cannot be made to post here),
and are parsed strictly: duplicate keys, NaN, wrong types and unknown keys are refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from modelgit.authz.decide import auth_required
from modelgit.errors import ModelgitError
from modelgit.http.request import base_url, int_arg, model_of, read_json
from modelgit.http.responses import (
    CHALLENGE,
    Response,
    header_text,
    json_response,
    status_line,
)
from modelgit.services import gating

if TYPE_CHECKING:
    import re

    from modelgit.authz.decide import Decision
    from modelgit.http.request import Request
    from modelgit.http.routes import Host


MAX_BODY_BYTES = 64 * 1024
"""Largest JSON body accepted: a gate form with many long answers fits many times over."""
DEFAULT_LIMIT = 1000
MAX_LIMIT = 1000
"""Most requests in one page (the hubs' default page size)."""

MODEL_API = r"/api/models/(?P<space>[^/]+)/(?P<model>[^/]+)"
JSON_TYPE = "application/json"


class ApiError(ModelgitError):
    """A refusal of the gating API with its status chosen here (``ModelgitError`` otherwise)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message, status=status, code=code)


# --- responses --------------------------------------------------------------------------------


def error_response(error: ModelgitError) -> Response:
    """``{"error": ...}``, the first line in ``X-Error-Message``, and the challenge on 401."""
    first = error.message.strip().splitlines()[0] if error.message.strip() else "error"
    headers = [("X-Error-Message", header_text(first, 300))]
    if error.code:
        headers.append(("X-Error-Code", error.code))
    if error.status == 401:
        headers.append(CHALLENGE)
    return json_response(error.status, {"error": error.message}, headers)


def _api(handler: Callable[[Host, Request, re.Match[str]], Response], app: Host
         ) -> Callable[[Request, re.Match[str]], Response]:
    """Bind a handler to the app and turn expected refusals into JSON errors."""

    def run(req: Request, match: re.Match[str]) -> Response:
        try:
            return handler(app, req, match)
        except ModelgitError as exc:
            return error_response(exc)

    return run


def register(app: Host) -> None:
    """Add the gating routes; more specific paths first (``handle`` before the bare POST)."""
    base = MODEL_API + "/user-access-request"
    app.add("GET", base + r"/(?P<status>pending|accepted|rejected)", _api(list_requests, app))
    app.add("POST", base + r"/handle", _api(handle_request, app))
    app.add("POST", base + r"/grant", _api(grant_access, app))
    app.add("POST", base, _api(create_request, app))
    app.add("GET", MODEL_API + r"/user-access-report", _api(access_report, app))


# --- shared checks ----------------------------------------------------------------------------



def _refuse(decision: Decision) -> ModelgitError:
    from modelgit.services.access import refusal

    return refusal(decision)


def _reviewable_model(app: Host, req: Request, match: re.Match[str]) -> dict[str, Any]:
    """The model, if the caller may review its requests (``edit``) and it is gated.

    Permission comes first, so that a stranger learns nothing about a model's gating.
    """
    model_id = model_of(match)
    decision, _ = app.model_decision(req, model_id, "edit")
    if not decision.allowed:
        raise _refuse(decision)
    model = app.store.get_model(model_id)
    if model is None:  # deleted between the two reads
        raise ApiError(404, f"model {model_id} not found", "RepoNotFound")
    gating.require_gated(str(model["gated"]))
    return model


def _read_json(req: Request) -> Any:
    """The request body as JSON, within ``MAX_BODY_BYTES``, strictly parsed."""
    return read_json(req, MAX_BODY_BYTES)  # its BodyError is answered as any refusal


def _object(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object with only the ``allowed`` keys."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown keys {', '.join(map(repr, unknown))}; "
                            f"allowed: {', '.join(allowed)}")
    return body


def _string(body: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(400, f"{key!r} is required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{key!r} must be a string")
    return value



# --- reviewers --------------------------------------------------------------------------------


def request_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """One request as the hubs list it (``huggingface_hub.AccessRequest`` reads these)."""
    item: dict[str, Any] = {
        "user": {"user": row["user"], "fullname": row.get("fullname") or None,
                 "email": row.get("email") or None},
        "requestId": str(row["id"]),
        "status": row["status"],
        "timestamp": row["timestamp"],
        "reviewedAt": row.get("reviewed_at"),
        "fields": dict(row.get("fields") or {}),
    }
    return gating.with_decision(item, row)


def list_requests(app: Host, req: Request, match: re.Match[str]) -> Response:
    """One page of a model's requests in one status, oldest first."""
    model = _reviewable_model(app, req, match)
    status = match.group("status")
    limit = int_arg(req, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    after = int_arg(req, "after", 0, 0, 2**62)
    rows = app.store.list_requests(model["id"], status=status, after_id=after, limit=limit + 1)
    headers: list[tuple[str, str]] = []
    if len(rows) > limit:
        rows = rows[:limit]
        query = urlencode({"limit": limit, "after": rows[-1]["id"]})
        url = f"{base_url(app, req)}/api/models/{model['id']}/user-access-request/{status}"
        headers.append(("Link", f'<{url}?{query}>; rel="next"'))
    return json_response(200, [request_item(r) for r in rows], headers)


def handle_request(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Accept, reject (with a reason) or set back to pending, by user name or request id."""
    model = _reviewable_model(app, req, match)
    body = _object(_read_json(req), ("user", "requestId", "status", "rejectionReason"))
    if ("user" in body) == ("requestId" in body):
        raise ApiError(400, "give exactly one of 'user' and 'requestId'")
    if "requestId" in body:
        request_id = body["requestId"]
        if isinstance(request_id, str) and request_id.isdigit():
            request_id = int(request_id)
        if isinstance(request_id, bool) or not isinstance(request_id, int):
            raise ApiError(400, "'requestId' must be a request id as listed")
        user = gating.user_of_request(app.store, model["id"], request_id)
    else:
        user = _string(body, "user") or ""
    status = _string(body, "status") or ""
    reason = _string(body, "rejectionReason", required=False)
    assert req.subject.user is not None  # edit is never allowed anonymously
    outcome = gating.handle_request(app.store, model, user, status, req.subject.user, reason,
                                    address=req.remote_addr)
    return json_response(200, {"message": outcome.message, "user": user, "status": status})


def grant_access(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Accept a user who may never have asked (the hub client reads a JSON answer)."""
    model = _reviewable_model(app, req, match)
    body = _object(_read_json(req), ("user",))
    user = _string(body, "user") or ""
    assert req.subject.user is not None
    outcome = gating.grant_request(app.store, model, user, req.subject.user,
                                   address=req.remote_addr)
    return json_response(200, {"message": outcome.message, "user": user, "status": "accepted"})


def access_report(app: Host, req: Request, match: re.Match[str]) -> Response:
    """The whole list as a JSON download, streamed so a large model costs flat memory."""
    model = _reviewable_model(app, req, match)
    model_id = str(model["id"])
    app.store.audit("access.report", actor=req.subject.user, target=model_id,
                    address=req.remote_addr)

    def body() -> Iterator[bytes]:
        yield b"["
        first = True
        for row in gating.requests(app.store, model_id):
            prefix = b"\n" if first else b",\n"
            first = False
            yield prefix + json.dumps(gating.report_item(row), ensure_ascii=False).encode("utf-8")
        yield b"\n]\n"

    filename = f"{model_id.replace('/', '-')}-access-report.json"
    headers = [("Content-Type", "application/json; charset=utf-8"),
               ("Content-Disposition", f'attachment; filename="{filename}"')]
    return status_line(200), headers, body()


# --- requesters -------------------------------------------------------------------------------


def create_request(app: Host, req: Request, match: re.Match[str]) -> Response:
    """A user asks for access with the model's form answered: ``{"<label>": answer, ...}``.

    Any valid key of the user will do, read scope included: asking changes no file, and the
    whole point is for someone who can only read to become able to.
    """
    model_id = model_of(match)
    user = req.subject.user
    if user is None:
        raise _refuse(auth_required())
    decision, _ = app.model_decision(req, model_id, "view")
    if not decision.allowed:
        raise _refuse(decision)
    model = app.store.get_model(model_id)
    if model is None:
        raise ApiError(404, f"model {model_id} not found", "RepoNotFound")
    gating.require_gated(str(model["gated"]))
    answers = _read_json(req)
    if not isinstance(answers, dict):
        raise ApiError(400, "the body must be a JSON object of the form's answers, e.g. "
                            '{"Country": "FR", "I agree to the terms": true}')
    outcome = gating.request(app.store, app.cfg, model, user, answers, actor=user,
                             address=req.remote_addr)
    row = app.store.get_request(model_id, user)
    return json_response(200, {
        "message": outcome.message,
        "changed": outcome.changed,
        "status": row["status"] if row else None,
        "requestId": str(row["id"]) if row else None,
    })
