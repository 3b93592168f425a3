"""services.models: the checks of create, the refusals as the error hierarchy, the audit of
every change, and the card filters, on a real store and repository root."""

from __future__ import annotations

import json

import pytest

from modelgit import repos
from modelgit.authz.decide import Subject
from modelgit.errors import Conflict, Forbidden, Invalid, ModelgitError, NotFound
from modelgit.services import models
from tests.helpers.git import git
from tests.services.conftest import Hub


def actions(hub: Hub, target: str) -> list[str]:
    return [row["action"] for row in hub.store.audit_rows(target=target)]


def test_create_makes_row_repository_and_audit(hub: Hub) -> None:
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/bert", "owner", public=True, actor="owner",
                  address="10.0.0.1")
    row = hub.store.get_model("acme/bert")
    assert row is not None and row["visibility"] == "public" and row["gated"] == "off"
    assert repos.repo_path(hub.cfg, "acme/bert").is_dir()
    [audit] = hub.store.audit_rows(target="acme/bert", action="model.create")
    assert audit["actor"] == "owner" and audit["address"] == "10.0.0.1"
    tip = git("--git-dir", str(repos.repo_path(hub.cfg, "acme/bert")), "rev-parse",
              "refs/heads/main").stdout.strip()
    assert audit["detail"] == {"owner": "owner", "public": True, "gated": "off",
                               "initial_commit": tip}


@pytest.mark.parametrize(("model_id", "kind"), [
    ("nospace/m", NotFound),
    ("acme/../x", Invalid),
    ("Acme/m", Invalid),
])
def test_create_refuses_bad_names_and_unknown_spaces(hub: Hub, model_id: str,
                                                     kind: type[ModelgitError]) -> None:
    hub.space("acme")
    with pytest.raises(kind):
        models.create(hub.store, hub.cfg, model_id, "owner")
    assert hub.store.list_models() == []


def test_create_needs_a_space_role_and_a_known_owner(hub: Hub) -> None:
    hub.space("acme")
    hub.user("bob")
    with pytest.raises(Forbidden) as err:
        models.create(hub.store, hub.cfg, "acme/m", "bob")
    assert err.value.status == 403 and "space grant acme bob user" in err.value.hint
    with pytest.raises(NotFound, match="unknown user 'nobody'"):
        models.create(hub.store, hub.cfg, "acme/m", "nobody")
    hub.store.set_space_role("acme", "bob", "user")
    models.create(hub.store, hub.cfg, "acme/m", "bob")
    assert hub.store.get_model("acme/m") is not None


def test_create_twice_is_a_conflict_without_reading_the_message(hub: Hub) -> None:
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    with pytest.raises(Conflict) as err:
        models.create(hub.store, hub.cfg, "acme/m", "owner")
    assert err.value.status == 409


def test_create_refuses_a_repository_already_on_disk(hub: Hub) -> None:
    hub.space("acme")
    repos.repo_path(hub.cfg, "acme/m").mkdir(parents=True)
    with pytest.raises(Conflict, match="already exists on disk") as err:
        models.create(hub.store, hub.cfg, "acme/m", "owner")
    assert "modelgit adopt" in err.value.hint
    assert hub.store.get_model("acme/m") is None


def test_require_hides_a_private_model_from_who_may_not_view_it(hub: Hub) -> None:
    hub.space("acme")
    hub.user("eve")
    models.create(hub.store, hub.cfg, "acme/secret", "owner")
    assert models.require(hub.store, "acme/secret")["id"] == "acme/secret"
    with pytest.raises(NotFound) as hidden:
        models.require(hub.store, "acme/secret", Subject(user="eve"))
    with pytest.raises(NotFound) as missing:
        models.require(hub.store, "acme/nothing", Subject(user="eve"))
    # The two answers cannot be told apart but by the name in them.
    assert hidden.value.code == missing.value.code == "RepoNotFound"
    assert str(hidden.value).replace("secret", "nothing") == str(missing.value)
    owner = Subject(user="owner", is_admin=True)
    assert models.require(hub.store, "acme/secret", owner)["id"] == "acme/secret"


def test_update_delete_and_their_audit(hub: Hub) -> None:
    hub.space("acme")
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    with pytest.raises(Invalid, match="nothing to change"):
        models.update(hub.store, "acme/m", {})
    with pytest.raises(Invalid, match="not model settings"):
        models.update(hub.store, "acme/m", {"owner": "eve"})
    models.update(hub.store, "acme/m", {"visibility": "public", "gated": "manual"})
    row = hub.store.get_model("acme/m")
    assert row is not None and (row["visibility"], row["gated"]) == ("public", "manual")
    models.delete(hub.store, hub.cfg, "acme/m")
    assert hub.store.get_model("acme/m") is None
    assert not repos.repo_path(hub.cfg, "acme/m").exists()
    assert actions(hub, "acme/m") == ["model.delete", "model.set", "model.create"]
    with pytest.raises(NotFound):
        models.delete(hub.store, hub.cfg, "acme/m")


