"""The gating store calls, notification recipients and the CLI's helpers, without a server.

The README is written into the bare repository with git plumbing (no push, no hooks), so
these tests only exercise what reads it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import click
import pytest

from modelgit import notify
from modelgit.cli.access import parse_field_options, report_csv
from modelgit.config import load
from modelgit.git.paths import repo_path
from modelgit.services import gating
from modelgit.store import Store
from tests.conftest import Site, free_port, make_site

CARD = b"""---
extra_gated_prompt: Tell us who you are.
extra_gated_fields:
  Country: country
  Use:
    type: select
    options: [research, {label: Commercial use, value: commercial}]
---
# card
"""


def write_readme(site: Site, model_id: str, content: bytes) -> None:
    """Point main at a commit holding README.md, straight into the bare repository."""
    cfg = load(site.data)
    repo = str(repo_path(cfg, model_id))

    def run(*args: str, data: bytes | None = None) -> str:
        return subprocess.run(["git", "--git-dir", repo, *args], input=data, check=True,
                              capture_output=True).stdout.decode().strip()

    blob = run("hash-object", "-w", "--stdin", data=content)
    tree = run("mktree", data=f"100644 blob {blob}\tREADME.md\n".encode())
    commit = run("commit-tree", tree, "-m", "card")
    run("update-ref", "refs/heads/main", commit)


@pytest.fixture
def offline(tmp_path: Path) -> Site:
    site = make_site(tmp_path)
    site.cli("user", "add", "owner", "--admin")
    site.cli("space", "create", "acme", "--owner", "owner")
    site.cli("model", "create", "acme/m", "--owner", "owner", "--public", "--gated", "manual")
    site.cli("user", "add", "alice")
    return site


def model_row(site: Site, model_id: str = "acme/m") -> dict[str, Any]:
    row = site.store().get_model(model_id)
    assert row is not None
    return row


def test_gate_form_from_readme(offline: Site) -> None:
    cfg = load(offline.data)
    assert gating.gate_form(cfg, model_row(offline)) == gating.GateForm(None, {})
    write_readme(offline, "acme/m", CARD)
    form = gating.gate_form(cfg, model_row(offline))
    assert form.prompt == "Tell us who you are."
    assert form.spec["Country"] == {"type": "country"}
    assert [o["value"] for o in form.spec["Use"]["options"]] == ["research", "commercial"]
    write_readme(offline, "acme/m", b"---\nextra_gated_fields: [unclosed\n---\n")
    assert gating.gate_form(cfg, model_row(offline)).spec == {}
    # A huge README is read only as far as the front matter can reach.
    write_readme(offline, "acme/m", CARD + b"x" * (2 * gating.MAX_README_BYTES))
    assert gating.gate_form(cfg, model_row(offline)).prompt == "Tell us who you are."


def test_request_validates_saves_and_audits(offline: Site) -> None:
    write_readme(offline, "acme/m", CARD)
    cfg = load(offline.data)
    store = Store(cfg.store_target)
    with pytest.raises(gating.GatingError) as excinfo:
        gating.request(store, cfg, model_row(offline), "alice", {"Country": "XX"})
    assert excinfo.value.status == 400 and "Use" in str(excinfo.value)
    assert store.get_request("acme/m", "alice") is None
    outcome = gating.request(store, cfg, model_row(offline), "alice",
                             {"Country": "de", "Use": "Commercial use"})
    assert outcome.changed and outcome.request is not None
    row = store.get_request("acme/m", "alice")
    assert row is not None and row["fields"] == {"Country": "DE", "Use": "commercial"}
    [audit] = store.audit_rows(target="acme/m", action="access.request")
    assert audit["detail"] == {"user": "alice", "status": "pending"}
    # The owner already reads through a role: nothing stored, and it says why.
    owner = gating.request(store, cfg, model_row(offline), "owner", {})
    assert not owner.changed and "as owner" in owner.message
    assert store.get_request("acme/m", "owner") is None


def test_private_model_and_role_holders(offline: Site) -> None:
    cfg = load(offline.data)
    store = Store(cfg.store_target)
    offline.cli("model", "set", "acme/m", "--private")
    with pytest.raises(gating.GatingError) as excinfo:
        gating.request(store, cfg, model_row(offline), "alice", {})
    assert excinfo.value.status == 400 and "private" in str(excinfo.value)
    offline.cli("model", "set", "acme/m", "--public")
    offline.cli("grant", "acme/m", "alice", "user")
    with pytest.raises(gating.GatingError) as excinfo:
        gating.grant_request(store, model_row(offline), "alice", "owner")
    assert excinfo.value.status == 409 and "as user" in str(excinfo.value)


def test_reviewer_action_marks_the_request_notified(offline: Site) -> None:
    cfg = load(offline.data)
    store = Store(cfg.store_target)
    gating.request(store, cfg, model_row(offline), "alice", {})
    assert [r["user"] for r in store.unnotified_requests("acme/m")] == ["alice"]
    gating.handle_request(store, model_row(offline), "alice", "accepted", "owner")
    gating.cancel_request(store, model_row(offline), "alice", "owner")
    assert store.unnotified_requests("acme/m") == []
    assert [r["action"] for r in store.audit_rows(target="acme/m")][:2] == [
        "access.cancel", "access.handle"]


def test_recipients_fall_back_in_order(offline: Site) -> None:
    store = offline.store()
    offline.cli("space", "create", "big", "--owner", "owner")
    offline.cli("space", "grant", "big", "alice", "user")
    offline.cli("model", "create", "big/m", "--owner", "alice", "--public", "--gated", "manual")
    for i in range(7):
        offline.cli("user", "add", f"m{i}", "--email", f"m{i}@example.org")
        offline.cli("space", "grant", "big", f"m{i}", "maintainer")
    offline.cli("user", "add", "plain", "--email", "plain@example.org")
    offline.cli("space", "grant", "big", "plain", "user")
    # Nobody with an address at the top: the first five space owners/maintainers with one.
    assert notify.recipients(store, model_row(offline, "big/m")) == [
        f"m{i}@example.org" for i in range(5)]
    store.conn.execute("UPDATE users SET email = 'alice@example.org' WHERE name = 'alice'")
    assert notify.recipients(store, model_row(offline, "big/m")) == ["alice@example.org"]
    offline.cli("model", "set", "big/m", "--notify-email", "a@x.org,b@y.org")
    assert notify.recipients(store, model_row(offline, "big/m")) == ["a@x.org", "b@y.org"]
    code, _, err = offline.cli("model", "set", "big/m", "--notify-email", "not an address",
                               ok=False)
    assert code == 1 and "not an email address" in err


def test_password_is_never_sent_in_clear(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        cfg = load(tmp_path)
        cfg.settings["smtp"] = {"host": "127.0.0.1", "port": port, "sender": "a@b.org",
                                "user": "hub", "password": "secret"}
        message = notify.realtime_message(cfg, {"id": "a/b", "notify": "realtime"},
                                          {"user": "u", "timestamp": "t", "fields": {}},
                                          ["r@example.org"])
        with pytest.raises(notify.NotifyError, match="clear text"):
            notify.send(cfg, message)
        cfg.settings["smtp"] = {"host": "127.0.0.1", "port": port, "sender": "a@b.org"}
        notify.send(cfg, message)
    finally:
        controller.stop()


def test_field_options_and_csv_cells() -> None:
    assert parse_field_options(["I agree to the terms=true", "Note=a=b"]) == {
        "I agree to the terms": "true", "Note": "a=b"}
    with pytest.raises(click.BadParameter):
        parse_field_options(["no-equals-sign"])
    text = report_csv([{"user": "u", "fullname": "", "status": "pending", "email": "",
                        "time": "t", "reviewedAt": None,
                        "fields": {"status": "=1+1", "Org": "@SUM(A1)"}}])
    header, line = text.splitlines()
    assert header.endswith("field: status,Org")
    assert line.endswith("'=1+1,'@SUM(A1)")
