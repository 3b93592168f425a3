"""``/-/m/<space>/<model>/access``: a gated model's access request, as its README asks it.

The form is built from ``extra_gated_heading``, ``extra_gated_description``,
``extra_gated_prompt``, ``extra_gated_fields`` (text, checkbox, date_picker, country with the
ISO 3166 names, select) and ``extra_gated_button_content``, read from the default branch at
each request (:func:`modelgit.services.gating.gate_form`), and checked by the same rules as
the API's. After sending, the page shows the request's state: pending, accepted (auto
approval accepts at once) or rejected with the authors' reason.

Form fields are named by position (``field-0``...), not by label: a label is free text from a
README and is mapped back in the spec's order, so no label can collide with ``csrf``.
"""

from __future__ import annotations

import re
from typing import Any

from modelgit.errors import ModelgitError
from modelgit.gating import countries
from modelgit.http.responses import Response
from modelgit.http.web.context import Page, signin_url
from modelgit.http.web.manage import model_view, short_time
from modelgit.services import gating, users
from modelgit.urls import clone_url

DEFAULT_HEADING = "You need to agree to share your contact information to access this model"
DEFAULT_BUTTON = "Agree and access repository"


def _fields(spec: dict[str, dict[str, Any]], answers: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for i, (label, field) in enumerate(spec.items()):
        name = f"field-{i}"
        item: dict[str, Any] = {"name": name, "label": label, "type": field.get("type", "text"),
                                "value": answers.get(name, "")}
        if item["type"] == "select":
            item["options"] = [(str(o.get("value")), str(o.get("label")))
                               for o in field.get("options") or ()]
        elif item["type"] == "country":
            item["options"] = countries()
        out.append(item)
    return out


def _answers(spec: dict[str, dict[str, Any]], form: dict[str, str]) -> dict[str, object]:
    """The posted answers by label; an unticked checkbox or an empty field is left out, so
    the rules name it as missing."""
    out: dict[str, object] = {}
    for i, label in enumerate(spec):
        value = form.get(f"field-{i}", "")
        if value != "":
            out[label] = value
    return out


def gate_page(pg: Page, match: re.Match[str], problems: list[str] | None = None,
              status: int = 200) -> Response:
    mv = model_view(pg, match)
    store, cfg = pg.host.store, pg.host.cfg
    gated = mv.row["gated"] != "off"
    form = gating.gate_form(cfg, mv.row) if gated else gating.GateForm(None, {})
    can_read = pg.host.model_decision(pg.req, mv.id, "read")[0].allowed
    row = gating.request_of(store, mv.id, pg.user) if pg.user and gated else None
    me = users.require(store, pg.user) if pg.user else None
    request = None
    if row is not None:
        request = {"status": row["status"], "reason": row.get("reason") or "",
                   "time": short_time(row["timestamp"]),
                   "reviewed": short_time(row.get("reviewed_at"))}
    return pg.render(
        "gate.html", status, title=f"Access to {mv.id}", **mv.tabs(),
        heading=form.heading or DEFAULT_HEADING, description=form.description or "",
        prompt=form.prompt or "", button=form.button or DEFAULT_BUTTON,
        fields=_fields(form.spec, pg.form if problems else {}), problems=problems or [],
        request=request, can_read=can_read, role=mv.role, me=me,
        public=mv.row["visibility"] == "public", signin=signin_url(pg.req),
        clone=clone_url(cfg, mv.id, pg.req.environ))


def send_request(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match)
    form = gating.gate_form(pg.host.cfg, mv.row)
    user = str(pg.user)
    try:
        gating.request(pg.host.store, pg.host.cfg, mv.row, user, _answers(form.spec, pg.form),
                       actor=user, address=pg.req.remote_addr)
    except ModelgitError as err:
        if err.status != 400:
            raise
        lines = [part for line in err.lines() for part in line.splitlines()]
        return gate_page(pg, match, problems=lines, status=400)
    return pg.redirect(f"/-/m/{mv.id}/access")
