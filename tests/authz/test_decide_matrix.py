"""``decide()`` over the whole of docs/access.md, against an oracle written from the design.

The oracle below is deliberately independent of ``modelgit.authz.roles``: it restates the
documented table, its visibility and gating rules and the HTTP answers of docs/access.md in its own
words, and the test compares every cell of the product with what ``decide()`` says.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NoReturn

import pytest

from modelgit.authz import roles
from modelgit.authz.decide import AUTH_REQUIRED, Decision, ModelFacts, Subject, decide

MODEL_ID = "acme/bert-small"
MODEL_OWNER = "olga"
SPACE_OWNER = "sven"

ACTIONS = ("view", "retrieve", "read", "write", "edit", "admin")
WRITE_ACTIONS = frozenset({"write", "edit", "admin"})
VISIBILITIES = ("private", "public")
GATINGS = ("off", "auto", "manual")
REQUESTS = (None, "pending", "accepted", "rejected")
SCOPES = ("read", "write")
ANON_READ = (True, False)

# docs/access.md, the model-role table, restated: the actions each role may take.
DOCUMENTED_TABLE: dict[str, frozenset[str]] = {
    "visitor": frozenset({"view", "retrieve"}),
    "user": frozenset({"view", "retrieve", "read"}),
    "developer": frozenset({"view", "retrieve", "read", "write"}),
    "maintainer": frozenset({"view", "retrieve", "read", "write", "edit"}),
    "owner": frozenset(ACTIONS),
}


@dataclass(frozen=True)
class Who:
    """One kind of person asking. ``rights`` is the model role the design gives them
    (``None``: no role at all); the rest is how the facts and subject express it."""

    label: str
    user: str | None
    rights: str | None
    is_admin: bool = False
    model_role: str | None = None
    space_role: str | None = None


WHO: tuple[Who, ...] = (
    Who("anonymous", None, None),
    Who("authenticated, no role", "nora", None),
    Who("visitor", "vic", "visitor", model_role="visitor"),
    Who("user", "uma", "user", model_role="user"),
    Who("developer", "dev", "developer", model_role="developer"),
    Who("maintainer", "max", "maintainer", model_role="maintainer"),
    # The model's owner is its creator (docs/access.md): the facts name them, no grant row.
    Who("model owner", MODEL_OWNER, "owner"),
    # Space owner (creator) and space maintainer have owner rights on every model in the space.
    Who("space owner", SPACE_OWNER, "owner", space_role="owner"),
    Who("space maintainer", "smith", "owner", space_role="maintainer"),
    # A space `user` may create models in the space; on other people's models it gives nothing.
    Who("space user", "sue", None, space_role="user"),
    Who("site admin", "root", "owner", is_admin=True),
)


@dataclass(frozen=True)
class Expected:
    allowed: bool
    status: int


def expected(who: Who, action: str, *, visibility: str, gated: str, request: str | None,
             scope: str, anon_read: bool) -> Expected:
    """docs/access.md: who may do what, visibility, gating and the HTTP answers."""
    anonymous = who.user is None
    granted = set(DOCUMENTED_TABLE[who.rights]) if who.rights else set()

    # Visibility and gating give people without a role of `user` or above something more.
    if who.rights not in ("user", "developer", "maintainer", "owner") and visibility == "public":
        granted |= {"view", "retrieve"}
        if gated == "off":
            if not anonymous or anon_read:
                granted.add("read")
        elif request == "accepted" and not anonymous:
            granted.add("read")

    read_only_key = not anonymous and scope == "read"
    allowed = action in granted and not (read_only_key and action in WRITE_ACTIONS)
    if allowed:
        return Expected(True, 200)
    if anonymous:
        # Something is needed that only credentials could give: ask for them (git then asks
        # its credential helper). This holds for private models too: nothing reveals them.
        return Expected(False, 401)
    knows_it_exists = visibility == "public" or who.rights is not None
    if not knows_it_exists:
        return Expected(False, 404)
    return Expected(False, 403)


def facts_for(who: Who, *, visibility: str, gated: str, request: str | None) -> ModelFacts:
    return ModelFacts(
        id=MODEL_ID, owner=MODEL_OWNER, space_owner=SPACE_OWNER, visibility=visibility,
        gated=gated, model_role=who.model_role, space_role=who.space_role,
        request_status=request,
    )


def subject_for(who: Who, scope: str) -> Subject:
    return Subject(user=who.user, is_admin=who.is_admin, scope=scope)


def test_oracle_table_matches_design_rows() -> None:
    """Guard against a typo in the oracle itself: each role's rights include the lower
    roles' (the design's rank order) and only the owner may administer."""
    order = ("visitor", "user", "developer", "maintainer", "owner")
    for lower, higher in itertools.pairwise(order):
        assert DOCUMENTED_TABLE[lower] < DOCUMENTED_TABLE[higher]
    assert [r for r in order if "admin" in DOCUMENTED_TABLE[r]] == ["owner"]


def test_decide_over_the_whole_matrix() -> None:
    mismatches: list[str] = []
    bad_reasons: list[str] = []
    total = 0
    for who, action, visibility, gated, request, scope, anon_read in itertools.product(
        WHO, ACTIONS, VISIBILITIES, GATINGS, REQUESTS, SCOPES, ANON_READ,
    ):
        total += 1
        want = expected(who, action, visibility=visibility, gated=gated, request=request,
                        scope=scope, anon_read=anon_read)
        got = decide(subject_for(who, scope),
                     facts_for(who, visibility=visibility, gated=gated, request=request),
                     action, allow_anonymous_read=anon_read)
        case = (f"{who.label:<22} {action:<8} {visibility:<7} gated={gated:<6} "
                f"request={request!s:<8} scope={scope:<5} anon_read={anon_read!s:<5}")
        if (got.allowed, got.status) != (want.allowed, want.status):
            mismatches.append(f"{case} -> got {got.allowed}/{got.status} ({got.code}: "
                              f"{got.reason!r}), expected {want.allowed}/{want.status}")
        # Refusals name the model (docs/access.md), except the 401: an anonymous caller gets the
        # same words whether or not the model exists (issue 18, finding 10).
        if got.status == 401:
            if got.reason != AUTH_REQUIRED:
                bad_reasons.append(f"{case} -> 401 reason {got.reason!r}")
        elif not got.allowed and (not got.reason.strip() or MODEL_ID not in got.reason):
            bad_reasons.append(f"{case} -> reason {got.reason!r}")
    assert total == 11 * 6 * 2 * 3 * 4 * 2 * 2
    assert not mismatches, (f"{len(mismatches)} of {total} cells differ from docs/access.md; "
                            "first ones:\n" + "\n".join(mismatches[:25]))
    assert not bad_reasons, (f"{len(bad_reasons)} denials without a reason naming "
                             f"{MODEL_ID}:\n" + "\n".join(bad_reasons[:25]))


def test_decision_is_falsy_exactly_when_denied() -> None:
    who = WHO[3]  # user
    yes = decide(subject_for(who, "write"), facts_for(who, visibility="private", gated="off",
                                                       request=None), "read")
    no = decide(subject_for(who, "write"), facts_for(who, visibility="private", gated="off",
                                                      request=None), "write")
    assert isinstance(yes, Decision) and yes.allowed and bool(yes)
    assert not no.allowed and not bool(no)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(("user", "is_admin", "status"), [
    (None, False, 401),        # anonymous: the challenge, so git asks for a key
    ("nora", False, 404),      # known person: no such model
    ("root", True, 404),       # even a site admin cannot act on a model that is not there
])
def test_unknown_model(action: str, user: str | None, is_admin: bool, status: int) -> None:
    for scope, anon_read in itertools.product(SCOPES, ANON_READ):
        got = decide(Subject(user=user, is_admin=is_admin, scope=scope), None, action,
                     allow_anonymous_read=anon_read)
        assert (got.allowed, got.status) == (False, status), got
        assert got.reason.strip()


def test_unknown_model_answers_like_a_private_one() -> None:
    """docs/access.md: private means not even existence; an outsider cannot tell the two apart."""
    private = ModelFacts(id=MODEL_ID, owner=MODEL_OWNER, space_owner=SPACE_OWNER,
                         visibility="private", gated="off")
    for user in (None, "nora"):
        for action in ACTIONS:
            a = decide(Subject(user=user), None, action)
            b = decide(Subject(user=user), private, action)
            assert (a.allowed, a.status) == (b.allowed, b.status), (user, action, a, b)


def test_gated_refusal_says_how_to_get_access() -> None:
    """docs/access.md: a 403 says what to do, e.g. how to request access."""
    facts = ModelFacts(id=MODEL_ID, owner=MODEL_OWNER, space_owner=SPACE_OWNER,
                       visibility="public", gated="manual", request_status="pending")
    got = decide(Subject(user="nora"), facts, "read")
    assert (got.allowed, got.status) == (False, 403)
    assert "request" in got.reason.lower()


def test_read_only_key_refusal_names_the_key() -> None:
    facts = ModelFacts(id=MODEL_ID, owner=MODEL_OWNER, space_owner=SPACE_OWNER,
                       visibility="private", gated="off", model_role="developer")
    got = decide(Subject(user="dev", scope="read"), facts, "write")
    assert (got.allowed, got.status) == (False, 403)
    assert "key" in got.reason.lower() and MODEL_ID in got.reason


@pytest.mark.parametrize("action", ["delete", "", "READ", "push", "owner"])
def test_unknown_action_denies(action: str) -> None:
    facts = ModelFacts(id=MODEL_ID, owner=MODEL_OWNER, space_owner=SPACE_OWNER,
                       visibility="public", gated="off")
    for subject in (Subject(user="root", is_admin=True), Subject(user=MODEL_OWNER),
                    Subject(user=None)):
        got = decide(subject, facts, action)
        assert not got.allowed and not bool(got)
        assert got.status == 500
        assert got.reason.strip()


def test_exception_inside_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(**_: object) -> NoReturn:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(roles, "effective_role", boom)
    facts = ModelFacts(id=MODEL_ID, owner=MODEL_OWNER, space_owner=SPACE_OWNER,
                       visibility="public", gated="off")
    for subject in (Subject(user="root", is_admin=True), Subject(user=MODEL_OWNER),
                    Subject(user="nora")):
        for action in ACTIONS:
            got = decide(subject, facts, action)
            assert (got.allowed, got.status) == (False, 500), (subject, action, got)
            assert got.reason.strip()
            assert "simulated bug" not in got.reason  # internals stay in the log


def test_broken_facts_deny() -> None:
    """Facts of the wrong shape (a bug in the caller) must not open a door."""
    got = decide(Subject(user="nora"), object(), "read")  # type: ignore[arg-type]
    assert not got.allowed
    assert got.status == 500
