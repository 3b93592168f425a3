"""services.users and services.keys: the checks, the audit, and keys shown once."""

from __future__ import annotations

import pytest

from modelgit.errors import Conflict, Invalid, NotFound
from modelgit.names import InvalidName
from modelgit.services import access, keys, models, users
from tests.services.conftest import Hub


def test_add_and_remove_users(hub: Hub) -> None:
    users.add(hub.store, "ann", email="ann@example.org", space_creator=True)
    assert users.require(hub.store, "ann")["email"] == "ann@example.org"
    with pytest.raises(Conflict):
        users.add(hub.store, "ann")
    with pytest.raises(InvalidName):
        users.add(hub.store, "Not A Name")
    asked: list[bool] = []
    users.remove(hub.store, "ann", before=lambda: asked.append(True))
    assert asked == [True] and hub.store.get_user("ann") is None
    with pytest.raises(NotFound, match="unknown user 'ann'"):
        users.remove(hub.store, "ann")
    assert [r["action"] for r in hub.store.audit_rows(target="ann")] == ["user.remove",
                                                                         "user.add"]


def test_an_owner_cannot_be_removed(hub: Hub) -> None:
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    with pytest.raises(Conflict, match="owner cannot be removed") as err:
        users.remove(hub.store, "owner", before=lambda: pytest.fail("asked"))
    assert "delete those" in err.value.hint


def test_a_key_proves_its_user_until_revoked(hub: Hub) -> None:
    users.add(hub.store, "ann")
    key = keys.create(hub.store, "ann", "read")
    proved = access.authenticate(hub.store, "ann", key)
    assert proved is not None and proved.subject.scope == "read"
    seen: list[str] = []
    row = keys.revoke(hub.store, proved.key_id, before=lambda r: seen.append(r["user"]))
    assert seen == ["ann"] and row["user"] == "ann"
    assert access.authenticate(hub.store, "ann", key) is None
    with pytest.raises(Conflict, match="already revoked"):
        keys.revoke(hub.store, proved.key_id)
    with pytest.raises(NotFound):
        keys.revoke(hub.store, "mg_nothing")
    [audit] = hub.store.audit_rows(target="ann", action="key.create")
    assert key not in str(audit)  # the key itself is never recorded


def test_regenerate_replaces_every_key(hub: Hub) -> None:
    users.add(hub.store, "ann")
    old = [keys.create(hub.store, "ann") for _ in range(2)]
    new, revoked = keys.regenerate(hub.store, "ann", "write", 30)
    assert revoked == 2
    assert all(access.authenticate(hub.store, "ann", k) is None for k in old)
    assert access.authenticate(hub.store, "ann", new) is not None
    with pytest.raises(Invalid):
        keys.create(hub.store, "ann", "write", -1)
    with pytest.raises(NotFound):
        keys.create(hub.store, "ghost")
