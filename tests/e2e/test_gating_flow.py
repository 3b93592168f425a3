"""Gated models end to end: real git, the real ``huggingface_hub`` client, a running server.

Every decision goes through the same path a person uses: requests through the HTTP API (or
the CLI), reviews through ``HfApi`` unmodified, and access checked by cloning with git.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import build_hf_headers, paginate

from modelgit.gating import REJECTED_MESSAGE
from tests.conftest import HttpAnswer, Site, git
from tests.helpers.gating import GOOD, PROMPT, ask, gated_model

STORED = {"Country": "FR", "I agree to the terms": "true", "Affiliation": "ACME Research"}


def api_for(site: Site, user: str) -> HfApi:
    return HfApi(endpoint=site.url, token=site.keys[user])


def clone(site: Site, model_id: str, user: str, dest: Path) -> tuple[bool, str]:
    proc = git("clone", "-q", site.clone_url(model_id, user), str(dest), check=False)
    return proc.returncode == 0, proc.stderr


def remote_text(stderr: str) -> str:
    """What the server said, as git shows it (``remote: ...`` lines), without the prefix."""
    return "\n".join(line.removeprefix("remote: ") for line in stderr.splitlines()
                     if line.startswith("remote: "))


@pytest.fixture(scope="module")
def manual(site: Site, tmp_path_factory: pytest.TempPathFactory) -> str:
    return gated_model(site, "gate/manual", tmp_path_factory.mktemp("seed"))


def test_manual_flow_request_accept_cancel(site: Site, manual: str, work: Path) -> None:
    site.user("alice", email="alice@example.org")
    ok, stderr = clone(site, manual, "alice", work / "a0")
    assert not ok
    said = remote_text(stderr)
    assert "403" in stderr and PROMPT in said
    api_url = f"{site.url}/api/models/{manual}/user-access-request"
    assert f"POST {api_url}" in said
    [command] = [line.strip() for line in said.splitlines()
                 if line.strip().startswith("modelgit access request")]
    words = shlex.split(command)
    assert words[:6] == ["modelgit", "access", "request", manual, "--as", "alice"]
    assert "--field" in words and "Country=COUNTRY_CODE" in words
    assert "I agree to the terms=true" in words

    answer = ask(site, manual, "alice", GOOD)
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["status"] == "pending"
    ok, stderr = clone(site, manual, "alice", work / "a1")
    assert not ok and "pending review" in remote_text(stderr)
    # Asking again changes nothing and says so.
    again = json.loads(ask(site, manual, "alice", GOOD).body)
    assert again["changed"] is False and "already pending" in again["message"]

    owner = api_for(site, "owner")
    [pending] = [r for r in owner.list_pending_access_requests(manual) if r.username == "alice"]
    assert pending.status == "pending"
    assert pending.email == "alice@example.org"
    assert pending.fields == STORED
    assert pending.timestamp.tzinfo is not None

    owner.accept_access_request(manual, "alice")
    assert [r.username for r in owner.list_accepted_access_requests(manual)] == ["alice"]
    ok, stderr = clone(site, manual, "alice", work / "a2")
    assert ok, stderr
    assert (work / "a2" / "weights.txt").read_text() == "0.1 0.2\n"

    owner.cancel_access_request(manual, "alice")
    assert "alice" in [r.username for r in owner.list_pending_access_requests(manual)]
    ok, stderr = clone(site, manual, "alice", work / "a3")
    assert not ok and "pending review" in remote_text(stderr)
    # Accepting twice in a row is an error (a stale list), not a silent success.
    owner.accept_access_request(manual, "alice")
    with pytest.raises(HfHubHTTPError) as excinfo:
        owner.accept_access_request(manual, "alice")
    assert excinfo.value.response.status_code == 409


def test_reject_with_reason_and_no_second_request(site: Site, manual: str, work: Path) -> None:
    site.user("bob")
    assert ask(site, manual, "bob", GOOD).status == 200
    api_for(site, "owner").reject_access_request(manual, "bob",
                                                 rejection_reason="no affiliation given")
    [rejected] = [r for r in api_for(site, "owner").list_rejected_access_requests(manual)
                  if r.username == "bob"]
    assert rejected.status == "rejected"
    ok, stderr = clone(site, manual, "bob", work / "b")
    assert not ok
    said = remote_text(stderr)
    assert REJECTED_MESSAGE in said and "no affiliation given" in said

    again = ask(site, manual, "bob", GOOD)
    assert again.status == 403
    assert REJECTED_MESSAGE in json.loads(again.body)["error"]
    code, _, err = site.cli("access", "request", manual, "--as", "bob", "--field",
                            "Country=FR", ok=False)
    assert code == 1 and REJECTED_MESSAGE in err


def test_grant_to_a_user_who_never_asked(site: Site, manual: str, work: Path) -> None:
    site.user("carol")
    assert not clone(site, manual, "carol", work / "c0")[0]
    owner = api_for(site, "owner")
    owner.grant_access(manual, "carol")
    ok, stderr = clone(site, manual, "carol", work / "c1")
    assert ok, stderr
    with pytest.raises(HfHubHTTPError) as excinfo:
        owner.grant_access(manual, "carol")
    assert excinfo.value.response.status_code == 409
    with pytest.raises(HfHubHTTPError) as excinfo:
        owner.grant_access(manual, "nobody-by-that-name")
    assert excinfo.value.response.status_code == 404


def test_auto_gating_accepts_at_once(site: Site, work: Path, tmp_path: Path) -> None:
    model = gated_model(site, "gate/auto", tmp_path, gated="auto")
    site.user("dave")
    site.user("erin")
    assert not clone(site, model, "dave", work / "d0")[0]
    site.cli("access", "request", model, "--as", "dave", "--field", "Country=DE",
             "--field", "I agree to the terms=yes", "--field", "Affiliation=Uni")
    assert clone(site, model, "dave", work / "d1")[0]
    answer = ask(site, model, "erin", GOOD)
    assert answer.status == 200 and json.loads(answer.body)["status"] == "accepted"
    assert clone(site, model, "erin", work / "e")[0]
    accepted = {r.username: r for r in api_for(site, "owner").list_accepted_access_requests(model)}
    assert accepted["dave"].fields == {"Country": "DE", "I agree to the terms": "true",
                                       "Affiliation": "Uni"}


def test_field_validation_through_the_api(site: Site, manual: str) -> None:
    site.user("frank")
    bad_country = ask(site, manual, "frank", {**GOOD, "Country": "Freedonia"})
    assert bad_country.status == 400
    assert "ISO 3166-1 alpha-2" in json.loads(bad_country.body)["error"]
    no_box = ask(site, manual, "frank", {k: v for k, v in GOOD.items()
                                         if k != "I agree to the terms"})
    assert no_box.status == 400
    error = json.loads(no_box.body)["error"]
    assert "I agree to the terms" in error and "missing" in error
    unchecked = ask(site, manual, "frank", {**GOOD, "I agree to the terms": False})
    assert unchecked.status == 400 and "not checked" in json.loads(unchecked.body)["error"]
    unknown = ask(site, manual, "frank", {**GOOD, "Age": "42"})
    assert unknown.status == 400 and "unknown field" in json.loads(unknown.body)["error"]
    # Nothing was stored by any of them: the first valid request is still possible.
    assert ask(site, manual, "frank", GOOD).status == 200


def test_malformed_bodies(site: Site, manual: str) -> None:
    site.user("gina")
    path = f"/api/models/{manual}/user-access-request/handle"
    owner = site.keys["owner"]
    json_type = {"Content-Type": "application/json"}

    def post(body: bytes, headers: dict[str, str] | None = None) -> HttpAnswer:
        return site.http("POST", path, key=owner, body=body,
                         headers=json_type if headers is None else headers)

    cases = [
        (b"{not json", 400),
        (b"[]", 400),
        (b'{"user": "gina", "status": "accepted", "extra": 1}', 400),
        (b'{"user": 5, "status": "accepted"}', 400),
        (b'{"user": "gina", "user": "gina", "status": "accepted"}', 400),
        (b'{"status": "accepted"}', 400),
        (b'{"user": "gina", "status": "maybe"}', 400),
        (b'{"user": "gina", "status": "accepted", "rejectionReason": "x"}', 400),
        (b'{"user": "gina", "status": "rejected", "rejectionReason": "' + b"x" * 201 + b'"}',
         400),
        (b'{"user": "gina", "status": "accepted"}', 404),  # never asked
        (b'{"requestId": "999999", "status": "accepted"}', 404),
        (b"{" + b" " * (70 * 1024) + b"}", 413),
    ]
    for body, status in cases:
        answer = post(body)
        assert answer.status == status, (body[:80], answer.status, answer.body)
        assert "error" in json.loads(answer.body)
    assert post(b'{"user": "gina", "status": "accepted"}', {"Content-Type": "text/plain"}
                ).status == 415


def test_handle_by_request_id(site: Site, manual: str) -> None:
    site.user("hugo")
    request_id = json.loads(ask(site, manual, "hugo", GOOD).body)["requestId"]
    api_for(site, "owner").accept_access_request(manual, request_id=request_id)
    accepted = {r.username: r.request_id for r in
                api_for(site, "owner").list_accepted_access_requests(manual)}
    assert accepted["hugo"] == request_id


def test_who_may_review(site: Site, manual: str) -> None:
    site.user("ivan")
    ask(site, manual, "ivan", GOOD)
    site.user("mia-maint")
    site.cli("grant", manual, "mia-maint", "maintainer")
    read_key = site.user("mia-maint", scope="read")
    site.user("dev-dan")
    site.cli("grant", manual, "dev-dan", "developer")
    site.user("stranger-sam")

    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi(endpoint=site.url, token=read_key).accept_access_request(manual, "ivan")
    assert excinfo.value.response.status_code == 403
    assert "read-only" in str(excinfo.value)
    for person in ("dev-dan", "stranger-sam"):
        with pytest.raises(HfHubHTTPError) as excinfo:
            list(api_for(site, person).list_pending_access_requests(manual))
        assert excinfo.value.response.status_code == 403
    # A maintainer with a write key may.
    site.user("mia-maint")
    api_for(site, "mia-maint").accept_access_request(manual, "ivan")

    anonymous = site.http("GET", f"/api/models/{manual}/user-access-request/pending")
    assert anonymous.status == 401
    assert anonymous.headers.get("WWW-Authenticate") == 'Basic realm="modelgit"'
    assert "error" in json.loads(anonymous.body)


def test_not_gated_and_unknown_models(site: Site, tmp_path: Path) -> None:
    open_model = site.model("gate/open", public=True)
    owner = api_for(site, "owner")
    with pytest.raises(HfHubHTTPError) as excinfo:
        list(owner.list_pending_access_requests(open_model))
    assert excinfo.value.response.status_code == 400
    assert "not gated" in str(excinfo.value)
    site.user("jo")
    assert ask(site, open_model, "jo", {}).status == 400
    with pytest.raises(RepositoryNotFoundError):
        list(owner.list_pending_access_requests("gate/no-such-model"))
    assert ask(site, "gate/no-such-model", "jo", GOOD).status == 404
    private = site.model("gate/private-gated", gated="manual")
    assert ask(site, private, "jo", GOOD).status == 404  # private stays invisible


def test_report_json_and_csv(site: Site, tmp_path: Path) -> None:
    model = gated_model(site, "gate/reported", tmp_path)
    site.user("kim", email="kim@example.org")
    site.user("lee")
    ask(site, model, "kim", {**GOOD, "Affiliation": "=HYPERLINK(\"x\")"})
    ask(site, model, "lee", GOOD)
    api_for(site, "owner").reject_access_request(model, "lee", rejection_reason="duplicate")

    answer = site.http("GET", f"/api/models/{model}/user-access-report", key=site.keys["owner"])
    assert answer.status == 200
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    rows = {row["user"]: row for row in json.loads(answer.body)}
    assert set(rows) == {"kim", "lee"}
    assert rows["kim"]["email"] == "kim@example.org"
    assert rows["kim"]["status"] == "pending" and rows["kim"]["reviewedAt"] is None
    assert rows["kim"]["fields"]["Country"] == "FR"
    assert rows["lee"]["status"] == "rejected" and rows["lee"]["reviewedAt"]
    assert rows["lee"]["time"].endswith("Z")
    for row in rows.values():
        assert {"user", "fullname", "status", "email", "time", "reviewedAt",
                "fields"} <= set(row)

    _, out, _ = site.cli("access", "report", model, "--format", "json")
    assert {r["user"]: r for r in json.loads(out)} == rows
    _, out, _ = site.cli("access", "report", model, "--format", "csv")
    table = {r["user"]: r for r in csv.DictReader(io.StringIO(out))}
    assert table["kim"]["Country"] == "FR" and table["kim"]["status"] == "pending"
    # A formula typed by a requester is kept as text for the reviewer's spreadsheet.
    assert table["kim"]["Affiliation"] == "'=HYPERLINK(\"x\")"
    assert table["lee"]["rejectionReason"] == "duplicate"
    _, out, _ = site.cli("--json", "access", "list", model, "--status", "rejected")
    assert [r["user"] for r in json.loads(out)] == ["lee"]


def test_pagination_limit_one(site: Site, tmp_path: Path) -> None:
    model = gated_model(site, "gate/paged", tmp_path)
    people = ["pa", "pb", "pc"]
    for name in people:
        site.user(name)
        assert ask(site, model, name, GOOD).status == 200
    path = f"/api/models/{model}/user-access-request/pending?limit=1"
    first = site.http("GET", path, key=site.keys["owner"])
    assert [r["user"]["user"] for r in json.loads(first.body)] == ["pa"]
    link = first.headers["Link"]
    assert link.endswith('rel="next"') and link.startswith(f"<{site.url}/api/models/{model}/")
    # The hub client's own pagination follows the Link header to the end.
    headers = build_hf_headers(token=site.keys["owner"])
    seen = [r["user"]["user"] for r in paginate(f"{site.url}{path}", params={},
                                                headers=headers)]
    assert seen == people
    last = site.http("GET", f"/api/models/{model}/user-access-request/pending?limit=3",
                     key=site.keys["owner"])
    assert "Link" not in last.headers
    assert [r.username for r in api_for(site, "owner").list_pending_access_requests(model)
            ] == people
    assert site.http("GET", f"/api/models/{model}/user-access-request/pending?limit=0",
                     key=site.keys["owner"]).status == 400


def test_gating_off_keeps_the_rows(site: Site, tmp_path: Path, work: Path) -> None:
    model = gated_model(site, "gate/toggled", tmp_path)
    site.user("quinn")
    ask(site, model, "quinn", GOOD)
    assert not clone(site, model, "quinn", work / "q0")[0]
    site.cli("model", "set", model, "--gated", "off")
    assert clone(site, model, "quinn", work / "q1")[0]
    site.cli("model", "set", model, "--gated", "manual")
    ok, stderr = clone(site, model, "quinn", work / "q2")
    assert not ok and "pending review" in remote_text(stderr)
    site.cli("access", "accept", model, "quinn")
    assert clone(site, model, "quinn", work / "q3")[0]


def test_cli_review_commands(site: Site, manual: str, work: Path) -> None:
    site.user("nina")
    site.cli("access", "grant", manual, "nina")
    assert clone(site, manual, "nina", work / "n0")[0]
    site.cli("access", "cancel", manual, "nina")
    code, _, err = site.cli("access", "cancel", manual, "nina", ok=False)
    assert code == 1 and "only an accepted request can be cancelled" in err
    site.cli("access", "reject", manual, "nina", "--reason", "left the project")
    ok, stderr = clone(site, manual, "nina", work / "n1")
    assert not ok and "left the project" in remote_text(stderr)
    _, out, _ = site.cli("--json", "access", "list", manual, "--status", "rejected")
    [row] = [r for r in json.loads(out) if r["user"] == "nina"]
    assert row["granted_by"] == "cli" and row["reason"] == "left the project"
    code, _, err = site.cli("access", "grant", manual, "no-such-person", ok=False)
    assert code == 1 and "no user named" in err
    code, _, err = site.cli("access", "request", manual, "--as", "nina", "--field", "oops",
                            ok=False)
    assert code == 2 and "NAME=VALUE" in err
