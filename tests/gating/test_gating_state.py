"""The access-request state machine, every (gating mode x stored status x action).

The table below is the specification written out by hand, not computed from the code: each
cell says what one action does to one stored row under one gating mode. Maintainer actions go
through ``require_gated`` first, as the HTTP API does, so an ungated model answers 400 to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelgit.gating import (
    GATED_MODES,
    MAX_REASON_CHARS,
    REJECTED_MESSAGE,
    STATUSES,
    AccessRequest,
    GatingError,
    Outcome,
    cancel,
    grant,
    handle,
    has_access,
    request_access,
    require_gated,
)

USER = "alice"
REVIEWER = "mo"
FIRST = "2026-11-01T09:00:00.000Z"
NOW = "2026-11-23T14:45:00.123Z"
FIELDS = {"Company": "ACME"}


def row(status: str | None) -> AccessRequest | None:
    """A stored row as the store would hand it over, or ``None`` for "never asked"."""
    if status is None:
        return None
    return AccessRequest(
        user=USER,
        status=status,
        fields=dict(FIELDS),
        timestamp=FIRST,
        reviewed_at=None if status == "pending" else "2026-11-02T10:00:00.000Z",
        granted_by=None if status == "pending" else "olga",
        reason="no affiliation" if status == "rejected" else None,
    )


def maintainer(
    action: Callable[[AccessRequest | None], Outcome],
) -> Callable[[str, AccessRequest | None], Outcome]:
    """A maintainer endpoint: refuse on an ungated model, then act."""

    def run(gated: str, existing: AccessRequest | None) -> Outcome:
        require_gated(gated)
        return action(existing)

    return run


ACTIONS: dict[str, Callable[[str, AccessRequest | None], Outcome]] = {
    "request": lambda gated, existing: request_access(gated, existing, USER, FIELDS, NOW),
    "accept": maintainer(lambda e: handle(e, "accepted", REVIEWER, NOW)),
    "reject": maintainer(lambda e: handle(e, "rejected", REVIEWER, NOW)),
    "reject+reason": maintainer(lambda e: handle(e, "rejected", REVIEWER, NOW, "spam")),
    "set pending": maintainer(lambda e: handle(e, "pending", REVIEWER, NOW)),
    "bad status": maintainer(lambda e: handle(e, "approved", REVIEWER, NOW)),
    "accept+reason": maintainer(lambda e: handle(e, "accepted", REVIEWER, NOW, "why")),
    "long reason": maintainer(
        lambda e: handle(e, "rejected", REVIEWER, NOW, "x" * (MAX_REASON_CHARS + 1))
    ),
    "cancel": maintainer(lambda e: cancel(e, REVIEWER, NOW)),
    "grant": lambda gated, existing: grant(gated, existing, True, USER, REVIEWER, NOW),
    "grant unknown user": lambda gated, existing: grant(
        gated, existing, False, USER, REVIEWER, NOW
    ),
}

# Cell values: an int is the GatingError status; "=" means nothing changes (no row to store);
# a status name is the status of the row to store.
N, P, A, R = None, "pending", "accepted", "rejected"
#                              existing:  (off, auto, manual)
TABLE: dict[tuple[str, str | None], tuple[int | str, int | str, int | str]] = {
    ("request", N): (400, A, P),
    ("request", P): (400, "=", "="),
    ("request", A): (400, "=", "="),
    ("request", R): (400, 403, 403),
    ("accept", N): (400, 404, 404),
    ("accept", P): (400, A, A),
    ("accept", A): (400, 409, 409),
    ("accept", R): (400, A, A),
    ("reject", N): (400, 404, 404),
    ("reject", P): (400, R, R),
    ("reject", A): (400, R, R),
    ("reject", R): (400, 409, 409),
    ("reject+reason", N): (400, 404, 404),
    ("reject+reason", P): (400, R, R),
    ("reject+reason", A): (400, R, R),
    ("reject+reason", R): (400, 409, 409),
    ("set pending", N): (400, 404, 404),
    ("set pending", P): (400, 409, 409),
    ("set pending", A): (400, P, P),
    ("set pending", R): (400, P, P),
    ("bad status", N): (400, 400, 400),
    ("bad status", P): (400, 400, 400),
    ("bad status", A): (400, 400, 400),
    ("bad status", R): (400, 400, 400),
    ("accept+reason", N): (400, 400, 400),
    ("accept+reason", P): (400, 400, 400),
    ("accept+reason", A): (400, 400, 400),
    ("accept+reason", R): (400, 400, 400),
    ("long reason", N): (400, 400, 400),
    ("long reason", P): (400, 400, 400),
    ("long reason", A): (400, 400, 400),
    ("long reason", R): (400, 400, 400),
    ("cancel", N): (400, 404, 404),
    ("cancel", P): (400, 409, 409),
    ("cancel", A): (400, P, P),
    ("cancel", R): (400, 409, 409),
    ("grant", N): (400, A, A),
    ("grant", P): (400, A, A),
    ("grant", A): (400, 409, 409),
    ("grant", R): (400, A, A),
    ("grant unknown user", N): (400, 404, 404),
}

CASES = [
    pytest.param(
        action, existing, gated, cells[GATED_MODES.index(gated)], id=f"{action}-{existing}-{gated}"
    )
    for (action, existing), cells in TABLE.items()
    for gated in GATED_MODES
]


def test_table_covers_every_combination() -> None:
    for action in ACTIONS:
        if action == "grant unknown user":
            continue  # an unknown user has no row
        for existing in (N, P, A, R):
            assert (action, existing) in TABLE, (action, existing)
    assert set(GATED_MODES) == {"off", "auto", "manual"}


@pytest.mark.parametrize(("action", "existing", "gated", "expected"), CASES)
def test_transition(action: str, existing: str | None, gated: str, expected: int | str) -> None:
    before = row(existing)
    if isinstance(expected, int):
        with pytest.raises(GatingError) as caught:
            ACTIONS[action](gated, before)
        assert caught.value.status == expected
        assert str(caught.value)
        return
    outcome = ACTIONS[action](gated, before)
    assert outcome.message
    if expected == "=":
        assert outcome == Outcome(None, False, outcome.message)
        return
    assert outcome.changed
    after = outcome.request
    assert after is not None
    assert after.status == expected
    assert after.user == USER
    if before is not None:
        assert after.timestamp == FIRST, "the first request's time is kept"
        assert after.fields == FIELDS, "the answers that were reviewed are kept"
    else:
        assert after.timestamp == NOW
    if action == "reject+reason":
        assert after.reason == "spam"
    else:
        assert after.reason is None, "a reason never survives a change of status"


@pytest.mark.parametrize("gated", GATED_MODES)
@pytest.mark.parametrize("existing", [N, P, A, R])
def test_has_access(gated: str, existing: str | None) -> None:
    expected = gated == "off" or existing == "accepted"
    assert has_access(gated, row(existing)) is expected


def test_new_requests() -> None:
    auto = request_access("auto", None, USER, FIELDS, NOW).request
    assert auto == AccessRequest(USER, "accepted", FIELDS, NOW, reviewed_at=NOW, granted_by=None)
    manual = request_access("manual", None, USER, FIELDS, NOW).request
    assert manual == AccessRequest(USER, "pending", FIELDS, NOW)


def test_repeat_requests_say_so() -> None:
    pending = request_access("manual", row(P), USER, {"Company": "other"}, NOW)
    assert "pending review" in pending.message
    accepted = request_access("manual", row(A), USER, {}, NOW)
    assert "already have access" in accepted.message


def test_rejected_user_cannot_request_again() -> None:
    bare = AccessRequest(USER, "rejected", {}, FIRST, FIRST, "olga")
    with pytest.raises(GatingError) as caught:
        request_access("manual", bare, USER, FIELDS, NOW)
    assert caught.value.status == 403
    assert str(caught.value) == REJECTED_MESSAGE
    with pytest.raises(GatingError) as caught:
        request_access("auto", row(R), USER, FIELDS, NOW)
    assert str(caught.value).startswith(REJECTED_MESSAGE)
    assert "no affiliation" in str(caught.value)


def test_state_is_checked_before_fields() -> None:
    """A pending user who resends a bad form hears "pending", not field errors."""
    spec = {"Country": {"type": "country"}}
    outcome = request_access("manual", row(P), USER, {"Country": "nowhere"}, NOW, spec=spec)
    assert not outcome.changed
    with pytest.raises(GatingError) as caught:
        request_access("manual", row(R), USER, {}, NOW, spec=spec)
    assert caught.value.status == 403
    with pytest.raises(GatingError) as caught:
        request_access("manual", None, USER, {"Country": "nowhere"}, NOW, spec=spec)
    assert caught.value.status == 400
    made = request_access("manual", None, USER, {"Country": "fr"}, NOW, spec=spec).request
    assert made is not None
    assert made.fields == {"Country": "FR"}


def test_unvalidated_fields_without_spec_are_a_bug() -> None:
    with pytest.raises(TypeError):
        request_access("manual", None, USER, {"Agree": True}, NOW)


def test_decisions_record_who_and_when() -> None:
    accepted = handle(row(P), "accepted", REVIEWER, NOW).request
    assert accepted is not None
    assert (accepted.reviewed_at, accepted.granted_by) == (NOW, REVIEWER)
    rejected = handle(row(P), "rejected", REVIEWER, NOW, "  no affiliation given  ").request
    assert rejected is not None
    assert rejected.reason == "no affiliation given"
    granted = grant("manual", None, True, "bob", REVIEWER, NOW).request
    assert granted == AccessRequest("bob", "accepted", {}, NOW, NOW, REVIEWER)


def test_reason_limits() -> None:
    exact = "é" * MAX_REASON_CHARS
    outcome = handle(row(P), "rejected", REVIEWER, NOW, exact)
    assert outcome.request is not None
    assert outcome.request.reason == exact
    blank = handle(row(P), "rejected", REVIEWER, NOW, "   ")
    assert blank.request is not None
    assert blank.request.reason is None
    with pytest.raises(GatingError, match="200"):
        handle(row(P), "rejected", REVIEWER, NOW, "x" * (MAX_REASON_CHARS + 1))


def test_gating_off_keeps_rows_and_switching_back_uses_them() -> None:
    accepted, rejected = row(A), row(R)
    assert has_access("off", rejected)
    assert has_access("manual", accepted)
    assert not has_access("manual", rejected)
    assert has_access("auto", accepted)


def test_programming_errors_fail_loudly() -> None:
    with pytest.raises(ValueError, match="gating mode"):
        has_access("on", None)
    with pytest.raises(ValueError, match="gating mode"):
        request_access("yes", None, USER, {}, NOW)
    with pytest.raises(ValueError, match="status"):
        AccessRequest(USER, "approved", {}, NOW)
    with pytest.raises(ValueError, match="reason"):
        AccessRequest(USER, "rejected", {}, NOW, reason="x" * (MAX_REASON_CHARS + 1))
    with pytest.raises(ValueError, match="passed for"):
        request_access("manual", row(P), "bob", {}, NOW)
    with pytest.raises(ValueError, match="passed for"):
        grant("manual", row(P), True, "bob", REVIEWER, NOW)


# --- random sequences -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One random event: a gating switch, a request, or a maintainer action."""

    kind: str
    arg: str | None = None


