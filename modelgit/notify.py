"""Email the authors of a manual-approval gated model about new access requests.

Per model (``modelgit model set ID --notify realtime|daily|off``): one email per new pending
request, or a daily digest sent by ``modelgit access digest`` (from cron). A request row is
stored before anything is sent and marked notified only once its email went out, so an SMTP
failure never loses a request: the next digest sends what was missed. SMTP settings come from
``config.yaml`` (``smtp: host, port, sender, user, password``); without ``smtp.host`` nothing
is sent.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from modelgit.config import Config
from modelgit.gating import country_label
from modelgit.store import Store
from modelgit.urls import site_url

log = logging.getLogger("modelgit.notify")

MAX_SPACE_RECIPIENTS = 5
"""Space owners and maintainers written to when neither the model nor its owner has an
address: enough to reach someone, few enough not to spam a large organisation."""
SMTP_TIMEOUT_SECONDS = 10
"""A realtime email is sent inside the requester's HTTP request: a dead SMTP server may slow
that answer by this much, never hang it."""
IMPLICIT_TLS_PORT = 465

_ADDRESS = re.compile(r"[^@\s,<>\"']+@[^@\s,<>\"']+\.?[^@\s,<>\"']*")


class NotifyError(Exception):
    """Sending failed or cannot be attempted; the message says why and what to change."""


def parse_addresses(text: str) -> list[str]:
    """``a@x.org, b@y.org`` -> the addresses; ValueError names the first one that is not one.

    Kept strict (no display names, no quoting) because the value goes into a ``To:`` header
    and a typo should be caught when it is set, not when the first request arrives.
    """
    out: list[str] = []
    for part in text.split(","):
        address = part.strip()
        if not address:
            continue
        if not _ADDRESS.fullmatch(address):
            raise ValueError(f"{address!r} is not an email address (use name@example.org)")
        if address not in out:
            out.append(address)
    return out


def recipients(store: Store, model: Mapping[str, Any]) -> list[str]:
    """Who hears about requests for ``model``: its ``notify_email`` (one address or a
    comma-separated list), else the model owner's email, else the first five owners and
    maintainers of the space who have an email address."""
    explicit = str(model.get("notify_email") or "").strip()
    if explicit:
        try:
            return parse_addresses(explicit)
        except ValueError:
            log.warning("model %s has an unusable notify_email %r; falling back to its owner",
                        model.get("id"), explicit)
    owner = store.get_user(str(model["owner"]))
    if owner is not None and str(owner.get("email") or "").strip():
        return [str(owner["email"]).strip()]
    out: list[str] = []
    for grant in store.space_roles(str(model["space"])):
        if grant["role"] not in ("owner", "maintainer"):
            continue
        person = store.get_user(grant["user"])
        email = str((person or {}).get("email") or "").strip()
        if email and email not in out:
            out.append(email)
        if len(out) == MAX_SPACE_RECIPIENTS:
            break
    return out


# --- messages ---------------------------------------------------------------------------------


def _describe_request(row: Mapping[str, Any], countries: Collection[str] = ()) -> list[str]:
    """One request as lines of plain text (the answers are the requester's own words, so they
    only ever go into the body, never into a header); the answers to the form's country
    fields (``countries``, their labels) as the country's name and code, as the review page
    shows them."""
    who = str(row["user"])
    details = [str(row.get("fullname") or "").strip(), str(row.get("email") or "").strip()]
    shown = ", ".join(d for d in details if d)
    lines = [f"{who}{f' ({shown})' if shown else ''}, asked at {row['timestamp']}"]
    fields = row.get("fields") or {}
    for label, answer in dict(fields).items():
        shown = country_label(answer) if label in countries else answer
        lines.append(f"    {label}: {shown}")
    return lines


def _review_lines(cfg: Config, model_id: str, user: str | None) -> list[str]:
    who = user or "USER"
    api = f"{site_url(cfg)}/api/models/{model_id}/user-access-request"
    return [
        "Review with the modelgit CLI on the server:",
        f"  modelgit access list {model_id} --status pending",
        f"  modelgit access accept {model_id} {who}",
        f"  modelgit access reject {model_id} {who} --reason \"...\"",
        "or with a maintainer's key through the API (huggingface_hub's accept_access_request",
        "and reject_access_request work against it):",
        f"  GET  {api}/pending",
        f"  POST {api}/handle  {{\"user\": \"{who}\", \"status\": \"accepted\"}}",
    ]


def _footer(model: Mapping[str, Any]) -> list[str]:
    model_id = model["id"]
    return [
        "",
        f"You get this because you review access requests for {model_id} "
        f"(notify: {model.get('notify')}).",
        f"Change it with: modelgit model set {model_id} --notify realtime|daily|off "
        "--notify-email ADDR",
    ]


def _message(cfg: Config, to: Sequence[str], subject: str, lines: list[str]) -> EmailMessage:
    sender = str(_smtp(cfg).get("sender") or "modelgit@localhost")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content("\n".join(lines) + "\n")
    return message


def realtime_message(cfg: Config, model: Mapping[str, Any], row: Mapping[str, Any],
                     to: Sequence[str], countries: Collection[str] = ()) -> EmailMessage:
    """One new pending request (``countries``: the labels of the form's country fields)."""
    model_id = str(model["id"])
    lines = [f"New access request for the gated model {model_id}:", ""]
    lines += _describe_request(row, countries)
    lines += ["", *_review_lines(cfg, model_id, str(row["user"])), *_footer(model)]
    subject = f"[modelgit] Access request for {model_id} from {row['user']}"
    return _message(cfg, to, subject, lines)


def digest_message(cfg: Config, model: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
                   to: Sequence[str], countries: Collection[str] = ()) -> EmailMessage:
    """All pending requests of one model that nobody has been told about yet."""
    model_id = str(model["id"])
    count = len(rows)
    noun = "request" if count == 1 else "requests"
    lines = [f"{count} new access {noun} for the gated model {model_id}, pending review:", ""]
    for row in rows:
        lines += _describe_request(row, countries)
    only = str(rows[0]["user"]) if count == 1 else None
    lines += ["", *_review_lines(cfg, model_id, only), *_footer(model)]
    subject = f"[modelgit] {count} pending access {noun} for {model_id}"
    return _message(cfg, to, subject, lines)


# --- sending ----------------------------------------------------------------------------------


def _smtp(cfg: Config) -> dict[str, Any]:
    settings = cfg.get("smtp")
    return dict(settings) if isinstance(settings, Mapping) else {}


def smtp_configured(cfg: Config) -> bool:
    """Whether ``smtp.host`` is set; without it modelgit sends no email at all."""
    return bool(str(_smtp(cfg).get("host") or "").strip())


def send(cfg: Config, message: EmailMessage) -> None:
    """Deliver one message through the configured SMTP server, or raise ``NotifyError``.

    Port 465 means TLS from the first byte; on any other port STARTTLS is used whenever the
    server offers it. A password is never sent over an unencrypted connection.
    """
    smtp = _smtp(cfg)
    host = str(smtp.get("host") or "").strip()
    if not host:
        raise NotifyError(f"no SMTP server configured: set smtp.host in "
                          f"{cfg.data_dir / 'config.yaml'}")
    try:
        port = int(smtp.get("port") or 25)
    except (TypeError, ValueError) as exc:
        raise NotifyError(f"smtp.port {smtp.get('port')!r} is not a port number") from exc
    user = str(smtp.get("user") or "")
    password = str(smtp.get("password") or "")
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if port == IMPLICIT_TLS_PORT:
            client = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            client.ehlo()
            encrypted = port == IMPLICIT_TLS_PORT
            if not encrypted and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                encrypted = True
            if user:
                if not encrypted:
                    raise NotifyError(
                        f"{host}:{port} offers no TLS; refusing to send the SMTP password in "
                        "clear text (use port 465 or a server with STARTTLS)")
                client.login(user, password)
            refused = client.send_message(message)
    except NotifyError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyError(f"sending through {host}:{port} failed: "
                          f"{type(exc).__name__}: {exc}") from exc
    if refused:
        raise NotifyError(f"{host}:{port} refused {', '.join(sorted(refused))}")


def notify_new_request(store: Store, cfg: Config, model: Mapping[str, Any],
                       row: Mapping[str, Any], countries: Collection[str] = ()) -> bool:
    """The realtime email for one new pending request; True when it was sent
    (``countries``: the labels of the gate form's country fields).

    Never raises for a delivery problem: the request is already stored, and the reason is
    logged for the administrator. The row stays unnotified, so ``access digest`` retries it.
    """
    if model.get("gated") != "manual" or model.get("notify") != "realtime":
        return False
    if row.get("status") != "pending":
        return False
    model_id = str(model["id"])
    if not smtp_configured(cfg):
        log.info("no email for the access request of %s on %s: smtp.host is not set",
                 row.get("user"), model_id)
        return False
    to = recipients(store, model)
    if not to:
        log.warning("no email for the access request of %s on %s: neither the model, its "
                    "owner nor the space's owners have an address; set one with `modelgit "
                    "model set %s --notify-email ADDR`", row.get("user"), model_id, model_id)
        return False
    full = store.get_request(model_id, str(row["user"])) or dict(row)
    person = store.get_user(str(row["user"])) or {}
    full = {**full, "fullname": person.get("fullname"), "email": person.get("email")}
    try:
        send(cfg, realtime_message(cfg, model, full, to, countries))
    except NotifyError as exc:
        log.warning("access request of %s on %s is stored, but its email failed (the next "
                    "`modelgit access digest` retries it): %s", row.get("user"), model_id, exc)
        return False
    store.mark_notified([int(full["id"])])
    return True


@dataclass
class DigestReport:
    """What one digest run did, per model: sent, or failed with the reason."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def send_digest(store: Store, cfg: Config, *, model_id: str | None = None,
                country_fields: Callable[[Mapping[str, Any]], Collection[str]] | None = None,
                ) -> DigestReport:
    """One email per model with pending requests nobody has been told about.

    ``country_fields`` gives a model's country field labels (the caller reads the gate form;
    this module sits beside the services and cannot).

    Covers ``daily`` models, and ``realtime`` models whose email failed earlier. Models whose
    gating is no longer manual or whose notifications are off are left alone (their rows
    stay unnotified, so switching back on reports them). Raises ``NotifyError`` up front
    when no SMTP server is configured, so cron mails the administrator one clear line.
    """
    if not smtp_configured(cfg):
        raise NotifyError(f"no SMTP server configured: set smtp.host in "
                          f"{cfg.data_dir / 'config.yaml'}")
    report = DigestReport()
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in store.unnotified_requests(model_id):
        by_model.setdefault(str(row["model"]), []).append(row)
    for mid, rows in by_model.items():
        model = store.get_model(mid)
        if model is None or model["gated"] != "manual" or model["notify"] == "off":
            continue
        entry: dict[str, Any] = {"model": mid, "requests": len(rows), "to": ""}
        to = recipients(store, model)
        if not to:
            entry["error"] = "no recipient: set one with --notify-email"
            log.warning("digest for %s not sent: no recipient", mid)
            report.failed.append(entry)
            continue
        entry["to"] = ", ".join(to)
        try:
            send(cfg, digest_message(cfg, model, rows, to,
                                    country_fields(model) if country_fields else ()))
        except NotifyError as exc:
            entry["error"] = str(exc)
            log.warning("digest for %s not sent (kept for the next run): %s", mid, exc)
            report.failed.append(entry)
            continue
        store.mark_notified([int(r["id"]) for r in rows])
        report.sent.append(entry)
    return report
