"""Hooks: ref rules of docs/access.md, the push record, and chaining a foreign hook (real git)."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest

from modelgit.hooks import install as hooks_install
from modelgit.store import Store
from tests.conftest import Site, commit_file, git


@pytest.fixture
def model(site: Site, request: pytest.FixtureRequest, work: Path) -> str:
    """A fresh model per test with one commit on main and a developer and a maintainer."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    if len(name) > 60:  # parametrized names differ at the end: keep them apart
        name = f"{name[:50]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    model_id = f"hooks/{name}"
    site.model(model_id)
    for name, role in (("dev", "developer"), ("maint", "maintainer")):
        if name not in site.keys:
            site.user(name)
        site.cli("grant", model_id, name, role)
    seed = work / "seed"
    git("clone", "-q", site.clone_url(model_id, "owner"), str(seed))
    commit_file(seed, "README.md", "one\n", "one")
    commit_file(seed, "b.txt", "two\n", "two")
    git("push", "-q", "origin", "main", cwd=seed)
    return model_id


def _clone(site: Site, model: str, user: str, dest: Path) -> Path:
    git("clone", "-q", site.clone_url(model, user), str(dest))
    return dest


def _tip(site: Site, model: str, ref: str = "refs/heads/main") -> str:
    out = git("ls-remote", site.clone_url(model, "owner"), ref).stdout.split()
    return out[0] if out else ""


