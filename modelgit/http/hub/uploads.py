"""The write side: validating a card, preupload and commit (through :mod:`modelgit.hubcommit`)."""

from __future__ import annotations

import re
from typing import IO, TYPE_CHECKING, Any, cast

from modelgit.http.hub.common import _TRUE, HubError, allow, json_body, not_found_rev, rev_only
from modelgit.http.request import (
    base_url,
    content_length,
    model_of,
)
from modelgit.http.responses import (
    Response,
    json_response,
    text,
)

if TYPE_CHECKING:
    from modelgit.http.request import Request
    from modelgit.http.routes import Host


EMPTY_METADATA_WARNING = ("empty or missing yaml metadata in repo card: add a front matter"
                          " block (--- ... ---) with license, tags, library_name and the"
                          " like, so that the model list's filters find the model")


def validate_yaml(app: Host, req: Request, match: re.Match[str]) -> Response:
    """The client's early README check before uploading (``create_commit``,
    ``RepoCard.validate``, ``metadata_update``): 200 for a card a push would accept, 400 with
    the push's own lines (``errors``) for one it would refuse, so there is one judge and one
    wording. No key is needed, as on the public hubs (the card client calls it anonymously):
    nothing is read but the body, which is capped at a README's size, and the YAML parser has
    its own limits (aliases, depth, nodes), so an anonymous caller costs one bounded parse."""
    from modelgit.hooks.card import MAX_README_BYTES
    from modelgit.schema import check_card, rejection_lines

    body = json_body(req, MAX_README_BYTES + 64 * 1024)
    content = body.get("content")
    if not isinstance(content, str):
        raise HubError(400, "'content' must be the README text")
    kind = body.get("repoType")
    if kind not in (None, "model"):
        raise HubError(400, f"modelgit hosts models only, not {kind!r} repositories")
    result = check_card(content.encode("utf-8"), required=bool(app.cfg.get("card.required")),
                        schema_path=app.cfg.get("card.schema") or None)
    lines = [f"modelgit: {line}" for line in rejection_lines(result.errors)]
    if not lines:
        # Accepted, but a card without metadata cannot be found by the list's filters: say
        # so, as the hubs do (the client shows it as a UserWarning and goes on).
        warnings = [] if result.data else [{"message": EMPTY_METADATA_WARNING}]
        return json_response(200, {"errors": [], "warnings": warnings})
    if "text/plain" in (req.header("accept") or ""):
        # RepoCard.validate asks for text and raises ValueError(response.text).
        return text(400, "\n".join(["Invalid metadata in README.md.", *lines]))
    return json_response(400, {"error": "\n".join(lines), "warnings": [],
                               "errors": [{"message": line} for line in lines]})


def _branch_arg(req: Request, match: re.Match[str], marker: str) -> str:
    if (req.arg("create_pr") or "").strip().lower() in _TRUE:
        raise HubError(400, "modelgit has no pull requests: commit to a branch instead"
                            " (create it with git push), and open a review there")
    from modelgit.hubcommit import valid_branch

    return valid_branch(rev_only(req, match, marker))


def _refuse_when_full(app: Host, model: dict[str, Any]) -> None:
    """A space already at its quota takes no upload: say so here, where huggingface_hub shows
    the server's sentence. (The Xet CAS refuses such a xorb too, but hf_xet reports only the
    status; the sizes asked about here may still deduplicate, so only a full space is
    refused up front.)"""
    from modelgit.quota import lfs_headroom

    left, message = lfs_headroom(app.cfg, app.store, str(model["space"]))
    if left is not None and left <= 0:
        raise HubError(413, message)


def preupload(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Which files go through LFS (``.gitattributes`` patterns or size) and which are
    ignored; ``write`` right, as the upload that follows."""
    from modelgit.git.paths import repo_path
    from modelgit.hubcommit import parse_upload_files, upload_modes

    model_id = model_of(match)
    model = allow(app, req, model_id, "write")
    branch = _branch_arg(req, match, "preupload")
    files, gitignore = parse_upload_files(json_body(req))
    _refuse_when_full(app, model)
    answers, tip = upload_modes(app.cfg, repo_path(app.cfg, model_id), branch, files,
                                gitignore)
    if tip is None and branch != model["default_branch"]:
        raise not_found_rev(branch, model_id)
    return json_response(200, {"files": answers, "commitOid": tip})


def commit(app: Host, req: Request, match: re.Match[str]) -> Response:
    """The NDJSON commit: built with pygit2, checked by the push checks, then the branch
    moves (or a 4xx with git push's text, and nothing moved)."""
    from modelgit import hubcommit
    from modelgit.lfs.storage import storage_for

    model_id = model_of(match)
    model = allow(app, req, model_id, "write")
    branch = _branch_arg(req, match, "commit")
    ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype not in ("application/x-ndjson", "application/jsonl"):
        raise HubError(415, "send the commit as NDJSON with 'Content-Type:"
                            " application/x-ndjson'")
    length = content_length(req.environ)
    if length is None:
        raise HubError(411, "a commit needs a Content-Length header")
    stream = req.environ.get("wsgi.input")
    if stream is None:
        raise HubError(400, "no request body")
    request = hubcommit.CommitRequest(cfg=app.cfg, store=app.store,
                                      storage=storage_for(app.cfg), model=model,
                                      subject=req.subject, branch=branch,
                                      address=req.remote_addr)
    result = hubcommit.commit(request, cast(IO[bytes], stream), length)
    return json_response(200, {
        "success": True,
        "commitOid": result.sha,
        "commitUrl": f"{base_url(app, req)}/{model_id}/commit/{result.sha}",
        "hookOutput": "",
        "pullRequestUrl": None,
    })
