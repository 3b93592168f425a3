"""Repositories: listing models and creating one."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from modelgit.http.hub.cards import (
    card_json,
    filter_terms,
    gated_value,
    siblings_of,
    summary_of,
    with_expand,
)
from modelgit.http.hub.common import (
    LIST_PAGE,
    HubError,
    default_commit,
    flag,
    iso,
    json_body,
    open_repo,
)
from modelgit.http.request import (
    MAX_INT_ARG,
    base_url,
    int_arg,
)
from modelgit.http.responses import (
    Response,
    json_response,
)

if TYPE_CHECKING:
    from modelgit.http.request import Request
    from modelgit.http.routes import Host


def list_models(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Models the caller may ``retrieve``, filtered by the card index, in id order, paged
    with a ``Link: rel="next"`` cursor (the last id shown)."""
    from modelgit.services import models

    search = req.arg("search")
    author = req.arg("author")
    filters = [f.strip().lower() for f in req.query.get("filter", []) if f.strip()]
    pipeline = (req.arg("pipeline_tag") or "").strip().lower()
    gated_arg = (req.arg("gated") or "").strip().lower()
    # More than a page is asked for by the hub clients and answered with a page, as the Hub does.
    limit = min(int_arg(req, "limit", LIST_PAGE, 1, MAX_INT_ARG), LIST_PAGE)
    cursor = req.arg("cursor") or ""
    full = flag(req, "full")
    with_card = flag(req, "cardData")
    expand = req.query.get("expand", [])
    allow_anon = bool(app.cfg.get("allow_anonymous_read"))
    items: list[dict[str, Any]] = []
    more = False
    for row in models.visible(app.store, req.subject, after=cursor,
                              allow_anonymous_read=allow_anon):
        if author and row["space"] != author:
            continue
        card = models.card_of(row)
        index = card.get("index") or {}
        if search and not models.card_matches(row, index, models.CardFilter(search=search)):
            continue
        if filters and not set(filters) <= filter_terms(index):
            continue
        if pipeline and str(index.get("pipeline_tag") or "").lower() != pipeline:
            continue
        if gated_arg in ("true", "false") and (gated_arg == "true") != bool(gated_value(row)):
            continue
        if len(items) == limit:
            more = True
            break
        items.append(_list_item(app, row, index, card.get("data") or {},
                                full=full, with_card=with_card, expand=expand))
    headers: list[tuple[str, str]] = []
    if more and items:
        query = [(k, v) for k, values in req.query.items() if k != "cursor" for v in values]
        query.append(("cursor", items[-1]["id"]))
        headers.append(("Link", f'<{base_url(app, req)}/api/models?{urlencode(query)}>;'
                                ' rel="next"'))
    return json_response(200, items, headers)


def _list_item(app: Host, row: dict[str, Any], index: dict[str, Any], data: dict[str, Any], *,
               full: bool, with_card: bool, expand: list[str]) -> dict[str, Any]:
    item = summary_of(row, index)
    wants = set(expand)
    if with_card or "cardData" in wants:
        item["cardData"] = card_json(data)
    if full or wants & {"sha", "lastModified", "siblings"}:
        try:
            repo = open_repo(app, str(row["id"]))
            commit = default_commit(repo, row)
        except HubError:
            repo, commit = None, None
        item["sha"] = str(commit.id) if commit is not None else None
        item["lastModified"] = iso(commit.commit_time) if commit is not None else row["created"]
        item["siblings"] = siblings_of(repo, commit, False) if repo is not None else []
    return with_expand(item, expand)


def create_repo(app: Host, req: Request, match: re.Match[str]) -> Response:
    """``create_repo``: ``organization`` is the space (default: a space named like the user),
    ``name`` the model; private unless asked public (modelgit's default). Creating needs the
    rights of ``modelgit model create``; an existing model the caller can see is a 409 with
    its ``url`` (what ``exist_ok=True`` expects)."""
    from modelgit.authz import roles
    from modelgit.names import InvalidName, check_model_id

    user = req.subject.user
    if user is None:
        raise HubError(401, "creating a model needs a modelgit key: pass it as the token")
    if req.subject.scope != "write":
        raise HubError(403, "your key is read-only: creating a model needs a key created with"
                            " `--scope write`")
    body = json_body(req)
    kind = body.get("type")
    if kind not in (None, "model"):
        raise HubError(400, f"modelgit hosts models only, not {kind!r} repositories")
    name, space = body.get("name"), body.get("organization") or user
    if not isinstance(name, str) or not isinstance(space, str):
        raise HubError(400, "'name' (and 'organization', the space) must be strings")
    model_id = f"{space}/{name}"
    try:
        check_model_id(model_id)
    except InvalidName as exc:
        raise HubError(400, str(exc)) from None
    visibility = body.get("visibility")
    private = body.get("private")
    if visibility not in (None, "public", "private") or private not in (None, True, False):
        raise HubError(400, "'visibility' must be public or private, 'private' a boolean")
    public = visibility == "public" or (visibility is None and private is False)
    url = f"{base_url(app, req)}/{model_id}"
    row = app.store.get_user(user) or {}
    may_create = roles.may_create_model(is_admin=bool(row.get("is_admin")),
                                        space_role=app.store.space_role(space, user))
    if app.store.get_model(model_id) is not None:
        decision, _ = app.model_decision(req, model_id, "view")
        if decision.allowed:
            message = f"You already created this model repo: {model_id} exists"
            return json_response(409, {"error": message, "url": url},
                                 [("X-Error-Message", message)])
        # Not visible to the caller: answer as for a model they may not create, so that a
        # private model's existence is not revealed.
        may_create = False
    if app.store.get_space(space) is None:
        raise HubError(404, f"space {space} does not exist: ask an administrator to create it"
                            f" (`modelgit space create {space} --owner {user}`)")
    if not may_create:
        raise HubError(403, f"{user} may not create models in space {space}; ask its owner"
                            f" for the user role (`modelgit space grant {space} {user} user`)")
    from modelgit.services import models

    models.create(app.store, app.cfg, model_id, user, public=public, actor=user,
                  address=req.remote_addr)
    return json_response(200, {"url": url, "name": model_id, "id": model_id})
