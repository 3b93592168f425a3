"""huggingface_hub with hf_xet and Xet ON, against a real ``modelgit serve``.

The client is unmodified: it asks for a Xet token, uploads xorbs and a shard to modelgit's
CAS, and commits the files by sha256; git clone + git lfs pull then see the same bytes, a
second upload of the same file sends no xorb again, and the push checks refuse a malicious
pickle that came through Xet.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from tests.conftest import LFS_ENV, Site, git
from tests.helpers.hub_client import hf_setup


@pytest.fixture(autouse=True)
def _xet_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import hf_xet  # noqa: F401 - installed with huggingface_hub; these tests need it
    import huggingface_hub.constants as constants

    hf_setup(monkeypatch, tmp_path / "hf-home")
    monkeypatch.delenv("HF_HUB_DISABLE_XET")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)


def api_for(site: Site, user: str) -> HfApi:
    return HfApi(endpoint=site.url, token=site.keys[user])


def xorb_bytes(site: Site) -> int:
    with sqlite3.connect(site.data / "modelgit.db") as db:
        return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM xet_xorbs").fetchone()[0])


def test_upload_through_xet_then_git_lfs_pull(site: Site, tmp_path: Path) -> None:
    site.user("owner", admin=True)
    model = site.model("xetspace/weights")
    payload = os.urandom(9 * 1024 * 1024) + b"\0" * (3 * 1024 * 1024)  # over the LFS threshold
    api = api_for(site, "owner")
    before = xorb_bytes(site)
    api.upload_file(path_or_fileobj=payload, path_in_repo="model.bin", repo_id=model)
    first = xorb_bytes(site) - before
    assert first > 6 * 1024 * 1024  # the bytes came through Xet, not the LFS batch API
    clone = tmp_path / "clone"
    git("clone", "-q", site.clone_url(model, "owner"), str(clone), env=LFS_ENV)
    git("lfs", "pull", cwd=clone)
    assert hashlib.sha256((clone / "model.bin").read_bytes()).hexdigest() == \
        hashlib.sha256(payload).hexdigest()
    # The same file again (another path): deduplicated, no new xorb bytes.
    api.upload_file(path_or_fileobj=payload, path_in_repo="copy.bin", repo_id=model)
    assert xorb_bytes(site) - before == first
    # Downloads through Xet give the same bytes.
    got = api.hf_hub_download(model, "copy.bin", cache_dir=str(tmp_path / "cache"))
    assert Path(got).read_bytes() == payload
