"""Security scans on real pushes: secrets and dangerous pickles refused, reports stored."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import LFS_ENV, Site, commit_file, git
from tests.scanner.pickle_builders import (
    npy,
    object_array,
    reduce_call,
    state_dict,
    torch_zip,
)
from tests.scanner.test_scanner_secrets import SECRET_FILES, VALUES

BIN = Path(sys.executable).parent


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def _fresh(site: Site, work: Path, name: str) -> tuple[str, Path]:
    model = site.model(f"scan/{name}")
    repo = work / name
    git("clone", "-q", site.clone_url(model, "owner"), str(repo))
    commit_file(repo, "README.md", "# model\n", "readme")
    git("push", "-q", "origin", "main", cwd=repo)
    return model, repo


def _tip(site: Site, model: str) -> str:
    return git("ls-remote", site.clone_url(model, "owner"), "refs/heads/main").stdout.split()[0]


@pytest.mark.parametrize("path", sorted(SECRET_FILES))
def test_each_secret_refused_without_printing_it(site: Site, work: Path, path: str) -> None:
    name = path.replace("/", "-").replace(".", "-").replace("_", "-")
    model, repo = _fresh(site, work, name)
    before = _tip(site, model)
    commit_file(repo, path, SECRET_FILES[path], "add config")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    assert "the security scan found" in pushed.stderr
    assert f"remote: modelgit:   {path}:" in pushed.stderr
    assert "pragma: allowlist secret" in pushed.stderr and "git rebase -i" in pushed.stderr
    for value in VALUES:
        assert value not in pushed.stderr
    assert _tip(site, model) == before


def test_secret_added_and_removed_in_one_push(site: Site, work: Path) -> None:
    _model, repo = _fresh(site, work, "added-removed")
    path = "ci/release.sh"
    commit_file(repo, path, SECRET_FILES[path], "add token")
    (repo / path).unlink()
    git("commit", "-qam", "remove token", cwd=repo)
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0 and f"{path}:3  GitHub Token" in pushed.stderr


def test_allowlisted_line_passes(site: Site, work: Path) -> None:
    _model, repo = _fresh(site, work, "allowlisted")
    text = SECRET_FILES["ci/release.sh"].replace("\nexport GITHUB_TOKEN=", "\nexport X=1\n"
                                                 "export GITHUB_TOKEN=")
    text = text.rstrip("\n") + "  # pragma: allowlist secret\n"
    commit_file(repo, "ci/release.sh", text, "allowlisted")
    git("push", "-q", "origin", "main", cwd=repo)


def test_malicious_pickle_refused_clean_one_passes(site: Site, work: Path) -> None:
    _model, repo = _fresh(site, work, "pickles")
    commit_file(repo, "model.pkl", pickle.dumps(Evil()), "evil")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    assert "model.pkl" in pushed.stderr and "system" in pushed.stderr
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    commit_file(repo, "model.pkl", pickle.dumps({"weights": [1.0, 2.0]}), "clean")
    git("push", "-q", "origin", "main", cwd=repo)


def _refused(site: Site, model: str, repo: Path, path: str, data: bytes) -> str:
    """Commit `data` at `path`, push, and return what git printed; the push must be refused."""
    before = _tip(site, model)
    commit_file(repo, path, data, f"add {path}")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0, pushed.stderr
    assert f"remote: modelgit:   {path}  " in pushed.stderr
    assert "save the weights as safetensors" in pushed.stderr.lower()
    assert _tip(site, model) == before
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    return pushed.stderr


def test_unknown_callable_in_bin_refused_naming_it(site: Site, work: Path) -> None:
    """Issue 18: a callable picklescan does not list passed as "suspicious"; now the pickle
    passes only if every global is on the allowlist, and the refusal names the global."""
    model, repo = _fresh(site, work, "spawnv")
    said = _refused(site, model, repo, "pytorch_model.bin", reduce_call(
        "multiprocessing.util", "spawnv_passfds", "/bin/sh", proto=4))
    assert "multiprocessing.util.spawnv_passfds" in said
    assert "starts a program when the file is loaded" in said


def test_benign_state_dict_passes_as_git_blob_and_through_lfs(site: Site, work: Path) -> None:
    model, repo = _fresh(site, work, "state-dict")
    commit_file(repo, "model.pkl", state_dict(), "state dict, plain pickle")
    git("push", "-q", "origin", "main", cwd=repo)
    lfs = work / "lfs"
    git("clone", "-q", site.clone_url(model, "owner"), str(lfs), env=LFS_ENV)
    git("lfs", "install", "--local", cwd=lfs)
    git("lfs", "track", "*.pt", cwd=lfs)
    (lfs / "pytorch_model.pt").write_bytes(torch_zip(state_dict()))
    git("add", ".gitattributes", "pytorch_model.pt", cwd=lfs, env=LFS_ENV)
    git("commit", "-qm", "weights through LFS", cwd=lfs)
    git("push", "-q", "origin", "main", cwd=lfs, env=LFS_ENV)
    assert _tip(site, model) == git("rev-parse", "HEAD", cwd=lfs).stdout.strip()
    # The same archive with a data.pkl that calls os.system: the LFS object is scanned too.
    (lfs / "pytorch_model.pt").write_bytes(torch_zip(reduce_call("posix", "system", "id")))
    git("commit", "-qam", "evil weights", cwd=lfs, env=LFS_ENV)
    pushed = git("push", "origin", "main", cwd=lfs, env=LFS_ENV, check=False)
    assert pushed.returncode != 0
    assert "pytorch_model.pt  posix.system" in pushed.stderr
    assert "runs a shell command when the file is loaded" in pushed.stderr


def test_npy_object_array_with_os_system_refused(site: Site, work: Path) -> None:
    model, repo = _fresh(site, work, "npy")
    element = reduce_call("posix", "system", "id")[2:-1]
    said = _refused(site, model, repo, "embeddings.npy", npy("|O", object_array(element)))
    assert "posix.system" in said and "runs a shell command" in said


def test_pickle_named_safetensors_refused(site: Site, work: Path) -> None:
    model, repo = _fresh(site, work, "wrong-suffix")
    said = _refused(site, model, repo, "model.safetensors", pickle.dumps(Evil()))
    assert "posix.system" in said


def test_gzipped_pickle_refused(site: Site, work: Path) -> None:
    model, repo = _fresh(site, work, "gzipped")
    said = _refused(site, model, repo, "model.pkl.gz", gzip.compress(pickle.dumps(Evil())))
    assert "posix.system" in said and "gzip" in said


def _wait_for_scans(site: Site, model: str, ref: str | None = None) -> dict:
    deadline = time.monotonic() + 60
    while True:
        args = ["--json", "scan", "show", model] + (["--ref", ref] if ref else [])
        data = json.loads(site.cli(*args)[1])
        if len(data["scans"]) == 3 and all(s["status"] != "running" for s in data["scans"]):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"background scans did not finish: {data['scans']}")
        time.sleep(0.5)


BANDIT_FILE = """import subprocess
import pickle


