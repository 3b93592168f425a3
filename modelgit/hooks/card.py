"""The model card at push time: validate README.md on pushed branches, index the default one.

Reads blobs with pygit2 through the push's quarantine (so objects not yet accepted are
visible), with no git process and nothing checked out on disk.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelgit.config import Config
    from modelgit.hooks.pre_receive import Push, RefUpdate
    from modelgit.store import Store

README = "README.md"
MAX_README_BYTES = 8 * 1024 * 1024


def _readme(repo: Any, commit: Any) -> tuple[str, int] | None:
    """(blob id, size) of README.md at ``commit`` (a pygit2 commit or None), or None."""
    from modelgit.git import trees

    entry = trees.lookup(commit.tree, README) if commit is not None else None
    if entry is None or entry.type_str != "blob":
        return None
    return str(entry.id), trees.blob_size(repo, entry.id)


def _too_large(size: int) -> str:
    return (f"README.md is {size} bytes; a model card README must be under"
            f" {MAX_README_BYTES // (1024 * 1024)} MiB (keep large text in other files)")


def check_card_push(push: Push) -> list[str]:
    """Every pushed branch whose README.md changed (or that is new) must carry a valid card."""
    from modelgit.schema import check_card, rejection_lines

    required = bool(push.cfg.get("card.required"))
    schema_path = push.cfg.get("card.schema") or None
    branches = [u for u in push.updates
                if not u.is_delete and u.ref.startswith("refs/heads/")]
    if not branches:
        return []
    from modelgit.git.revisions import peel_commit

    repo = push.repository()
    for update in branches:
        new = _readme(repo, peel_commit(repo, update.new))
        if not update.is_create:
            old = _readme(repo, peel_commit(repo, update.old))
            if (new and new[0]) == (old and old[0]):
                continue
        if new is None and not required:
            continue
        if new is not None and new[1] > MAX_README_BYTES:
            return [f"modelgit: push rejected: {_too_large(new[1])}"]
        content = repo[new[0]].data if new else None
        result = check_card(content, required=required, schema_path=schema_path)
        if not result.ok:
            branch = update.ref.removeprefix("refs/heads/")
            lines = rejection_lines(result.errors)
            return [f"modelgit: {line}" if i else f"modelgit: {line} (branch {branch})"
                    for i, line in enumerate(lines)]
    return []


def index_card(cfg: Config, store: Store, model: dict[str, Any], user: str | None,
               updates: list[RefUpdate]) -> None:
    """Post-receive: the default branch's card becomes the model's searchable record."""
    from modelgit.git import revisions, trees
    from modelgit.git.repo import open_model
    from modelgit.schema import card_index, parse_front_matter

    default = f"refs/heads/{model['default_branch']}"
    if not any(u.ref == default and not u.is_delete for u in updates):
        return
    repo = open_model(cfg, model["id"])
    readme = _readme(repo, revisions.ref_commit(repo, default))
    data = None
    if readme is not None and readme[1] <= MAX_README_BYTES:
        data = parse_front_matter(trees.read_blob(repo, readme[0])).data
    card = {"data": data or {}, "index": card_index(data or {})}
    store.update_model(model["id"], card=json.dumps(card, default=str))
