"""Managing repositories with the unmodified ``huggingface_hub`` client (issue 21): history,
branches, tags, settings, move, delete, the error contract and clone URLs without ``.git``.

Every ref change made through the API is a ref update like a push: the same ref rules
(protected default branch, tags), checked by the same pre-receive code, audited.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import (
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.conftest import Site, commit_file, git
from tests.helpers.hub_client import hf_setup

README = "---\nlicense: mit\n---\n# Demo\n"


@pytest.fixture(autouse=True)
def _hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hf_setup(monkeypatch, tmp_path / "hf-home")


def api_for(site: Site, user: str | None) -> HfApi:
    return HfApi(endpoint=site.url, token=site.keys[user] if user else False)


@pytest.fixture(scope="module")
def people(site: Site) -> Site:
    """owner (admin, owns the spaces), maint, dev, usr (a user role), stranger."""
    site.user("owner", admin=True)
    for name in ("maint", "dev", "usr", "stranger"):
        site.user(name)
    return site


def seeded(site: Site, model_id: str, work: Path, *, commits: int = 2,
           public: bool = False) -> str:
    """A model with ``commits`` commits on main and the roles maint/dev/usr."""
    site.model(model_id, public=public)
    for name, role in (("maint", "maintainer"), ("dev", "developer"), ("usr", "user")):
        site.cli("grant", model_id, name, role)
    repo = work / model_id.replace("/", "-")
    git("clone", "-q", site.clone_url(model_id, "owner"), str(repo))
    commit_file(repo, "README.md", README, "card")
    for i in range(commits - 1):
        commit_file(repo, "n.txt", f"{i}\n", f"change {i}")
    git("push", "-q", "origin", "main", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def audit_of(site: Site, target: str) -> list[dict[str, object]]:

    return site.store().audit_rows(target=target, limit=1000)


def remote_refs(site: Site, model_id: str) -> dict[str, str]:
    out = git("ls-remote", site.clone_url(model_id, "owner")).stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines() if line.strip()}


# --------------------------------------------------------------------------- history
def test_list_repo_commits_pages_through_the_whole_history(people: Site, work: Path) -> None:
    site = people
    head = seeded(site, "mg/history", work, commits=56)
    got = api_for(site, "usr").list_repo_commits("mg/history")
    # 56 pushed on the new model's first commit: two pages of 50 and 7, followed through
    # the Link header.
    assert len(got) == 57
    assert got[0].commit_id == head
    assert got[0].title == "change 54"
    assert [c.title for c in got[-2:]] == ["card", "initial commit"]
    assert len({c.commit_id for c in got}) == 57
    page = site.http("GET", "/api/models/mg/history/commits/main", key=site.keys["usr"])
    assert page.status == 200
    assert "p=1" in page.headers["Link"] and 'rel="next"' in page.headers["Link"]
    formatted = api_for(site, "usr").list_repo_commits("mg/history", formatted=True)
    assert formatted[0].formatted_title == "change 54"
    with pytest.raises(RevisionNotFoundError):
        api_for(site, "usr").list_repo_commits("mg/history", revision="nope")
    with pytest.raises(RepositoryNotFoundError):
        api_for(site, "stranger").list_repo_commits("mg/history")


# --------------------------------------------------------------------------- branches and tags
def test_branches_and_tags_through_the_api_follow_the_ref_rules(people: Site,
                                                                 work: Path) -> None:
    site = people
    head = seeded(site, "mg/refs", work)
    dev, usr, maint = api_for(site, "dev"), api_for(site, "usr"), api_for(site, "maint")

    dev.create_branch("mg/refs", branch="feature/x")
    assert remote_refs(site, "mg/refs")["refs/heads/feature/x"] == head
    with pytest.raises(HfHubHTTPError) as exists:
        dev.create_branch("mg/refs", branch="feature/x")
    assert exists.value.response.status_code == 409
    dev.create_branch("mg/refs", branch="feature/x", exist_ok=True)
    first = git("rev-list", "--max-parents=0", "HEAD",
                cwd=work / "mg-refs").stdout.strip()
    dev.create_branch("mg/refs", branch="old", revision=first)
    assert remote_refs(site, "mg/refs")["refs/heads/old"] == first
    with pytest.raises(RevisionNotFoundError):
        dev.create_branch("mg/refs", branch="other", revision="no-such-rev")

    # A read-only key, and no key at all, change nothing.
    site.user("dev", scope="read")
    reader = api_for(site, "dev")
    with pytest.raises(HfHubHTTPError) as read_only:
        reader.create_branch("mg/refs", branch="ro")
    assert read_only.value.response.status_code == 403
    assert "read-only" in read_only.value.response.headers["X-Error-Message"]
    with pytest.raises(HfHubHTTPError) as anonymous:
        api_for(site, None).delete_branch("mg/refs", branch="old")
    assert anonymous.value.response.status_code == 401
    site.user("dev")
    dev = api_for(site, "dev")
    with pytest.raises(HfHubHTTPError) as named_head:
        dev.create_branch("mg/refs", branch="HEAD")
    assert named_head.value.response.status_code == 403
    assert "refs/heads/HEAD" not in remote_refs(site, "mg/refs")

    # A user role may not change refs: 403 with the ref rule's sentence.
    with pytest.raises(HfHubHTTPError) as refused:
        usr.create_tag("mg/refs", tag="v1")
    assert refused.value.response.status_code == 403
    assert "need developer" in refused.value.response.headers["X-Error-Message"]
    assert "refs/tags/v1" not in remote_refs(site, "mg/refs")

    dev.create_tag("mg/refs", tag="v1", tag_message="first release")
    dev.create_tag("mg/refs", tag="v0", revision=first)
    refs = remote_refs(site, "mg/refs")
    assert refs["refs/tags/v1^{}"] == head  # annotated: the tag object peels to main's tip
    assert refs["refs/tags/v0"] == first  # lightweight
    tags = work / "tags"
    git("clone", "-q", site.clone_url("mg/refs", "dev"), str(tags))
    assert "first release" in git("cat-file", "tag", "v1", cwd=tags).stdout
    git("fsck", "--strict", cwd=tags)  # the tag object is one git itself would write
    with pytest.raises(HfHubHTTPError) as again:
        dev.create_tag("mg/refs", tag="v1")
    assert again.value.response.status_code == 409
    dev.create_tag("mg/refs", tag="v1", exist_ok=True)

    # Deleting a tag needs maintainer, as for a push; so does deleting the default branch.
    with pytest.raises(HfHubHTTPError) as tag_delete:
        dev.delete_tag("mg/refs", tag="v1")
    assert tag_delete.value.response.status_code == 403
    assert "needs maintainer" in tag_delete.value.response.headers["X-Error-Message"]
    with pytest.raises(HfHubHTTPError) as main_delete:
        dev.delete_branch("mg/refs", branch="main")
    assert main_delete.value.response.status_code == 403
    assert "default branch" in main_delete.value.response.headers["X-Error-Message"]
    assert "refs/heads/main" in remote_refs(site, "mg/refs")
    dev.delete_branch("mg/refs", branch="feature/x")
    maint.delete_tag("mg/refs", tag="v1")
    with pytest.raises(RevisionNotFoundError):
        maint.delete_tag("mg/refs", tag="v1")
    refs = remote_refs(site, "mg/refs")
    assert "refs/heads/feature/x" not in refs and "refs/tags/v1" not in refs

    # Each change went through the push path: audited as a push, refusals too.
    actions = [row["action"] for row in audit_of(site, "mg/refs")]
    assert "push" in actions and "hub.ref.refused" in actions


def test_a_branch_made_through_the_api_is_a_branch_git_and_the_api_see(people: Site,
                                                                      work: Path) -> None:
    site = people
    seeded(site, "mg/branchwork", work)
    api = api_for(site, "dev")
    api.create_branch("mg/branchwork", branch="exp")
    api.create_commit("mg/branchwork", operations=[
        CommitOperationAdd("exp.txt", b"on exp\n")], commit_message="exp work",
        revision="exp")
    history = api.list_repo_commits("mg/branchwork", revision="exp")
    assert history[0].title == "exp work"
    clone = work / "bw"
    git("clone", "-q", "-b", "exp", site.clone_url("mg/branchwork", "dev"), str(clone))
    assert (clone / "exp.txt").read_text() == "on exp\n"


# --------------------------------------------------------------------------- settings
def test_update_repo_settings_changes_visibility_and_gating(people: Site, work: Path) -> None:
    site = people
    seeded(site, "mg/settings", work)
    maint, dev = api_for(site, "maint"), api_for(site, "dev")
    with pytest.raises(RepositoryNotFoundError):
        api_for(site, None).model_info("mg/settings")
    maint.update_repo_settings("mg/settings", private=False, gated="manual")
    info = api_for(site, "stranger").model_info("mg/settings")
    assert info.private is False and info.gated == "manual"
    maint.update_repo_settings("mg/settings", gated=False)
    assert api_for(site, "stranger").model_info("mg/settings").gated is False
    with pytest.raises(HfHubHTTPError) as refused:
        dev.update_repo_settings("mg/settings", private=True)
    assert refused.value.response.status_code == 403
    assert "maintainer" in refused.value.response.headers["X-Error-Message"]
    maint.update_repo_settings("mg/settings", private=True)
    with pytest.raises(RepositoryNotFoundError):
        api_for(site, "stranger").model_info("mg/settings")


# --------------------------------------------------------------------------- move and delete
def test_move_repo_keeps_everything_and_the_old_name_redirects(people: Site,
                                                               work: Path) -> None:
    site = people
    head = seeded(site, "mg/before", work)
    site.space("newspace")
    owner = api_for(site, "owner")
    # A stranger learns nothing: the same 404 as for a missing model.
    with pytest.raises(RepositoryNotFoundError):
        api_for(site, "stranger").move_repo("mg/before", "newspace/after")
    with pytest.raises(HfHubHTTPError) as dev_move:
        api_for(site, "dev").move_repo("mg/before", "newspace/after")
    assert dev_move.value.response.status_code == 403
    owner.move_repo("mg/before", "newspace/after")

    # Roles came along: the developer still reads and writes under the new name.
    dev = api_for(site, "dev")
    assert dev.model_info("newspace/after").sha == head
    dev.create_branch("newspace/after", branch="moved")
    # The old name redirects, for the API...
    assert dev.model_info("mg/before").id == "newspace/after"
    assert dev.list_repo_commits("mg/before")[0].commit_id == head
    readme = dev.hf_hub_download("mg/before", "README.md", cache_dir=str(work / "cache"))
    assert Path(readme).read_text() == README
    # ... and for git: a clone of the old URL gets the moved repository.
    old = work / "old-name"
    done = git("clone", site.clone_url("mg/before", "dev"), str(old))
    assert "redirecting" in done.stderr.lower()
    assert git("rev-parse", "HEAD", cwd=old).stdout.strip() == head
    # A push to the new name is checked as the new model (its hooks were renamed too).
    fresh = work / "new-name"
    git("clone", "-q", site.clone_url("newspace/after", "dev"), str(fresh))
    commit_file(fresh, "after.txt", "after\n", "after the move")
    git("push", "-q", "origin", "main", cwd=fresh)
    # A stranger asking for the old name still sees nothing, not even the new name.
    answer = site.http("GET", "/api/models/mg/before", key=site.keys["stranger"])
    assert answer.status == 404 and "newspace" not in answer.body.decode()
    assert answer.headers["X-Error-Code"] == "RepoNotFound"
    assert "model.move" in [row["action"] for row in audit_of(site, "newspace/after")]


def test_delete_repo_needs_the_owner_and_missing_ok_works(people: Site, work: Path) -> None:
    site = people
    seeded(site, "mg/doomed", work)
    with pytest.raises(HfHubHTTPError) as refused:
        api_for(site, "maint").delete_repo("mg/doomed")
    assert refused.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError):
        api_for(site, "stranger").delete_repo("mg/doomed")
    api_for(site, "owner").delete_repo("mg/doomed")
    assert not api_for(site, "owner").repo_exists("mg/doomed")
    api_for(site, "owner").delete_repo("mg/doomed", missing_ok=True)
    api_for(site, "owner").delete_repo("no-namespace", missing_ok=True)
    with pytest.raises(RepositoryNotFoundError):
        api_for(site, "owner").delete_repo("mg/doomed")
    assert "hub.repo.delete" in [row["action"] for row in audit_of(site, "mg/doomed")]


# --------------------------------------------------------------------------- error contract
def test_error_contract_request_ids_and_routes_not_offered(people: Site) -> None:
    site = people
    api = api_for(site, "owner")
    assert api.repo_exists("x") is False
    answer = site.http("GET", "/api/models/x", key=site.keys["owner"])
    assert answer.status == 404 and answer.headers["X-Error-Code"] == "RepoNotFound"
    assert answer.headers["X-Request-Id"]
    assert site.http("GET", "/-/health").headers["X-Request-Id"]
    second = site.http("GET", "/api/models/x", key=site.keys["owner"])
    assert second.headers["X-Request-Id"] != answer.headers["X-Request-Id"]
    assert api.repo_exists("mg/none-such") is False
    with pytest.raises(RepositoryNotFoundError):
        api.hf_hub_download("x", "config.json")
    assert api.repo_exists("someone/data", repo_type="dataset") is False
    for path, words in (("/api/models/mg/history/discussions", "discussions"),
                        ("/api/settings/webhooks", "webhooks"),
                        ("/api/collections", "collections"),
                        ("/api/datasets", "datasets")):
        got = site.http("GET", path, key=site.keys["owner"])
        assert got.status == 501, path
        assert words in got.headers["X-Error-Message"], path
    unknown = site.http("GET", "/api/no-such-call", key=site.keys["owner"])
    assert unknown.status == 404
    assert "no API call GET /api/no-such-call" in unknown.headers["X-Error-Message"]
    with pytest.raises(HfHubHTTPError) as discussions:
        api.get_repo_discussions("mg/history").__next__()
    assert "discussions" in str(discussions.value)


# --------------------------------------------------------------------------- clone URLs
def test_git_clone_of_the_url_create_repo_returns(people: Site, work: Path) -> None:
    site = people
    site.space("mine")
    url = api_for(site, "owner").create_repo("mine/plain", private=True)
    assert not str(url).endswith(".git")
    with_key = str(url).replace("http://", f"http://owner:{site.keys['owner']}@")
    clone = work / "plain"
    git("clone", "-q", with_key, str(clone))
    commit_file(clone, "a.txt", "a\n", "first")
    git("push", "-q", "origin", "HEAD:main", cwd=clone)
    assert remote_refs(site, "mine/plain")["refs/heads/main"] \
        == git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    lfs = site.http("POST", "/mine/plain/info/lfs/objects/batch", key=site.keys["owner"],
                    body=b'{"operation": "download", "objects": []}',
                    headers={"Content-Type": "application/vnd.git-lfs+json",
                             "Accept": "application/vnd.git-lfs+json"})
    assert lfs.status == 200


def test_lfs_files_of_a_moved_model_download_through_the_old_url(people: Site,
                                                                 work: Path) -> None:
    """A clone made with the old name (or an old remote URL) still gets its LFS objects:
    the LFS batch API redirects too, and the links moved with the model."""
    import os

    from tests.conftest import LFS_ENV

    site = people
    seeded(site, "mg/weights", work)
    repo = work / "mg-weights"
    git("lfs", "install", "--local", cwd=repo)
    git("lfs", "track", "*.safetensors", cwd=repo)
    weights = os.urandom(200_000)
    (repo / "model.safetensors").write_bytes(weights)
    git("add", "-A", cwd=repo, env=LFS_ENV)
    git("commit", "-q", "-m", "weights", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo, env=LFS_ENV)
    api_for(site, "owner").move_repo("mg/weights", "mg/weights-v2")
    old = work / "old-weights"
    git("clone", "-q", site.clone_url("mg/weights", "dev"), str(old), env=LFS_ENV)
    assert (old / "model.safetensors").read_bytes() == weights
    # The same with the clone URL create_repo hands out (no .git), through the new name.
    plain = work / "plain-weights"
    url = site.clone_url("mg/weights-v2", "dev").removesuffix(".git")
    git("clone", "-q", url, str(plain), env=LFS_ENV)
    assert (plain / "model.safetensors").read_bytes() == weights
