"""Transformers.js against modelgit: a gated tokenizer loads for an accepted user only.

The tokenizer is built with the ``tokenizers`` package and uploaded with the hub client.
Transformers.js is installed with ``npm install --ignore-scripts @huggingface/transformers``
into a temporary folder (npm's download cache lives in pytest's cache folder, so later runs
do not download it again); without Node, npm (tests/bootstrap.sh installs them) or the
registry the test fails and says why.

Transformers.js sends ``HF_TOKEN`` only to huggingface.co and hf.co. For another host the
documented hook is ``env.fetch``: the script wraps ``fetch`` to add the token to requests for
``env.remoteHost``, exactly what the README tells people to do.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from tests.conftest import Site
from tests.helpers.hub_client import hf_setup

MODEL = "tjs/gated-tokenizer"
TEXT = "hello modelgit world of gated models"

SCRIPT = r"""
import { AutoTokenizer, env } from "@huggingface/transformers";

env.remoteHost = process.env.MODELGIT_URL.replace(/\/?$/, "/");
env.allowLocalModels = false;
env.useFSCache = false;       // ask the server every time: access is per user
env.useBrowserCache = false;

// Transformers.js adds HF_TOKEN only for huggingface.co; env.fetch is its hook for others.
const token = process.env.HF_TOKEN;
const plainFetch = env.fetch;
env.fetch = (url, init = {}) => {
  const headers = new Headers(init.headers);
  if (token && String(url).startsWith(env.remoteHost)) {
    headers.set("Authorization", `Bearer ${token}`);
  }
  return plainFetch(url, { ...init, headers });
};

try {
  const tokenizer = await AutoTokenizer.from_pretrained(process.argv[2]);
  const ids = tokenizer.encode(process.argv[3], { add_special_tokens: false });
  console.log(JSON.stringify({ ok: true, ids: Array.from(ids, Number) }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.message ?? error) }));
  process.exitCode = 3;
}
"""


@pytest.fixture(scope="module")
def transformers_js(tmp_path_factory: pytest.TempPathFactory,
                    request: pytest.FixtureRequest) -> Path:
    folder = tmp_path_factory.mktemp("transformers-js")
    config_cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache = config_cache.mkdir("npm-cache") if config_cache else folder / ".npm"
    (folder / "package.json").write_text('{"name": "modelgit-tjs-test", "private": true,'
                                         ' "type": "module"}\n')
    proc = subprocess.run(
        ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline",
         "--cache", str(cache), "@huggingface/transformers"],
        cwd=folder, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, ("npm install @huggingface/transformers failed: "
                                  + (proc.stderr or proc.stdout).strip()[-800:])
    (folder / "load.mjs").write_text(SCRIPT)
    return folder


def run_node(folder: Path, site: Site, token: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({"MODELGIT_URL": site.url, "HF_TOKEN": token})
    proc = subprocess.run(["node", "load.mjs", MODEL, TEXT], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"node printed nothing useful:\n{proc.stdout}\n{proc.stderr}"
    return dict(json.loads(lines[-1]))


def build_tokenizer(folder: Path) -> list[int]:
    """A word-level tokenizer trained on a few sentences; returns the ids of ``TEXT``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]"])
    tokenizer.train_from_iterator([TEXT, "gated models need an accepted request",
                                   "modelgit serves git and lfs"], trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]",
        "pad_token": "[PAD]", "model_max_length": 128}))
    return list(tokenizer.encode(TEXT).ids)


def test_gated_tokenizer_loads_for_accepted_user_only(
        site: Site, transformers_js: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tokenizers  # noqa: F401 - a test extra; fail loudly if it is missing
    hf_setup(monkeypatch, tmp_path / "hf-home")
    site.model(MODEL, public=True, gated="manual")
    expected = build_tokenizer(tmp_path / "tok")
    HfApi(endpoint=site.url, token=site.keys["owner"]).upload_folder(
        repo_id=MODEL, folder_path=tmp_path / "tok", commit_message="tokenizer")
    accepted, stranger = site.user("tj-alice"), site.user("tj-bob")
    site.cli("access", "grant", MODEL, "tj-alice")

    loaded = run_node(transformers_js, site, accepted)
    assert loaded == {"ok": True, "ids": expected}

    refused = run_node(transformers_js, site, stranger)
    assert refused["ok"] is False
    assert "403" in str(refused["error"]) or "Forbidden" in str(refused["error"])