def run(cmd):
    return subprocess.call(cmd, shell=True)


def load(blob):
    return pickle.loads(blob)


def check(x):
    assert x > 0
"""


def test_bandit_report_matches_bandit(site: Site, work: Path, tmp_path: Path) -> None:
    model, repo = _fresh(site, work, "bandit")
    commit_file(repo, "tools/run.py", BANDIT_FILE, "tools")
    git("push", "-q", "origin", "main", cwd=repo)
    data = _wait_for_scans(site, model)
    ours = sorted(f["rule"] for f in data["findings"] if f["scanner"] == "bandit")
    local = tmp_path / "run.py"
    local.write_text(BANDIT_FILE)
    proc = subprocess.run([str(BIN / "bandit"), "-q", "-f", "json", str(local)],
                          capture_output=True, text=True, check=False)
    theirs = sorted(r["test_id"] for r in json.loads(proc.stdout)["results"])
    assert ours == theirs and "B602" in ours
    assert {s["scanner"] for s in data["scans"]} == {"secrets", "bandit", "pickles"}
    shown = json.loads(site.cli("--json", "model", "show", model)[1])
    assert shown["scan"]["counts"].get("HIGH", 0) >= 1


def test_scan_run_on_older_commit(site: Site, work: Path) -> None:
    model, repo = _fresh(site, work, "older")
    old = commit_file(repo, "tools/run.py", BANDIT_FILE, "risky")
    git("push", "-q", "origin", "main", cwd=repo)
    (repo / "tools" / "run.py").write_text("print('fine')\n")
    git("commit", "-qam", "fixed", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    site.cli("scan", "run", model, "--ref", old)
    data = json.loads(site.cli("--json", "scan", "show", model, "--ref", old)[1])
    assert data["commit"] == old
    assert any(f["rule"] == "B602" for f in data["findings"])
    site.cli("scan", "run", model)
    latest = json.loads(site.cli("--json", "scan", "show", model, "--ref", "main")[1])
    assert not any(f["rule"] == "B602" for f in latest["findings"])


def test_secrets_baseline_at_the_tip_accepts_listed_secret(site: Site, work: Path) -> None:
    """A .secrets.baseline pushed with the file lists the secret: the push passes."""
    model, repo = _fresh(site, work, "baseline")
    path = "ci/release.sh"
    (repo / "ci").mkdir()
    (repo / path).write_text(SECRET_FILES[path])
    baseline = subprocess.run([str(BIN / "detect-secrets"), "scan", "-n", path], cwd=repo,
                              capture_output=True, text=True, check=True).stdout
    assert "GitHub Token" in baseline
    (repo / ".secrets.baseline").write_text(baseline)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "token listed in the baseline", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    assert _tip(site, model) == git("rev-parse", "HEAD", cwd=repo).stdout.strip()
