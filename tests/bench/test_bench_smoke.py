"""The benchmark harness must keep running: tiny runs of some figures print the table.

``python -m bench --smoke`` uses small sizes (2,000 users instead of 100,000, a few card
checks), so this stays well under 20 s; the numbers it prints mean nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_smoke_run_prints_the_table(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "authz,cards",
         "--results", str(results)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "figure" in out and "modelgit (median)" in out and "verdict" in out, out
    assert "credential check in-process (p99)" in out, out
    assert "card validation, typical card" in out, out
    assert "error:" not in out, out + proc.stderr
    written = results.read_text()
    assert "nproc" in written and "git version" in written and "| figure |" in written


def test_smoke_run_of_the_git_figures_pushes_and_clones(tmp_path: Path) -> None:
    """The clone and push figures against the plain host and modelgit (a new model has a
    first commit unless made --empty: the bench's own history must still push)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "clone,push", "--no-results"],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error:" not in proc.stdout, proc.stdout + proc.stderr
    assert "clone, 200-file repo" in proc.stdout and "push, 1 changed file" in proc.stdout


def test_table_and_percentiles() -> None:
    if str(REPO) not in sys.path:  # pytest's importlib mode does not add the repository
        sys.path.insert(0, str(REPO))
    from bench.harness import Row, markdown_table, percentile, text_table

    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99) == 10
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == 5
    rows = [Row("a", ours="1 ms", base="2 ms", ratio="0.50×", goal="≤ 1.2×", met=True),
            Row("b", status="n/a (not built yet)")]
    text = text_table(rows)
    assert "met" in text and "n/a (not built yet)" in text
    assert markdown_table(rows).count("\n") == 3
