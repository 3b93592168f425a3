"""The one revision resolution: the precedence table, peeling, and hostile revisions."""

from __future__ import annotations

import pygit2
import pytest

from modelgit.git import revisions
from modelgit.git.errors import InvalidRevision, RevisionNotFound
from modelgit.git.repo import open_model
from tests.git.conftest import MODEL, Repo


@pytest.fixture(scope="module")
def pygit(repo: Repo) -> pygit2.Repository:
    return open_model(repo.cfg, MODEL)


def test_resolution_table(repo: Repo, pygit: pygit2.Repository) -> None:
    table = {
        "main": ("refs/heads/main", repo.c2),
        "side": ("refs/heads/side", repo.c3),
        "refs/heads/side": ("refs/heads/side", repo.c3),
        "v1": ("refs/tags/v1", repo.c1),
        "refs/tags/v1": ("refs/tags/v1", repo.c1),
        "v1-annotated": ("refs/tags/v1-annotated", repo.c1),  # peeled to its commit
        # a branch and a tag of one name: the branch, as huggingface_hub expects
        "same": ("refs/heads/same", repo.c2),
        "refs/tags/same": ("refs/tags/same", repo.c1),
        # a branch named like a short commit id wins over the commit
        repo.c1[:7]: (f"refs/heads/{repo.c1[:7]}", repo.c2),
        repo.c1: (None, repo.c1),
        repo.c1[:8]: (None, repo.c1),
        repo.c2[:4]: (None, repo.c2),
        repo.c3: (None, repo.c3),
        "HEAD": ("HEAD", repo.c2),
    }
    for rev, (name, commit) in table.items():
        found_name, found = revisions.find(pygit, rev)
        assert (found_name, str(found.id)) == (name, commit), rev
        assert str(revisions.resolve(pygit, rev, reachable_only=True).id) == commit, rev


@pytest.mark.parametrize("rev", ["nope", "refs/heads/nope", "refs/pr/1", "refs/remotes/x",
                                 "treetag", "0" * 40, "abcdef0", "refs/tags/treetag"])
def test_names_that_lead_to_no_commit(pygit: pygit2.Repository, rev: str) -> None:
    with pytest.raises(RevisionNotFound) as err:
        revisions.resolve(pygit, rev)
    assert err.value.status == 404
    assert not isinstance(err.value, InvalidRevision)


def test_unreachable_commit_only_when_allowed(repo: Repo, pygit: pygit2.Repository) -> None:
    assert str(revisions.resolve(pygit, repo.loose).id) == repo.loose
    with pytest.raises(RevisionNotFound):
        revisions.resolve(pygit, repo.loose, reachable_only=True)
    with pytest.raises(RevisionNotFound):
        revisions.resolve(pygit, repo.loose[:10], reachable_only=True)


def test_a_tree_or_blob_id_is_no_revision(repo: Repo, pygit: pygit2.Repository) -> None:
    with pytest.raises(RevisionNotFound):
        revisions.resolve(pygit, repo.tree)
    assert revisions.peel_commit(pygit, repo.tree) is None
    assert revisions.peel_commit(pygit, "f" * 40) is None


HOSTILE = [
    "", "-x", "--upload-pack=touch /tmp/x", "--", "-", "a..b", "main..side", "main...side",
    "main@{1}", "@{-1}", "@{upstream}", "@", "main~1", "main^", "main^{tree}", "main^!",
    "main:README.md", ":/second", ":README.md", "a b", "main\n", "main\x00", "\x7f", "*",
    "ma?n", "[ab]", "a\\b", ".hidden", "main.lock", "a//b", "/main", "main/", "main.",
    "refs/heads/../main", "refs/heads/-x", "x" * 256,
]


@pytest.mark.parametrize("rev", HOSTILE, ids=repr)
def test_hostile_revisions_refused_before_lookup(pygit: pygit2.Repository, rev: str) -> None:
    with pytest.raises(InvalidRevision) as err:
        revisions.resolve(pygit, rev)
    assert err.value.status == 404  # answered like a name that is not there
    with pytest.raises(InvalidRevision):
        revisions.check_revision(rev)


@pytest.mark.parametrize("rev", [None, 1, b"main", ["main"]], ids=repr)
def test_non_strings_refused(pygit: pygit2.Repository, rev: object) -> None:
    with pytest.raises(InvalidRevision):
        revisions.resolve(pygit, rev)  # type: ignore[arg-type]


def test_list_refs(repo: Repo, pygit: pygit2.Repository) -> None:
    refs = {(r.kind, r.short): r.commit for r in revisions.list_refs(pygit)}
    assert refs == {
        ("branch", "main"): repo.c2, ("branch", "side"): repo.c3,
        ("branch", "same"): repo.c2, ("branch", repo.c1[:7]): repo.c2,
        ("tag", "v1"): repo.c1, ("tag", "v1-annotated"): repo.c1, ("tag", "same"): repo.c1,
    }  # treetag leads to no commit: left out
    assert [r.name for r in revisions.list_refs(pygit)] == sorted(
        r.name for r in revisions.list_refs(pygit))


def test_reachability(repo: Repo, pygit: pygit2.Repository) -> None:
    assert revisions.reachable(pygit, pygit2.Oid(hex=repo.c1))
    assert revisions.reachable(pygit, pygit2.Oid(hex=repo.c3))
    assert not revisions.reachable(pygit, pygit2.Oid(hex=repo.loose))


def test_walk_new_skips_what_refs_reach(repo: Repo, pygit: pygit2.Repository) -> None:
    assert list(revisions.walk_new(pygit, [pygit2.Oid(hex=repo.c2)])) == []
    assert [str(c.id) for c in revisions.walk_new(pygit, [pygit2.Oid(hex=repo.loose)])] == [
        repo.loose]
