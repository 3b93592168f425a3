"""Gated models: the access-request state machine, field validation and refusal texts.

Everything here is pure: no I/O, no SQL, no clock except ``iso_now``. The store keeps one
request row per (model, user); :mod:`modelgit.services.gating` loads that row, calls one
function here and stores what it returns. Keeping the rules in one pure module is what
lets every combination of gating mode, stored status and action be tested exhaustively
(``tests/gating/``) and lets git, the REST API and the CLI refuse with the same words.

The flow, shaped like the public hubs' gated models:

* ``request_access``: gated ``auto`` accepts at once, ``manual`` leaves the request pending
  review; a rejected user may never request again; a repeat request changes nothing.
* ``handle``: a maintainer sets ``accepted``, ``rejected`` (with a reason) or ``pending``.
* ``cancel``: accepted back to pending. ``grant``: accept a user who never asked.
* ``has_access``: gating off means the rows are ignored, not deleted, so switching gating on
  again restores every earlier decision.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from modelgit.errors import ModelgitError

STATUSES = ("pending", "accepted", "rejected")
GATED_MODES = ("off", "auto", "manual")
FIELD_TYPES = ("text", "checkbox", "date_picker", "country", "select")

REJECTED_MESSAGE = "Your request to access this model has been rejected by the model's authors"

MAX_REASON_CHARS = 200
"""Longest rejection reason, as on the public hubs."""
MAX_ANSWER_CHARS = 2000
"""Longest answer to one field: the answers are stored and shown in reports, so bound them."""
MAX_REPORTED_UNKNOWN = 20
"""Unknown fields named in one error; a hostile body with thousands of keys gets a count."""
_MAX_SHOWN_CHARS = 80

_CHECKBOX_TRUE = frozenset({"true", "on", "yes", "1"})
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ALPHA_2 = re.compile(r"[A-Z]{2}")


class GatingError(ModelgitError):
    """An expected refusal of the gating rules, on the one error hierarchy (``status`` chosen
    per refusal); the message must say what to do next without further context."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)


@dataclass(frozen=True)
class AccessRequest:
    """One access-request row: the state of one user for one gated model.

    ``timestamp`` is when the user first asked (kept through every later decision, as the hubs
    report it); ``reviewed_at`` and ``granted_by`` record the latest decision by a person
    (``None`` while nobody has acted, including an automatic acceptance); ``reason`` is only
    ever set on a rejected request.
    """

    user: str
    status: str
    fields: dict[str, str]
    timestamp: str
    reviewed_at: str | None = None
    granted_by: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        # A row with an unknown status would make ``has_access`` guess; refuse it at once.
        if self.status not in STATUSES:
            raise ValueError(f"unknown access request status {self.status!r}")
        if self.reason is not None and len(self.reason) > MAX_REASON_CHARS:
            raise ValueError(f"rejection reason longer than {MAX_REASON_CHARS} characters")


@dataclass(frozen=True)
class Outcome:
    """What an action leads to: the row to store (``None``: store nothing) and what to say."""

    request: AccessRequest | None
    changed: bool
    message: str


# --- the state machine -----------------------------------------------------------------------


def require_gated(gated: str) -> None:
    """Refuse with 400 unless gating is in force, as the hub API does for an ungated model.

    Maintainer actions (``handle``, ``cancel``, ``grant``) make no sense on an ungated model;
    the API calls this before them. ``request_access`` and ``grant`` call it themselves.
    """
    _check_mode(gated)
    if gated == "off":
        raise GatingError(
            400,
            "this model is not gated: anyone who may read it can download its files "
            "without an access request",
        )