def test_developer_cannot_force_push_default_branch(site: Site, model: str, work: Path) -> None:
    repo = _clone(site, model, "dev", work / "d")
    before = _tip(site, model)
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    commit_file(repo, "c.txt", "rewritten", "rewrite")
    pushed = git("push", "--force", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    assert "remote: modelgit: refs/heads/main: force-pushing the default branch" in pushed.stderr
    assert "needs maintainer" in pushed.stderr
    assert _tip(site, model) == before, "a refused push moved the branch"


def test_developer_may_force_push_other_branches(site: Site, model: str, work: Path) -> None:
    repo = _clone(site, model, "dev", work / "d")
    git("push", "-q", "origin", "main:feature", cwd=repo)
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    git("push", "-q", "--force", "origin", "HEAD:feature", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert _tip(site, model, "refs/heads/feature") == head


def test_maintainer_may_force_push_default_branch(site: Site, model: str, work: Path) -> None:
    repo = _clone(site, model, "maint", work / "m")
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    new = commit_file(repo, "c.txt", "rewritten", "rewrite")
    git("push", "-q", "--force", "origin", "main", cwd=repo)
    assert _tip(site, model) == new


def test_deleting_default_branch_needs_maintainer(site: Site, model: str, work: Path) -> None:
    repo = _clone(site, model, "dev", work / "d")
    refused = git("push", "origin", ":main", cwd=repo, check=False)
    assert refused.returncode != 0
    assert "deleting the default branch" in refused.stderr
    assert _tip(site, model)
    # A developer deletes other branches freely.
    git("push", "-q", "origin", "main:topic", cwd=repo)
    git("push", "-q", "origin", ":topic", cwd=repo)
    assert _tip(site, model, "refs/heads/topic") == ""


def test_tags_need_developer_and_work_for_developers(site: Site, model: str, work: Path) -> None:
    repo = _clone(site, model, "dev", work / "d")
    git("tag", "v1", cwd=repo)
    git("push", "-q", "origin", "v1", cwd=repo)
    assert _tip(site, model, "refs/tags/v1")


def test_other_ref_namespaces_are_refused(site: Site, model: str, work: Path) -> None:
    repo = _clone(site, model, "owner", work / "o")
    refused = git("push", "origin", "HEAD:refs/notes/x", cwd=repo, check=False)
    assert refused.returncode != 0
    assert "only branches (refs/heads/) and tags (refs/tags/)" in refused.stderr


def test_all_or_nothing_across_refs(site: Site, model: str, work: Path) -> None:
    """One refused ref refuses the push: the allowed ref in the same push does not move."""
    repo = _clone(site, model, "dev", work / "d")
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    commit_file(repo, "c.txt", "x", "x")
    before = _tip(site, model)
    pushed = git("push", "--force", "origin", "HEAD:main", "HEAD:other", cwd=repo, check=False)
    assert pushed.returncode != 0
    assert _tip(site, model) == before
    assert _tip(site, model, "refs/heads/other") == ""


def test_push_is_recorded_in_audit(site: Site, model: str, work: Path) -> None:
    repo = _clone(site, model, "dev", work / "d")
    new = commit_file(repo, "d.txt", "d", "d")
    git("push", "-q", "origin", "main", cwd=repo)
    rows = Store(site.data / "modelgit.db").audit_rows(target=model, action="push")
    assert rows and rows[0]["actor"] == "dev"
    assert rows[0]["detail"]["updates"][0][1:] == [new, "refs/heads/main"]


def test_hook_without_pusher_refuses(site: Site, model: str, work: Path) -> None:
    """A push that bypasses HTTP (file access to the repo) has no known pusher: denied."""
    repo_dir = site.data / "repos" / f"{model}.git"
    repo = work / "local"
    git("clone", "-q", str(repo_dir), str(repo))
    commit_file(repo, "e.txt", "e", "e")
    pushed = git("push", "origin", "main", cwd=repo, check=False,
                 env={"REMOTE_USER": "", "MODELGIT_USER": ""})
    assert pushed.returncode != 0
    assert "no authenticated pusher" in pushed.stderr


def test_foreign_hook_is_kept_chained_and_restored(site: Site, model: str, work: Path) -> None:
    repo_dir = site.data / "repos" / f"{model}.git"
    hook = repo_dir / "hooks" / "pre-receive"
    ours = hook.read_text()
    # Put a foreign hook in place, then reinstall: it is kept as .legacy and runs first.
    marker = work / "legacy-ran"
    hook.write_text(
        "#!/bin/sh\ncat > {marker}\n"
        "grep -q refs/heads/blocked {marker} && { echo 'legacy says no' >&2; exit 1; }\n"
        "exit 0\n".replace("{marker}", str(marker)))
    hook.chmod(0o755)
    done = hooks_install.install(repo_dir, site.data, model)
    assert "kept pre-receive as pre-receive.legacy" in done
    assert (repo_dir / "hooks" / "pre-receive.legacy").exists()
    assert hook.read_text() == ours
    # Idempotent: a second install changes nothing.
    assert hooks_install.install(repo_dir, site.data, model) == []

    repo = _clone(site, model, "dev", work / "d")
    commit_file(repo, "f.txt", "f", "f")
    git("push", "-q", "origin", "main", cwd=repo)
    assert "refs/heads/main" in marker.read_text(), "legacy hook did not get the ref lines"
    refused = git("push", "origin", "main:blocked", cwd=repo, check=False)
    assert refused.returncode != 0 and "legacy says no" in refused.stderr
    assert _tip(site, model, "refs/heads/blocked") == ""

    # Uninstall puts the foreign hook back.
    hooks_install.uninstall(repo_dir)
    assert "legacy-ran" in hook.read_text()
    hooks_install.install(repo_dir, site.data, model)


def test_missing_interpreter_is_explained(site: Site, model: str, work: Path) -> None:
    repo_dir = site.data / "repos" / f"{model}.git"
    hook = repo_dir / "hooks" / "pre-receive"
    hook.write_text(hooks_install.render(site.data, model, python="/nonexistent/python"))
    repo = _clone(site, model, "dev", work / "d")
    commit_file(repo, "g.txt", "g", "g")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    assert "hooks install --all" in pushed.stderr
    hooks_install.install(repo_dir, site.data, model)


def test_install_that_cannot_render_leaves_the_foreign_hook_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If writing our hook fails (here: its template is unreadable), the repository's own
    hook stays where it was: moving it aside first would leave a repository with no
    pre-receive at all, where every push skips every check."""
    repo = tmp_path / "r.git"
    git("init", "-q", "--bare", str(repo))
    foreign = repo / "hooks" / "pre-receive"
    foreign.write_text("#!/bin/sh\nexit 1\n")

    def unreadable() -> str:
        raise FileNotFoundError("hook.tmpl")

    monkeypatch.setattr(hooks_install, "_template", unreadable)
    with pytest.raises(FileNotFoundError):
        hooks_install.install(repo, tmp_path / "data", "s/m")
    assert foreign.read_text() == "#!/bin/sh\nexit 1\n"
    assert not (repo / "hooks" / "pre-receive.legacy").exists()


# ------------------------------------------------------- refs that must peel to a commit
#: A secret in the tagged blob: a tag to a blob skipped every scan (no commit to walk).
# pragma: allowlist nextline secret
TAGGED_SECRET = b'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'


def _make_tag(repo: Path, how: str) -> str:
    """Make refs/tags/t in ``repo`` the way ``how`` says; return the type it peels to."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=TAGGED_SECRET).stdout.strip()
    tree = git("rev-parse", "HEAD^{tree}", cwd=repo).stdout.strip()
    if how == "lightweight-blob":
        git("tag", "t", blob, cwd=repo)
        return "blob"
    if how == "annotated-blob":
        git("tag", "-a", "-m", "t", "t", blob, cwd=repo)
        return "blob"
    if how == "lightweight-tree":
        git("tag", "t", tree, cwd=repo)
        return "tree"
    if how == "annotated-tree":
        git("tag", "-a", "-m", "t", "t", tree, cwd=repo)
        return "tree"
    assert how == "tag-to-tag-to-blob"
    git("tag", "-a", "-m", "inner", "inner", blob, cwd=repo)
    git("tag", "-a", "-m", "outer", "t", "inner", cwd=repo)
    git("tag", "-d", "inner", cwd=repo)  # only t is pushed; its chain carries the inner tag
    return "blob"


@pytest.mark.parametrize("how", ["lightweight-blob", "annotated-blob", "lightweight-tree",
                                 "annotated-tree", "tag-to-tag-to-blob"])
def test_tags_must_point_at_commits(site: Site, model: str, work: Path, how: str) -> None:
    """Finding 5: a tag to a blob or a tree is refused with the rule, before any scan."""
    repo = _clone(site, model, "owner", work / "o")
    kind = _make_tag(repo, how)
    pushed = git("push", "origin", "refs/tags/t", cwd=repo, check=False)
    assert pushed.returncode != 0, pushed.stderr
    assert (f"remote: modelgit: refs/tags/t points at a {kind}; only commits may be tagged"
            " here.") in pushed.stderr
    assert "wJalrXUtnFEMI" not in pushed.stderr
    assert _tip(site, model, "refs/tags/t") == ""


def test_annotated_tag_to_a_commit_is_fine(site: Site, model: str, work: Path) -> None:
    repo = _clone(site, model, "dev", work / "d")
    git("tag", "-a", "-m", "inner", "inner", "HEAD", cwd=repo)
    git("tag", "-a", "-m", "release", "v2", "inner", cwd=repo)
    git("push", "-q", "origin", "v2", cwd=repo)
    assert _tip(site, model, "refs/tags/v2")


def _wait_task(store: Store, task_id: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (store.get_task(task_id) or {}).get("status") in ("queued", "running"):
        assert time.monotonic() < deadline, store.get_task(task_id)
        time.sleep(0.1)


def test_post_receive_reports_skip_refs_that_name_no_commit(
        site: Site, model: str, caplog: pytest.LogCaptureFixture) -> None:
    """Finding 5: the report step crashed (InvalidSpecError) on a ref to a blob or a tree.
    Such refs can only come from around the hooks now; the rest of the push is reported."""
    import logging

    from modelgit import config as config_mod
    from modelgit import tasks
    from modelgit.hooks import post_receive
    from modelgit.hooks.pre_receive import ZERO, RefUpdate

    bare = site.data / "repos" / f"{model}.git"
    blob = git("hash-object", "-w", "--stdin", cwd=bare, input=TAGGED_SECRET).stdout.strip()
    tree = git("rev-parse", "main^{tree}", cwd=bare).stdout.strip()
    main = git("rev-parse", "main", cwd=bare).stdout.strip()
    git("update-ref", "refs/tags/blob", blob, cwd=bare)  # update-ref runs no hook
    git("update-ref", "refs/tags/tree", tree, cwd=bare)
    git("update-ref", "refs/heads/copy", main, cwd=bare)
    updates = [RefUpdate(ZERO, blob, "refs/tags/blob"), RefUpdate(ZERO, tree, "refs/tags/tree"),
               RefUpdate(ZERO, main, "refs/heads/copy")]
    cfg = config_mod.load(site.data)
    store = Store(cfg.db_path)
    row = store.get_model(model)
    assert row is not None
    with caplog.at_level(logging.DEBUG, logger="modelgit"):
        post_receive.run_steps(cfg, store, row, "owner", updates)
        queued = [t for t in store.list_tasks("scan", model) if t["status"] == "queued"]
        assert {t["ref"] for t in queued} >= {"refs/tags/blob", "refs/tags/tree",
                                              "refs/heads/copy"}
        # Run here what the server's worker has not claimed yet; wait for the rest.
        for task in queued:
            claimed = store.claim_task(tasks.new_token(), 60, task_id=task["id"])
            if claimed is not None:
                assert tasks.run_claimed_task(cfg, store, claimed) == "done"
        for task in queued:
            _wait_task(store, task["id"])
    problems = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and r.name.startswith("modelgit")]
    assert problems == []
    for task in queued:
        assert store.get_task(task["id"])["status"] == "done"
    assert store.latest_scans(model, blob) == [] and store.latest_scans(model, tree) == []
    assert all(r.levelno == logging.DEBUG for r in caplog.records
               if "names no commit" in r.getMessage())
    scanned = {s["scanner"] for s in store.latest_scans(model, main)}
    assert scanned == {"secrets", "bandit", "pickles"}


# ---------------------------------------------------------------- names and tag moves
@pytest.mark.parametrize("ref", ["refs/heads/HEAD", "refs/tags/HEAD"])
def test_head_is_not_a_branch_or_tag_name(site: Site, model: str, work: Path, ref: str) -> None:
    """Finding 13: refs/heads/HEAD was accepted and then served as resolve/HEAD."""
    repo = _clone(site, model, "owner", work / "o")
    pushed = git("push", "origin", f"HEAD:{ref}", cwd=repo, check=False)
    assert pushed.returncode != 0
    assert "'HEAD' is not a" in pushed.stderr and "choose another name" in pushed.stderr
    assert _tip(site, model, ref) == ""
    # HEAD as one part of a longer name is an ordinary name, as for git check-ref-format.
    git("push", "-q", "origin", f"HEAD:{ref}/x", cwd=repo)
    assert _tip(site, model, f"{ref}/x")


def test_a_head_ref_made_before_the_rule_can_be_deleted(site: Site, model: str,
                                                         work: Path) -> None:
    bare = site.data / "repos" / f"{model}.git"
    git("update-ref", "refs/heads/HEAD", "refs/heads/main", cwd=bare)
    repo = _clone(site, model, "dev", work / "d")
    git("push", "-q", "origin", ":refs/heads/HEAD", cwd=repo)
    assert _tip(site, model, "refs/heads/HEAD") == ""


def test_moving_or_deleting_a_tag_needs_maintainer(site: Site, model: str, work: Path) -> None:
    """Finding 13: a developer could move (`push -f`) or delete a release tag."""
    dev = _clone(site, model, "dev", work / "d")
    git("tag", "v1", "HEAD~1", cwd=dev)
    git("push", "-q", "origin", "v1", cwd=dev)  # creating a tag: developer, as before
    released = _tip(site, model, "refs/tags/v1")
    moved = git("push", "-f", "origin", "HEAD:refs/tags/v1", cwd=dev, check=False)
    assert moved.returncode != 0
    assert ("remote: modelgit: refs/tags/v1: moving an existing tag of"
            f" {model} needs maintainer") in moved.stderr
    deleted = git("push", "origin", ":refs/tags/v1", cwd=dev, check=False)
    assert deleted.returncode != 0
    assert "deleting an existing tag" in deleted.stderr
    assert _tip(site, model, "refs/tags/v1") == released
    maint = _clone(site, model, "maint", work / "m")
    git("push", "-q", "-f", "origin", "HEAD:refs/tags/v1", cwd=maint)
    assert _tip(site, model, "refs/tags/v1") == git("rev-parse", "HEAD", cwd=maint).stdout.strip()
    git("push", "-q", "origin", ":refs/tags/v1", cwd=maint)
    assert _tip(site, model, "refs/tags/v1") == ""
