"""``list_models``: the models a caller may see, filtered by card, sorted and paged.

``sort`` takes the hubs' names (``lastModified``/``last_modified``, ``createdAt``/
``created_at``, ``id``); ``direction=-1`` is newest (or last id) first, ``1`` the reverse,
and a time sort without a direction is newest first, as on the public hubs. Pages are cut
with a ``Link: rel="next"`` cursor: the last id shown, or for a time sort its time and id,
so a model changed between two pages is neither lost nor shown twice.
"""

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
from modelgit.http.hub.common import LIST_PAGE, HubError, default_commit, flag, open_repo
from modelgit.http.request import MAX_INT_ARG, base_url, int_arg
from modelgit.http.responses import Response, json_response

if TYPE_CHECKING:
    from modelgit.http.request import Request
    from modelgit.http.routes import Host

#: The hub's sort names and the store's.
SORTS = {"id": "id", "createdAt": "created", "created_at": "created",
         "lastModified": "last_modified", "last_modified": "last_modified"}
#: Sorts the public hubs offer that mean nothing here (no downloads or likes are counted):
#: answered in id order rather than refused, so scripts that ask for them keep working.
UNCOUNTED = ("downloads", "likes", "trendingScore", "trending_score")
_CURSOR_SEP = "|"


def order(req: Request) -> tuple[str, bool]:
    """The store sort and whether it runs newest first, from ``sort`` and ``direction``."""
    raw = (req.arg("sort") or "id").strip()
    if raw in UNCOUNTED:
        raw = "id"
    if raw not in SORTS:
        raise HubError(400, f"cannot sort models by {raw!r}: use lastModified, createdAt or id")
    sort = SORTS[raw]
    direction = (req.arg("direction") or "").strip()
    if direction not in ("", "1", "-1"):
        raise HubError(400, "'direction' is -1 (descending) or 1 (ascending)")
    descending = direction == "-1" or (direction == "" and sort != "id")
    return sort, descending


def split_cursor(cursor: str, sort: str) -> tuple[str, str]:
    """``(after id, after sort key)`` from the ``cursor`` argument of a next-page link."""
    if not cursor or sort == "id":
        return cursor, ""
    key, sep, after = cursor.rpartition(_CURSOR_SEP)
    if not sep or not key or not after:
        raise HubError(400, "this cursor was not made by this listing: start again without it")
    return after, key


def list_models(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Models the caller may ``retrieve``, filtered by the card index, in the asked order."""
    from modelgit.services import models

    search = req.arg("search")
    author = req.arg("author")
    filters = [f.strip().lower() for f in req.query.get("filter", []) if f.strip()]
    pipeline = (req.arg("pipeline_tag") or "").strip().lower()
    gated_arg = (req.arg("gated") or "").strip().lower()
    # More than a page is asked for by the hub clients and answered with a page, as the Hub does.
    limit = min(int_arg(req, "limit", LIST_PAGE, 1, MAX_INT_ARG), LIST_PAGE)
    sort, descending = order(req)
    after, after_key = split_cursor(req.arg("cursor") or "", sort)
    full = flag(req, "full")
    with_card = flag(req, "cardData")
    expand = req.query.get("expand", [])
    allow_anon = bool(app.cfg.get("allow_anonymous_read"))
    items: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    more = False
    for row in models.visible(app.store, req.subject, after=after, after_key=after_key,
                              sort=sort, descending=descending,
                              allow_anonymous_read=allow_anon,
                              contains=models.prefilter(models.CardFilter(search=search))):
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
        last = row
        items.append(_item(app, row, index, card.get("data") or {},
                           full=full, with_card=with_card, expand=expand))
    headers: list[tuple[str, str]] = []
    if more and last is not None:
        cursor = last["id"] if sort == "id" else f"{last['sort_key']}{_CURSOR_SEP}{last['id']}"
        query = [(k, v) for k, values in req.query.items() if k != "cursor" for v in values]
        query.append(("cursor", cursor))
        headers.append(("Link", f'<{base_url(app, req)}/api/models?{urlencode(query)}>;'
                                ' rel="next"'))
    return json_response(200, items, headers)


def _item(app: Host, row: dict[str, Any], index: dict[str, Any], data: dict[str, Any], *,
          full: bool, with_card: bool, expand: list[str]) -> dict[str, Any]:
    item = summary_of(row, index)
    wants = set(expand)
    if with_card or "cardData" in wants:
        item["cardData"] = card_json(data)
    if full or wants & {"sha", "siblings"}:
        try:
            repo = open_repo(app, str(row["id"]))
            commit = default_commit(repo, row)
        except HubError:
            repo, commit = None, None
        item["sha"] = str(commit.id) if commit is not None else None
        item["siblings"] = siblings_of(repo, commit, False) if repo is not None else []
    return with_expand(item, expand)
