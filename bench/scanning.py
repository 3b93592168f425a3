"""Figure 5: secret scanning and bandit, modelgit's scanners vs the plain tools on the same files.

The corpus is the deterministic one the scanner's equivalence test uses
(``tests/helpers/secret_corpus.py``: Python, YAML, ini, ``.env``, Markdown, JS and JSON with
provider tokens, keyword assignments, private keys and high-entropy strings sprinkled in).

* secrets: ``modelgit.scanner.secrets.scan_secrets`` on the files as in-memory blobs (what
  pre-receive does with a push) vs ``detect-secrets scan --all-files`` in the folder. MB/s is
  corpus bytes / wall time. Findings are compared as sets of (file, line, type).
* bandit: ``modelgit.scanner.code.scan_python`` on the ``.py`` blobs vs ``bandit -r -f json``;
  findings compared as (file, line, test id).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench import harness
from bench.harness import BIN, Ctx, Row, fmt_rate, fmt_ratio, fmt_s, median, na

SECRETS_GOAL_MBS = 20.0


def corpus(ctx: Ctx, total_bytes: int) -> tuple[Path, list[Path], int]:
    root = ctx.scratch("scan-corpus")
    try:
        from tests.helpers.secret_corpus import make_corpus
    except ImportError as exc:
        raise harness.Skip(f"n/a (the scanner corpus is missing: {exc})") from exc
    paths = make_corpus(root, total_bytes=total_bytes)
    size = sum((root / p).stat().st_size for p in paths)
    return root, paths, size


def _blobs(root: Path, paths: Iterable[Path]) -> list[Any]:
    from modelgit.scanner.blobs import Blob

    return [Blob.from_bytes(p.as_posix(), (root / p).read_bytes()) for p in paths]


def _cli_secrets(ctx: Ctx, root: Path) -> set[tuple[str, int, str]]:
    proc = harness.run([BIN / "detect-secrets", "scan", "--all-files"], ctx, cwd=root)
    results = json.loads(proc.stdout)["results"]
    return {(f, int(e["line_number"]), e["type"]) for f, es in results.items() for e in es}


def _diff(ours: set[tuple[str, int, str]], theirs: set[tuple[str, int, str]]) -> str:
    if ours == theirs:
        return f"identical findings: yes ({len(ours)} findings)"
    only_ours = sorted(ours - theirs)[:5]
    only_theirs = sorted(theirs - ours)[:5]
    return (f"identical findings: NO (modelgit {len(ours)}, CLI {len(theirs)};"
            f" only modelgit e.g. {only_ours}; only CLI e.g. {only_theirs})")


def run_secrets(ctx: Ctx) -> list[Row]:
    figure = "secret scan (detect-secrets)"
    try:
        from modelgit.scanner.secrets import scan_secrets, warm_workers
    except ImportError:
        return [na(figure, goal="≥ 20 MB/s, identical")]
    total = 100_000 if ctx.smoke else 1_000_000 if ctx.quick else 2_000_000
    root, paths, size = corpus(ctx, total)
    blobs = _blobs(root, paths)
    scan_secrets(blobs[:3])  # warm: imports and the prefilter, as in the running server
    warm_workers()  # and its scan processes, which modelgit serve starts at start
    ours_t: list[float] = []
    found: set[tuple[str, int, str]] = set()
    for _ in range(ctx.reps(full=5, quick=3, smoke=1)):
        t0 = time.perf_counter()
        findings = scan_secrets(blobs)
        ours_t.append(time.perf_counter() - t0)
        found = {(f.path, int(f.line or 0), f.rule) for f in findings if f.scanner == "secrets"}
    cli_t: list[float] = []
    theirs: set[tuple[str, int, str]] = set()
    for _ in range(ctx.reps(full=2, quick=1, smoke=1)):
        t0 = time.perf_counter()
        theirs = _cli_secrets(ctx, root)
        cli_t.append(time.perf_counter() - t0)
    ours_rate = size / 1e6 / median(ours_t)
    cli_rate = size / 1e6 / median(cli_t)
    identical = found == theirs
    return [Row(
        figure, ours=fmt_rate(ours_rate), base=f"{fmt_rate(cli_rate)} (CLI)",
        ratio=fmt_ratio(ours_rate / cli_rate), goal="≥ 20 MB/s, identical",
        met=ours_rate >= SECRETS_GOAL_MBS and identical,
        notes=[f"{len(paths)} files, {size / 1e6:.2f} MB; modelgit {len(ours_t)} runs"
               f" (median {fmt_s(median(ours_t))}), detect-secrets scan --all-files"
               f" {len(cli_t)} runs (median {fmt_s(median(cli_t))})",
               _diff(found, theirs)],
    ), _large_text(ctx, ours_rate)]


def big_log(total_bytes: int) -> bytes:
    """A log of about total_bytes with three secrets (start, middle, end)."""
    lines = [f"2026-12-05 09:{i % 60:02d}:00 INFO worker-{i % 7} processed batch {i} in"
             f" 0.{i % 97:02d}s" for i in range(max(10, total_bytes // 63))]
    # pragma: allowlist nextline secret
    secret = 'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"'
    for at in (5, len(lines) // 2, len(lines) - 5):
        lines[at] = f"{secret[:-2]}{at % 10}\""  # allowlist-free, distinct per place
    return ("\n".join(lines) + "\n").encode()


def _large_text(ctx: Ctx, small_rate: float) -> Row:
    """One text file over scan.max_blob_bytes, scanned in windows: its MB/s against the small
    files' (cost must follow the bytes), and the same findings as a scan of the whole file."""
    from modelgit.scanner.blobs import Blob
    from modelgit.scanner.secrets import scan_secrets

    figure = "secret scan of one large log (windows)"
    total = 6_000_000 if ctx.smoke else 24_000_000 if ctx.quick else 64_000_000
    blob = Blob.from_bytes("logs/train.log", big_log(total))
    times: list[float] = []
    findings: list[Any] = []
    for _ in range(ctx.reps(full=3, quick=2, smoke=1)):
        t0 = time.perf_counter()
        findings = scan_secrets([blob], max_scan_bytes=blob.size)
        times.append(time.perf_counter() - t0)
    whole = scan_secrets([blob], max_blob_bytes=blob.size, max_scan_bytes=blob.size)
    same = [(f.line, f.rule) for f in findings] == [(f.line, f.rule) for f in whole]
    rate = blob.size / 1e6 / median(times)
    ratio = rate / small_rate
    return Row(figure, ours=fmt_rate(rate), base=f"{fmt_rate(small_rate)} (small files)",
               ratio=fmt_ratio(ratio), goal="≥ 0.5× small files, same as whole file",
               met=ratio >= 0.5 and same and len(findings) >= 3,
               notes=[f"{blob.size / 1e6:.1f} MB, {len(times)} runs; findings identical to"
                      f" a whole-file scan: {'yes' if same else 'NO'} ({len(findings)})"])


