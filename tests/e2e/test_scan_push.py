"""Security scans on real pushes: secrets and dangerous pickles refused, reports stored."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LFS_ENV, TEST_SETTINGS, Site, commit_file, git, make_site
from tests.helpers.pickles import (
    npy,
    object_array,
    reduce_call,
    state_dict,
    torch_zip,
)
from tests.helpers.secret_samples import AWS_KEY_LINE, SECRET_FILES, VALUES, big_log
from tests.helpers.wait import wait_for

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
    assert ".secrets.baseline" in pushed.stderr and "safetensors" not in pushed.stderr
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


def _remote(stderr: str) -> list[str]:
    """What the server said, without git's ``remote:`` prefix."""
    return [line.removeprefix("remote: ").rstrip() for line in stderr.splitlines()
            if line.startswith("remote: ")]


def test_malicious_pickle_refused_clean_one_passes(site: Site, work: Path) -> None:
    """The refusal names the file, the global it imports and what that does, and says how to
    save the weights instead; it gives no advice about secrets."""
    _model, repo = _fresh(site, work, "pickles")
    commit = commit_file(repo, "model.pkl", pickle.dumps(Evil()), "evil")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    said = _remote(pushed.stderr)
    assert said[0] == "modelgit: push to scan/pickles refused: the security scan found 1 problem:"
    assert "modelgit:   model.pkl: posix.system runs a shell command when the file is loaded" \
        f"  (commit {commit[:7]})" in said
    text = "\n".join(said)
    assert 'save_file(model.state_dict(), "model.safetensors")' in text
    assert "save only its tensors" in text and "git commit --amend" in text
    assert "secret" not in text.lower()
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    commit_file(repo, "model.pkl", pickle.dumps({"weights": [1.0, 2.0]}), "clean")
    git("push", "-q", "origin", "main", cwd=repo)


def _refused(site: Site, model: str, repo: Path, path: str, data: bytes) -> str:
    """Commit `data` at `path`, push, and return what git printed; the push must be refused."""
    before = _tip(site, model)
    commit_file(repo, path, data, f"add {path}")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0, pushed.stderr
    assert f"remote: modelgit:   {path}: " in pushed.stderr
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
    assert "pytorch_model.pt: posix.system (in archive/data.pkl)" in pushed.stderr
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
    data: dict = {}

    def finished() -> dict | None:
        nonlocal data
        args = ["--json", "scan", "show", model] + (["--ref", ref] if ref else [])
        data = json.loads(site.cli(*args)[1])
        done = len(data["scans"]) == 3 and all(s["status"] != "running" for s in data["scans"])
        return data if done else None

    return wait_for(finished, 60, lambda: f"the background scans to finish: {data.get('scans')}",
                    poll=0.5)


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
    pushed = commit_file(repo, "tools/run.py", BANDIT_FILE, "tools")
    git("push", "-q", "origin", "main", cwd=repo)
    data = _wait_for_scans(site, model, pushed)  # the reports run one after another
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


EVAL_FILE = "x = eval(input())\n"


def test_report_only_finding_is_a_warning_on_an_accepted_push(site: Site, work: Path) -> None:
    """bandit reports (it does not refuse): the push goes through and the pusher sees the
    finding and where to read every finding."""
    model, repo = _fresh(site, work, "warned")
    commit = commit_file(repo, "run.py", EVAL_FILE, "read an expression")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert _tip(site, model) == commit
    said = _remote(pushed.stderr)
    assert said[0] == "warning: the security scan reported 1 finding in this push (not refused):"
    assert said[1].startswith("warning:   run.py:1  B307  blacklist: Use of possibly insecure"
                              " function")
    assert said[-1] == (f"warning: every finding: `modelgit scan show {model} --ref main`"
                        " (a site administrator runs it on the server)")
    assert "Unable to find qualified name" not in pushed.stderr
    assert "pragma" not in pushed.stderr and "refused:" not in pushed.stderr