def request_access(
    gated: str,
    existing: AccessRequest | None,
    user: str,
    fields: Mapping[str, object],
    now: str,
    *,
    spec: Mapping[str, Mapping[str, Any]] | None = None,
) -> Outcome:
    """A user asks for access: accepted at once (``auto``) or left for review (``manual``).

    With ``spec`` the raw ``fields`` are validated here, *after* the state checks, so that a
    rejected or already pending user hears that rather than a list of field errors for a form
    that no longer matters. Without ``spec`` the fields must already be validated strings.
    A repeat request never overwrites the stored answers: they are what was reviewed.
    """
    require_gated(gated)
    _check_user(existing, user)
    if existing is not None:
        if existing.status == "rejected":
            raise GatingError(403, _rejected_text(existing.reason))
        if existing.status == "pending":
            return Outcome(None, False, "your access request is already pending review")
        return Outcome(None, False, "you already have access to this model")
    if spec is not None:
        answers = validate_fields(spec, fields)
    else:
        answers = {}
        for name, value in fields.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError("fields must be validated strings when no spec is given")
            answers[name] = value
    if gated == "auto":
        request = AccessRequest(user, "accepted", answers, now, reviewed_at=now)
        return Outcome(request, True, "access granted")
    request = AccessRequest(user, "pending", answers, now)
    return Outcome(request, True, "access requested; pending review by the model's authors")


