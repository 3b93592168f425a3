"""Who may grant and revoke which role (docs/access.md), table-driven.

Model roles: the owner (the creator, fixed) grants up to maintainer; a maintainer grants
below maintainer and cannot grant or revoke maintainer or owner; nobody removes the owner.
Space owners and maintainers have owner rights on every model in the space (the caller
passes their effective model role, ``owner``). Site admins may do everything, except what
nobody may: making a second model owner, or removing an owner.
"""

from __future__ import annotations

import pytest

from modelgit.authz import roles

MODEL_ROLES = ("visitor", "user", "developer", "maintainer")
BELOW_MAINTAINER = ("visitor", "user", "developer")
CURRENT = (None, "visitor", "user", "developer", "maintainer")


def _model_grant_expected(actor: str | None, admin: bool, role: str, current: str | None,
                          target_is_owner: bool) -> bool:
    if role == "owner" or target_is_owner:
        return False
    if admin or actor == "owner":
        return True
    if actor == "maintainer":
        return role in BELOW_MAINTAINER and current in (None, *BELOW_MAINTAINER)
    return False


MODEL_GRANT_CASES: list[tuple[str | None, bool, str, str | None, bool]] = [
    (actor, admin, role, current, target_is_owner)
    for actor, admin in [(None, False), ("visitor", False), ("user", False),
                         ("developer", False), ("maintainer", False), ("owner", False),
                         (None, True)]
    for role in (*MODEL_ROLES, "owner")
    for current in CURRENT
    for target_is_owner in (False, True)
]


@pytest.mark.parametrize(("actor", "admin", "role", "current", "target_is_owner"),
                         MODEL_GRANT_CASES)
def test_may_grant_model_role(actor: str | None, admin: bool, role: str, current: str | None,
                              target_is_owner: bool) -> None:
    ruling = roles.may_grant_model_role(actor_role=actor, actor_is_admin=admin, role=role,
                                        target_current=current,
                                        target_is_owner=target_is_owner)
    want = _model_grant_expected(actor, admin, role, current, target_is_owner)
    assert ruling.allowed is want, ruling
    if not ruling.allowed:
        assert ruling.reason.strip()


# Named cases straight from the design's sentences, so a failure reads as the rule it breaks.
@pytest.mark.parametrize(("why", "actor", "admin", "role", "current", "target_is_owner",
                          "allowed"), [
    ("owner grants maintainer", "owner", False, "maintainer", None, False, True),
    ("owner promotes a developer to maintainer", "owner", False, "maintainer", "developer",
     False, True),
    ("owner demotes a maintainer", "owner", False, "developer", "maintainer", False, True),
    ("owner cannot make a second owner", "owner", False, "owner", None, False, False),
    ("maintainer grants developer", "maintainer", False, "developer", None, False, True),
    ("maintainer grants visitor", "maintainer", False, "visitor", "user", False, True),
    ("maintainer cannot grant maintainer", "maintainer", False, "maintainer", None, False,
     False),
    ("maintainer cannot demote a maintainer", "maintainer", False, "user", "maintainer",
     False, False),
    ("maintainer cannot grant owner", "maintainer", False, "owner", None, False, False),
    ("developer cannot grant at all", "developer", False, "visitor", None, False, False),
    ("no role cannot grant", None, False, "user", None, False, False),
    ("site admin grants maintainer", None, True, "maintainer", "user", False, True),
    ("site admin cannot make a second owner", None, True, "owner", None, False, False),
    ("nobody changes the owner's role (admin)", None, True, "developer", None, True, False),
    ("nobody changes the owner's role (owner)", "owner", False, "maintainer", None, True,
     False),
])
def test_model_grant_named(why: str, actor: str | None, admin: bool, role: str,
                           current: str | None, target_is_owner: bool, allowed: bool) -> None:
    ruling = roles.may_grant_model_role(actor_role=actor, actor_is_admin=admin, role=role,
                                        target_current=current,
                                        target_is_owner=target_is_owner)
    assert ruling.allowed is allowed, f"{why}: {ruling}"


@pytest.mark.parametrize("role", ["admin", "", "Owner", "space-owner", "guest"])
def test_unknown_model_role_is_refused(role: str) -> None:
    ruling = roles.may_grant_model_role(actor_role="owner", actor_is_admin=True, role=role,
                                        target_current=None, target_is_owner=False)
    assert not ruling.allowed and ruling.reason.strip()


def _model_revoke_expected(actor: str | None, admin: bool, current: str,
                           target_is_owner: bool) -> bool:
    if target_is_owner:
        return False
    if admin or actor == "owner":
        return True
    if actor == "maintainer":
        return current in BELOW_MAINTAINER
    return False


