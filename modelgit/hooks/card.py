"""The model card at push time: validate README.md on pushed branches, index the default one.

Reads blobs with pygit2 through the push's quarantine (so objects not yet accepted are
visible), with no git process and nothing checked out on disk.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
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
        if result.ok and new is not None \
                and update.ref == f"refs/heads/{push.model['default_branch']}":
            _remember(push.model["id"], new[0], result.data)
        if not result.ok:
            branch = update.ref.removeprefix("refs/heads/")
            lines = rejection_lines(result.errors)
            return [f"modelgit: {line}" if i else f"modelgit: {line} (branch {branch})"
                    for i, line in enumerate(lines)]
    return []


# Cards pre-receive validated on a default branch, by (model, README blob id): post-receive
# indexes the same bytes moments later and need not parse them again. Bounded; a miss (another
# front end ran pre-receive, or the entry was pushed out) parses as before.
_CHECKED: OrderedDict[tuple[str, str], dict[str, Any] | None] = OrderedDict()
_CHECKED_MAX = 64
_checked_lock = threading.Lock()


def _remember(model_id: str, blob_id: str, data: dict[str, Any] | None) -> None:
    with _checked_lock:
        _CHECKED[(model_id, blob_id)] = data
        while len(_CHECKED) > _CHECKED_MAX:
            _CHECKED.popitem(last=False)


def _recall(model_id: str, blob_id: str) -> tuple[bool, dict[str, Any] | None]:
    with _checked_lock:
        if (model_id, blob_id) not in _CHECKED:
            return False, None
        return True, _CHECKED.pop((model_id, blob_id))


def index_card(cfg: Config, store: Store, model: dict[str, Any], user: str | None,
               updates: list[RefUpdate]) -> None:
    """Post-receive: the default branch's card becomes the model's searchable record (when
    the push changed its README.md, or created the branch)."""
    from modelgit.git import revisions, trees
    from modelgit.git.repo import open_model
    from modelgit.schema import card_index, parse_front_matter

    default = f"refs/heads/{model['default_branch']}"
    update = next((u for u in updates if u.ref == default and not u.is_delete), None)
    if update is None:
        return
    repo = open_model(cfg, model["id"])
    readme = _readme(repo, revisions.ref_commit(repo, default))
    if not update.is_create and readme == _readme(repo, revisions.peel_commit(repo, update.old)):
        return  # the same README: the indexed card is this one's already
    data = None
    if readme is not None and readme[1] <= MAX_README_BYTES:
        known, data = _recall(model["id"], readme[0])
        if not known:
            data = parse_front_matter(trees.read_blob(repo, readme[0])).data
    card = {"data": data or {}, "index": card_index(data or {})}
    store.update_model(model["id"], card=json.dumps(card, default=str))
