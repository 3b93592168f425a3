"""THE pre-receive checks for ref updates that do not come from ``git push``.

A hub commit and a branch or tag made through the hub API are ref updates like any push: they
run :data:`modelgit.hooks.pre_receive.CHECKS` through ``run_checks`` on objects still in a
quarantine, with git's quarantine variables. This module is the one place that does so, and
that turns a refusal into the HTTP status named by the check that refused (a check that raised
is a 500: fail closed, and not the caller's fault).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pygit2

from modelgit.git.quarantine import quarantine_env
from modelgit.hubcommit.limits import CONTENT_STATUS, STATUS_BY_CHECK

if TYPE_CHECKING:
    from pathlib import Path

    from modelgit.authz.decide import Subject
    from modelgit.config import Config
    from modelgit.hooks.pre_receive import Push, RefUpdate
    from modelgit.store import Store


@dataclass(frozen=True)
class Refusal:
    """What the checks said (``remote:``-style lines), which check refused, and the status."""

    lines: list[str]
    check: str
    status: int


def _tracked(check: Callable[[Push], list[str]], seen: list[str], failed: list[str]
             ) -> Callable[[Push], list[str]]:
    """The check as it is, noting that it ran (and whether it raised) so that the refusal's
    HTTP status can name what refused; ``run_checks`` still does all the handling."""

    @functools.wraps(check)
    def run(push: Push) -> list[str]:
        seen.append(check.__name__)
        try:
            return check(push)
        except Exception:
            failed.append(check.__name__)
            raise

    return run


def check_updates(cfg: Config, store: Store, model: dict[str, Any], subject: Subject,
                  path: Path, folder: Path, updates: list[RefUpdate]) -> Refusal | None:
    """Run the pre-receive checks on ``updates`` whose new objects wait in ``folder``;
    ``None`` when every check passed."""
    from modelgit.hooks import pre_receive

    env = quarantine_env(path, folder)
    env["MODELGIT_KEY_SCOPE"] = subject.scope
    if subject.user:
        env["MODELGIT_USER"] = subject.user
    push = pre_receive.Push(cfg=cfg, store=store, model=model, user=subject.user, role=None,
                            updates=updates, repo=path, env=env, scope=subject.scope,
                            via="hub")
    seen: list[str] = []
    failed: list[str] = []
    lines = pre_receive.run_checks(push, [_tracked(c, seen, failed) for c in pre_receive.CHECKS])
    if not lines:
        return None
    check = seen[-1] if seen else ""
    status = 500 if failed else STATUS_BY_CHECK.get(check, CONTENT_STATUS)
    return Refusal(lines=lines, check=check, status=status)


def signature(store: Store, user: str) -> pygit2.Signature:
    """The caller as a git author or tagger: their full name and address from the store,
    or the user name at ``modelgit.invalid``."""
    row = store.get_user(user) or {}
    name = (row.get("fullname") or "").strip() or user
    email = (row.get("email") or "").strip() or f"{user}@modelgit.invalid"
    return pygit2.Signature(name, email)
