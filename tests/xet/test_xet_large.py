"""Issue 22 at size: a 100 MB safetensors model through unmodified huggingface_hub + hf_xet.

``upload_folder`` of the weights and a few small files; a second ``upload_folder`` from a
machine with no Xet cache, the weights changed by 1 MB, must send little more than the change
(counted from the bodies the server received); the file then downloads identically through
Xet, through plain HTTP (``HF_HUB_DISABLE_XET``) and through ``git clone`` + ``git lfs pull``.
The data comes from a seeded PRNG, so every run sends the same chunks.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from modelgit.xet import hashes, shard
from tests.conftest import LFS_ENV, Site, git, sha256_file
from tests.helpers.xet import call_elsewhere, cas_bytes_received, requests_to, xet_on

MIB = 1024 * 1024
WEIGHTS = 100 * MIB


@pytest.fixture(autouse=True)
def _xet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    xet_on(monkeypatch, tmp_path / "hf-home")


def safetensors(path: Path, seed: int, size: int) -> None:
    """A valid safetensors file: one F32 tensor of ``size`` seeded pseudo-random bytes."""
    header = json.dumps({"weight": {"dtype": "F32", "shape": [size // 4],
                                    "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    with path.open("wb") as fh:
        fh.write(len(header).to_bytes(8, "little") + header)
        fh.write(random.Random(seed).randbytes(size))


def change_one_mib(path: Path, at: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(at)
        fh.write(random.Random(f"change {at}").randbytes(MIB))


def test_100_mb_upload_folder_dedupes_a_1_mb_change_and_downloads_identically(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import huggingface_hub.constants as constants

    site.user("owner", admin=True)
    model = site.model("xetbig/llm")
    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / "model.safetensors"
    safetensors(weights, seed=22, size=WEIGHTS)
    (folder / "config.json").write_text(json.dumps({"architectures": ["Tiny"], "n": 1}))
    (folder / "tokenizer_config.json").write_text('{"model_max_length": 512}\n')
    (folder / "notes.txt").write_text("trained on nothing in particular\n")
    api = HfApi(endpoint=site.url, token=site.keys["owner"])

    api.upload_folder(folder_path=str(folder), repo_id=model)
    first = cas_bytes_received(site.log_text(), model)
    # Random weights do not compress: every byte came through Xet, and only once.
    assert WEIGHTS <= first < WEIGHTS + 2 * MIB

    # Every dedupe answer for the weights lists all the xorbs of the file, not only the one
    # holding the asked chunk: a client with no cache asks about few chunks.
    store = site.store()
    xorbs = {r["xorb"] for r in store._all(
        "SELECT xorb FROM xet_file_terms WHERE model = ?", (model,))}
    asked = [r["chunk_hash"] for r in store._all(
        "SELECT chunk_hash FROM xet_dedupe_chunks WHERE xorb IN (SELECT xorb FROM"
        " xet_file_terms WHERE model = ?)", (model,))]
    store.close()
    assert len(xorbs) == 2 and asked
    read = json.loads(site.http("GET", f"/api/models/{model}/xet-read-token/main",
                                key=site.keys["owner"]).body)["accessToken"]
    for chunk in asked:
        answer = site.http("GET", f"/api/xet/v1/chunks/default/{chunk}", key=read)
        assert answer.status == 200
        assert {hashes.to_hex(x.hash) for x in shard.parse(answer.body).xorbs} == xorbs

    change_one_mib(weights, at=WEIGHTS // 2)
    call_elsewhere(site, tmp_path / "other-machine", "upload_folder", repo_id=model,
                   folder_path=str(folder), commit_message="1 MB changed")
    second = cas_bytes_received(site.log_text(), model) - first
    with capsys.disabled():
        print(f"\n[issue 22] {WEIGHTS // MIB} MiB safetensors: first upload_folder sent"
              f" {first:,} bytes of xorbs + shards, the 1 MiB change from a fresh cache"
              f" {second:,}")
    assert MIB <= second < 10 * 1_000_000
    want = sha256_file(weights)

    # Through Xet: resolve names the Xet hash, the client reconstructs from xorb ranges.
    before = requests_to(site.log_text(), "/api/xet/v2/reconstructions/")
    got = api.hf_hub_download(model, "model.safetensors", cache_dir=str(tmp_path / "c-xet"))
    assert requests_to(site.log_text(), "/api/xet/v2/reconstructions/") > before
    # hf_xet asks V2 first and takes its answer: no fall back to V1.
    assert requests_to(site.log_text(), "/api/xet/v1/reconstructions/") == 0
    assert sha256_file(Path(got)) == want

    # Through plain HTTP: the same resolve URL, the LFS object's bytes.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    before = requests_to(site.log_text(), "/api/xet/")
    got = api.hf_hub_download(model, "model.safetensors", cache_dir=str(tmp_path / "c-http"))
    assert requests_to(site.log_text(), "/api/xet/") == before
    assert sha256_file(Path(got)) == want

    # git clone + git lfs pull: the commit named the LFS object the shard registered.
    clone = tmp_path / "clone"
    git("clone", "-q", site.clone_url(model, "owner"), str(clone), env=LFS_ENV)
    git("lfs", "pull", cwd=clone)
    assert sha256_file(clone / "model.safetensors") == want
    assert (clone / "config.json").read_text() == (folder / "config.json").read_text()
    assert hashlib.sha256((clone / "notes.txt").read_bytes()).hexdigest() == \
        hashlib.sha256((folder / "notes.txt").read_bytes()).hexdigest()
