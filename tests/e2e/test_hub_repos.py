"""Managing repositories with the unmodified ``huggingface_hub`` client (issue 21): the first
commit of a new model, personal spaces and the private default, sorted listings with their
times, the anonymous card check, and deleting a folder named without its ``/``.

One running server for the module; the settings tests start their own, with a config.yaml.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    ModelCard,
    RepoCard,
    metadata_update,
)
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from modelgit.repos import DEFAULT_GITATTRIBUTES
from tests.conftest import LFS_ENV, Site, git
from tests.helpers.hub_client import hf_setup
from tests.helpers.site import TEST_SETTINGS, make_site

CARD = """---
license: mit
tags: [demo]
---
# Demo
"""
#: A card the push checks refuse: a training framework misspelt (see test_card_push.py).
BROKEN_CARD = """---
Training framework:
  - Pytorch
---
# Broken
"""


@pytest.fixture(autouse=True)
def _hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hf_setup(monkeypatch, tmp_path / "hf-home")


@pytest.fixture(scope="module")
def people(site: Site) -> Site:
    """alice and bob, plain users (no space, no role anywhere), and the admin ``owner``."""
    site.user("owner", admin=True)
    site.user("alice")
    site.user("bob")
    return site


@pytest.fixture
def endpoint(people: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The module-level client (``ModelCard.push_to_hub``, ``metadata_update``) pointed at the
    server: it reads the endpoint once, at import, as HF_ENDPOINT would set it."""
    import huggingface_hub.constants as constants
    import huggingface_hub.hf_api as hf_api

    monkeypatch.setattr(constants, "ENDPOINT", people.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        people.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hf_api.api, "endpoint", people.url)
    return people


def api_for(site: Site, user: str | None) -> HfApi:
    return HfApi(endpoint=site.url, token=site.keys[user] if user else False)


def lfs_clone(url: str, dest: Path) -> Path:
    git("clone", "-q", url, str(dest), env=LFS_ENV)
    git("lfs", "install", "--local", cwd=dest)
    return dest


def bare(site: Site, model: str) -> Path:
    return Path(site.data, "repos", f"{model}.git")


# --------------------------------------------------------------------------- first commit
def test_new_model_starts_with_the_hub_gitattributes(people: Site) -> None:
    api = api_for(people, "alice")
    model = api.create_repo("first").repo_id
    info = api.model_info(model)
    assert info.sha and len(info.sha) == 40
    assert api.list_repo_files(model) == [".gitattributes"]
    [commit] = api.list_repo_refs(model).branches
    assert commit.name == "main" and commit.target_commit == info.sha
    path = api.hf_hub_download(model, ".gitattributes", cache_dir=people.data / "hfc")
    assert Path(path).read_bytes() == DEFAULT_GITATTRIBUTES
    assert b"*.safetensors filter=lfs" in DEFAULT_GITATTRIBUTES


def test_first_commit_serves_parent_checks_and_no_op_detection(people: Site) -> None:
    api = api_for(people, "alice")
    model = api.create_repo("parents").repo_id
    first = api.model_info(model).sha
    assert first is not None
    # Nothing changes: the client sees the same file and makes no commit.
    same = api.upload_file(path_or_fileobj=DEFAULT_GITATTRIBUTES, path_in_repo=".gitattributes",
                           repo_id=model)
    assert same.oid == first and api.model_info(model).sha == first
    # A commit on the first one, named as its parent, lands; a stale parent is refused.
    done = api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="a.txt", repo_id=model,
                           parent_commit=first)
    assert done.oid != first and api.model_info(model).sha == done.oid
    with pytest.raises(HfHubHTTPError):
        api.upload_file(path_or_fileobj=b"late\n", path_in_repo="b.txt", repo_id=model,
                        parent_commit=first)
    assert api.list_repo_files(model) == [".gitattributes", "a.txt"]


def test_small_weights_pushed_with_git_go_to_lfs(people: Site, tmp_path: Path) -> None:
    """A 1 KiB .safetensors and a 2 MB .bin, pushed with plain git and git-lfs to the URL
    create_repo answered: both land as LFS pointers, with their objects on the server."""
    api = api_for(people, "alice")
    url = api.create_repo("weights")
    key = people.keys["alice"]
    clone_url = url.replace("http://", f"http://alice:{key}@") + ".git"
    repo = lfs_clone(clone_url, tmp_path / "w")
    small, big = os.urandom(1024), os.urandom(2 * 1024 * 1024)
    (repo / "model.safetensors").write_bytes(small)
    (repo / "pytorch_model.bin").write_bytes(big)
    git("add", "model.safetensors", "pytorch_model.bin", cwd=repo, env=LFS_ENV)
    git("commit", "-q", "-m", "weights", cwd=repo, env=LFS_ENV)
    git("push", "-q", "origin", "main", cwd=repo, env=LFS_ENV)
    server = bare(people, url.repo_id)
    for name, data in (("model.safetensors", small), ("pytorch_model.bin", big)):
        stored = git("--git-dir", str(server), "cat-file", "-p", f"main:{name}").stdout
        assert stored.startswith("version https://git-lfs.github.com/spec/v1")
        assert f"size {len(data)}" in stored
    files = {f.path: f for f in api.list_repo_tree(url.repo_id)}
    assert files["model.safetensors"].lfs is not None
    assert files["pytorch_model.bin"].lfs is not None
    again = lfs_clone(clone_url, tmp_path / "again")
    assert (again / "pytorch_model.bin").read_bytes() == big


