"""Answers that huggingface_hub's own test suite (`make test-hub`, docs/hub-suite.md) checks
and that a user of the real client sees: the public hubs' sentences for an existing branch, an
existing move target and a stale parent commit, ``RevisionNotFoundError`` for a tag on an
unknown revision, and ``auth_check``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.conftest import Site
from tests.helpers.hub_client import hf_setup


@pytest.fixture(autouse=True)
def _hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hf_setup(monkeypatch, tmp_path / "hf-home")


@pytest.fixture(scope="module")
def api(site: Site) -> HfApi:
    site.user("owner", admin=True)
    site.space("answers")
    return HfApi(endpoint=site.url, token=site.keys["owner"])


def test_creating_an_existing_branch_says_the_reference_exists(api: HfApi) -> None:
    repo_id = api.create_repo("answers/branches").repo_id
    api.create_branch(repo_id, branch="cool-branch")
    with pytest.raises(HfHubHTTPError, match=r"Reference refs/heads/cool-branch already exists"):
        api.create_branch(repo_id, branch="cool-branch")
    with pytest.raises(HfHubHTTPError, match=r"Reference refs/heads/main already exists"):
        api.create_branch(repo_id, branch="main")
    api.create_branch(repo_id, branch="cool-branch", exist_ok=True)


def test_moving_onto_an_existing_model_names_it(api: HfApi) -> None:
    first = api.create_repo("answers/first").repo_id
    second = api.create_repo("answers/second").repo_id
    with pytest.raises(HfHubHTTPError,
                       match=r"A model repository called answers/second already exists") as err:
        api.move_repo(from_id=first, to_id=second)
    assert err.value.response.status_code == 409
    assert api.repo_exists(first) and api.repo_exists(second)


def test_a_tag_on_an_unknown_revision_is_revision_not_found(api: HfApi) -> None:
    repo_id = api.create_repo("answers/tags").repo_id
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo_id, tag="invalid tag", revision="foobar")
    with pytest.raises(HfHubHTTPError) as err:  # a bad name at a known revision is refused
        api.create_tag(repo_id, tag="invalid tag", revision="main")
    assert err.value.response.status_code == 400
    assert [t.name for t in api.list_repo_refs(repo_id).tags] == []


def test_a_commit_on_a_stale_parent_says_the_branch_was_updated(api: HfApi) -> None:
    repo_id = api.create_repo("answers/stale").repo_id
    parent = api.model_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"one", path_in_repo="one.txt", repo_id=repo_id)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(repo_id, [CommitOperationAdd("two.txt", b"two")],
                          commit_message="stale", parent_commit=parent)
    assert err.value.response.status_code == 412
    assert ("The branch was updated since you opened this page. Please refresh and try again."
            in str(err.value))
    assert "two.txt" not in api.list_repo_files(repo_id)


def test_auth_check_answers_what_a_download_would(site: Site, api: HfApi) -> None:
    repo_id = api.create_repo("answers/checked").repo_id
    site.user("reader")
    reader = HfApi(endpoint=site.url, token=site.keys["reader"])
    reader.auth_check(repo_id)  # public: anyone may download
    anonymous = HfApi(endpoint=site.url, token=False)
    anonymous.auth_check(repo_id)
    api.update_repo_settings(repo_id, gated="auto")
    with pytest.raises(GatedRepoError):
        reader.auth_check(repo_id)
    api.auth_check(repo_id)  # the owner may
    api.update_repo_settings(repo_id, private=True, gated=False)
    with pytest.raises(RepositoryNotFoundError):
        reader.auth_check(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        reader.auth_check("answers/missing")
    with pytest.raises(RepositoryNotFoundError):
        reader.auth_check("no-namespace")
