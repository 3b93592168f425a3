"""Hooks: ref rules of DESIGN §4, the push record, and chaining a foreign hook (real git)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelgit.hooks import install as hooks_install
from modelgit.store import Store
from tests.conftest import Site, commit_file, git


@pytest.fixture
def model(site: Site, request: pytest.FixtureRequest, work: Path) -> str:
    """A fresh model per test with one commit on main and a developer and a maintainer."""
    model_id = f"hooks/{request.node.name.replace('_', '-').lower()[:60]}"
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
