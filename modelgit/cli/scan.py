"""``scan run|show``: security scans of a branch or commit, on demand and as stored."""

from __future__ import annotations

from typing import Any

import click

from modelgit.cli.model import require_model
from modelgit.cli.output import Ctx, emit, handle_errors
from modelgit.errors import Refused


def _commit(ctx: Ctx, model_id: str, ref: str | None) -> tuple[str, str]:
    import subprocess

    from modelgit.repos import repo_path

    row = require_model(ctx, model_id)
    rev = ref or row["default_branch"]
    proc = subprocess.run(["git", "--git-dir", str(repo_path(ctx.cfg, model_id)), "rev-parse",
                           "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise Refused(f"{model_id} has no branch, tag or commit {rev!r}",
                      hint="see `git ls-remote` for its refs")
    return rev, proc.stdout.strip()


def register(cli: click.Group) -> None:
    @cli.group("scan")
    def scan() -> None:
        """Security scans: detect-secrets, bandit and the pickle allowlist, per file and commit."""

    @scan.command("run")
    @click.argument("model_id", metavar="ID")
    @click.option("--ref", default=None, help="Branch, tag or commit (default branch).")
    @click.pass_obj
    @handle_errors
    def run(ctx: Ctx, model_id: str, ref: str | None) -> None:
        """Scan the whole tree at REF now and store the results."""
        from modelgit.repos import repo_path
        from modelgit.scanner.blobs import tree_blobs
        from modelgit.scanner.report import run_report

        rev, commit = _commit(ctx, model_id, ref)
        blobs = list(tree_blobs(str(repo_path(ctx.cfg, model_id)), commit))
        if ctx.json:
            run_report(ctx.cfg, ctx.store, model_id, rev, commit, blobs)
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(f"scanning {len(blobs)} files", total=3)

                def step(name: str) -> None:
                    bar.update(task, advance=1, description=f"{name} scan")

                run_report(ctx.cfg, ctx.store, model_id, rev, commit, blobs, progress=step)
        _show(ctx, model_id, commit)

    @scan.command("show")
    @click.argument("model_id", metavar="ID")
    @click.option("--ref", default=None, help="Branch, tag or commit (default: last scanned).")
    @click.pass_obj
    @handle_errors
    def show(ctx: Ctx, model_id: str, ref: str | None) -> None:
        """Findings per file with counts by severity and each scan's status."""
        require_model(ctx, model_id)
        commit = _commit(ctx, model_id, ref)[1] if ref else None
        _show(ctx, model_id, commit)


def summary(ctx: Ctx, model_id: str, commit: str | None) -> dict[str, Any]:
    scans = ctx.store.latest_scans(model_id, commit)
    findings = ctx.store.scan_findings([s["id"] for s in scans])
    by_scan = {s["id"]: s["scanner"] for s in scans}
    counts: dict[str, int] = {}
    for f in findings:
        f["scanner"] = by_scan.get(f.pop("scan"), "?")
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return {"model": model_id, "commit": scans[0]["commit_sha"] if scans else commit,
            "scans": [{k: s[k] for k in ("scanner", "status", "started", "finished", "error",
                                         "findings")} for s in scans],
            "counts": counts, "findings": findings}


def _show(ctx: Ctx, model_id: str, commit: str | None) -> None:
    import json

    data = summary(ctx, model_id, commit)
    if ctx.json:
        click.echo(json.dumps(data, indent=2))
        return
    if not data["scans"]:
        click.echo(f"{model_id}: no scans yet (run `modelgit scan run {model_id}`)")
        return
    click.echo(f"{model_id} at {str(data['commit'])[:12]}: " + (", ".join(
        f"{n} {sev}" for sev, n in sorted(data["counts"].items())) or "no findings"))
    emit(ctx, data["scans"], ["scanner", "status", "findings", "finished", "error"], "scans")
    emit(ctx, data["findings"], ["path", "line", "scanner", "rule", "severity", "confidence",
                                 "message"], "findings")
