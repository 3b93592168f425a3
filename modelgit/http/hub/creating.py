"""``create_repo``: a new model through the hub API, made by ``services.models.create``.

``organization`` is the space; without it the model goes to the caller's own space (made on
first use when ``models.personal_spaces`` is on, as on the public hubs). Without ``private``
or ``visibility`` the site's default applies (``models.private_by_default``; public unless
set). The new repository has its first commit (the hubs' default ``.gitattributes``) on
``main``, so ``model_info().sha`` and parent-commit checks work from the first call.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from modelgit.http.hub.common import HubError, json_body
from modelgit.http.request import base_url
from modelgit.http.responses import Response, json_response

if TYPE_CHECKING:
    from modelgit.http.request import Request
    from modelgit.http.routes import Host


def wanted_public(visibility: object, private: object) -> bool | None:
    """True/False when the request says public or private, None for the site's default."""
    if visibility not in (None, "public", "private") or private not in (None, True, False):
        raise HubError(400, "'visibility' must be public or private, 'private' a boolean")
    if visibility is not None:
        return visibility == "public"
    if private is not None:
        return private is False
    return None


def create_repo(app: Host, req: Request, match: re.Match[str]) -> Response:
    """Creating needs the rights of ``modelgit model create`` (or the caller's own space);
    an existing model the caller can see is a 409 with its ``url`` (what ``exist_ok=True``
    expects), one they cannot see is refused like a model they may not create."""
    from modelgit.names import InvalidName, check_model_id
    from modelgit.services import models

    user = req.subject.user
    if user is None:
        raise HubError(401, "creating a model needs a modelgit key: pass it as the token")
    if req.subject.scope != "write":
        raise HubError(403, "your key is read-only: creating a model needs a key created with"
                            " `--scope write`")
    body = json_body(req)
    kind = body.get("type")
    if kind not in (None, "model"):
        raise HubError(400, f"modelgit hosts models only, not {kind!r} repositories")
    name, space = body.get("name"), body.get("organization") or user
    if not isinstance(name, str) or not isinstance(space, str):
        raise HubError(400, "'name' (and 'organization', the space) must be strings")
    model_id = f"{space}/{name}"
    try:
        check_model_id(model_id)
    except InvalidName as exc:
        raise HubError(400, str(exc)) from None
    public = wanted_public(body.get("visibility"), body.get("private"))
    url = f"{base_url(app, req)}/{model_id}"
    verdict = models.creation_verdict(
        app.store, app.cfg, user, model_id,
        lambda: app.model_decision(req, model_id, "view")[0].allowed)
    if verdict == "exists":
        message = f"You already created this model repo: {model_id} exists"
        return json_response(409, {"error": message, "url": url},
                             [("X-Error-Message", message)])
    if verdict == "no-space":
        raise HubError(404, f"space {space} does not exist: ask an administrator to create"
                            f" it (`modelgit space create {space} --owner {user}`)")
    if verdict == "forbidden":
        raise HubError(403, f"{user} may not create models in space {space}; ask its owner"
                            f" for the user role (`modelgit space grant {space} {user} user`)")
    models.create(app.store, app.cfg, model_id, user, public=public, actor=user,
                  address=req.remote_addr)
    return json_response(200, {"url": url, "name": model_id, "id": model_id})
