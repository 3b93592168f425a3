"""huggingface_hub with hf_xet and Xet ON, against a real ``modelgit serve``.

The client is unmodified: it asks for a Xet token, uploads xorbs and a shard to modelgit's
CAS, and commits the files by sha256; git clone + git lfs pull then see the same bytes, a
second upload of the same file sends no xorb again, and the push checks refuse a malicious
pickle that came through Xet.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from modelgit.xet import hashes, xorb
from tests.conftest import LFS_ENV, Site, git
from tests.helpers.secret_samples import big_log
from tests.helpers.xet import call_elsewhere, xet_on


@pytest.fixture(autouse=True)
def _xet_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    xet_on(monkeypatch, tmp_path / "hf-home")


def api_for(site: Site, user: str) -> HfApi:
    return HfApi(endpoint=site.url, token=site.keys[user])


def xorb_bytes(site: Site) -> int:
    store = site.store()
    try:
        return int(store.xorb_bytes())
    finally:
        store.close()


def stored(site: Site, oid: str) -> bool:
    """Whether the site's object storage (a folder or the S3 bucket) holds the object."""
    from modelgit.config import load
    from modelgit.lfs.storage import storage_for

    return bool(storage_for(load(site.data)).exists(oid))


def test_upload_through_xet_then_git_lfs_pull(site: Site, tmp_path: Path) -> None:
    site.user("owner", admin=True)
    model = site.model("xetspace/weights")
    payload = os.urandom(9 * 1024 * 1024) + b"\0" * (3 * 1024 * 1024)  # over the LFS threshold
    api = api_for(site, "owner")
    before = xorb_bytes(site)
    api.upload_file(path_or_fileobj=payload, path_in_repo="model.bin", repo_id=model)
    first = xorb_bytes(site) - before
    assert first > 6 * 1024 * 1024  # the bytes came through Xet, not the LFS batch API
    # The shard went up through V2 (its progress stream), with no fall back to V1.
    assert "POST /api/xet/v2/shards 200" in site.log_text()
    assert "/api/xet/v1/shards" not in site.log_text()
    clone = tmp_path / "clone"
    git("clone", "-q", site.clone_url(model, "owner"), str(clone), env=LFS_ENV)
    git("lfs", "pull", cwd=clone)
    assert hashlib.sha256((clone / "model.bin").read_bytes()).hexdigest() == \
        hashlib.sha256(payload).hexdigest()
    # The same file again (another path): deduplicated, no new xorb bytes.
    api.upload_file(path_or_fileobj=payload, path_in_repo="copy.bin", repo_id=model)
    assert xorb_bytes(site) - before == first
    # resolve names the Xet file, so the client downloads through Xet: the same bytes.
    head = site.http("HEAD", f"/{model}/resolve/main/copy.bin", key=site.keys["owner"])
    assert len(head.headers["X-Xet-Hash"]) == 64
    assert "/xet-read-token/" in head.headers["X-Xet-Refresh-Route"]
    got = api.hf_hub_download(model, "copy.bin", cache_dir=str(tmp_path / "cache"))
    assert Path(got).read_bytes() == payload
    # The tree listing carries the same Xet hash (snapshot_download skips the HEAD per file);
    # a small file kept in git has none.
    listed = {f.path: f for f in api.list_repo_tree(model, recursive=True)}
    assert listed["copy.bin"].xet_hash == head.headers["X-Xet-Hash"]
    assert listed[".gitattributes"].xet_hash is None
    [info] = api.get_paths_info(model, ["model.bin"])
    assert info.xet_hash == head.headers["X-Xet-Hash"]
    snap = api.snapshot_download(model, cache_dir=str(tmp_path / "snap"))
    assert (Path(snap) / "model.bin").read_bytes() == payload
    # The reconstruction API honours Range: the terms cover the asked bytes only.
    read = token(site, model, "owner", "read")["accessToken"]
    part = site.http("GET", f"/api/xet/v1/reconstructions/{head.headers['X-Xet-Hash']}",
                     key=read, headers={"Range": "bytes=10485760-10485769"})
    answer = json.loads(part.body)
    assert part.status == 200 and len(answer["terms"]) == 1
    assert answer["terms"][0]["unpacked_length"] < 300 * 1024


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def tip(site: Site, model: str) -> str:
    out = git("ls-remote", site.clone_url(model, "owner"), "refs/heads/main").stdout
    return out.split()[0] if out.strip() else ""