def test_cli_create_prints_the_first_commit_and_empty_makes_none(people: Site) -> None:
    people.space("cli-made", owner="owner")
    _, out, _ = people.cli("--json", "model", "create", "cli-made/full", "--owner", "owner")
    first = json.loads(out)["initial_commit"]
    tip = git("--git-dir", str(bare(people, "cli-made/full")), "rev-parse", "main").stdout
    assert tip.strip() == first
    _, out, _ = people.cli("--json", "model", "create", "cli-made/bare", "--owner", "owner",
                           "--empty")
    assert json.loads(out)["initial_commit"] is None
    refs = git("--git-dir", str(bare(people, "cli-made/bare")), "for-each-ref").stdout
    assert refs == ""


# --------------------------------------------------------------------------- personal spaces
def test_create_repo_without_namespace_goes_to_the_callers_own_public_space(
        people: Site) -> None:
    api = api_for(people, "bob")
    url = api.create_repo("mine")
    assert url.repo_id == "bob/mine"
    assert api.model_info("bob/mine").private is False
    assert api_for(people, None).model_info("bob/mine").sha  # anyone may look: public
    private = api.create_repo("secret", private=True)
    with pytest.raises(RepositoryNotFoundError):
        api_for(people, None).model_info(private.repo_id)
    # The space is bob's: alice may not create in it, nor in a space named like nobody.
    with pytest.raises(HfHubHTTPError) as refused:
        api_for(people, "alice").create_repo("bob/hers")
    assert refused.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as missing:
        api_for(people, "alice").create_repo("nobody/x")
    assert missing.value.response.status_code == 404
    assert "space nobody does not exist" in str(missing.value)
    _, out, _ = people.cli("--json", "space", "show", "bob")
    assert '"owner": "bob"' in out


@pytest.fixture
def strict_site(tmp_path: Path) -> Iterator[Site]:
    """A site with personal spaces off and new models private unless asked."""
    site = make_site(tmp_path, {**TEST_SETTINGS,
                                "models": {"personal_spaces": False,
                                           "private_by_default": True}})
    site.start()
    site.user("owner", admin=True)
    site.user("carol")
    yield site
    site.stop()


def test_settings_turn_personal_spaces_off_and_make_models_private(strict_site: Site) -> None:
    carol = api_for(strict_site, "carol")
    with pytest.raises(HfHubHTTPError) as refused:
        carol.create_repo("mine")
    assert refused.value.response.status_code == 404
    assert "ask an administrator" in str(refused.value)
    strict_site.space("team", owner="owner")
    strict_site.cli("space", "grant", "team", "carol", "user")
    model = carol.create_repo("team/m").repo_id
    assert carol.model_info(model).private is True
    public = carol.create_repo("team/open", private=False).repo_id
    assert carol.model_info(public).private is False


# --------------------------------------------------------------------------- listing
def test_list_models_sorts_by_last_change_and_creation(people: Site) -> None:
    people.space("sorted", owner="owner")
    owner = api_for(people, "owner")
    for name in ("a", "b", "c"):
        owner.create_repo(f"sorted/{name}", private=False)
        time.sleep(0.01)
    owner.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="sorted/a")

    def ids(**kwargs: object) -> list[str]:
        return [m.id for m in owner.list_models(author="sorted", **kwargs)]  # type: ignore[arg-type]

    assert ids() == ["sorted/a", "sorted/b", "sorted/c"]
    assert ids(sort="last_modified") == ["sorted/a", "sorted/c", "sorted/b"]
    assert ids(sort="created_at") == ["sorted/c", "sorted/b", "sorted/a"]
    assert ids(sort="last_modified", limit=1) == ["sorted/a"]

    def raw(query: str) -> list[str]:
        answer = people.http("GET", f"/api/models?author=sorted&{query}",
                             key=people.keys["owner"])
        assert answer.status == 200
        return [m["id"] for m in json.loads(answer.body)]

    # The public hubs' ``direction`` (older clients send it): 1 ascending, -1 descending.
    assert raw("sort=createdAt&direction=1") == ["sorted/a", "sorted/b", "sorted/c"]
    assert raw("sort=id&direction=-1") == ["sorted/c", "sorted/b", "sorted/a"]
    assert raw("sort=downloads") == ["sorted/a", "sorted/b", "sorted/c"]  # none counted
    info = owner.model_info("sorted/a")
    listed = {m.id: m for m in owner.list_models(author="sorted")}
    assert info.created_at == listed["sorted/a"].created_at
    assert info.last_modified is not None and info.created_at is not None
    assert info.last_modified > info.created_at
    assert listed["sorted/b"].last_modified == listed["sorted/b"].created_at