def run_bandit(ctx: Ctx) -> list[Row]:
    figure = "bandit on .py files"
    try:
        from modelgit.scanner.code import scan_python
    except ImportError:
        return [na(figure, goal="same findings (reference)")]
    total = 100_000 if ctx.smoke else 1_000_000 if ctx.quick else 3_000_000
    root, paths, _ = corpus(ctx, total)
    py = [p for p in paths if p.suffix == ".py"]
    size = sum((root / p).stat().st_size for p in py)
    blobs = _blobs(root, py)
    try:
        scan_python(blobs[:2])
    except TypeError as exc:
        return [na(figure, f"n/a (scan_python's signature is not scan_python(blobs): {exc})")]
    ours_t: list[float] = []
    found: set[tuple[str, int, str]] = set()
    for _ in range(ctx.reps(full=3, quick=2, smoke=1)):
        t0 = time.perf_counter()
        findings = scan_python(blobs)
        ours_t.append(time.perf_counter() - t0)
        found = {(f.path, int(f.line or 0), f.rule) for f in findings if f.scanner == "bandit"}
    cli_t: list[float] = []
    theirs: set[tuple[str, int, str]] = set()
    for _ in range(ctx.reps(full=2, quick=1, smoke=1)):
        t0 = time.perf_counter()
        proc = harness.run([BIN / "bandit", "-r", "-q", "-f", "json", "."],
                           ctx, cwd=root, check=False)
        cli_t.append(time.perf_counter() - t0)
        data = json.loads(proc.stdout or b"{}")
        theirs = {(r["filename"].removeprefix("./"), int(r["line_number"]), r["test_id"])
                  for r in data.get("results", [])}
    ours_rate = size / 1e6 / median(ours_t)
    cli_rate = size / 1e6 / median(cli_t)
    return [Row(
        figure, ours=fmt_rate(ours_rate), base=f"{fmt_rate(cli_rate)} (bandit -r)",
        ratio=fmt_ratio(ours_rate / cli_rate), goal="same findings (reference)",
        met=found == theirs,
        notes=[f"{len(py)} .py files, {size / 1e6:.2f} MB; modelgit {len(ours_t)} runs,"
               f" bandit {len(cli_t)} runs", _diff(found, theirs).replace("CLI", "bandit")],
    )]
