"""``/-/models``: the models the person may see, filtered by the card (framework, task, tag,
license, text), a page at a time.

Visibility is ``services.models.visible`` - the same ``decide()`` as git and the hub listing -
so a private model appears only for those who may see it. Paging is by id (``after=`` the
last id shown), which stays fast however deep a page is.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from modelgit.http.responses import Response
from modelgit.http.web.context import Page
from modelgit.services import models

PAGE_SIZE = 30
FILTERS = ("q", "framework", "task", "tag", "license")


def _summary(row: dict[str, Any], index: dict[str, Any]) -> dict[str, Any]:
    frameworks = index.get("frameworks") or []
    tags = index.get("tags") or []
    task = index.get("pipeline_tag") or index.get("task_type") or ""
    return {
        "id": row["id"], "name": row.get("display_name") or "",
        "private": row["visibility"] != "public", "gated": row["gated"] != "off",
        "frameworks": [str(f) for f in frameworks][:4] if isinstance(frameworks, list) else [],
        "task": str(task), "license": str(index.get("license") or ""),
        "tags": [str(t) for t in tags][:6] if isinstance(tags, list) else [],
        "updated": str(row.get("updated") or row.get("created") or "")[:10],
    }


def model_list(pg: Page, match: re.Match[str]) -> Response:
    wanted = {name: (pg.req.arg(name) or "").strip()[:100] for name in FILTERS}
    card_filter = models.CardFilter(
        framework=wanted["framework"] or None, task=wanted["task"] or None,
        tag=wanted["tag"] or None, license=wanted["license"] or None,
        search=wanted["q"] or None)
    after = (pg.req.arg("after") or "")[:200]
    allow_anon = bool(pg.host.cfg.get("allow_anonymous_read"))
    items: list[dict[str, Any]] = []
    more = False
    for row in models.visible(pg.host.store, pg.req.subject, after=after,
                              allow_anonymous_read=allow_anon,
                              contains=models.prefilter(card_filter)):
        index = models.card_of(row).get("index") or {}
        if not models.card_matches(row, index, card_filter):
            continue
        if len(items) == PAGE_SIZE:
            more = True
            break
        items.append(_summary(row, index))
    kept = {k: v for k, v in wanted.items() if v}
    next_url = ("/-/models?" + urlencode({**kept, "after": items[-1]["id"]})
                if more and items else "")
    first_url = "/-/models?" + urlencode(kept) if after else ""
    return pg.render("models.html", title="Models", items=items, wanted=wanted,
                     next_url=next_url, first_url=first_url)
