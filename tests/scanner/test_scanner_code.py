"""scan_python: bandit's own findings for pushed Python, with the repository's bandit config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from modelgit.scanner.blobs import Blob, tree_blobs
from modelgit.scanner.code import bandit_config_from_tree, scan_python
from tests.helpers.scanner_repos import commit, dedent, git, isolated_git

__all__ = ["isolated_git"]

BIN = Path(sys.executable).parent
PASSWORD = "Sup3rS3cret!"
RISKY = dedent(f'''
    import hashlib
    import pickle
    import subprocess

    import yaml


    def run(cmd, blob, text):
        subprocess.call(cmd, shell=True)
        subprocess.call("ls " + cmd, shell=True)  # nosec B602
        assert cmd, "need a command"
        data = pickle.loads(blob)
        digest = hashlib.md5(text.encode()).hexdigest()
        password = "{PASSWORD}"
        eval(text)
        return yaml.load(text), data, digest, password
    ''')


def bandit_cli(path: Path, *extra: str) -> set[tuple[str, int, str, str]]:
    out = subprocess.run([str(BIN / "bandit"), "-f", "json", "-q", *extra, str(path)],
                         capture_output=True, text=True, cwd=path.parent)
    report = json.loads(out.stdout)
    return {(r["test_id"], r["line_number"], r["issue_severity"], r["issue_confidence"])
            for r in report["results"]}


def test_same_test_ids_lines_and_levels_as_bandit_itself(tmp_path: Path) -> None:
    source = tmp_path / "risky.py"
    source.write_text(RISKY)

    findings = scan_python([Blob.from_bytes("app/risky.py", RISKY.encode(), "c" * 40)])

    ours = {(f.rule, f.line, f.severity, f.confidence) for f in findings}
    assert ours == bandit_cli(source)
    assert {"B602", "B403", "B101", "B301", "B324", "B105", "B307", "B506"} <= {
        f.rule for f in findings}
    assert all(f.scanner == "bandit" and f.path == "app/risky.py" for f in findings)
    assert 11 not in {f.line for f in findings if f.rule == "B602"}  # the # nosec line
    assert all(PASSWORD not in f.message for f in findings)


def test_repository_config_pyproject_and_dot_bandit(tmp_path: Path) -> None:
    work = tmp_path / "w"
    git("init", "-q", str(work))
    c1 = commit(work, {
        "risky.py": RISKY,
        "vendored/risky.py": RISKY,
        "pyproject.toml": '[project]\nname = "m"\n\n[tool.bandit]\nskips = ["B101", "B105"]\n'
                          'exclude_dirs = ["vendored"]\n',
    })
    c2 = commit(work, {"pyproject.toml": None, ".bandit": "[bandit]\ntests = B602,B307\n"})

    at_c1 = bandit_config_from_tree(str(work), c1)
    at_c2 = bandit_config_from_tree(str(work), c2)
    assert at_c1 == {"skips": ["B101", "B105"], "exclude_dirs": ["vendored"]}
    assert at_c2 == {"tests": ["B602", "B307"]}

    first = scan_python(tree_blobs(str(work), c1), config=at_c1)
    assert {f.path for f in first} == {"risky.py"}
    assert not {"B101", "B105"} & {f.rule for f in first}
    assert (work / "risky.py").exists()
    assert {(f.rule, f.line) for f in first} == {
        (t, line) for t, line, _s, _c in bandit_cli(work / "risky.py", "-s", "B101,B105")}

    second = scan_python(tree_blobs(str(work), c2), config=at_c2)
    assert {f.rule for f in second} == {"B602", "B307"}
    assert {f.commit for f in second} == {c2}


def test_no_config_and_non_python_blobs(tmp_path: Path) -> None:
    work = tmp_path / "w"
    git("init", "-q", str(work))
    sha = commit(work, {"README.md": "# hi\n", "model.py": "x = 1\n"})
    assert bandit_config_from_tree(str(work), sha) is None
    assert scan_python(tree_blobs(str(work), sha)) == []


def test_syntax_errors_are_skipped_and_large_files_reported() -> None:
    broken = Blob.from_bytes("broken.py", b"def (:\n", "c")
    big = Blob.from_bytes("big.py", b"x = 1\n" * 100, "c")
    findings = scan_python([broken, big], max_blob_bytes=100)
    assert [(f.scanner, f.path, f.rule) for f in findings] == [
        ("limits", "big.py", "skipped-too-large")]