def test_a_malicious_pickle_through_xet_is_refused_like_a_push(site: Site) -> None:
    import pickle

    from huggingface_hub.errors import HfHubHTTPError

    site.user("owner", admin=True)
    model = site.model("xetspace/pickled")
    api = api_for(site, "owner")
    api.upload_file(path_or_fileobj=b"ok\n", path_in_repo="ok.txt", repo_id=model)
    before = tip(site, model)
    evil = pickle.dumps([Evil(), os.urandom(11 * 1024 * 1024)])
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=evil, path_in_repo="model.pkl", repo_id=model)
    assert refused.value.response.status_code == 422
    assert "posix.system runs a shell command when the file is loaded" in str(refused.value)
    assert tip(site, model) == before


def token(site: Site, model: str, user: str, right: str) -> dict[str, str]:
    answer = site.http("GET", f"/api/models/{model}/xet-{right}-token/main", key=site.keys[user])
    assert answer.status == 200, answer.body
    got = json.loads(answer.body)
    assert answer.headers["X-Xet-Access-Token"] == got["accessToken"]
    assert got["casUrl"] == site.url + "/api/xet"
    return got


def test_tokens_follow_the_model_roles_and_the_key(site: Site) -> None:
    site.user("owner", admin=True)
    model = site.model("xetspace/guarded")
    site.user("reader")
    site.cli("grant", model, "reader", "user")
    # A reader gets a read token, not a write token.
    refused = site.http("GET", f"/api/models/{model}/xet-write-token/main",
                        key=site.keys["reader"])
    assert refused.status == 403
    # Through the real client too: the reader's upload is refused and moves no ref.
    from huggingface_hub.errors import HfHubHTTPError

    before = tip(site, model)
    with pytest.raises(HfHubHTTPError) as denied:
        api_for(site, "reader").upload_file(path_or_fileobj=os.urandom(11 * 1024 * 1024),
                                            path_in_repo="w.bin", repo_id=model)
    assert denied.value.response.status_code == 403
    assert tip(site, model) == before
    read = token(site, model, "reader", "read")["accessToken"]
    data, xorb_hash = xorb.serialize([os.urandom(5000), os.urandom(7000)])
    path = f"/api/xet/v1/xorbs/default/{hashes.to_hex(xorb_hash)}"
    answer = site.http("POST", path, key=read, body=data)
    assert answer.status == 403
    assert "xet-write-token" in json.loads(answer.body)["error"]
    # The owner's write token works; a tampered xorb is refused with what is wrong.
    write = token(site, model, "owner", "write")["accessToken"]
    tampered = bytearray(data)
    tampered[-1] ^= 1
    answer = site.http("POST", path, key=write, body=bytes(tampered))
    assert answer.status == 400
    assert "xorb hash mismatch" in json.loads(answer.body)["error"]
    # The same through the upload grant hf_xet uses: refused, nothing stored, so the next
    # grant request for that xorb is a grant again (201), not "already stored" (200).
    grant_path = f"/api/xet/v1/xorb-grants/default/{hashes.to_hex(xorb_hash)}"
    grant = site.http("POST", grant_path, key=write, body=b"{}")
    assert grant.status == 201
    put = json.loads(grant.body)["url"].removeprefix(site.url)
    answer = site.http("PUT", put, body=bytes(tampered))
    assert answer.status == 400
    assert "xorb hash mismatch" in json.loads(answer.body)["error"]
    assert site.http("POST", grant_path, key=write, body=b"{}").status == 201
    answer = site.http("POST", path, key=write, body=data)
    assert answer.status == 200 and json.loads(answer.body) == {"was_inserted": True}
    # Revoking the key stops the token at once.
    key_id = site.keys["owner"][:11]
    site.cli("key", "revoke", key_id, "--yes")
    answer = site.http("POST", path, key=write, body=data)
    assert answer.status == 401
    assert "revoked" in json.loads(answer.body)["error"]
    # A forged token is refused, and a Xet token is no key for git or the hub API.
    assert site.http("POST", path, key=write[:-2] + "AA", body=data).status == 401
    assert site.http("GET", f"/api/models/{model}", key=write).status in (401, 404)