def test_grant_and_revoke_follow_the_rules_and_audit(hub: Hub) -> None:
    hub.space("acme")
    hub.user("bob")
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    models.grant(hub.store, "acme/m", "bob", "developer")
    assert hub.store.model_role("acme/m", "bob") == "developer"
    with pytest.raises(Forbidden):
        models.revoke(hub.store, "acme/m", "owner")
    with pytest.raises(NotFound):
        models.grant(hub.store, "acme/m", "nobody", "user")
    asked: list[str] = []
    models.revoke(hub.store, "acme/m", "bob", before=asked.append)
    assert asked == ["developer"] and hub.store.model_role("acme/m", "bob") is None
    with pytest.raises(Forbidden, match="no role"):  # refused before anyone is asked
        models.revoke(hub.store, "acme/m", "bob", before=asked.append)
    assert asked == ["developer"]
    assert actions(hub, "acme/m")[:2] == ["role.revoke", "role.grant"]


def test_a_refused_confirmation_changes_nothing(hub: Hub) -> None:
    hub.space("acme")
    hub.user("bob")
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    models.grant(hub.store, "acme/m", "bob", "user")

    def no(role: str) -> None:
        raise ModelgitError("cancelled")

    with pytest.raises(ModelgitError, match="cancelled"):
        models.revoke(hub.store, "acme/m", "bob", before=no)
    assert hub.store.model_role("acme/m", "bob") == "user"


def test_holders_name_the_owner_space_roles_and_grants(hub: Hub) -> None:
    hub.space("acme")
    hub.user("mia")
    hub.user("bob")
    hub.store.set_space_role("acme", "mia", "maintainer")
    models.create(hub.store, hub.cfg, "acme/m", "owner")
    models.grant(hub.store, "acme/m", "bob", "user")
    assert models.holders(hub.store, "acme/m") == [
        {"user": "owner", "role": "owner", "via": "model owner"},
        {"user": "mia", "role": "owner", "via": "space maintainer"},
        {"user": "bob", "role": "user", "via": "grant"},
    ]


def _with_card(hub: Hub, model_id: str, index: dict[str, object]) -> None:
    hub.store.update_model(model_id, card=json.dumps({"index": index, "data": {}}))


def test_search_applies_every_given_filter(hub: Hub) -> None:
    hub.space("acme")
    for name in ("bert", "gpt", "plain"):
        models.create(hub.store, hub.cfg, f"acme/{name}", "owner")
    _with_card(hub, "acme/bert", {"frameworks": ["PyTorch"], "task_type": "Translation",
                                  "tags": ["nlp"], "license": "MIT"})
    _with_card(hub, "acme/gpt", {"frameworks": ["JAX"], "pipeline_tag": "text-generation",
                                 "tags": ["NLP", "big"], "license": "apache-2.0"})

    def ids(**wanted: str) -> list[str]:
        return [row["id"] for row, _ in models.search(hub.store, models.CardFilter(**wanted))]

    assert ids() == ["acme/bert", "acme/gpt", "acme/plain"]
    assert ids(framework="pytorch") == ["acme/bert"]
    assert ids(task="TEXT-GENERATION") == ["acme/gpt"]
    assert ids(tag="nlp") == ["acme/bert", "acme/gpt"]
    assert ids(tag="nlp", license="mit") == ["acme/bert"]
    assert ids(search="big") == ["acme/gpt"]
    assert ids(search="plai") == ["acme/plain"]
    assert ids(framework="pytorch", search="gpt") == []


def test_card_of_survives_a_broken_card(hub: Hub) -> None:
    assert models.card_of({"card": "not json"}) == {}
    assert models.card_of({"card": "[1]"}) == {}
    assert models.card_of({}) == {}


def test_visible_lists_only_what_the_subject_may_retrieve(hub: Hub,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "LIST_BATCH", 2)  # several batches with a few models
    hub.space("acme")
    hub.user("eve")
    for i in range(5):
        models.create(hub.store, hub.cfg, f"acme/m{i}", "owner", public=i % 2 == 0)
    models.grant(hub.store, "acme/m1", "eve", "user")

    def ids(subject: Subject, after: str = "") -> list[str]:
        return [row["id"] for row in models.visible(hub.store, subject, after=after)]

    assert ids(Subject(user=None, scope="read")) == ["acme/m0", "acme/m2", "acme/m4"]
    assert ids(Subject(user="eve")) == ["acme/m0", "acme/m1", "acme/m2", "acme/m4"]
    assert ids(Subject(user="eve"), after="acme/m1") == ["acme/m2", "acme/m4"]
    assert len(ids(Subject(user="owner", is_admin=True))) == 5