@pytest.mark.parametrize(("actor", "admin", "current", "target_is_owner"), [
    (actor, admin, current, target_is_owner)
    for actor, admin in [(None, False), ("visitor", False), ("user", False),
                         ("developer", False), ("maintainer", False), ("owner", False),
                         (None, True)]
    for current in MODEL_ROLES
    for target_is_owner in (False, True)
])
def test_may_revoke_model_role(actor: str | None, admin: bool, current: str,
                               target_is_owner: bool) -> None:
    ruling = roles.may_revoke_model_role(actor_role=actor, actor_is_admin=admin,
                                         target_current=current,
                                         target_is_owner=target_is_owner)
    assert ruling.allowed is _model_revoke_expected(actor, admin, current, target_is_owner), \
        ruling
    if not ruling.allowed:
        assert ruling.reason.strip()


@pytest.mark.parametrize(("actor", "admin"), [("owner", False), (None, True),
                                              ("maintainer", False)])
def test_nobody_removes_the_model_owner(actor: str | None, admin: bool) -> None:
    ruling = roles.may_revoke_model_role(actor_role=actor, actor_is_admin=admin,
                                         target_current=None, target_is_owner=True)
    assert not ruling.allowed
    assert "owner" in ruling.reason


# ----------------------------------------------------------------------------- space roles
SPACE_ROLES = ("owner", "maintainer", "user")
SPACE_CURRENT = (None, "owner", "maintainer", "user")


def _space_grant_expected(actor: str | None, admin: bool, role: str, current: str | None,
                          creator: bool) -> bool:
    if creator:
        return False
    if admin or actor == "owner":
        return True
    if actor == "maintainer":
        return role == "user" and current in (None, "user")
    return False


@pytest.mark.parametrize(("actor", "admin", "role", "current", "creator"), [
    (actor, admin, role, current, creator)
    for actor, admin in [(None, False), ("user", False), ("maintainer", False),
                         ("owner", False), (None, True)]
    for role in SPACE_ROLES
    for current in SPACE_CURRENT
    for creator in (False, True)
])
def test_may_grant_space_role(actor: str | None, admin: bool, role: str, current: str | None,
                              creator: bool) -> None:
    ruling = roles.may_grant_space_role(actor_space_role=actor, actor_is_admin=admin,
                                        role=role, target_current=current,
                                        target_is_creator=creator)
    assert ruling.allowed is _space_grant_expected(actor, admin, role, current, creator), \
        ruling
    if not ruling.allowed:
        assert ruling.reason.strip()


@pytest.mark.parametrize("role", ["visitor", "developer", "admin", ""])
def test_unknown_space_role_is_refused(role: str) -> None:
    ruling = roles.may_grant_space_role(actor_space_role="owner", actor_is_admin=True,
                                        role=role, target_current=None,
                                        target_is_creator=False)
    assert not ruling.allowed and ruling.reason.strip()


def _space_revoke_expected(actor: str | None, admin: bool, current: str,
                           creator: bool) -> bool:
    if creator:
        return False
    if admin or actor == "owner":
        return True
    if actor == "maintainer":
        return current == "user"
    return False


@pytest.mark.parametrize(("actor", "admin", "current", "creator"), [
    (actor, admin, current, creator)
    for actor, admin in [(None, False), ("user", False), ("maintainer", False),
                         ("owner", False), (None, True)]
    for current in SPACE_ROLES
    for creator in (False, True)
])
def test_may_revoke_space_role(actor: str | None, admin: bool, current: str,
                               creator: bool) -> None:
    ruling = roles.may_revoke_space_role(actor_space_role=actor, actor_is_admin=admin,
                                         target_current=current, target_is_creator=creator)
    assert ruling.allowed is _space_revoke_expected(actor, admin, current, creator), ruling
    if not ruling.allowed:
        assert ruling.reason.strip()


@pytest.mark.parametrize(("actor", "admin"), [("owner", False), (None, True)])
def test_nobody_removes_the_space_creator(actor: str | None, admin: bool) -> None:
    ruling = roles.may_revoke_space_role(actor_space_role=actor, actor_is_admin=admin,
                                         target_current="owner", target_is_creator=True)
    assert not ruling.allowed
    assert "owner" in ruling.reason


# ------------------------------------------------------------------- creating models, spaces
@pytest.mark.parametrize(("admin", "space_role", "allowed"), [
    (False, None, False),
    (False, "user", True),
    (False, "maintainer", True),
    (False, "owner", True),
    (True, None, True),
])
def test_may_create_model(admin: bool, space_role: str | None, allowed: bool) -> None:
    assert roles.may_create_model(is_admin=admin, space_role=space_role) is allowed


@pytest.mark.parametrize(("admin", "creator", "allowed"), [
    (False, False, False), (False, True, True), (True, False, True), (True, True, True),
])
def test_may_create_space(admin: bool, creator: bool, allowed: bool) -> None:
    assert roles.may_create_space(is_admin=admin, space_creator=creator) is allowed
