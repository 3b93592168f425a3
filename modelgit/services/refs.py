"""Branches and tags made or deleted through the hub API: ref updates like any push.

A ``create_branch`` or ``delete_tag`` is one ``RefUpdate`` that goes through THE pre-receive
checks (:func:`modelgit.hooks.pre_receive.run_checks`: the write right, the ref rules with the
protected default branch and the tag rules, quota, card, scans) with git's quarantine
variables, then ``git update-ref`` as a compare-and-swap, then the post-receive steps (which
audit it as a push). An annotated tag's object is written into a quarantine and moved in only
when the checks pass, so a refused tag leaves nothing behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pygit2

from modelgit.errors import Conflict, Invalid, ModelgitError, NotFound
from modelgit.git import commands, revisions
from modelgit.git.errors import RevisionNotFound
from modelgit.git.paths import repo_path
from modelgit.git.quarantine import migrate, open_quarantined, quarantine
from modelgit.git.repo import open_model
from modelgit.hooks import post_receive, pre_receive
from modelgit.hubcommit.gate import check_updates, signature
from modelgit.hubcommit.limits import ZERO

if TYPE_CHECKING:
    from pathlib import Path

    from modelgit.authz.decide import Subject
    from modelgit.config import Config
    from modelgit.store import Store

log = logging.getLogger("modelgit.hub")

#: Longest tag message accepted (a release note, not a file).
MAX_TAG_MESSAGE = 64 * 1024


@dataclass(frozen=True)
class RefChange:
    """Who changes which model's refs: the caller's subject, after ``decide()`` let it write."""

    cfg: Config
    store: Store
    model: dict[str, Any]
    subject: Subject
    address: str = ""


def _not_found_rev(rev: str, model_id: str) -> NotFound:
    return NotFound(f"Invalid rev id: {rev[:120]} is not a branch, a tag or a commit of"
                    f" {model_id}", code="RevisionNotFound")


def _start(repo: pygit2.Repository, rev: str, model_id: str) -> pygit2.Commit:
    """The commit a new branch or tag starts at (branch, tag or reachable commit id)."""
    try:
        return revisions.resolve(repo, rev, reachable_only=True)
    except (RevisionNotFound, ValueError):
        raise _not_found_rev(rev, model_id) from None


def _ref_name(kind: str, name: str) -> str:
    """``refs/heads/<name>`` or ``refs/tags/<name>`` if git itself takes it as a ref name;
    the ref rules then decide who may make it."""
    ref = f"refs/{'heads' if kind == 'branch' else 'tags'}/{name}"
    if not name or not pygit2.reference_is_valid_name(ref):
        raise Invalid(f"{name!r} is not a valid {kind} name (git's ref name rules: no spaces,"
                      " '..', '~', '^', ':', '?', '*', '[' or '\\\\'); choose another name")
    return ref


def _current(repo: pygit2.Repository, ref: str) -> str | None:
    try:
        return str(repo.references[ref].target)
    except KeyError:
        return None


def _apply(change: RefChange, ref: str, old: str, new: str,
           write: Any = None) -> None:
    """Check one ref update as a push and apply it; ``write(repo)`` may first add objects
    to the quarantine (an annotated tag) and return the oid the ref will name."""
    model_id = str(change.model["id"])
    path = repo_path(change.cfg, model_id)
    if not path.is_dir():
        raise NotFound(f"model {model_id} has no repository on this server",
                       code="RepoNotFound")
    with quarantine(path) as folder:
        if write is not None:
            new = str(write(open_quarantined(path, folder)))
        updates = [pre_receive.RefUpdate(old, new, ref)]
        _check(change, path, folder, updates)
        migrate(folder, path / "objects")
        moved = commands.update_ref(path, ref, new, old,
                                    f"modelgit: hub API by {change.subject.user}")
    if moved.returncode != 0:
        log.info("ref update %s on %s lost a race: %s", ref, model_id,
                 moved.stderr.decode("utf-8", "replace").strip())
        raise Conflict(f"{ref} of {model_id} changed while this request was being checked;"
                       " look at the refs again and retry")
    post_receive.run_steps(change.cfg, change.store, change.model, change.subject.user,
                           updates)


def _check(change: RefChange, path: Path, folder: Path,
           updates: list[pre_receive.RefUpdate]) -> None:
    """The pre-receive checks on the update, as for a push; a refusal keeps their lines and
    takes its status from the check that refused (as a hub commit's does)."""
    refusal = check_updates(change.cfg, change.store, change.model, change.subject, path,
                            folder, updates)
    if refusal is None:
        return
    change.store.audit("hub.ref.refused", actor=change.subject.user,
                       target=str(change.model["id"]), address=change.address,
                       detail={"check": refusal.check, "ref": updates[0].ref})
    lines, status = refusal.lines, refusal.status
    one = " ".join(line.removeprefix("modelgit: ") for line in lines)
    raise ModelgitError(lines, status=status, summary=one[:900])


def create_branch(change: RefChange, branch: str, starting_point: str | None) -> str:
    """A new branch at ``starting_point`` (default: the default branch's tip); 409 when it
    exists (what ``exist_ok=True`` expects). Returns the commit it names."""
    model_id = str(change.model["id"])
    ref = _ref_name("branch", branch)
    repo = open_model(change.cfg, model_id)
    if _current(repo, ref) is not None:
        # The public hubs' sentence, which clients match: "Reference refs/heads/x already exists".
        raise Conflict(f"Reference {ref} already exists in {model_id}")
    start = _start(repo, starting_point or str(change.model["default_branch"]), model_id)
    _apply(change, ref, ZERO, str(start.id))
    return str(start.id)


def delete_branch(change: RefChange, branch: str) -> None:
    _delete(change, "branch", branch)


def _delete(change: RefChange, kind: str, name: str) -> None:
    """Delete a branch or tag as a push deleting it would (the ref rules decide who may)."""
    model_id = str(change.model["id"])
    ref = _ref_name(kind, name)
    old = _current(open_model(change.cfg, model_id), ref)
    if old is None:
        raise _not_found_rev(name, model_id)
    _apply(change, ref, old, ZERO)


def create_tag(change: RefChange, tag: str, revision: str, message: str | None) -> str:
    """A tag at ``revision``: annotated when there is a message (tagger: the caller), else
    lightweight; 409 when it exists (moving a tag is deleting it first, which needs
    maintainer)."""
    model_id = str(change.model["id"])
    repo = open_model(change.cfg, model_id)
    # The revision first: an unknown one is RevisionNotFound whatever the tag is called, as
    # on the public hubs (the client's RevisionNotFoundError).
    target = _start(repo, revision, model_id)
    ref = _ref_name("tag", tag)
    if _current(repo, ref) is not None:
        raise Conflict(f"tag {tag} already exists in {model_id}; delete it first to move it"
                       " (needs maintainer), or choose another name")
    if message is None:
        _apply(change, ref, ZERO, str(target.id))
        return str(target.id)
    if len(message.encode("utf-8")) > MAX_TAG_MESSAGE or "\x00" in message:
        raise Invalid(f"the tag message must be text of at most {MAX_TAG_MESSAGE} bytes")
    tagger = signature(change.store, change.subject.user or "")
    text = message if message.endswith("\n") else message + "\n"

    def write(quarantined: pygit2.Repository) -> pygit2.Oid:
        # The tag object only (``Repository.create_tag`` would also make the ref, before
        # any check): written to the quarantine's object database.
        return quarantined.odb.write(pygit2.enums.ObjectType.TAG,
                                     tag_object(str(target.id), tag, tagger, text))

    _apply(change, ref, ZERO, "", write)
    return str(target.id)


def tag_object(target: str, name: str, tagger: pygit2.Signature, message: str) -> bytes:
    """An annotated tag object's bytes, as ``git tag -a`` writes them."""
    offset = tagger.offset
    sign = "-" if offset < 0 else "+"
    zone = f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    who, mail = (_header_safe(v) for v in (tagger.name, tagger.email))
    head = (f"object {target}\ntype commit\ntag {name}\n"
            f"tagger {who} <{mail}> {tagger.time} {zone}\n\n")
    return head.encode("utf-8") + message.encode("utf-8")


def _header_safe(value: str) -> str:
    """A name or address as one header field: no line breaks, no angle brackets (a full
    name is the user's own text)."""
    return " ".join(value.translate({ord(c): " " for c in "<>\r\n\x00"}).split())


def delete_tag(change: RefChange, tag: str) -> None:
    _delete(change, "tag", tag)

