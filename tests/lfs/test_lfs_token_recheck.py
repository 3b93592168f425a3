"""A transfer link is no stronger than its user's right now: revoking the role between the
batch answer and the transfer stops the transfer."""

from __future__ import annotations

import json

from tests.conftest import Site
from tests.helpers.lfs_api import batch, local, oid_of, upload


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


def test_revoked_or_regenerated_key_stops_its_transfer_links(site: Site) -> None:
    """Finding 9: links were signed over the user only, so an href obtained before
    `key revoke` / `key regenerate` kept working until it expired."""
    model = site.model("recheck/keys")
    key = site.user("dev-keys")
    site.cli("grant", model, "dev-keys", "developer")
    data = b"weights for keys " * 500
    oid = upload(site, model, data, key)

    def download_link(with_key: str) -> dict[str, object]:
        answer = batch(site, model, "download", [{"oid": oid, "size": len(data)}], with_key)
        link: dict[str, object] = json.loads(answer.body)["objects"][0]["actions"]["download"]
        assert site.http("GET", local(str(link["href"])), headers=link["header"]).status == 200
        return link

    other = b"other weights " * 300
    up = json.loads(batch(site, model, "upload", [{"oid": oid_of(other), "size": len(other)}],
                          key).body)["objects"][0]["actions"]["upload"]
    link = download_link(key)
    site.cli("key", "revoke", key[:11], "--yes")
    gone = site.http("GET", local(str(link["href"])), headers=link["header"])
    assert gone.status == 401 and b"revoked" in gone.body, gone.body
    put = site.http("PUT", local(up["href"]), body=other, headers=up["header"])
    assert put.status == 401 and b"revoked" in put.body, put.body

    fresh = site.user("dev-keys")  # a new key of the same user
    link = download_link(fresh)
    site.cli("key", "regenerate", "dev-keys", "--yes")
    gone = site.http("GET", local(str(link["href"])), headers=link["header"])
    assert gone.status == 401 and b"revoked" in gone.body, gone.body
