"""Access-request emails, received by a real SMTP server (aiosmtpd) on loopback.

The site gets its own data folder because the server reads ``config.yaml`` (the SMTP
settings) when it starts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from tests.conftest import Site, free_port, make_site
from tests.helpers.gating import GOOD, ask, gated_model


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos),
                                  message_from_bytes(envelope.original_content)))
        return "250 Message accepted for delivery"

    def take(self) -> list[tuple[list[str], Message]]:
        with self._lock:
            taken, self.messages = self.messages, []
        return taken


@pytest.fixture(scope="module")
def smtp_port() -> int:
    return free_port()


class MailServer:
    """The loopback SMTP server; ``down()`` and ``up()`` simulate an outage (an aiosmtpd
    controller cannot be restarted, so ``up()`` makes a new one on the same port)."""

    def __init__(self, handler: Inbox, port: int) -> None:
        self.handler = handler
        self.port = port
        self.controller: Controller | None = None

    def up(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="module")
def inbox(smtp_port: int) -> Iterator[tuple[Inbox, MailServer]]:
    server = MailServer(Inbox(), smtp_port)
    server.up()
    yield server.handler, server
    server.down()


@pytest.fixture(scope="module")
def mail_site(tmp_path_factory: pytest.TempPathFactory, smtp_port: int) -> Iterator[Site]:
    site = make_site(tmp_path_factory.mktemp("mail-site"))
    settings = {"smtp": {"host": "127.0.0.1", "port": smtp_port,
                         "sender": "hub@modelgit.test"}}
    (site.data / "config.yaml").write_text(yaml.safe_dump(settings))
    site.start()
    yield site
    site.stop()


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def test_realtime_email_per_request(mail_site: Site, inbox: tuple[Inbox, MailServer],
                                    tmp_path: Path) -> None:
    handler, _ = inbox
    mail_site.user("owner", admin=True, email="owner@example.org")
    model = gated_model(mail_site, "mail/realtime", tmp_path)
    mail_site.user("rita", email="rita@example.org")
    handler.take()
    answer = ask(mail_site, model, "rita", GOOD)
    assert answer.status == 200
    [(to, message)] = handler.take()
    assert to == ["owner@example.org"]
    assert message["From"] == "hub@modelgit.test"
    assert message["Subject"] == f"[modelgit] Access request for {model} from rita"
    text = body(message)
    assert "rita" in text and "rita@example.org" in text
    assert "Country: France (FR)" in text and "Affiliation: ACME Research" in text
    assert f"modelgit access accept {model} rita" in text
    # Links name the address the server really runs on (here a free port, not 8080).
    assert f"GET  {mail_site.url}/api/models/{model}/user-access-request/pending" in text
    # A repeat request sends nothing; an auto model sends nothing either.
    ask(mail_site, model, "rita", GOOD)
    auto = gated_model(mail_site, "mail/auto", tmp_path, gated="auto")
    ask(mail_site, auto, "rita", GOOD)
    assert handler.take() == []
    # Already sent, so the digest has nothing left for it.
    _, out, _ = mail_site.cli("access", "digest")
    assert "no pending requests" in out and handler.take() == []


def test_daily_digest(mail_site: Site, inbox: tuple[Inbox, MailServer],
                      tmp_path: Path) -> None:
    handler, _ = inbox
    mail_site.user("owner", admin=True, email="owner@example.org")
    model = gated_model(mail_site, "mail/daily", tmp_path)
    mail_site.cli("model", "set", model, "--notify", "daily",
                  "--notify-email", "reviewers@example.org, lead@example.org")
    for name in ("sam", "tia"):
        mail_site.user(name)
        assert ask(mail_site, model, name, GOOD).status == 200
    mail_site.cli("access", "request", model, "--as", "uma", ok=False)  # unknown user
    assert handler.take() == []  # daily: nothing until the digest runs

    _, out, _ = mail_site.cli("--json", "access", "digest")
    summary = json.loads(out)
    assert summary["ok"] and [s["model"] for s in summary["sent"]] == [model]
    [(to, message)] = handler.take()
    assert sorted(to) == ["lead@example.org", "reviewers@example.org"]
    assert message["Subject"] == f"[modelgit] 2 pending access requests for {model}"
    text = body(message)
    assert "sam" in text and "tia" in text and "Country: France (FR)" in text
    # Sent by the CLI, a process of its own: the links still follow the running server.
    assert f"GET  {mail_site.url}/api/models/{model}/user-access-request/pending" in text

    _, out, _ = mail_site.cli("access", "digest")
    assert "no pending requests" in out and handler.take() == []
    # A request a reviewer already handled is not announced as new.
    mail_site.user("vic")
    ask(mail_site, model, "vic", GOOD)
    mail_site.cli("access", "accept", model, "vic")
    mail_site.cli("access", "digest")
    assert handler.take() == []


def test_send_failure_keeps_the_request_and_the_digest_retries(
        mail_site: Site, inbox: tuple[Inbox, MailServer], smtp_port: int,
        tmp_path: Path) -> None:
    handler, server = inbox
    mail_site.user("owner", admin=True, email="owner@example.org")
    model = gated_model(mail_site, "mail/flaky", tmp_path)
    mail_site.user("walt")
    handler.take()
    server.down()
    try:
        started = time.monotonic()
        answer = ask(mail_site, model, "walt", GOOD)
        assert answer.status == 200 and json.loads(answer.body)["status"] == "pending"
        assert time.monotonic() - started < 10
        log = mail_site.log_text()
        assert "its email failed" in log and "walt" in log
        code, _, err = mail_site.cli("access", "digest", ok=False)
        assert code == 1 and "NOT sent" in err
    finally:
        server.up()
    _, out, _ = mail_site.cli("access", "digest")
    assert model in out
    [(to, message)] = handler.take()
    assert to == ["owner@example.org"] and "walt" in body(message)