def test_list_models_pages_a_time_sort_without_losing_a_model(people: Site) -> None:
    from huggingface_hub.utils import build_hf_headers, paginate

    people.space("paged", owner="owner")
    owner = api_for(people, "owner")
    for name in ("p1", "p2", "p3"):
        owner.create_repo(f"paged/{name}", private=False)
    seen = [m["id"] for m in paginate(f"{people.url}/api/models",
                                      {"author": "paged", "sort": "lastModified", "limit": 1},
                                      build_hf_headers(token=people.keys["owner"]))]
    assert seen == ["paged/p3", "paged/p2", "paged/p1"]
    bad = people.http("GET", "/api/models?sort=lastModified&cursor=nonsense")
    assert bad.status == 400 and b"start again" in bad.body
    wrong = people.http("GET", "/api/models?sort=size")
    assert wrong.status == 400 and b"lastModified, createdAt or id" in wrong.body


# --------------------------------------------------------------------------- cards
def test_validate_yaml_answers_without_a_key(endpoint: Site) -> None:
    people = endpoint
    RepoCard(CARD).validate()
    with pytest.raises(ValueError, match="Did you mean 'PyTorch'"):
        RepoCard(BROKEN_CARD).validate()
    anonymous = people.http("POST", "/api/validate-yaml",
                            body=b'{"content": "---\\nx: [\\n---\\n"}',
                            headers={"Content-Type": "application/json"})
    assert anonymous.status == 400
    huge = people.http("POST", "/api/validate-yaml", body=b"{" + b" " * (20 * 1024 * 1024) + b"}",
                       headers={"Content-Type": "application/json"})
    assert huge.status == 413


def test_a_card_without_metadata_is_accepted_with_a_warning(endpoint: Site) -> None:
    """As on the hubs: the commit lands, and the client shows why the card will not be found
    by the list's filters."""
    api = api_for(endpoint, "alice")
    model = api.create_repo("bare-card").repo_id
    with pytest.warns(UserWarning, match="empty or missing yaml metadata"):
        api.create_commit(model, [CommitOperationAdd("README.md", b"Just words, no metadata")],
                          commit_message="bare card")
    assert api.model_info(model).card_data is None or not api.model_info(model).card_data


def test_card_push_and_metadata_update_on_a_new_model(endpoint: Site) -> None:
    people = endpoint
    api = api_for(people, "alice")
    model = api.create_repo("carded").repo_id
    ModelCard(CARD).push_to_hub(model, token=people.keys["alice"])
    metadata_update(model, {"tags": ["demo", "more"]}, token=people.keys["alice"],
                    overwrite=True)
    assert set(api.model_info(model).tags) >= {"demo", "more", "license:mit"}
    with pytest.raises(ValueError, match=r"Invalid metadata in README\.md"):
        api.upload_file(path_or_fileobj=BROKEN_CARD.encode(), path_in_repo="README.md",
                        repo_id=model)


# --------------------------------------------------------------------------- deletions
def test_delete_operation_naming_a_folder_deletes_it(people: Site) -> None:
    api = api_for(people, "alice")
    model = api.create_repo("folders").repo_id
    api.create_commit(model, operations=[
        CommitOperationAdd(path_in_repo="keep.txt", path_or_fileobj=b"k"),
        CommitOperationAdd(path_in_repo="logs/a.txt", path_or_fileobj=b"a"),
        CommitOperationAdd(path_in_repo="logs/deep/b.txt", path_or_fileobj=b"b"),
    ], commit_message="files")
    api.create_commit(model, operations=[CommitOperationDelete(path_in_repo="logs")],
                      commit_message="no logs")
    assert api.list_repo_files(model) == [".gitattributes", "keep.txt"]
    with pytest.raises(HfHubHTTPError) as missing:
        api.create_commit(model, operations=[CommitOperationDelete(path_in_repo="logs")],
                          commit_message="again")
    assert missing.value.response.status_code == 404
