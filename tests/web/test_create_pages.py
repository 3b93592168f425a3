"""Creating models and spaces on the web pages (``/-/new``, ``/-/spaces/new``): a user makes a
model in their own space and clones its first commit with git; a space they have no role in,
a taken name and a bad name are refused with the reason and the typed values; a site admin
makes a space and a model in it; a space creator makes spaces for themselves only; a form
without its CSRF token is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Site
from tests.helpers.git import LFS_ENV, git
from tests.helpers.webclient import Answer, Client


@pytest.fixture(scope="module")
def made(site: Site) -> Site:
    site.user("owner", admin=True)
    site.user("wcann")
    site.user("wcbob")
    site.cli("user", "add", "wcmaker", "--space-creator", ok=False)
    site.user("wcmaker")
    site.space("wcteam", "owner")
    site.cli("space", "grant", "wcteam", "wcbob", "user")
    return site


def client(site: Site, user: str) -> Client:
    c = Client(site.port)
    c.sign_in(user, site.keys[user])
    return c


def create(c: Client, **fields: str) -> Answer:
    form = {"csrf": c.get("/-/new").csrf(), "visibility": "public", "gated": "off", **fields}
    return c.post("/-/new", form)


def test_user_creates_a_model_in_their_own_space_and_clones_it(made: Site,
                                                               tmp_path: Path) -> None:
    ann = client(made, "wcann")
    form = ann.get("/-/new")
    assert form.status == 200 and 'value="wcann"' in form.body
    assert 'value="wcteam"' not in form.body and 'id="new-space-form"' not in form.body
    answer = create(ann, space="wcann", name="first", display_name="My first model",
                    visibility="private")
    assert answer.status == 303, answer.body
    assert answer.headers["Location"] == "/-/m/wcann/first"
    page = ann.get("/-/m/wcann/first")
    assert page.status == 200 and "My first model" in page.body
    row = made.store().get_model("wcann/first")
    assert row["owner"] == "wcann" and row["visibility"] == "private"
    assert Client(made.port).get("/-/m/wcann/first").status == 404  # private
    dest = tmp_path / "first"
    git("clone", "-q", made.clone_url("wcann/first", "wcann"), str(dest), env=LFS_ENV)
    assert git("rev-list", "--count", "HEAD", cwd=dest).stdout.strip() == "1"
    assert (dest / ".gitattributes").is_file()


def test_no_role_in_the_space_is_refused(made: Site) -> None:
    ann = client(made, "wcann")
    answer = create(ann, space="wcteam", name="sneaky", display_name="Typed name")
    assert answer.status == 403
    assert "may not create models in space wcteam" in answer.body
    assert 'value="sneaky"' in answer.body and 'value="Typed name"' in answer.body
    assert made.store().get_model("wcteam/sneaky") is None


def test_space_user_creates_there_and_a_duplicate_is_a_conflict(made: Site) -> None:
    bob = client(made, "wcbob")
    assert 'value="wcteam"' in bob.get("/-/new").body
    assert 'value="wcteam"' in bob.get("/-/new?space=wcteam").body
    assert create(bob, space="wcteam", name="shared", gated="auto").status == 303
    assert made.store().get_model("wcteam/shared")["gated"] == "auto"
    again = create(bob, space="wcteam", name="shared")
    assert again.status == 409 and "already exists" in again.body
    assert 'value="shared"' in again.body


def test_bad_name_is_refused_with_the_rule(made: Site) -> None:
    ann = client(made, "wcann")
    answer = create(ann, space="wcann", name="Bad Name")
    assert answer.status == 400 and "invalid model name" in answer.body
    assert create(ann, space="wcann", name="ok", visibility="secret").status == 400


def test_admin_creates_a_space_then_a_model_in_it(made: Site) -> None:
    admin = client(made, "owner")
    page = admin.get("/-/new")
    assert 'id="new-space-form"' in page.body and 'id="space-owner"' in page.body
    answer = admin.post("/-/spaces/new", {"csrf": page.csrf(), "name": "wcfresh",
                                          "owner": "owner"})
    assert answer.status == 303, answer.body
    assert answer.headers["Location"] == "/-/s/wcfresh"
    assert made.store().get_space("wcfresh")["owner"] == "owner"
    assert 'value="wcfresh"' in admin.get("/-/new").body
    made_model = create(admin, space="wcfresh", name="model-a")
    assert made_model.status == 303 and made_model.headers["Location"] == "/-/m/wcfresh/model-a"
    again = admin.post("/-/spaces/new", {"csrf": page.csrf(), "name": "wcfresh",
                                         "owner": "owner"})
    assert again.status == 409 and "already exists" in again.body
    # The owner must be allowed to own spaces.
    refused = admin.post("/-/spaces/new", {"csrf": page.csrf(), "name": "wcother",
                                           "owner": "wcann"})
    assert refused.status == 403 and "may not create spaces" in refused.body
    assert made.store().get_space("wcother") is None


def test_space_creator_makes_spaces_for_themselves_only(made: Site) -> None:
    maker = client(made, "wcmaker")
    token = maker.get("/-/new").csrf()
    assert 'id="new-space-form"' in maker.get("/-/new").body
    other = maker.post("/-/spaces/new", {"csrf": token, "name": "wcgift", "owner": "owner"})
    assert other.status == 403 and made.store().get_space("wcgift") is None
    own = maker.post("/-/spaces/new", {"csrf": token, "name": "wcmine", "owner": "wcmaker"})
    assert own.status == 303 and made.store().get_space("wcmine")["owner"] == "wcmaker"
    ann = client(made, "wcann")
    refused = ann.post("/-/spaces/new", {"csrf": ann.get("/-/new").csrf(), "name": "wcnope"})
    assert refused.status == 403 and made.store().get_space("wcnope") is None


def test_forms_without_csrf_and_signed_out_are_refused(made: Site) -> None:
    ann = client(made, "wcann")
    answer = ann.post("/-/new", {"space": "wcann", "name": "nocsrf", "visibility": "public",
                                 "gated": "off"})
    assert answer.status == 403 and "expired" in answer.body
    assert ann.post("/-/spaces/new", {"name": "wcnocsrf"}).status == 403
    assert made.store().get_model("wcann/nocsrf") is None
    assert made.store().get_space("wcnocsrf") is None
    assert Client(made.port).get("/-/new").status == 303  # sign in first


def test_links_to_the_page(made: Site) -> None:
    bob = client(made, "wcbob")
    assert 'id="new-model-link"' in bob.get("/-/models").body
    assert 'id="nav-new"' in bob.get("/-/keys").body
    assert 'id="space-new-model"' in bob.get("/-/s/wcteam").body
    assert 'id="nav-new"' not in Client(made.port).get("/-/models").body
