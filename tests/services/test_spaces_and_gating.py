"""services.spaces (role changes and quota, audited) and the access report of
services.gating, on a real store."""

from __future__ import annotations

import pytest

from modelgit.errors import Forbidden, ModelgitError, NotFound
from modelgit.services import gating, models, spaces
from tests.services.conftest import Hub


def test_space_roles_and_quota(hub: Hub) -> None:
    hub.space("acme")
    hub.user("bob")
    with pytest.raises(NotFound, match="unknown space 'nope'"):
        spaces.require(hub.store, "nope")
    spaces.grant(hub.store, "acme", "bob", "maintainer")
    assert hub.store.space_role("acme", "bob") == "maintainer"
    with pytest.raises(Forbidden):
        spaces.revoke(hub.store, "acme", "owner")

    def no(role: str | None) -> None:
        raise ModelgitError("cancelled")

    with pytest.raises(ModelgitError, match="cancelled"):
        spaces.revoke(hub.store, "acme", "bob", before=no)
    assert hub.store.space_role("acme", "bob") == "maintainer"
    spaces.revoke(hub.store, "acme", "bob")
    spaces.set_quota(hub.store, "acme", 10_000)
    assert hub.store.get_space("acme")["quota_bytes"] == 10_000  # type: ignore[index]
    assert [r["action"] for r in hub.store.audit_rows(target="acme")] == [
        "space.set", "space.revoke", "space.grant"]


def test_the_report_pages_through_every_request(hub: Hub,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gating, "REPORT_PAGE", 2)
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/g", "owner", public=True, gated="manual")
    model = hub.store.get_model("acme/g")
    assert model is not None
    for name in ("ann", "ben", "cy", "dee", "eli"):
        hub.user(name)
        gating.request(hub.store, hub.cfg, model, name, {})
    gating.handle_request(hub.store, model, "ben", "rejected", "owner", "no thanks")
    gating.grant_request(hub.store, model, "cy", "owner")
    rows = [gating.report_item(r) for r in gating.requests(hub.store, "acme/g")]
    assert [r["user"] for r in rows] == ["ann", "ben", "cy", "dee", "eli"]
    assert rows[1]["status"] == "rejected" and rows[1]["rejectionReason"] == "no thanks"
    assert rows[2]["grantedBy"] == "owner" and "grantedBy" not in rows[0]
    pending = [r["user"] for r in gating.requests(hub.store, "acme/g", "pending")]
    assert pending == ["ann", "dee", "eli"]


def test_explain_says_how_to_ask_for_a_gated_read(hub: Hub) -> None:
    from modelgit.authz.decide import Subject
    from modelgit.services import access

    hub.space("acme")
    hub.user("eve")
    models.create(hub.store, hub.cfg, "acme/g", "owner", public=True, gated="manual")
    decision, _ = access.check_model(hub.store, Subject("eve"), "acme/g", "read")
    text = gating.explain(hub.store, hub.cfg, decision, "acme/g", "eve", "http://hub.test/")
    assert text.status == 403 and not text.allowed
    assert "http://hub.test/api/models/acme/g/user-access-request" in text.reason
    assert "--as eve" in text.reason
    other, _ = access.check_model(hub.store, Subject("eve"), "acme/g", "write")
    assert gating.explain(hub.store, hub.cfg, other, "acme/g", "eve", "http://x") is other


def test_create_a_space_needs_a_creator(hub: Hub) -> None:
    from modelgit.errors import Conflict
    from modelgit.services import users

    users.add(hub.store, "ann")
    users.add(hub.store, "maker", space_creator=True)
    with pytest.raises(Forbidden, match="ann may not create spaces"):
        spaces.create(hub.store, "lab", "ann")
    spaces.create(hub.store, "lab", "maker", 5_000)
    assert spaces.require(hub.store, "lab")["quota_bytes"] == 5_000
    with pytest.raises(Conflict):
        spaces.create(hub.store, "lab", "maker")
    [audit] = hub.store.audit_rows(target="lab")
    assert (audit["action"], audit["detail"]) == ("space.create", {"owner": "maker"})