def test_a_changed_file_from_another_machine_sends_little_more_than_the_change(
        site: Site, tmp_path: Path) -> None:
    site.user("owner", admin=True)
    model = site.model("xetspace/dedupe")
    original = os.urandom(12 * 1024 * 1024)
    changed = original[:5 * 1024 * 1024] + os.urandom(1024 * 1024) + original[6 * 1024 * 1024:]
    (tmp_path / "a.bin").write_bytes(original)
    (tmp_path / "b.bin").write_bytes(changed)
    before = xorb_bytes(site)
    call_elsewhere(site, tmp_path / "home-a", "upload_file", repo_id=model,
                   path_or_fileobj=str(tmp_path / "a.bin"), path_in_repo="weights.bin")
    first = xorb_bytes(site) - before
    assert first > 12 * 1024 * 1024
    # Another machine: its client asks the dedupe query, which offers the model's xorb.
    call_elsewhere(site, tmp_path / "home-b", "upload_file", repo_id=model,
                   path_or_fileobj=str(tmp_path / "b.bin"), path_in_repo="weights.bin")
    second = xorb_bytes(site) - before - first
    assert 1024 * 1024 <= second < 2 * 1024 * 1024
    clone = tmp_path / "clone"
    git("clone", "-q", site.clone_url(model, "owner"), str(clone), env=LFS_ENV)
    git("lfs", "pull", cwd=clone)
    assert (clone / "weights.bin").read_bytes() == changed


def test_gc_keeps_used_xorbs_and_removes_those_of_deleted_models(site: Site) -> None:
    site.user("owner", admin=True)
    kept = site.model("xetgc/kept")
    dropped = site.model("xetgc/dropped")
    api = api_for(site, "owner")
    api.upload_file(path_or_fileobj=os.urandom(11 * 1024 * 1024), path_in_repo="a.bin",
                    repo_id=kept)
    api.upload_file(path_or_fileobj=os.urandom(11 * 1024 * 1024), path_in_repo="b.bin",
                    repo_id=dropped)
    store = site.store()
    rows = {r["model"]: r["oid"] for r in store._all(
        "SELECT m.model, x.oid FROM xet_xorbs x JOIN xet_model_xorbs m"
        " ON m.xorb = x.hash WHERE m.model LIKE 'xetgc/%'")}
    store.close()
    assert stored(site, rows[kept]) and stored(site, rows[dropped])
    site.cli("model", "delete", dropped, "--yes")
    _, out, _ = site.cli("gc", "--grace", "0", "--json", "--yes")
    assert json.loads(out)["xorbs_dropped"] >= 1
    assert stored(site, rows[kept]) and not stored(site, rows[dropped])
    # The kept model's file still downloads through Xet.
    head = site.http("HEAD", f"/{kept}/resolve/main/a.bin", key=site.keys["owner"])
    assert "X-Xet-Hash" in head.headers


def test_a_text_file_with_a_secret_through_xet_never_reaches_a_ref(site: Site) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    site.user("owner", admin=True)
    model = site.model("xetspace/leaky")
    api = api_for(site, "owner")
    api.upload_file(path_or_fileobj=b"ok\n", path_in_repo="ok.txt", repo_id=model)
    before = tip(site, model)
    log = big_log(lines=200_000, secret_at=150_001)  # over the LFS threshold: Xet
    assert len(log) > 10 * 1024 * 1024
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=log, path_in_repo="train.log", repo_id=model)
    assert refused.value.response.status_code == 422
    assert "train.log" in str(refused.value)
    assert tip(site, model) == before


