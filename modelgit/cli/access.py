"""``access request|list|report|accept|reject|cancel|grant|digest`` (gated models).

The commands run the same gating calls as the HTTP API (``modelgit.services.gating``), so a request
made here is refused, validated, audited and notified exactly as one made with a key; the
CLI acts as the server's administrator (decisions are recorded as made by ``cli``).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import click

from modelgit import gating as rules
from modelgit.cli.model import require_model
from modelgit.cli.output import Ctx, done, emit, handle_errors
from modelgit.cli.user import require_user
from modelgit.errors import Refused
from modelgit.services import gating

REVIEWER = "cli"
"""Recorded as ``granted_by`` and in the audit for decisions made from the CLI."""
REPORT_COLUMNS = ("user", "fullname", "status", "email", "time", "reviewedAt", "grantedBy",
                  "rejectionReason")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

DIGEST_HELP = """Email each model's reviewers the pending requests not yet notified.

Covers models with `--notify daily`, and retries the emails of `--notify realtime` models
that failed to send. Run it from cron once a day, as the service user, e.g.:

\b
    # m h dom mon dow  command
    0 8 * * *  modelgit --data /srv/modelgit access digest

Exit status 1 when some digest could not be sent (the requests stay queued for the next run).
"""


def parse_field_options(values: Iterable[str]) -> dict[str, str]:
    """``--field "I agree to the terms=true"`` -> ``{"I agree to the terms": "true"}``.

    The label is everything before the first ``=`` (labels contain spaces, answers may contain
    ``=``); a label given twice is refused rather than silently overwritten.
    """
    out: dict[str, str] = {}
    for value in values:
        label, sep, answer = value.partition("=")
        if not sep or not label.strip():
            raise click.BadParameter(f"{value!r}: use NAME=VALUE", param_hint="--field")
        label = label.strip()
        if label in out:
            raise Refused(f"field {label!r} given twice")
        out[label] = answer
    return out


def request_access(ctx: Ctx, model_id: str, user: str, fields: Mapping[str, str]) -> str:
    """Ask for access on behalf of ``user``: the same checks as the API's requester call."""
    model = require_model(ctx, model_id)
    require_user(ctx, user)
    outcome = gating.request(ctx.store, ctx.cfg, model, user, fields, actor=REVIEWER)
    return outcome.message


def decide_request(ctx: Ctx, model_id: str, user: str, action: str,
                   reason: str | None = None) -> str:
    """accept, reject, cancel or grant; the message says what changed."""
    model = require_model(ctx, model_id)
    store = ctx.store
    calls: dict[str, Callable[[], gating.Outcome]] = {
        "accept": lambda: gating.handle_request(store, model, user, "accepted", REVIEWER),
        "reject": lambda: gating.handle_request(store, model, user, "rejected", REVIEWER,
                                                reason),
        "cancel": lambda: gating.cancel_request(store, model, user, REVIEWER),
        "grant": lambda: gating.grant_request(store, model, user, REVIEWER),
    }
    return calls[action]().message


def report_rows(ctx: Ctx, model_id: str) -> list[dict[str, Any]]:
    """The report rows, the same as the API's ``user-access-report`` download."""
    return [gating.report_item(row) for row in gating.requests(ctx.store, model_id)]


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text: answers are typed by requesters, and a
    cell starting with ``=`` would otherwise run as a formula on the reviewer's machine."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(rows: list[dict[str, Any]]) -> str:
    """One line per request; the fixed columns, then one column per form field."""
    labels: list[str] = []
    for row in rows:
        for label in row["fields"]:
            if label not in labels:
                labels.append(label)
    headers = list(REPORT_COLUMNS) + [
        f"field: {label}" if label in REPORT_COLUMNS else label for label in labels]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_cell(h) for h in headers])
    for row in rows:
        cells = [row.get(col) for col in REPORT_COLUMNS]
        cells += [row["fields"].get(label) for label in labels]
        writer.writerow([_cell(c) for c in cells])
    return buffer.getvalue()


