"""The hub-compatible API with the unmodified ``huggingface_hub`` client (issue 11).

One running server for the module. Models are seeded with real git and git-lfs (read side)
and through the client itself (write side, then checked with ``git clone``). Xet is off
(``HF_HUB_DISABLE_XET=1``): the LFS path; tests/xet/ run the same client with Xet on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, paginate

from tests.conftest import LFS_ENV, Site, commit_file, git
from tests.helpers.hub_client import hf_setup
from tests.helpers.secret_samples import AWS_KEY_LINE, big_log

CARD = """---
license: mit
library_name: transformers
pipeline_tag: text-classification
tags: [demo, tiny]
---
# A tiny classifier
"""
GATED_CARD = """---
license: mit
extra_gated_fields:
  Affiliation: text
---
# Gated
"""
#: The broken card of tests/e2e/test_card_push.py: a misspelt framework and a task that
#: does not belong to the job type.
BROKEN_CARD = """---
Training framework:
  - Pytorch
Job type:
  Type: Natural language processing
  Algorithm: Object Detection
license: apache-2.0
---
# Broken
"""
AWS_SECRET = 'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'


@pytest.fixture(autouse=True)
def _hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hf_setup(monkeypatch, tmp_path / "hf-home")


def api_for(site: Site, user: str | None) -> HfApi:
    return HfApi(endpoint=site.url, token=site.keys[user] if user else False)


def lfs_clone(url: str, dest: Path) -> Path:
    git("clone", "-q", url, str(dest), env=LFS_ENV)
    git("lfs", "install", "--local", cwd=dest)
    return dest


def tip(site: Site, model: str, branch: str = "main") -> str:
    out = git("ls-remote", site.clone_url(model, "owner"), f"refs/heads/{branch}").stdout
    return out.split()[0] if out.strip() else ""


class Seeded:
    """What the read tests download: the bytes per revision."""

    model = "hub/open"
    private = "hub/secret"
    gated = "hub/gated"

    def __init__(self) -> None:
        self.weights = os.urandom(300_000)
        self.config_v1 = b'{"hidden": 8}\n'
        self.config_v2 = b'{"hidden": 16}\n'
        self.notes = "é notes\n".encode()
        self.v1_sha = ""
        self.main_sha = ""


@pytest.fixture(scope="module")
def seeded(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """hub/open (public: README card, config.json, an LFS weight, a nested file; tag v1 and
    a later commit on main), hub/secret (private), hub/gated (manual gating)."""
    seed = Seeded()
    for name in ("alice", "bob", "carol"):
        site.user(name)
    site.model(seed.model, public=True)
    site.model(seed.private)
    site.model(seed.gated, public=True, gated="manual")
    work = tmp_path_factory.mktemp("seed")
    repo = lfs_clone(site.clone_url(seed.model, "owner"), work / "open")
    git("lfs", "track", "*.safetensors", cwd=repo)
    (repo / "model.safetensors").write_bytes(seed.weights)
    (repo / "sub" / "dir").mkdir(parents=True)
    (repo / "sub" / "dir" / "notes é.txt").write_bytes(seed.notes)
    (repo / "README.md").write_text(CARD)
    git("add", "-A", cwd=repo, env=LFS_ENV)
    commit_file(repo, "config.json", seed.config_v1, "first")
    git("tag", "v1", cwd=repo)
    seed.v1_sha = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    seed.main_sha = commit_file(repo, "config.json", seed.config_v2, "bigger")
    git("push", "-q", "origin", "main", "v1", cwd=repo, env=LFS_ENV)
    for model, card in ((seed.private, CARD), (seed.gated, GATED_CARD)):
        other = lfs_clone(site.clone_url(model, "owner"), work / model.replace("/", "-"))
        commit_file(other, "README.md", card, "card")
        commit_file(other, "config.json", seed.config_v1, "seed")
        git("push", "-q", "origin", "main", cwd=other)
    return seed


# --------------------------------------------------------------------------- read side
def test_hf_hub_download_by_branch_tag_and_sha(site: Site, seeded: Seeded,
                                               tmp_path: Path) -> None:
    key = site.keys["alice"]
    cache = tmp_path / "cache"

    def get(name: str, revision: str) -> bytes:
        path = hf_hub_download(seeded.model, name, revision=revision, endpoint=site.url,
                               token=key, cache_dir=cache)
        return Path(path).read_bytes()

    assert get("config.json", "main") == seeded.config_v2
    assert get("config.json", "v1") == seeded.config_v1
    assert get("config.json", seeded.v1_sha) == seeded.config_v1
    for revision in ("main", "v1", seeded.v1_sha):
        assert get("model.safetensors", revision) == seeded.weights
    assert get("sub/dir/notes é.txt", "main") == seeded.notes
    # Anonymous reads of a public model work too (allow_anonymous_read).
    anon = hf_hub_download(seeded.model, "config.json", endpoint=site.url, token=False,
                           cache_dir=tmp_path / "anon")
    assert Path(anon).read_bytes() == seeded.config_v2


def test_resolve_headers_range_and_raw(site: Site, seeded: Seeded) -> None:
    key = site.keys["alice"]
    oid = hashlib.sha256(seeded.weights).hexdigest()
    head = site.http("HEAD", f"/{seeded.model}/resolve/main/model.safetensors", key=key)
    assert head.status == 200 and head.body == b""
    assert head.headers["X-Repo-Commit"] == seeded.main_sha
    assert head.headers["X-Linked-Etag"] == f'"{oid}"' == head.headers["ETag"]
    assert head.headers["X-Linked-Size"] == str(len(seeded.weights))
    assert head.headers["Content-Length"] == str(len(seeded.weights))
    assert head.headers["Accept-Ranges"] == "bytes"
    part = site.http("GET", f"/{seeded.model}/resolve/v1/model.safetensors", key=key,
                     headers={"Range": "bytes=1000-1999"})
    assert part.status == 206 and part.body == seeded.weights[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(seeded.weights)}"
    tail = site.http("GET", f"/{seeded.model}/resolve/main/config.json", key=key,
                     headers={"Range": "bytes=-3"})
    assert tail.status == 206 and tail.body == seeded.config_v2[-3:]
    regular = site.http("HEAD", f"/{seeded.model}/resolve/main/config.json", key=key)
    blob = git("hash-object", "--stdin", input=seeded.config_v2).stdout.strip()
    assert regular.headers["ETag"] == f'"{blob}"' and "X-Linked-Etag" not in regular.headers
    bad = site.http("GET", f"/{seeded.model}/resolve/main/config.json", key=key,
                    headers={"Range": "bytes=999-"})
    assert bad.status == 416
    raw = site.http("GET", f"/{seeded.model}/raw/main/model.safetensors", key=key)
    assert raw.status == 200 and f"oid sha256:{oid}".encode() in raw.body


def test_snapshot_download(site: Site, seeded: Seeded, tmp_path: Path) -> None:
    folder = Path(snapshot_download(seeded.model, endpoint=site.url,
                                    token=site.keys["bob"], cache_dir=tmp_path / "c"))
    assert folder.name == seeded.main_sha
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == [".gitattributes", "README.md", "config.json", "model.safetensors",
                     "sub/dir/notes é.txt"]
    assert (folder / "model.safetensors").read_bytes() == seeded.weights
    assert (folder / "config.json").read_bytes() == seeded.config_v2


def test_model_info_tree_and_paths_info(site: Site, seeded: Seeded) -> None:
    api = api_for(site, "alice")
    info = api.model_info(seeded.model, files_metadata=True)
    assert info.sha == seeded.main_sha and info.private is False and info.gated is False
    assert info.author == "hub" and info.pipeline_tag == "text-classification"
    assert info.library_name == "transformers"
    assert {"demo", "tiny", "license:mit"} <= set(info.tags or [])
    assert info.card_data is not None and info.card_data.license == "mit"
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert set(siblings) == {".gitattributes", "README.md", "config.json",
                             "model.safetensors", "sub/dir/notes é.txt"}
    weight = siblings["model.safetensors"]
    assert weight.lfs is not None and weight.size == len(seeded.weights)
    assert weight.lfs.sha256 == hashlib.sha256(seeded.weights).hexdigest()
    assert siblings["config.json"].lfs is None
    assert siblings["config.json"].size == len(seeded.config_v2)
    old = api.model_info(seeded.model, revision="v1")
    assert old.sha == seeded.v1_sha

    refs = api.list_repo_refs(seeded.model)
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", seeded.main_sha)]
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1", seeded.v1_sha)]
    assert api.list_repo_files(seeded.model) == sorted(siblings)
    top = {e.path: e for e in api.list_repo_tree(seeded.model)}
    assert set(top) == {".gitattributes", "README.md", "config.json", "model.safetensors",
                        "sub"}
    assert type(top["sub"]).__name__ == "RepoFolder"
    nested = list(api.list_repo_tree(seeded.model, path_in_repo="sub/dir", expand=True))
    assert [e.path for e in nested] == ["sub/dir/notes é.txt"]
    assert nested[0].last_commit is not None and nested[0].last_commit.oid == seeded.v1_sha
    found = api.get_paths_info(seeded.model, ["config.json", "sub", "nope.txt"], revision="v1")
    assert [(type(e).__name__, e.path) for e in found] == [("RepoFile", "config.json"),
                                                          ("RepoFolder", "sub")]
    assert found[0].size == len(seeded.config_v1)


def test_tree_pagination_follows_link(site: Site, seeded: Seeded) -> None:
    path = f"{site.url}/api/models/{seeded.model}/tree/main"
    pages = list(paginate(path, params={"recursive": True, "limit": 2},
                          headers=build_hf_headers(token=site.keys["alice"])))
    assert len(pages) == 7  # 5 files and 2 folders, 2 per page
    assert len({p["path"] for p in pages}) == 7


def test_list_models_filters_and_visibility(site: Site, seeded: Seeded) -> None:
    bob, owner = api_for(site, "bob"), api_for(site, "owner")
    assert [m.id for m in bob.list_models(filter="text-classification")] == [seeded.model]
    assert [m.id for m in bob.list_models(filter=["license:mit", "demo"])] == [seeded.model]
    assert [m.id for m in bob.list_models(filter="transformers", author="hub")] \
        == [seeded.model]
    assert list(bob.list_models(filter="no-such-tag")) == []
    seen_by_bob = {m.id for m in bob.list_models(author="hub")}
    assert seeded.private not in seen_by_bob and seeded.model in seen_by_bob
    assert seeded.private in {m.id for m in owner.list_models(author="hub")}
    anonymous = {m.id for m in api_for(site, None).list_models(search="hub/")}
    assert seeded.private not in anonymous and seeded.gated in anonymous
    gated = next(m for m in bob.list_models(author="hub") if m.id == seeded.gated)
    assert gated.gated == "manual"
    full = [m for m in bob.list_models(search="open", full=True)]
    assert full[0].sha == seeded.main_sha and full[0].siblings
    # Link pagination: one model per page, every visible model once.
    pages = list(paginate(f"{site.url}/api/models", params={"limit": 1, "author": "hub"},
                          headers=build_hf_headers(token=site.keys["bob"])))
    assert [p["id"] for p in pages] == sorted(seen_by_bob)


def test_private_model_is_not_found_for_strangers(site: Site, seeded: Seeded,
                                                  tmp_path: Path) -> None:
    for token in (site.keys["bob"], False):
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(seeded.private, "config.json", endpoint=site.url, token=token,
                            cache_dir=tmp_path / "c")
        with pytest.raises(RepositoryNotFoundError):
            HfApi(endpoint=site.url, token=token).model_info(seeded.private)
    # The same answer as for a model that does not exist.
    with pytest.raises(RepositoryNotFoundError):
        api_for(site, "bob").model_info("hub/never-created")
    path = hf_hub_download(seeded.private, "config.json", endpoint=site.url,
                           token=site.keys["owner"], cache_dir=tmp_path / "o")
    assert Path(path).read_bytes() == seeded.config_v1


def test_gated_model_needs_an_accepted_request(site: Site, seeded: Seeded,
                                               tmp_path: Path) -> None:
    site.user("gina")
    key = site.keys["gina"]
    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download(seeded.gated, "config.json", endpoint=site.url, token=key,
                        cache_dir=tmp_path / "c")
    assert f"/api/models/{seeded.gated}/user-access-request" in str(refused.value)
    with pytest.raises(GatedRepoError):
        hf_hub_download(seeded.gated, "config.json", endpoint=site.url, token=False,
                        cache_dir=tmp_path / "c")
    # Metadata stays visible, as on the hubs.
    assert api_for(site, "gina").model_info(seeded.gated).gated == "manual"
    asked = site.http("POST", f"/api/models/{seeded.gated}/user-access-request", key=key,
                      body=json.dumps({"Affiliation": "ACME"}).encode(),
                      headers={"Content-Type": "application/json"})
    assert asked.status == 200, asked.body
    with pytest.raises(GatedRepoError, match="pending"):
        hf_hub_download(seeded.gated, "config.json", endpoint=site.url, token=key,
                        cache_dir=tmp_path / "c")
    site.cli("access", "accept", seeded.gated, "gina")
    path = hf_hub_download(seeded.gated, "config.json", endpoint=site.url, token=key,
                           cache_dir=tmp_path / "c")
    assert Path(path).read_bytes() == seeded.config_v1


def test_revision_and_entry_errors(site: Site, seeded: Seeded, tmp_path: Path) -> None:
    key = site.keys["alice"]
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(seeded.model, "config.json", revision="no-such-branch",
                        endpoint=site.url, token=key, cache_dir=tmp_path / "c")
    with pytest.raises(RevisionNotFoundError):
        api_for(site, "alice").model_info(seeded.model, revision="0" * 40)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(seeded.model, "missing.bin", endpoint=site.url, token=key,
                        cache_dir=tmp_path / "c")
    missing = site.http("HEAD", f"/{seeded.model}/resolve/main/missing.bin", key=key)
    assert missing.status == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
    assert missing.headers["X-Repo-Commit"] == seeded.main_sha
    for bad in ("/resolve/main/..%2F..%2Fconfig", "/resolve/main/sub/..%2Fconfig.json",
                "/resolve/main/.git%2Fconfig", "/resolve/main/sub"):
        answer = site.http("GET", f"/{seeded.model}{bad}", key=key)
        assert answer.status in (400, 404), (bad, answer.status)
        assert answer.body.startswith(b'{"error"')
    weird_rev = site.http("GET", f"/{seeded.model}/resolve/refs%2Fpr%2F1/config.json", key=key)
    assert weird_rev.status == 404 and weird_rev.headers["X-Error-Code"] == "RevisionNotFound"


def test_unreachable_commit_is_not_served(site: Site, seeded: Seeded, tmp_path: Path) -> None:
    """A commit a force-push removed is not served by id, as git fetch would not serve it."""
    model = site.model("hub/forced", public=True)
    repo = lfs_clone(site.clone_url(model, "owner"), tmp_path / "r")
    kept = commit_file(repo, "a.txt", "kept\n", "kept")
    dropped = commit_file(repo, "a.txt", "leaked\n", "dropped")
    git("push", "-q", "origin", "main", cwd=repo)
    assert site.http("GET", f"/{model}/resolve/{dropped}/a.txt").body == b"leaked\n"
    git("push", "-q", "--force", "origin", f"{kept}:main", cwd=repo)
    gone = site.http("GET", f"/{model}/resolve/{dropped}/a.txt")
    assert gone.status == 404 and gone.headers["X-Error-Code"] == "RevisionNotFound"
    assert site.http("GET", f"/{model}/resolve/{kept}/a.txt").body == b"kept\n"


def test_whoami(site: Site, seeded: Seeded) -> None:
    me = api_for(site, "owner").whoami()
    assert me["name"] == "owner" and me["auth"]["accessToken"]["role"] == "write"
    assert {"name": "hub", "roleInOrg": "owner", "fullname": "hub"}.items() <= \
        me["orgs"][0].items()  # a space without a full name goes by its name
    site.cli("space", "set", "hub", "--fullname", "The Hub Team")
    me = api_for(site, "owner").whoami()
    assert me["orgs"][0]["fullname"] == "The Hub Team"
    site.cli("space", "set", "hub", "--fullname", "")
    anonymous = site.http("GET", "/api/whoami-v2")
    assert anonymous.status == 401


# --------------------------------------------------------------------------- write side
@pytest.fixture(scope="module")
def uploads(site: Site, seeded: Seeded) -> str:
    """Space ``up`` where alice may create models."""
    site.space("up", owner="owner")
    site.cli("space", "grant", "up", "alice", "user")
    return "up"


def make_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_create_repo_and_upload_folder_then_git_clone(site: Site, uploads: str,
                                                      tmp_path: Path) -> None:
    api = api_for(site, "alice")
    url = api.create_repo(f"{uploads}/first")
    assert url == f"{site.url}/{uploads}/first" and url.repo_id == f"{uploads}/first"
    assert api.create_repo(f"{uploads}/first", exist_ok=True).repo_id == f"{uploads}/first"
    with pytest.raises(HfHubHTTPError) as exists:
        api.create_repo(f"{uploads}/first")
    assert exists.value.response.status_code == 409
    assert api.model_info(f"{uploads}/first").private is False  # public unless asked
    weights = os.urandom(200_000)
    folder = make_folder(tmp_path / "src", {
        "README.md": CARD.encode(),
        "config.json": b'{"a": 1}\n',
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
        "nested/model.safetensors": weights,
    })
    info = api.upload_folder(repo_id=f"{uploads}/first", folder_path=folder,
                             commit_message="first upload", commit_description="from python")
    assert info.oid == tip(site, f"{uploads}/first")
    clone = lfs_clone(site.clone_url(f"{uploads}/first", "alice"), tmp_path / "clone")
    assert (clone / "nested" / "model.safetensors").read_bytes() == weights
    assert (clone / "config.json").read_bytes() == b'{"a": 1}\n'
    # Already tracked by the uploaded pattern: .gitattributes is left as it was sent.
    assert (clone / ".gitattributes").read_bytes() == \
        b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    log = git("log", "-1", "--format=%an%n%s%n%b", cwd=clone).stdout
    assert log.splitlines()[:3] == ["alice", "first upload", "from python"]
    pointer = git("cat-file", "-p", "HEAD:nested/model.safetensors", cwd=clone).stdout
    assert pointer.startswith("version https://git-lfs.github.com/spec/v1")
    # The card index was updated by the post-receive steps, as after a push.
    assert [m.id for m in api.list_models(filter="text-classification", author=uploads)] \
        == [f"{uploads}/first"]
    # An unchanged re-upload plus one change: one commit on top, parent respected.
    (folder / "config.json").write_bytes(b'{"a": 2}\n')
    second = api.upload_folder(repo_id=f"{uploads}/first", folder_path=folder,
                               commit_message="second", parent_commit=info.oid)
    git("pull", "-q", cwd=clone, env=LFS_ENV)
    assert git("rev-parse", "HEAD~1", cwd=clone).stdout.strip() == info.oid
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == second.oid
    assert (clone / "config.json").read_bytes() == b'{"a": 2}\n'
    api.delete_file("config.json", f"{uploads}/first")
    assert "config.json" not in api.list_repo_files(f"{uploads}/first")


def test_large_file_goes_through_lfs_and_gets_tracked(site: Site, uploads: str,
                                                      tmp_path: Path) -> None:
    """Over the 10 MiB threshold without a pattern (.dat is not among the default ones): LFS,
    and the commit adds the line to .gitattributes so that git clone shows the bytes, not the
    pointer."""
    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/big").repo_id
    data = os.urandom(10 * 1024 * 1024 + 1)
    api.upload_file(path_or_fileobj=data, path_in_repo="weights/big file.dat", repo_id=model)
    clone = lfs_clone(site.clone_url(model, "alice"), tmp_path / "clone")
    assert (clone / "weights" / "big file.dat").read_bytes() == data
    attributes = (clone / ".gitattributes").read_text()
    assert "big" in attributes
    assert git("check-attr", "filter", "--", "weights/big file.dat", cwd=clone).stdout.strip() \
        .endswith("filter: lfs")
    path = hf_hub_download(model, "weights/big file.dat", endpoint=site.url,
                           token=site.keys["alice"], cache_dir=tmp_path / "c")
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == \
        hashlib.sha256(data).hexdigest()


def test_broken_card_refused_like_git_push(site: Site, uploads: str, tmp_path: Path) -> None:
    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/cards").repo_id
    api.upload_file(path_or_fileobj=CARD.encode(), path_in_repo="README.md", repo_id=model)
    before = tip(site, model)
    repo = lfs_clone(site.clone_url(model, "alice"), tmp_path / "git")
    commit_file(repo, "README.md", BROKEN_CARD, "broken")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    remote = [line.removeprefix("remote: ").rstrip() for line in pushed.stderr.splitlines()
              if line.startswith("remote: modelgit:")]
    assert remote and "Did you mean 'PyTorch'" in "\n".join(remote)
    # The client checks the card first (validate-yaml): refused there with git push's lines.
    with pytest.raises(ValueError, match=r"Invalid metadata in README\.md") as invalid:
        api.upload_file(path_or_fileobj=BROKEN_CARD.encode(), path_in_repo="README.md",
                        repo_id=model)
    said = [line.removeprefix("- ") for line in str(invalid.value).splitlines()[1:]]
    assert said[1:] == remote[1:] and remote[0].startswith(said[0])  # push names its branch
    # A commit sent without that check is refused by the push checks, with the same lines.
    status, body = post_commit(site, model, ndjson(
        {"key": "header", "value": {"summary": "broken"}},
        {"key": "file", "value": {"path": "README.md", "encoding": "base64",
                                  "content": base64.b64encode(BROKEN_CARD.encode()).decode()}}))
    assert status == 422
    assert json.loads(body)["error"].splitlines() == remote
    assert tip(site, model) == before
    objects = Path(site.data, "repos", uploads, "cards.git", "objects")
    assert not list(objects.glob("tmp_objdir-hub-*"))


def test_secret_refused_like_git_push(site: Site, uploads: str, tmp_path: Path) -> None:
    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/secrets", exist_ok=True).repo_id
    api.upload_file(path_or_fileobj=b"ok\n", path_in_repo="ok.txt", repo_id=model)
    before = tip(site, model)
    repo = lfs_clone(site.clone_url(model, "alice"), tmp_path / "git")
    commit_file(repo, "train.py", AWS_SECRET, "oops")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    remote = [line.removeprefix("remote: ").rstrip() for line in pushed.stderr.splitlines()
              if line.startswith("remote: modelgit:")]
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=AWS_SECRET.encode(), path_in_repo="train.py",
                        repo_id=model)
    assert refused.value.response.status_code == 422
    answer = refused.value.response.json()["error"].splitlines()
    # The same finding and false-positive advice; the fix is the upload's, not git's.
    found = [x for x in answer if x.startswith("modelgit:   train.py")]
    assert found == [re.sub(r"  \(commit [0-9a-f]{7}\)", "", x) for x in remote
                     if x.startswith("modelgit:   train.py")]
    assert "modelgit:   train.py:1  AWS Access Key" in found
    assert answer[0] == f"modelgit: commit to {model} refused: the security scan found" \
        f" {len(found)} problems:"
    assert "pragma: allowlist secret" in "\n".join(answer)
    assert "remove the secret from the file" in answer[-4]
    assert answer[-1] == "modelgit: then upload the files again."
    assert "--amend" not in str(refused.value) and "--amend" in pushed.stderr
    assert str(refused.value).count("the security scan found") == 1
    assert "wJalrXUtnFEMI" not in str(refused.value)
    assert tip(site, model) == before


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def test_bad_pickle_upload_refused_once_with_its_meaning(site: Site, uploads: str) -> None:
    """What the client raises says, once, what the pickle would do and how to upload the
    weights instead; no git advice, no secrets advice."""
    import pickle

    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/pickled", exist_ok=True).repo_id
    api.upload_file(path_or_fileobj=b"ok\n", path_in_repo="ok.txt", repo_id=model)
    before = tip(site, model)
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=pickle.dumps(Evil()), path_in_repo="model.pkl",
                        repo_id=model)
    assert refused.value.response.status_code == 422
    shown = str(refused.value)
    first = f"modelgit: commit to {model} refused: the security scan found 1 problem:"
    assert shown.count(first) == 1 and shown.count("the security scan found") == 1
    assert "modelgit:   model.pkl: posix.system runs a shell command when the file is loaded" \
        in shown.splitlines()
    assert 'save_file(model.state_dict(), "model.safetensors")' in shown
    assert "Instead of model.pkl, save the weights as safetensors" in shown
    assert shown.rstrip().endswith("modelgit: then upload the files again.")
    assert "git " not in shown and "--amend" not in shown and "secret" not in shown.lower()
    assert tip(site, model) == before


def test_stale_parent_commit_is_a_failed_precondition(site: Site, uploads: str) -> None:
    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/race").repo_id
    first = api.upload_file(path_or_fileobj=b"1\n", path_in_repo="a.txt", repo_id=model).oid
    second = api.upload_file(path_or_fileobj=b"2\n", path_in_repo="a.txt", repo_id=model).oid
    with pytest.raises(HfHubHTTPError) as stale:
        api.create_commit(model, [CommitOperationAdd("b.txt", b"3\n")], commit_message="late",
                          parent_commit=first)
    assert stale.value.response.status_code == 412
    assert "parentCommit" in stale.value.response.json()["error"]
    assert tip(site, model) == second
    ok = api.create_commit(model, [CommitOperationAdd("b.txt", b"3\n")], commit_message="ok",
                           parent_commit=second[:7])
    assert tip(site, model) == ok.oid


def test_concurrent_commits_all_land(site: Site, uploads: str) -> None:
    """Commits without a parent that arrive together queue up: none is lost or refused."""
    from concurrent.futures import ThreadPoolExecutor

    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/together").repo_id
    api.upload_file(path_or_fileobj=b"0\n", path_in_repo="0.txt", repo_id=model)

    def upload(n: int) -> str:
        return api_for(site, "alice").upload_file(
            path_or_fileobj=f"{n}\n".encode(), path_in_repo=f"{n}.txt", repo_id=model).oid

    with ThreadPoolExecutor(max_workers=5) as pool:
        oids = list(pool.map(upload, range(1, 6)))
    assert len(set(oids)) == 5
    assert api.list_repo_files(model) == [".gitattributes", *(f"{n}.txt" for n in range(6))]
    count = git("rev-list", "--count", "refs/heads/main",
                cwd=Path(site.data, "repos", uploads, "together.git")).stdout.strip()
    assert count == "7"  # the first commit (.gitattributes) and one per upload


def ndjson(*items: dict[str, object]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def post_commit(site: Site, model: str, body: bytes, user: str = "alice") -> tuple[int, str]:
    answer = site.http("POST", f"/api/models/{model}/commit/main", key=site.keys[user],
                       body=body, headers={"Content-Type": "application/x-ndjson"})
    return answer.status, answer.body.decode()


def test_commit_endpoint_refuses_hostile_input(site: Site, seeded: Seeded, uploads: str) -> None:
    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/hostile", private=True).repo_id
    api.upload_file(path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=model)
    before = tip(site, model)
    header = {"key": "header", "value": {"summary": "s"}}
    file_op = {"key": "file", "value": {"path": "ok.txt", "encoding": "base64",
                                         "content": base64.b64encode(b"ok").decode()}}
    for path in ("../escape", "a/../../b", ".git/config", "a//b", "/abs", "A/.GIT/x", "nul\x00"):
        bad = {"key": "file", "value": {**file_op["value"], "path": path}}  # type: ignore[dict-item]
        status, body = post_commit(site, model, ndjson(header, bad))
        assert status == 400, (path, status, body)
    # An LFS object that exists on the server but was uploaded to another model.
    other_oid = hashlib.sha256(seeded.weights).hexdigest()
    lfs = {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": other_oid,
                                       "size": len(seeded.weights)}}
    status, body = post_commit(site, model, ndjson(header, lfs))
    assert status == 422 and "has not been uploaded to" in body
    assert post_commit(site, model, ndjson(file_op))[0] == 400          # no header first
    assert post_commit(site, model, b"{not json}\n")[0] == 400
    assert post_commit(site, model, ndjson(header, {"key": "deletedFile",
                                                    "value": {"path": "nope"}}))[0] == 404
    assert post_commit(site, model, ndjson(header, {"key": "shell", "value": {}}))[0] == 400
    # Read-only keys, strangers and anonymous callers cannot commit.
    site.user("reader", scope="read")
    site.cli("grant", model, "reader", "developer")
    assert post_commit(site, model, ndjson(header, file_op), user="reader")[0] == 403
    assert post_commit(site, model, ndjson(header, file_op), user="bob")[0] == 404
    anonymous = site.http("POST", f"/api/models/{model}/commit/main", body=ndjson(header),
                          headers={"Content-Type": "application/x-ndjson"})
    assert anonymous.status == 401
    assert tip(site, model) == before
    assert post_commit(site, model, ndjson(header, file_op))[0] == 200


def test_gitignore_branches_and_pull_requests(site: Site, uploads: str, tmp_path: Path) -> None:
    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/ignore").repo_id
    folder = make_folder(tmp_path / "src", {".gitignore": b"*.log\ncache/\n",
                                            "keep.txt": b"k\n", "debug.log": b"noise\n",
                                            "cache/x.bin": b"x"})
    api.upload_folder(repo_id=model, folder_path=folder)
    assert api.list_repo_files(model) == [".gitattributes", ".gitignore", "keep.txt"]
    with pytest.raises(RevisionNotFoundError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=model,
                        revision="no-such-branch")
    with pytest.raises(HfHubHTTPError, match="no pull requests"):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=model,
                        create_pr=True)
    # A branch made with git takes API commits; a folder can be deleted.
    repo = lfs_clone(site.clone_url(model, "alice"), tmp_path / "git")
    git("push", "-q", "origin", "main:dev", cwd=repo)
    api.upload_file(path_or_fileobj=b"d/1", path_in_repo="d/1.txt", repo_id=model,
                    revision="dev")
    api.upload_file(path_or_fileobj=b"d/2", path_in_repo="d/sub/2.txt", repo_id=model,
                    revision="dev")
    api.delete_folder("d", repo_id=model, revision="dev")
    assert api.list_repo_files(model, revision="dev") == [".gitattributes", ".gitignore",
                                                          "keep.txt"]


def test_hub_commit_goes_through_the_ref_rules(site: Site, uploads: str) -> None:
    """Finding 13: the API's one ref change (a commit to a branch) asks the same ref rules as
    git push: a refs/heads/HEAD made around the hooks (before the rule) takes no commit."""
    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/headref").repo_id
    api.upload_file(path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=model)
    bare = Path(site.data, "repos", uploads, "headref.git")
    git("update-ref", "refs/heads/HEAD", "refs/heads/main", cwd=bare)
    before = tip(site, model, "HEAD")
    header = {"key": "header", "value": {"summary": "s"}}
    file_op = {"key": "file", "value": {"path": "ok.txt", "encoding": "base64",
                                         "content": base64.b64encode(b"ok").decode()}}
    answer = site.http("POST", f"/api/models/{model}/commit/HEAD", key=site.keys["alice"],
                       body=ndjson(header, file_op),
                       headers={"Content-Type": "application/x-ndjson"})
    assert answer.status == 403, answer.body
    assert "'HEAD' is not a branch name here" in answer.body.decode()
    assert tip(site, model, "HEAD") == before


def test_big_text_and_lfs_text_refused_like_git_push(site: Site, uploads: str,
                                                     tmp_path: Path) -> None:
    """Finding 4 through the hub API: a 6 MB log (a regular file: under the LFS threshold)
    and a .env that .gitattributes sends through LFS are scanned like a git push's."""
    api = api_for(site, "alice")
    model = api.create_repo(f"{uploads}/bigtext", exist_ok=True).repo_id
    api.upload_file(path_or_fileobj=b"ok\n", path_in_repo="ok.txt", repo_id=model)
    before = tip(site, model)
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=big_log(), path_in_repo="logs/train.log",
                        repo_id=model)
    answer = refused.value.response.json()["error"]
    assert refused.value.response.status_code == 422
    assert "logs/train.log:70001  Secret Keyword" in answer and "wJalrXUtnFEMI" not in answer
    folder = make_folder(tmp_path / "src", {
        ".gitattributes": b"*.env filter=lfs diff=lfs merge=lfs -text\n",
        "prod.env": f"REGION=eu-west-1\n{AWS_KEY_LINE}\n".encode(),
    })
    with pytest.raises(HfHubHTTPError) as refused_lfs:
        api.upload_folder(repo_id=model, folder_path=folder, commit_message="env")
    answer = refused_lfs.value.response.json()["error"]
    assert refused_lfs.value.response.status_code == 422
    assert "prod.env:2  Secret Keyword" in answer and "wJalrXUtnFEMI" not in answer
    assert tip(site, model) == before