def test_the_same_file_to_a_second_model_joins_xorbs_its_uploader_may_read(
        site: Site, tmp_path: Path) -> None:
    """hf_xet does not send a xorb its cache says it sent, whichever model the file goes to:
    another model takes the xorb when its uploader sent it or may read a model that holds
    it, and refuses it to someone else (the same client cache, another user)."""
    site.user("owner", admin=True)
    first = site.model("xetspace/first-home")
    second = site.model("xetspace/second-home")
    site.user("outsider")
    theirs = site.model("outsider/copy", owner="outsider")
    payload = os.urandom(11 * 1024 * 1024)
    api = api_for(site, "owner")
    before = xorb_bytes(site)
    api.upload_file(path_or_fileobj=payload, path_in_repo="w.bin", repo_id=first)
    sent = xorb_bytes(site) - before
    assert sent > 10 * 1024 * 1024
    api.upload_file(path_or_fileobj=payload, path_in_repo="w.bin", repo_id=second)
    assert xorb_bytes(site) - before == sent  # nothing sent again
    clone = tmp_path / "second"
    git("clone", "-q", site.clone_url(second, "owner"), str(clone), env=LFS_ENV)
    git("lfs", "pull", cwd=clone)
    assert (clone / "w.bin").read_bytes() == payload
    # Both models deleted (their xorbs stay until gc): the uploader's own xorbs still serve
    # a new model, as the client's cache expects.
    for gone in (first, second):
        site.cli("model", "delete", gone, "--yes")
    third = site.model("xetspace/third-home")
    api.upload_file(path_or_fileobj=payload, path_in_repo="w.bin", repo_id=third)
    assert xorb_bytes(site) - before == sent
    got = api.hf_hub_download(third, "w.bin", cache_dir=str(tmp_path / "c3"))
    assert Path(got).read_bytes() == payload
    # The outsider may not read either model: the cached xorbs are no way into them (hf_xet
    # reports the CAS's 403 on the shard as a ConnectionError).
    head = tip(site, theirs)
    with pytest.raises(ConnectionError, match=r"403 Forbidden.*/v2/shards"):
        api_for(site, "outsider").upload_file(path_or_fileobj=payload, path_in_repo="w.bin",
                                              repo_id=theirs)
    assert tip(site, theirs) == head
    assert "POST /api/xet/v2/shards 403" in site.log_text()


def test_the_space_quota_counts_the_xorbs_once(site: Site) -> None:
    """What a Xet upload stores counts in the space's quota: the LFS object rebuilt from it
    and its xorbs, a xorb two models of the space share once."""
    site.user("owner", admin=True)
    site.cli("space", "create", "metered", "--owner", "owner", "--quota", "100MB")
    one = site.model("metered/one")
    two = site.model("metered/two")
    payload = os.urandom(8 * 1024 * 1024)
    api = api_for(site, "owner")
    api.upload_file(path_or_fileobj=payload, path_in_repo="w.bin", repo_id=one)
    api.upload_file(path_or_fileobj=payload, path_in_repo="w.bin", repo_id=two)
    _, out, _ = site.cli("--json", "space", "show", "metered")
    usage = json.loads(out)["usage"]
    per_model = {m["id"]: m for m in usage["models"]}
    xorbs = per_model[one]["xet"]
    assert len(payload) <= xorbs < len(payload) + 64 * 1024  # random bytes: no compression
    assert per_model[two]["xet"] == xorbs  # the second model links the same xorbs
    assert usage["xet"] == xorbs  # ... and the space counts them once
    assert usage["total"] == usage["git"] + usage["lfs"] + usage["xet"]
    _, out, _ = site.cli("space", "show", "metered")
    assert "xet" in out
    # A space that is full takes no new xorb: refused before anything is stored, no commit.
    site.cli("space", "set", "metered", "--quota", str(usage["total"] + 1024 * 1024))
    before, head = xorb_bytes(site), tip(site, one)
    with pytest.raises(ConnectionError, match=r"413") as refused:
        api.upload_file(path_or_fileobj=os.urandom(4 * 1024 * 1024), path_in_repo="more.bin",
                        repo_id=one)
    assert xorb_bytes(site) == before and tip(site, one) == head
    assert "/xorbs/" in str(refused.value)  # hf_xet names the call and the status only ...
    assert "space quota exceeded" in site.log_text()  # ... the log has why
    # Once the space is full, the next upload is refused before it starts, in words the
    # client shows.
    site.cli("space", "set", "metered", "--quota", "1MB")
    with pytest.raises(HfHubHTTPError, match="space quota exceeded") as full:
        api.upload_file(path_or_fileobj=os.urandom(4 * 1024 * 1024), path_in_repo="more.bin",
                        repo_id=one)
    assert full.value.response.status_code == 413
    assert tip(site, one) == head