STEPS = st.one_of(
    st.builds(Step, st.just("switch"), st.sampled_from(GATED_MODES)),
    st.builds(Step, st.just("request")),
    st.builds(Step, st.just("handle"), st.sampled_from([*STATUSES, "approved", "rejected+r"])),
    st.builds(Step, st.just("cancel")),
    st.builds(Step, st.just("grant")),
)


def apply(gated: str, state: AccessRequest | None, step: Step, now: str
          ) -> tuple[str, AccessRequest | None]:
    """Run one step as the store would: errors leave the row as it was."""
    if step.kind == "switch":
        assert step.arg is not None
        return step.arg, state
    try:
        if step.kind == "request":
            outcome = request_access(gated, state, USER, FIELDS, now)
        elif step.kind == "handle":
            require_gated(gated)
            status, _, with_reason = (step.arg or "").partition("+")
            outcome = handle(state, status, REVIEWER, now, "spam" if with_reason else None)
        elif step.kind == "cancel":
            require_gated(gated)
            outcome = cancel(state, REVIEWER, now)
        else:
            outcome = grant(gated, state, True, USER, REVIEWER, now)
    except GatingError as error:
        assert error.status in (400, 403, 404, 409)
        return gated, state
    assert outcome.changed is (outcome.request is not None)
    return gated, outcome.request if outcome.changed else state


