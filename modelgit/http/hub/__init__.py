"""The hub-compatible API: what huggingface_hub and Transformers.js call (docs/access.md).

Pointing ``HF_ENDPOINT`` (or ``endpoint=``, or Transformers.js' ``env.remoteHost``) at a
modelgit server makes the clients people already use work against it, with the same rules as
git: every route asks the same ``decide()`` (``view`` for metadata, ``read`` for file bytes,
``write`` for uploads; gating included), and a commit made here passes the same pre-receive
checks as a push (:mod:`modelgit.hubcommit`).

Read side::

    GET       /api/whoami-v2
    GET       /api/models                 ?search&author&filter&sort&direction&limit&cursor...
    GET       /api/models/<space>/<model>[/revision/<rev>]        ?blobs=true&expand=...
    GET       /api/models/<space>/<model>/tree/<rev>[/<path>]     ?recursive&expand&cursor
    GET       /api/models/<space>/<model>/refs                    (branches and tags)
    GET       /api/models/<space>/<model>/auth-check              (``read``: may I download?)
    POST      /api/models/<space>/<model>/paths-info/<rev>        paths=...&expand=...
    GET|HEAD  /<space>/<model>/resolve/<rev>/<path>               (Range honoured)
    GET|HEAD  /<space>/<model>/raw/<rev>/<path>                   (the git blob, pointer and all)

Write side::

    POST /api/repos/create                                 {"name", "organization", "private"}
    POST /api/repos/move                                   {"fromRepo", "toRepo"}
    DELETE /api/repos/delete                               {"name", "organization"}
    PUT  /api/models/<space>/<model>/settings              {"private"|"visibility", "gated"}
    GET  /api/models/<space>/<model>/commits/<rev>         ?p=<page>  (Link: rel="next")
    POST|DELETE /api/models/<space>/<model>/branch/<name>  {"startingPoint"}
    POST /api/models/<space>/<model>/tag/<rev>             {"tag", "message"}
    DELETE /api/models/<space>/<model>/tag/<tag>
    POST /api/validate-yaml                                {"content"}  (no key needed)
    POST /api/models/<space>/<model>/preupload/<rev>       {"files": [{path, sample, size}]}
    POST /api/models/<space>/<model>/commit/<rev>          NDJSON (see modelgit.hubcommit)
    GET  /api/models/<space>/<model>/xet-{read,write}-token/<rev>   -> a Xet access token
    /api/xet/v1/...                                        the Xet CAS (modelgit.http.hub.xet)

LFS uploads from the client go through Xet (``hf_xet``) or the model's LFS batch API
(``/<id>.git/info/lfs/``), the very one git-lfs uses; a file uploaded through Xet becomes the
same LFS object an LFS upload makes (docs/xet.md).

Errors are JSON ``{"error": "..."}`` with the headers the client turns into exceptions:
``X-Error-Code`` ``RepoNotFound`` (private or unknown model: nothing reveals existence),
``GatedRepo`` (with an ``X-Error-Message`` that says how to request access),
``RevisionNotFound`` and ``EntryNotFound`` (with ``X-Repo-Commit`` so the client can cache the
absence), and ``X-Error-Message`` with a one-line error (a refusal of several lines is in the
body only, so that the client prints it once).

Hostile input: revisions go through :mod:`modelgit.git.revisions` (branch, then tag, then a
commit id reachable from a branch or tag: a commit a force-push removed is not served, as
``git fetch`` would not serve it); paths are looked up in git trees, never on the file system;
request bodies are capped; names pass the name rules before anything touches the disk. File
bytes are streamed: LFS objects from the object store in 1 MiB pieces, large git blobs from
``git cat-file``, so memory stays flat in file size.

This package holds the route table (:func:`register`); ``reads``, ``files``, ``listing``,
``creating``, ``repos``, ``uploads`` and ``xet`` answer the routes, ``common`` and ``cards``
hold what they share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelgit.http.hub import xet
from modelgit.http.hub.common import FILE_URL, MODEL_API, bind
from modelgit.http.hub.creating import create_repo
from modelgit.http.hub.files import resolve
from modelgit.http.hub.listing import list_models
from modelgit.http.hub.manage import (
    NOT_OFFERED,
    commits,
    create_branch,
    create_tag,
    delete_branch,
    delete_repo,
    delete_tag,
    move_repo,
    no_namespace,
    not_offered,
    other_repo_type,
    settings,
    unknown_api,
)
from modelgit.http.hub.reads import auth_check, model_info, paths_info, refs, tree, whoami
from modelgit.http.hub.uploads import commit, preupload, validate_yaml

if TYPE_CHECKING:
    from modelgit.http.routes import Host


def register(app: Host) -> None:
    """Add the hub routes (after the LFS and gating routes, before git's catch-all)."""
    add = app.add
    add("GET", r"/api/whoami-v2", bind(whoami, app))
    add("GET", r"/api/models", bind(list_models, app))
    add("POST", r"/api/repos/create", bind(create_repo, app))
    add("POST", r"/api/validate-yaml", bind(validate_yaml, app))
    add("GET", MODEL_API, bind(model_info, app))
    add("GET", MODEL_API + r"/revision/(?P<rest>.+)", bind(model_info, app))
    add("GET", MODEL_API + r"/tree/(?P<rest>.+)", bind(tree, app))
    add("GET", MODEL_API + r"/refs", bind(refs, app))
    add("GET", MODEL_API + r"/auth-check", bind(auth_check, app))
    add("POST", MODEL_API + r"/paths-info/(?P<rest>.+)", bind(paths_info, app))
    add("POST", MODEL_API + r"/preupload/(?P<rest>.+)", bind(preupload, app))
    add("POST", MODEL_API + r"/commit/(?P<rest>.+)", bind(commit, app))
    xet.register(app)
    add(("GET", "HEAD"), FILE_URL, bind(resolve, app))
    add("GET", MODEL_API + r"/commits/(?P<rest>.+)", bind(commits, app))
    add("POST", MODEL_API + r"/branch/(?P<rest>.+)", bind(create_branch, app))
    add("DELETE", MODEL_API + r"/branch/(?P<rest>.+)", bind(delete_branch, app))
    add("POST", MODEL_API + r"/tag/(?P<rest>.+)", bind(create_tag, app))
    add("DELETE", MODEL_API + r"/tag/(?P<rest>.+)", bind(delete_tag, app))
    add("PUT", MODEL_API + r"/settings", bind(settings, app))
    add("POST", r"/api/repos/move", bind(move_repo, app))
    add("DELETE", r"/api/repos/delete", bind(delete_repo, app))


#: Every method: a feature that is not offered is not offered whichever way it is asked for.
_ANY = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: What follows a repo id in the hub API paths: a repo id of one segment before it has no
#: namespace.
_AFTER_ID = (r"(?:revision|tree|refs|commits|paths-info|preupload|commit|branch|tag|settings"
             r"|resolve|xet-read-token|xet-write-token|auth-check)")


def register_not_offered(app: Host) -> None:
    """The answers for what modelgit does not serve under ``/api/``: a repo id without a
    namespace (``RepoNotFound``), other repository types, the hub features it does not offer
    (501, naming the feature), and any other API path (501). Added after every feature's
    routes, so none of them is shadowed."""
    add = app.add
    for pattern, message in NOT_OFFERED:
        add(_ANY, pattern, bind(not_offered(message), app))
    add(_ANY, r"/api/(?P<kind>datasets|spaces|buckets|kernels)(?P<rest>/.*)?",
        bind(other_repo_type, app))
    add(_ANY, r"/api/models/(?P<single>[^/]+)(?:/" + _AFTER_ID + r"(?:/.*)?)?",
        bind(no_namespace, app))
    add(("GET", "HEAD"), r"/(?P<single>[^/]+)/(?:resolve|raw)/.+", bind(no_namespace, app))
    add(_ANY, r"/api/.*", bind(unknown_api, app))
