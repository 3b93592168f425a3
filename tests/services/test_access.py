"""services.access: keys to subjects, facts from the store, the decision and its refusal."""

from __future__ import annotations

import pytest

from modelgit.authz.decide import Subject
from modelgit.errors import Forbidden, NotFound, Unauthorized
from modelgit.services import access, models
from tests.services.conftest import Hub


def test_authenticate_proves_the_key_holder(hub: Hub) -> None:
    key = hub.user("alice", scope="read")
    proved = access.authenticate(hub.store, "alice", key)
    assert proved is not None
    assert proved.subject == Subject(user="alice", is_admin=False, scope="read")
    assert proved.key_id == key[:11]
    assert access.authenticate(hub.store, None, key) == proved  # Bearer: any owner


@pytest.mark.parametrize("claimed", ["bob", "Alice"])
def test_authenticate_refuses_another_users_name(hub: Hub, claimed: str) -> None:
    key = hub.user("alice")
    hub.user("bob")
    assert access.authenticate(hub.store, claimed, key) is None


def test_authenticate_refuses_wrong_revoked_and_malformed_keys(hub: Hub) -> None:
    key = hub.user("alice")
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert access.authenticate(hub.store, "alice", wrong) is None
    assert access.authenticate(hub.store, "alice", "") is None
    assert access.authenticate(hub.store, "alice", "not a key") is None
    hub.store.revoke_key(key[:11])
    assert access.authenticate(hub.store, "alice", key) is None


def test_authenticate_records_use_at_most_once_a_minute(hub: Hub) -> None:
    key = hub.user("alice")
    assert access.authenticate(hub.store, "alice", key) is not None
    [row] = hub.store.list_keys("alice")
    first = row["last_used"]
    assert first
    assert access.authenticate(hub.store, "alice", key) is not None
    [row] = hub.store.list_keys("alice")
    assert row["last_used"] == first


def test_subject_for_a_named_user(hub: Hub) -> None:
    hub.user("root", admin=True)
    assert access.subject_for(hub.store, "root") == Subject("root", True, "write")
    assert access.subject_for(hub.store, "root", "read") == Subject("root", True, "read")
    assert access.subject_for(hub.store, "ghost") is None
    assert access.subject_for(hub.store, "") is None


def test_facts_and_check_for_a_private_model(hub: Hub) -> None:
    hub.space("acme")
    hub.user("dev")
    hub.user("eve")
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    models.grant(hub.store, "acme/m", "dev", "developer")
    facts = access.facts(hub.store, "acme/m", "dev")
    assert facts is not None and facts.model_role == "developer" and facts.space_owner == "owner"
    dev = access.subject_for(hub.store, "dev")
    eve = access.subject_for(hub.store, "eve")
    assert dev is not None and eve is not None
    assert access.check(dev, facts, "write").allowed
    assert not access.check(dev, facts, "edit").allowed
    denied = access.check(eve, access.facts(hub.store, "acme/m", "eve"), "view")
    assert denied.status == 404
    assert access.facts(hub.store, "acme/none", "eve") is None
    unknown = access.check(eve, None, "view", model_id="acme/none")
    assert unknown.status == 404 and "acme/none" in unknown.reason


def test_check_model_answers_bad_names_as_unknown_models(hub: Hub) -> None:
    hub.user("eve")
    eve = Subject("eve")
    decision, row = access.check_model(hub.store, eve, "../etc", "read")
    assert (decision.allowed, decision.status, row) == (False, 404, None)
    anonymous, _ = access.check_model(hub.store, Subject(None, scope="read"), "acme/x", "read")
    assert anonymous.status == 401


def test_check_model_honours_anonymous_read(hub: Hub) -> None:
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/open", "owner", public=True)
    nobody = Subject(None, scope="read")
    assert access.check_model(hub.store, nobody, "acme/open", "read")[0].allowed
    closed, row = access.check_model(hub.store, nobody, "acme/open", "read",
                                     allow_anonymous_read=False)
    assert closed.status == 401 and row is not None and row["id"] == "acme/open"


def test_role_of_counts_admins_owners_and_grants(hub: Hub) -> None:
    hub.space("acme")
    hub.user("root", admin=True)
    hub.user("bob")
    hub.user("eve")
    models.create(hub.store, hub.cfg, "acme/m", "owner", public=True)
    models.grant(hub.store, "acme/m", "bob", "maintainer")
    assert access.role_of(hub.store, "acme/m", "owner") == "owner"
    assert access.role_of(hub.store, "acme/m", "root") == "owner"
    assert access.role_of(hub.store, "acme/m", "bob") == "maintainer"
    assert access.role_of(hub.store, "acme/m", "eve") in (None, "visitor")
    assert access.role_of(hub.store, "acme/m", "ghost") is None
    assert access.role_of(hub.store, "acme/none", "bob") is None


def test_refusal_maps_decisions_onto_the_hierarchy(hub: Hub) -> None:
    hub.space("acme")
    hub.user("eve")
    models.create(hub.store, hub.cfg, "acme/g", "owner", public=True, gated="manual")
    eve = Subject("eve")
    gated, _ = access.check_model(hub.store, eve, "acme/g", "read")
    error = access.refusal(gated)
    assert isinstance(error, Forbidden) and error.code == "GatedRepo"
    hidden, _ = access.check_model(hub.store, eve, "acme/none", "read")
    error = access.refusal(hidden)
    assert isinstance(error, NotFound) and error.code == "RepoNotFound"
    anonymous, _ = access.check_model(hub.store, Subject(None, scope="read"), "acme/g", "read")
    assert isinstance(access.refusal(anonymous), Unauthorized)
    edit, _ = access.check_model(hub.store, eve, "acme/g", "edit")
    error = access.refusal(edit)
    assert isinstance(error, Forbidden) and error.code is None and error.status == 403
