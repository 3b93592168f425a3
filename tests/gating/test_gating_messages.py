"""The 403 text git prints as ``remote:`` lines, and the hubs' timestamp format."""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime, timedelta, timezone

import pytest

from modelgit.gating import (
    REJECTED_MESSAGE,
    AccessRequest,
    denial_message,
    format_timestamp,
    iso_now,
)

MODEL = "acme/bert"
BASE = "http://127.0.0.1:8080/"
NOW = "2026-11-23T14:45:00.123Z"
SPEC = {
    "Company name": {"type": "text"},
    "Country": {"type": "country"},
    "I agree": {"type": "checkbox"},
    "Use": {"type": "select", "options": [{"label": "Research", "value": "research"}]},
}


def test_no_request_gives_command_api_url_and_prompt() -> None:
    text = denial_message(MODEL, None, "Please tell us who you are.", BASE)
    assert text.endswith("\n")
    assert MODEL in text.splitlines()[0]
    assert "Please tell us who you are." in text
    assert f"POST http://127.0.0.1:8080/api/models/{MODEL}/user-access-request" in text
    assert f"modelgit access request {MODEL} --as <you> --field NAME=VALUE ..." in text
    assert """-d '{"NAME": "VALUE"}'""" in text


def test_no_request_with_spec_and_user_is_ready_to_paste() -> None:
    text = denial_message(MODEL, None, None, BASE, user="alice", spec=SPEC)
    [command] = [line for line in text.splitlines() if "modelgit access request" in line]
    words = shlex.split(command)
    assert words[:5] == ["modelgit", "access", "request", MODEL, "--as"]
    assert words[5] == "alice"
    assert words[6:] == [
        "--field", "Company name=TEXT",
        "--field", "Country=COUNTRY_CODE",
        "--field", "I agree=true",
        "--field", "Use=OPTION",
    ]  # fmt: skip
    [curl] = [line for line in text.splitlines() if "curl" in line]
    body = shlex.split(curl)[shlex.split(curl).index("-d") + 1]
    assert json.loads(body) == {
        "Company name": "TEXT",
        "Country": "COUNTRY_CODE",
        "I agree": True,
        "Use": "OPTION",
    }
    assert '"research" (Research)' in text
    assert "ISO 3166-1 alpha-2" in text


def test_multiline_prompt_kept_line_by_line() -> None:
    text = denial_message(MODEL, None, "line one\nline two\n", BASE)
    assert "\nline one\nline two\n" in text


def test_pending() -> None:
    text = denial_message(MODEL, AccessRequest("alice", "pending", {}, NOW), "prompt", BASE)
    assert "pending review" in text
    assert "modelgit access request" not in text
    assert "prompt" not in text


@pytest.mark.parametrize("reason", [None, "no affiliation given"])
def test_rejected(reason: str | None) -> None:
    rejected = AccessRequest("alice", "rejected", {}, NOW, NOW, "mo", reason)
    text = denial_message(MODEL, rejected, "prompt", BASE)
    assert REJECTED_MESSAGE in text
    assert (reason or REJECTED_MESSAGE) in text
    assert "modelgit access request" not in text


def test_accepted_does_not_blame_gating() -> None:
    text = denial_message(MODEL, AccessRequest("alice", "accepted", {}, NOW), None, BASE)
    assert "accepted" in text
    assert REJECTED_MESSAGE not in text


def test_iso_now_format() -> None:
    stamp = iso_now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    moment = datetime.fromisoformat(stamp)
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1)


def test_format_timestamp() -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 23, 15, 45, 0, 123456, tzinfo=paris)
    assert format_timestamp(moment) == NOW
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2026, 11, 23))