def handle(
    existing: AccessRequest | None,
    status: str,
    reviewer: str,
    now: str,
    reason: str | None = None,
) -> Outcome:
    """A maintainer sets a request's status; the hubs' ``handle`` endpoint.

    Input is checked before state (400 before 404 before 409) so that a malformed call is
    reported as such whatever the row holds. Setting the status the request already has is a
    409, not a silent success: the maintainer is probably looking at a stale list.
    """
    if status not in STATUSES:
        raise GatingError(400, f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    reason = _clean_reason(reason)
    if reason is not None and status != "rejected":
        raise GatingError(400, "a reason can only be given when rejecting a request")
    if existing is None:
        raise GatingError(404, "this user has not requested access to this model")
    if existing.status == status:
        raise GatingError(409, f"the access request of {existing.user} is already {status}")
    request = replace(existing, status=status, reviewed_at=now, granted_by=reviewer, reason=reason)
    verb = {"accepted": "accepted", "rejected": "rejected", "pending": "set back to pending"}
    return Outcome(request, True, f"access request of {existing.user} {verb[status]}")


def cancel(existing: AccessRequest | None, reviewer: str, now: str) -> Outcome:
    """Withdraw access that was granted: accepted goes back to pending, as on the hubs."""
    if existing is None:
        raise GatingError(404, "this user has not requested access to this model")
    if existing.status != "accepted":
        raise GatingError(
            409,
            f"the access request of {existing.user} is {existing.status}; "
            "only an accepted request can be cancelled",
        )
    return handle(existing, "pending", reviewer, now)


def grant(
    gated: str,
    existing: AccessRequest | None,
    user_exists: bool,
    user: str,
    reviewer: str,
    now: str,
) -> Outcome:
    """A maintainer gives access to a user, whether or not the user ever asked.

    A pending request is accepted and a rejected one overturned (the maintainer has decided);
    the answers already given are kept. A user who never asked gets a row with no answers.
    """
    require_gated(gated)
    if not user_exists:
        raise GatingError(404, f"no user named {user!r}")
    _check_user(existing, user)
    if existing is None:
        request = AccessRequest(user, "accepted", {}, now, reviewed_at=now, granted_by=reviewer)
    elif existing.status == "accepted":
        raise GatingError(409, f"{user} already has access to this model")
    else:
        request = replace(
            existing, status="accepted", reviewed_at=now, granted_by=reviewer, reason=None
        )
    return Outcome(request, True, f"access granted to {user}")


def has_access(gated: str, request: AccessRequest | None) -> bool:
    """Whether a request lets its user read a model's files (roles are ``decide()``'s job).

    With gating off the rows are ignored but kept, so that turning gating on again brings back
    every decision instead of locking out users who were accepted before.
    """
    _check_mode(gated)
    if gated == "off":
        return True
    return request is not None and request.status == "accepted"


# --- the 403 text -----------------------------------------------------------------------------


def denial_message(
    model_id: str,
    request: AccessRequest | None,
    prompt: str | None,
    base_url: str,
    *,
    user: str | None = None,
    spec: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The body of the 403 for a read refused by gating, printed by git as ``remote:`` lines.

    It names the model and the rule and gives the next step for the state the user is in. With
    no request yet that is the API call (what the user can do with their key) and the exact
    ``modelgit access request`` command (what a server administrator can run for them); with
    ``spec`` both show the model's own fields, with ``user`` the command is ready to paste.
    """
    # The hubs' own first sentence, which clients and scripts match, then ours.
    head = (f"Access to model {model_id} is restricted and you are not in the authorized"
            " list: it is a gated model.")
    if request is not None and request.status == "pending":
        return _lines(
            head,
            f"Your request to access {model_id} is pending review by the model's authors.",
            "You can download its files once they accept it.",
        )
    if request is not None and request.status == "rejected":
        return _lines(
            head,
            _rejected_text(request.reason),
            "A rejected user cannot request access again; contact the model's authors.",
        )
    if request is not None:
        # Accepted yet refused: some other rule refused the read, not gating. Say so rather
        # than raise, since this text is built on a path that must answer with a 403.
        return _lines(
            f"Your access request for {model_id} is accepted, but this read was refused by "
            "another rule; ask the model's maintainers."
        )
    url = f"{base_url.rstrip('/')}/api/models/{model_id}/user-access-request"
    lines = [f"{head} You need an accepted access request to download its files."]
    if prompt and prompt.strip():
        lines.extend(prompt.strip().splitlines())
    example: dict[str, object] = {}
    flags: list[str] = []
    if spec:
        lines.append("The model's authors ask for (every field is required):")
        for label, field in spec.items():
            kind = field.get("type", "text")
            lines.append(f"  {label}: {_describe(kind, field)}")
            example[label] = True if kind == "checkbox" else _placeholder(kind)
            flags.append("--field " + shlex.quote(f"{label}={_placeholder(kind)}"))
    else:
        example["NAME"] = "VALUE"
        flags.append("--field NAME=VALUE ...")
    body = json.dumps(example, ensure_ascii=False)
    lines += [
        "AccessRequest access with your key through the API:",
        f"  POST {url}",
        f'  curl -X POST -H "Authorization: Bearer $MODELGIT_KEY" '
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)} {url}",
        "or ask an administrator of this server to run:",
        f"  modelgit access request {model_id} --as {user or '<you>'} {' '.join(flags)}",
    ]
    return _lines(*lines)


# --- fields -----------------------------------------------------------------------------------


def validate_fields(
    spec: Mapping[str, Mapping[str, Any]], answers: Mapping[str, object]
) -> dict[str, str]:
    """Check a requester's answers against the model's ``extra_gated_fields``.

    Every field is required. All problems are collected and raised together as one 400, one per
    line with the values allowed, so that a requester fixes the whole form in one go. Answers
    are returned as strings in the spec's order, the way the hubs store and return them
    (a checkbox is ``"true"``, a select its option's value, a country its upper-case code).
    """
    problems: list[str] = []
    result: dict[str, str] = {}
    for label, field in spec.items():
        kind = field.get("type", "text")
        if kind not in FIELD_TYPES:
            raise ValueError(f"field {label!r} has unknown type {kind!r}")
        value = answers.get(label)
        if value is None:
            problems.append(f"{_show(label)}: missing; expected {_describe(kind, field)}")
            continue
        checked = _check_answer(kind, field, value)
        if isinstance(checked, _Problem):
            problems.append(f"{_show(label)}: {checked.text}")
        else:
            result[label] = checked
    unknown = [str(name) for name in answers if name not in spec]
    for name in unknown[:MAX_REPORTED_UNKNOWN]:
        problems.append(f"{_show(name)}: unknown field{_did_you_mean(name, list(spec))}")
    if len(unknown) > MAX_REPORTED_UNKNOWN:
        problems.append(f"... and {len(unknown) - MAX_REPORTED_UNKNOWN} more unknown fields")
    if unknown:
        known = ", ".join(_show(label) for label in spec) or "none"
        problems.append(f"the fields of this model are: {known}")
    if problems:
        raise GatingError(400, "\n".join(problems))
    return result


@dataclass(frozen=True)
class _Problem:
    """What is wrong with one answer (kept apart from valid answers, which are also strings)."""

    text: str


def _check_answer(kind: str, field: Mapping[str, Any], value: object) -> str | _Problem:
    """Normalise one present answer or say what is wrong with it and what is allowed."""
    expected = f"expected {_describe(kind, field)}"
    if kind == "checkbox":
        if value is True or (isinstance(value, str) and value.strip().lower() in _CHECKBOX_TRUE):
            return "true"
        return _Problem(f"not checked ({_show(value)}); {expected}")
    if kind == "date_picker" and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str):
        return _Problem(f"{_show(value)} is not text; {expected}")
    text = value.strip()
    if not text:
        return _Problem(f"empty; {expected}")
    if len(text) > MAX_ANSWER_CHARS:
        return _Problem(f"{len(text)} characters, the limit is {MAX_ANSWER_CHARS}")
    if kind == "text":
        return text
    if kind == "date_picker":
        return _check_date(text, expected)
    if kind == "country":
        return _check_country(text, expected)
    return _check_select(text, field, expected)


def _check_date(text: str, expected: str) -> str | _Problem:
    """An ISO calendar date that exists (2026-02-30 is refused, not rolled over)."""
    if not _ISO_DATE.fullmatch(text):
        return _Problem(f"{_show(text)} is not a date; {expected}")
    try:
        date.fromisoformat(text)
    except ValueError:
        return _Problem(f"{_show(text)} is not a real date; {expected}")
    return text


@cache
def countries() -> list[tuple[str, str]]:
    """(alpha-2 code, name) of every ISO 3166-1 country, by name (pycountry's data, loaded on
    first use like in :func:`_check_country`)."""
    import pycountry

    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda p: p[1])


@cache
def _country_names() -> dict[str, str]:
    return dict(countries())


def country_name(code: object) -> str | None:
    """The ISO 3166-1 name of an alpha-2 code (``DE``: ``Germany``); None for anything else."""
    return _country_names().get(str(code).upper()) if isinstance(code, str) else None


def country_label(code: object) -> str:
    """How a country answer is shown to people (the review page, the emails):
    ``Germany (DE)``; the stored answer is the ISO 3166-1 alpha-2 code, which alone few
    reviewers read at a glance. An answer that is not a known code (a form changed after the
    request) is shown as it is."""
    name = country_name(code)
    return f"{name} ({str(code).upper()})" if name else ("" if code is None else str(code))


def country_labels(spec: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """The labels of a gate form's country fields (their answers are stored as ISO codes)."""
    return frozenset(label for label, field in spec.items() if field.get("type") == "country")


def _check_country(text: str, expected: str) -> str | _Problem:
    """An ISO 3166-1 alpha-2 code; a country name or alpha-3 code gets a "did you mean".

    pycountry loads its database on first use, so it is imported here and not at module level:
    this module is imported on the credential-check path, which must stay fast.
    """
    import pycountry

    code = text.upper()
    if _ALPHA_2.fullmatch(code) and pycountry.countries.get(alpha_2=code) is not None:
        return code
    hint = ""
    try:
        hint = f" (did you mean {pycountry.countries.lookup(text).alpha_2}?)"
    except LookupError:
        pass
    return _Problem(f"{_show(text)} is not an ISO 3166-1 alpha-2 country code{hint}; {expected}")


def _check_select(text: str, field: Mapping[str, Any], expected: str) -> str | _Problem:
    """One of the options, given by value or by label (exactly, else ignoring case)."""
    options = _options(field)
    values = [value for _, value in options]
    if text in values:
        return text
    by_label = {label: value for label, value in options}
    if text in by_label:
        return by_label[text]
    wanted = text.casefold()
    folded = {value for label, value in options if wanted in (label.casefold(), value.casefold())}
    if len(folded) == 1:
        return folded.pop()
    return _Problem(f"{_show(text)} is not one of the options; {expected}")


def _options(field: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of a select field; a bare string option is its own label."""
    pairs = []
    for option in field.get("options") or ():
        if isinstance(option, Mapping):
            value = str(option.get("value", option.get("label", "")))
            pairs.append((str(option.get("label", value)), value))
        else:
            pairs.append((str(option), str(option)))
    return pairs


def _describe(kind: str, field: Mapping[str, Any]) -> str:
    """What a field accepts, in words, for errors and for the 403 text."""
    if kind == "checkbox":
        return "a checked box (answer true)"
    if kind == "date_picker":
        return "a date as YYYY-MM-DD"
    if kind == "country":
        return "an ISO 3166-1 alpha-2 country code such as FR, US or DE"
    if kind == "select":
        shown = []
        for label, value in _options(field):
            shown.append(_show(value) if label == value else f"{_show(value)} ({label})")
        return "one of " + ", ".join(shown)
    return "non-empty text"


def _placeholder(kind: str) -> str:
    """A value to replace in the example command, never a valid-looking answer."""
    return {
        "checkbox": "true",
        "date_picker": "YYYY-MM-DD",
        "country": "COUNTRY_CODE",
        "select": "OPTION",
    }.get(kind, "TEXT")


# --- small helpers ----------------------------------------------------------------------------


def iso_now() -> str:
    """The current time as the hubs write it: ISO 8601 UTC with milliseconds and ``Z``."""
    return format_timestamp(datetime.now(UTC))


def format_timestamp(moment: datetime) -> str:
    """An aware datetime in the hubs' format, e.g. ``2026-11-23T14:45:00.123Z``."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined UTC time")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_mode(gated: str) -> None:
    """An unknown mode is a bug in the caller, not a user error: fail loudly."""
    if gated not in GATED_MODES:
        raise ValueError(f"unknown gating mode {gated!r}")


def _check_user(existing: AccessRequest | None, user: str) -> None:
    """Guard against the caller passing another user's row."""
    if existing is not None and existing.user != user:
        raise ValueError(f"request row of {existing.user!r} passed for {user!r}")


def _clean_reason(reason: str | None) -> str | None:
    """Strip a rejection reason; empty means none; longer than the limit is a 400."""
    if reason is None or not reason.strip():
        return None
    reason = reason.strip()
    if len(reason) > MAX_REASON_CHARS:
        raise GatingError(
            400,
            f"the rejection reason has {len(reason)} characters; the limit is {MAX_REASON_CHARS}",
        )
    return reason


def _rejected_text(reason: str | None) -> str:
    """The hubs' rejection sentence, exactly, then the authors' reason when they gave one."""
    return f"{REJECTED_MESSAGE}. Reason: {reason}" if reason else REJECTED_MESSAGE


def _did_you_mean(name: str, labels: list[str]) -> str:
    """Suggest the field a misspelt or wrongly cased name was probably meant to be."""
    folded = {label.casefold(): label for label in labels}
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1)
    return f" (did you mean {_show(folded[close[0]])}?)" if close else ""


def _show(value: object) -> str:
    """A value as JSON would write it, bounded so a huge answer cannot flood the message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 4] + '..."'
    return text


def _lines(*lines: str) -> str:
    """Join lines for a text/plain body that git prints line by line as ``remote:``."""
    return "\n".join(lines) + "\n"