def register(cli: click.Group) -> None:
    """Register the access commands."""

    @cli.group("access")
    def access() -> None:
        """Access requests of gated models: request, review, report, notify."""

    @access.command("request")
    @click.argument("model_id", metavar="ID")
    @click.option("--as", "user", required=True, help="The user who asks for access.")
    @click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
                  help="An answer to the model's form (extra_gated_fields); repeat per field.")
    @click.pass_obj
    @handle_errors
    def request_cmd(ctx: Ctx, model_id: str, user: str, fields: tuple[str, ...]) -> None:
        """Request access to a gated model for USER (auto models accept at once)."""
        answers = parse_field_options(fields)
        message = request_access(ctx, model_id, user, answers)
        row = ctx.store.get_request(model_id, user)
        done(ctx, f"{model_id}: {message}", status=row["status"] if row else None, user=user)

    @access.command("list")
    @click.argument("model_id", metavar="ID")
    @click.option("--status", type=click.Choice(rules.STATUSES), default=None)
    @click.pass_obj
    @handle_errors
    def list_cmd(ctx: Ctx, model_id: str, status: str | None) -> None:
        """The model's access requests, oldest first."""
        require_model(ctx, model_id)
        rows = []
        for row in gating.requests(ctx.store, model_id, status):
            item = {key: row.get(key) for key in (
                "id", "user", "fullname", "email", "status", "timestamp", "reviewed_at",
                "granted_by", "reason", "fields")}
            if not ctx.json:
                item["answers"] = "; ".join(f"{k}={v}" for k, v in row["fields"].items())
            rows.append(item)
        emit(ctx, rows, ["id", "user", "status", "timestamp", "reviewed_at", "granted_by",
                         "reason", "answers"], f"access requests for {model_id}")

    def decision_command(action: str, summary: str) -> None:
        @access.command(action, help=summary)
        @click.argument("model_id", metavar="ID")
        @click.argument("user")
        @click.pass_obj
        @handle_errors
        def command(ctx: Ctx, model_id: str, user: str) -> None:
            done(ctx, f"{model_id}: {decide_request(ctx, model_id, user, action)}", user=user)

    decision_command("accept", "Accept USER's request (pending or rejected).")
    decision_command("cancel", "Withdraw USER's access: accepted goes back to pending.")
    decision_command("grant", "Give USER access, whether or not they asked.")

    @access.command("reject")
    @click.argument("model_id", metavar="ID")
    @click.argument("user")
    @click.option("--reason", default=None,
                  help=f"Shown to the user (at most {rules.MAX_REASON_CHARS} characters).")
    @click.pass_obj
    @handle_errors
    def reject_cmd(ctx: Ctx, model_id: str, user: str, reason: str | None) -> None:
        """Reject USER's request; a rejected user cannot request again."""
        message = decide_request(ctx, model_id, user, "reject", reason)
        done(ctx, f"{model_id}: {message}", user=user)

    @access.command("report")
    @click.argument("model_id", metavar="ID")
    @click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
                  show_default=True)
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                  default=None, help="Write to this file instead of standard output.")
    @click.pass_obj
    @handle_errors
    def report_cmd(ctx: Ctx, model_id: str, fmt: str, output: str | None) -> None:
        """Every request with the user's details and answers, as JSON or CSV."""
        require_model(ctx, model_id)
        rows = report_rows(ctx, model_id)
        text = (report_csv(rows) if fmt == "csv"
                else json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        ctx.store.audit("access.report", actor=REVIEWER, target=model_id)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            click.echo(f"wrote {len(rows)} requests to {output}", err=True)
        else:
            sys.stdout.write(text)

    @access.command("digest", help=DIGEST_HELP)
    @click.argument("model_id", metavar="[ID]", required=False)
    @click.pass_obj
    @handle_errors
    def digest_cmd(ctx: Ctx, model_id: str | None) -> None:
        from modelgit import notify

        if model_id is not None:
            require_model(ctx, model_id)
        try:
            report = notify.send_digest(
                ctx.store, ctx.cfg, model_id=model_id,
                country_fields=lambda model: gating.country_fields(ctx.cfg, model))
        except notify.NotifyError as exc:
            raise Refused(str(exc), hint="in config.yaml: smtp: {host: mail.example.org, port: "
                          "587, sender: hub@example.org, user: ..., password: ...}") from exc
        if ctx.json:
            click.echo(json.dumps({"ok": report.ok, "sent": report.sent,
                                   "failed": report.failed}, indent=2))
        else:
            for entry in report.sent:
                click.echo(f"{entry['model']}: sent {entry['requests']} pending request(s) "
                           f"to {entry['to']}")
            for entry in report.failed:
                click.echo(f"{entry['model']}: NOT sent ({entry['error']}); kept for the "
                           "next run", err=True)
            if not report.sent and not report.failed:
                click.echo("no pending requests waiting for a notification")
        if not report.ok:
            sys.exit(1)
