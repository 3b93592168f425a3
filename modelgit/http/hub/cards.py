"""Model cards as the hub shows them: front matter, tags, the summary of a listing, siblings."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, cast

import pygit2

from modelgit.git import trees
from modelgit.http.hub.common import blob_meta

if TYPE_CHECKING:
    pass


log = logging.getLogger("modelgit.hub")


def front_matter(repo: pygit2.Repository, commit: pygit2.Commit | None) -> dict[str, Any]:
    """The README's front matter at a commit ({} without one); never raises for content."""
    from modelgit.hooks.card import MAX_README_BYTES
    from modelgit.schema import parse_front_matter

    if commit is None:
        return {}
    content = trees.read_file(repo, commit.tree, "README.md", MAX_README_BYTES)
    if content is None:
        return {}
    try:
        data = parse_front_matter(content).data
    except Exception:
        log.exception("could not read the front matter of %s", commit.id)
        return {}
    return data if isinstance(data, dict) else {}


def hub_tags(index: dict[str, Any]) -> list[str]:
    """The tags a hub shows for a card: its own tags, library, task, license, datasets,
    base model (``license:mit``, ``dataset:wmt16``, ``base_model:org/name``)."""
    tags: list[str] = []

    def add(value: object, prefix: str = "") -> None:
        if isinstance(value, str) and value.strip():
            text = prefix + value.strip()
            if text not in tags:
                tags.append(text)

    for tag in index.get("tags") or []:
        add(tag)
    add(index.get("library_name"))
    add(index.get("pipeline_tag"))
    add(index.get("license"), "license:")
    for dataset in index.get("datasets") or []:
        add(dataset, "dataset:")
    base = index.get("base_model")
    for name in base if isinstance(base, list) else [base]:
        add(name, "base_model:")
    return tags


def filter_terms(index: dict[str, Any]) -> set[str]:
    """What ``filter=`` matches (case-insensitive): the hub tags, the frameworks and tasks of
    the card index, and the bare license name."""
    terms = {t.lower() for t in hub_tags(index)}
    for value in [*(index.get("frameworks") or []), index.get("task_type"),
                  index.get("task_algorithm"), index.get("license")]:
        if isinstance(value, str) and value.strip():
            terms.add(value.strip().lower())
    return terms


def gated_value(model: dict[str, Any]) -> str | bool:
    gated = str(model.get("gated") or "off")
    return gated if gated in ("auto", "manual") else False


def card_json(data: dict[str, Any]) -> dict[str, Any] | None:
    """Front matter made JSON-safe (YAML may hold dates and other non-JSON scalars)."""
    if not data:
        return None
    return cast(dict[str, Any], json.loads(json.dumps(data, default=str)))


def summary_of(model: dict[str, Any], index: dict[str, Any]) -> dict[str, Any]:
    """The fields every model answer has."""
    model_id = str(model["id"])
    return {
        "_id": model_id,
        "id": model_id,
        "modelId": model_id,
        "author": model["space"],
        "private": model["visibility"] != "public",
        "gated": gated_value(model),
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": hub_tags(index),
        "pipeline_tag": index.get("pipeline_tag"),
        "library_name": index.get("library_name"),
        "createdAt": model["created"],
        # The last ref update (push, hub commit, branch, tag); the creation time before one.
        "lastModified": model.get("last_modified") or model["created"],
    }


def siblings_of(repo: pygit2.Repository, commit: pygit2.Commit | None, blobs: bool
              ) -> list[dict[str, Any]]:
    if commit is None:
        return []
    out: list[dict[str, Any]] = []
    for path, entry in trees.walk(repo, commit.tree):
        if entry.filemode == trees.TREE_MODE:
            continue
        sibling: dict[str, Any] = {"rfilename": path}
        if blobs:
            size, lfs = blob_meta(repo, entry.id)
            sibling["size"] = lfs["size"] if lfs else size
            sibling["blobId"] = str(entry.id)
            if lfs:
                sibling["lfs"] = {"sha256": lfs["oid"], "size": lfs["size"],
                                  "pointerSize": lfs["pointerSize"]}
        out.append(sibling)
    return out


def with_expand(info: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    """``expand=`` keeps only the asked properties (and the id), as the hubs answer."""
    if not expand:
        return info
    keep = {"_id", "id", *expand}
    return {k: v for k, v in info.items() if k in keep}
