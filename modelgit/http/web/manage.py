"""What the management pages share: the model a page is about, checked for the action the
page needs through ``host.model_decision`` (the decision git and the API take), and the
person's role on it for the tabs and the role rules.

A model the person may not see is the same 404 as a missing one; one they see but may not
manage is a 403 that says which role it takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from modelgit.errors import Forbidden, NotFound
from modelgit.http.request import model_of
from modelgit.http.web.context import Page
from modelgit.http.web.model_page import not_found, require_view
from modelgit.services import access, models


@dataclass(frozen=True)
class ModelView:
    """The model row, its id, the person's role on it (None: none) and what they may do."""

    id: str
    row: dict[str, Any]
    role: str | None
    can_edit: bool
    can_admin: bool

    def tabs(self) -> dict[str, Any]:
        """What the model tabs (``model_tabs.html``) need."""
        return {"model_id": self.id, "model": self.row, "can_edit": self.can_edit,
                "gated": self.row["gated"] != "off"}


def allowed(pg: Page, model_id: str, action: str) -> bool:
    return pg.host.model_decision(pg.req, model_id, action)[0].allowed


def model_view(pg: Page, match: re.Match[str], action: str = "view") -> ModelView:
    """The model of the page's address if the person may ``action`` it; else 404 (may not
    see it) or 403 (sees it, lacks the role)."""
    model_id = model_of(match)
    row = require_view(pg, model_id)
    if action != "view":
        decision, _ = pg.host.model_decision(pg.req, model_id, action)
        if not decision.allowed:
            if decision.status == 404:
                raise not_found(model_id)
            raise Forbidden(pg.host.explain(decision, model_id, pg.req).reason,
                            hint="ask the model's owner for a higher role")
    role = access.role_of(pg.host.store, model_id, pg.user) if pg.user else None
    return ModelView(model_id, row, role, allowed(pg, model_id, "edit"),
                     allowed(pg, model_id, "admin"))


def fresh_row(pg: Page, model_id: str) -> dict[str, Any]:
    """The row again after a change (a deleted model is a 404 like any other)."""
    try:
        return models.require(pg.host.store, model_id)
    except NotFound:
        raise not_found(model_id) from None


def short_time(value: str | None) -> str:
    """An ISO time as the pages show it: ``2026-12-05 19:30`` (UTC)."""
    return (value or "")[:16].replace("T", " ")
