"""``/-/m/<space>/<model>/requests``: the review queue of a gated model (maintainer and up,
the API's ``edit``): pending, accepted and rejected tabs with user, full name, email, answers
and time; accept, reject with a reason, cancel an acceptance, grant a user who never asked;
the access report as CSV or JSON; the authors' notification settings.

Every POST checks ``edit`` again and goes through :mod:`modelgit.services.gating`, so a
decision here is validated, audited and notified exactly as one made through the API.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from modelgit.errors import Invalid
from modelgit.gating import MAX_REASON_CHARS, country_label, country_labels, country_name
from modelgit.http.responses import Response, status_line
from modelgit.http.web.context import Page
from modelgit.http.web.manage import model_view, short_time
from modelgit.http.web.render import SECURITY_HEADERS
from modelgit.services import gating, models

TABS = ("pending", "accepted", "rejected")
#: Requests shown in one tab (the report has all of them).
TAB_LIMIT = 500
NOTIFY = ("realtime", "daily", "off")
#: What the page says after an action (the redirect carries the key, never free text).
DONE = {"accepted": "Accepted {who}.", "rejected": "Rejected {who}.",
        "pending": "Set {who} back to pending.", "cancelled": "Cancelled {who}'s access.",
        "granted": "Granted {who} access.", "notify": "Notification settings saved."}


def _reviewable(pg: Page, match: re.Match[str]) -> Any:
    mv = model_view(pg, match, "edit")
    gating.require_gated(str(mv.row["gated"]))
    return mv


def _answers(fields: dict[str, Any], countries: frozenset[str]) -> dict[str, str]:
    """A request's answers as the queue shows them: country codes with the country's name."""
    return {k: country_label(v) if k in countries else str(v) for k, v in fields.items()}


def review_page(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match, "edit")
    tab = pg.req.arg("status") or "pending"
    if tab not in TABS:
        tab = "pending"
    rows: list[dict[str, Any]] = []
    more = False
    if mv.row["gated"] != "off":
        countries = gating.country_fields(pg.host.cfg, mv.row)
        for row in gating.requests(pg.host.store, mv.id, tab):
            if len(rows) == TAB_LIMIT:
                more = True
                break
            rows.append({"user": row["user"], "fullname": row.get("fullname") or "",
                         "email": row.get("email") or "",
                         "fields": _answers(dict(row.get("fields") or {}), countries),
                         "time": short_time(row["timestamp"]),
                         "reviewed": short_time(row.get("reviewed_at")),
                         "by": row.get("granted_by") or "", "reason": row.get("reason") or ""})
    done = pg.req.arg("done") or ""
    who = (pg.req.arg("who") or "")[:100]
    message = DONE[done].format(who=who) if done in DONE else ""
    return pg.render("review.html", title=f"Requests for {mv.id}", **mv.tabs(), tab=tab,
                     tabs=TABS, rows=rows, more=more, message=message,
                     max_reason=MAX_REASON_CHARS, notify=mv.row.get("notify") or "realtime",
                     notify_email=mv.row.get("notify_email") or "", notify_choices=NOTIFY)


def _back(mv: Any, tab: str, done: str, who: str = "") -> str:
    query = {"status": tab if tab in TABS else "pending", "done": done}
    if who:
        query["who"] = who
    return f"/-/m/{mv.id}/requests?" + urlencode(query)


def decide_request(pg: Page, match: re.Match[str]) -> Response:
    """Accept, reject (with a reason), set back to pending, or cancel an acceptance."""
    mv = _reviewable(pg, match)
    user = pg.form.get("user", "").strip()
    action = pg.form.get("action", "")
    tab = pg.form.get("tab", "pending")
    me = str(pg.user)
    if action == "cancel":
        gating.cancel_request(pg.host.store, mv.row, user, me, address=pg.req.remote_addr)
        return pg.redirect(_back(mv, tab, "cancelled", user))
    if action not in ("accepted", "rejected", "pending"):
        raise Invalid("choose accept, reject or pending")
    reason = (pg.form.get("reason", "").strip() or None) if action == "rejected" else None
    gating.handle_request(pg.host.store, mv.row, user, action, me, reason,
                          address=pg.req.remote_addr)
    return pg.redirect(_back(mv, tab, action, user))


def grant_access(pg: Page, match: re.Match[str]) -> Response:
    mv = _reviewable(pg, match)
    user = pg.form.get("user", "").strip()
    gating.grant_request(pg.host.store, mv.row, user, str(pg.user), address=pg.req.remote_addr)
    return pg.redirect(_back(mv, "accepted", "granted", user))


def notify_settings(pg: Page, match: re.Match[str]) -> Response:
    mv = model_view(pg, match, "edit")
    mode = pg.form.get("notify", "")
    if mode not in NOTIFY:
        raise Invalid("choose real-time, daily or off")
    email = pg.form.get("notify_email", "").strip()
    if email and (len(email) > 254 or not re.fullmatch(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+", email)):
        raise Invalid(f"{email[:100]!r} is not an email address",
                      hint="leave it empty to write to the model's owner")
    models.update(pg.host.store, mv.id, {"notify": mode, "notify_email": email},
                  actor=str(pg.user))
    return pg.redirect(_back(mv, pg.form.get("tab", "pending"), "notify"))


# --- the report --------------------------------------------------------------------------------
def _safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting with ``= + - @`` (or a tab or
    carriage return) gets a leading apostrophe, as OWASP advises against formula injection."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report(pg: Page, match: re.Match[str]) -> Response:
    """The whole list, every status, as CSV or JSON; streamed a page of rows at a time. The
    CSV has a ``<label> (name)`` column after each country field (the answer column keeps
    the ISO code, for sorting and for tools); the JSON is the API's report, codes only."""
    mv = _reviewable(pg, match)
    kind = match.group("kind")
    store = pg.host.store
    store.audit("access.report", actor=pg.user, target=mv.id, address=pg.req.remote_addr)
    spec = gating.gate_form(pg.host.cfg, mv.row).spec
    labels: list[str] = list(spec)
    for row in gating.requests(store, mv.id):  # answers to fields the form no longer has
        labels += [k for k in dict(row.get("fields") or {}) if k not in labels]
    countries = country_labels(spec)
    columns: list[tuple[str, bool]] = []  # (label, the country's name rather than the answer)
    for label in labels:
        columns += [(label, False), (label, True)] if label in countries else [(label, False)]
    base = ("user", "fullname", "email", "status", "time", "reviewedAt", "grantedBy",
            "rejectionReason")

    def as_csv() -> Iterator[bytes]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([_safe_cell(c) for c in base]
                        + [_safe_cell(f"{label} (name)" if named else label)
                           for label, named in columns])
        for row in gating.requests(store, mv.id):
            item = gating.report_item(row)
            answers = item["fields"]
            writer.writerow([_safe_cell(item.get(c)) for c in base]
                            + [_safe_cell(country_name(answers.get(label)) if named
                                          else answers.get(label))
                               for label, named in columns])
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue().encode("utf-8")

    def as_json() -> Iterator[bytes]:
        yield b"["
        for n, row in enumerate(gating.requests(store, mv.id)):
            yield (b",\n" if n else b"\n") + json.dumps(
                gating.report_item(row), ensure_ascii=False).encode("utf-8")
        yield b"\n]\n"

    ctype = "text/csv; charset=utf-8" if kind == "csv" else "application/json; charset=utf-8"
    filename = f"{mv.id.replace('/', '-')}-access-report.{kind}"
    headers = [("Content-Type", ctype),
               ("Content-Disposition", f'attachment; filename="{filename}"')]
    headers += [h for h in SECURITY_HEADERS if h[0] != "Content-Type"]
    return status_line(200), headers, as_csv() if kind == "csv" else as_json()
