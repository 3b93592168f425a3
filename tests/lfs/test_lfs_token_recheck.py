"""A transfer link is no stronger than its user's right now: revoking the role between the
batch answer and the transfer stops the transfer."""

from __future__ import annotations

import json

from tests.conftest import Site
from tests.lfs.test_lfs_http_api import batch, local, oid_of, upload


def test_revoked_role_stops_a_signed_transfer(site: Site) -> None:
    model = site.model("recheck/m")
    key = site.user("dev-recheck")
    site.cli("grant", model, "dev-recheck", "developer")
    data = b"weights " * 1000
    answer = batch(site, model, "upload", [{"oid": oid_of(data), "size": len(data)}], key)
    put = json.loads(answer.body)["objects"][0]["actions"]["upload"]
    site.cli("revoke", model, "dev-recheck", "--yes")
    refused = site.http("PUT", local(put["href"]), body=data, headers=put["header"])
    assert refused.status in (403, 404), refused.body

    site.cli("grant", model, "dev-recheck", "developer")
    oid = upload(site, model, data, key)
    answer = batch(site, model, "download", [{"oid": oid, "size": len(data)}], key)
    get = json.loads(answer.body)["objects"][0]["actions"]["download"]
    assert site.http("GET", local(get["href"]), headers=get.get("header", {})).status == 200
    site.cli("revoke", model, "dev-recheck", "--yes")
    gone = site.http("GET", local(get["href"]), headers=get.get("header", {}))
    assert gone.status in (403, 404), gone.body