@settings(max_examples=400, database=None)
@given(st.sampled_from(GATED_MODES), st.lists(STEPS, max_size=30))
def test_random_sequences_keep_the_invariants(gated: str, steps: list[Step]) -> None:
    state: AccessRequest | None = None
    first: str | None = None
    for number, step in enumerate(steps):
        now = f"2026-11-23T14:{number:02d}:00.000Z"
        was = state
        gated, state = apply(gated, state, step, now)
        if state is None:
            continue
        assert state.status in STATUSES
        assert state.user == USER
        assert state.reason is None or state.status == "rejected"
        first = first or state.timestamp
        assert state.timestamp == first, "the first request's time never moves"
        if step.kind == "request" and was is not None:
            # covers the rejected user too: refused with 403, the row stays rejected
            assert state == was, "a repeat request changes nothing"
        assert has_access(gated, state) is (gated == "off" or state.status == "accepted")


@settings(max_examples=200, database=None)
@given(
    st.lists(
        st.one_of(
            st.builds(Step, st.just("switch"), st.sampled_from(GATED_MODES)),
            st.builds(Step, st.just("request")),
        ),
        max_size=20,
    )
)
def test_rejected_user_never_gets_in_by_requesting(steps: list[Step]) -> None:
    gated: str = "manual"
    state: AccessRequest | None = row(R)
    for step in steps:
        gated, state = apply(gated, state, step, NOW)
        assert state == row(R)
        assert state is not None
        assert state.status == "rejected"
        assert has_access(gated, state) is (gated == "off")