def test_many_warnings_are_bounded(site: Site, work: Path) -> None:
    _model, repo = _fresh(site, work, "many-warnings")
    commit_file(repo, "tools/many.py", EVAL_FILE * 13, "thirteen evals")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stderr
    said = [line for line in _remote(pushed.stderr) if line.startswith("warning:")]
    assert "warning: the security scan reported 13 findings in this push (not refused):" in said
    listed = [line for line in said if line.startswith("warning:   tools/many.py:")]
    assert [line.split()[1] for line in listed] == [f"tools/many.py:{n}" for n in range(1, 11)]
    assert "warning:   ... and 3 more" in said and len(said) == 13


def test_much_python_is_checked_after_the_push(site: Site, work: Path) -> None:
    """Past what bandit checks within a push, the pusher is told that the report has it."""
    from modelgit.hooks.scan import REPORT_PYTHON_BYTES

    model, repo = _fresh(site, work, "much-python")
    filler = "".join(f"value_{n} = {n}\n" for n in range(REPORT_PYTHON_BYTES // 12))
    commit = commit_file(repo, "big.py", filler + EVAL_FILE, "a large module")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stderr
    said = _remote(pushed.stderr)
    assert any(line.startswith("warning: bandit checks the 1 Python files of this push")
               and line.endswith("after the push: see the report.") for line in said), said
    assert f"modelgit scan show {model} --ref main" in said[-1]
    data = _wait_for_scans(site, model, commit)  # the reports run one after another
    assert any(f["rule"] == "B307" and f["path"] == "big.py" for f in data["findings"])


def test_scan_run_prints_no_third_party_log_lines(site: Site, work: Path) -> None:
    """bandit warns 'Unable to find qualified name for module' for a top-level file: the real
    CLI, as a process, shows the findings and none of bandit's (or anyone's) log lines."""
    model, repo = _fresh(site, work, "quiet-cli")
    commit_file(repo, "run.py", EVAL_FILE, "top-level module")
    commit_file(repo, "pkg/tool.py", "import subprocess\nsubprocess.call('ls', shell=True)\n")
    git("push", "-q", "origin", "main", cwd=repo)
    for args in (["scan", "run", model], ["--json", "scan", "run", model]):
        proc = subprocess.run([str(BIN / "modelgit"), "--data", str(site.data), *args],
                              capture_output=True, text=True, check=False,
                              env=dict(os.environ, COLUMNS="200"))
        assert proc.returncode == 0, proc.stderr
        assert "B307" in proc.stdout and "B602" in proc.stdout
        both = proc.stdout + proc.stderr
        assert "Unable to find qualified name" not in both
        assert "WARNING" not in both and "[main]" not in both and "[manager]" not in both
        assert proc.stderr == ""


# ------------------------------------------------- finding 4: large text and LFS text
# pragma: allowlist nextline secret
def _lfs_fresh(site: Site, work: Path, name: str) -> tuple[str, Path]:
    model, repo = _fresh(site, work, name)
    git("lfs", "install", "--local", cwd=repo)
    return model, repo


def test_big_log_with_a_secret_is_refused(site: Site, work: Path) -> None:
    """A 6 MB log passed as `skipped-too-large`; now it is scanned in windows."""
    model, repo = _fresh(site, work, "big-log")
    before = _tip(site, model)
    commit_file(repo, "logs/train.log", big_log(), "logs")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0, pushed.stderr
    assert "remote: modelgit:   logs/train.log:70001  Secret Keyword" in pushed.stderr
    assert "wJalrXUtnFEMI" not in pushed.stderr
    assert _tip(site, model) == before


def test_lfs_tracked_text_is_scanned_by_content(site: Site, work: Path) -> None:
    """A .env (and a big .log) tracked by LFS: only the pointers were read, never the text."""
    model, repo = _lfs_fresh(site, work, "lfs-text")
    before = _tip(site, model)
    (repo / ".gitattributes").write_text("*.env filter=lfs diff=lfs merge=lfs -text\n"
                                         "*.log filter=lfs diff=lfs merge=lfs -text\n")
    (repo / "prod.env").write_text(f"REGION=eu-west-1\n{AWS_KEY_LINE}\n")
    (repo / "train.log").write_bytes(big_log(secret_at=99_999))
    git("add", "-A", cwd=repo, env=LFS_ENV)
    git("commit", "-qm", "env and log", cwd=repo, env=LFS_ENV)
    pointer = git("cat-file", "-p", "HEAD:prod.env", cwd=repo).stdout
    assert pointer.startswith("version https://git-lfs.github.com/spec/v1")
    pushed = git("push", "origin", "main", cwd=repo, check=False, env=LFS_ENV)
    assert pushed.returncode != 0, pushed.stderr
    assert "remote: modelgit:   prod.env:2  Secret Keyword" in pushed.stderr
    assert "remote: modelgit:   train.log:99999  Secret Keyword" in pushed.stderr
    assert "wJalrXUtnFEMI" not in pushed.stderr
    assert _tip(site, model) == before
    # Binary LFS objects are sniffed (8 KiB read) and pass, as before.
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo, env=LFS_ENV)
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    (repo / "weights.bin").write_bytes(b"\x00\x01\x02" * 1_000_000)
    git("add", "-A", cwd=repo, env=LFS_ENV)
    git("commit", "-qm", "weights", cwd=repo, env=LFS_ENV)
    git("push", "-q", "origin", "main", cwd=repo, env=LFS_ENV)


@pytest.fixture(scope="module")
def small_ceiling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A site whose secret scan reads at most 300 kB (whole up to 100 kB)."""
    s = make_site(tmp_path_factory.mktemp("ceiling"), settings={
        **TEST_SETTINGS, "scan": {"max_blob_bytes": 100_000, "max_secret_scan_bytes": 300_000}})
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def oversize_allowed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = make_site(tmp_path_factory.mktemp("allow"), settings={
        **TEST_SETTINGS, "scan": {"max_blob_bytes": 100_000, "max_secret_scan_bytes": 300_000,
                                  "oversize": "allow"}})
    s.start()
    yield s
    s.stop()


def test_text_over_the_ceiling_is_refused_with_what_to_do(small_ceiling: Site,
                                                          oversize_allowed: Site,
                                                          work: Path) -> None:
    data = b"".join(f"line {i} of a long report\n".encode() for i in range(20_000))
    assert len(data) > 300_000
    model, repo = _fresh(small_ceiling, work, "ceiling")
    before = _tip(small_ceiling, model)
    commit_file(repo, "report.txt", data, "report")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    assert ("remote: modelgit:   report.txt  " f"{len(data)} bytes is over the 300000-byte limit"
            " for the secret scan") in pushed.stderr
    assert "scan.max_secret_scan_bytes" in pushed.stderr and "scan.oversize: allow" \
        in pushed.stderr
    assert "pragma: allowlist secret" not in pushed.stderr  # no secret hints for no secret
    assert _tip(small_ceiling, model) == before
    # Between max_blob_bytes and the ceiling: scanned (windows), clean, accepted.
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    commit_file(repo, "report.txt", data[:250_000], "shorter")
    git("push", "-q", "origin", "main", cwd=repo)
    # A site that chose `oversize: allow` takes it (the report still lists it).
    model2, repo2 = _fresh(oversize_allowed, work / "allow", "ceiling")
    commit_file(repo2, "report.txt", data, "report")
    git("push", "-q", "origin", "main", cwd=repo2)
    assert _tip(oversize_allowed, model2) == git("rev-parse", "HEAD", cwd=repo2).stdout.strip()


def test_quiet_push_still_shows_warning_lines(site: Site, work: Path) -> None:
    """`git push -q` silences git's own progress, not the hook's lines: the README says the
    scan's warnings reach a quiet push too."""
    model, repo = _fresh(site, work, "quiet-push")
    commit = commit_file(repo, "run.py", EVAL_FILE, "read an expression")
    pushed = git("push", "-q", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert _tip(site, model) == commit
    assert "remote: warning:   run.py:1  B307" in pushed.stderr, pushed.stderr
