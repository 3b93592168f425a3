"""The layer contracts in pyproject.toml fail on a new loop: a front end that imports another.

``make lint`` runs import-linter over the package; this test runs it over a copy of the package
with one forbidden import added, so a contract that could never fail would fail here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(tree / "pyproject.toml")],
                          cwd=tree, env=env, capture_output=True, text=True, check=False)


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "modelgit", tree / "modelgit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_package_keeps_its_layers(tmp_path: Path) -> None:
    done = _lint(_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout and "BROKEN" not in done.stdout


def test_a_front_end_importing_another_breaks_the_contract(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    with (tree / "modelgit" / "cli" / "user.py").open("a") as module:
        module.write("\nimport modelgit.http.app  # noqa\n")
    done = _lint(tree)
    assert done.returncode != 0
    assert "modelgit.cli is not allowed to import modelgit.http" in done.stdout


def test_a_pure_decision_reading_the_store_breaks_the_contract(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    with (tree / "modelgit" / "authz" / "decide.py").open("a") as module:
        module.write("\nimport modelgit.store  # noqa\n")
    done = _lint(tree)
    assert done.returncode != 0
    assert "modelgit.authz.decide is not allowed to import modelgit.store" in done.stdout
