"""``scan run|show``: security scans of a branch or commit, on demand and as stored."""

from __future__ import annotations

import click

from modelgit.cli.model import require_model
from modelgit.cli.output import Ctx, emit, handle_errors
from modelgit.errors import Refused
from modelgit.services import scans


def _commit(ctx: Ctx, model_id: str, ref: str | None) -> tuple[str, str]:
    """``(revision, commit id)``: a branch, a tag or a commit id (:mod:`modelgit.git.revisions`)."""
    from modelgit.git import revisions
    from modelgit.git.errors import RevisionNotFound
    from modelgit.git.repo import open_model

    row = require_model(ctx, model_id)
    rev = ref or row["default_branch"]
    try:
        commit = revisions.resolve(open_model(ctx.cfg, model_id), rev)
    except RevisionNotFound:
        raise Refused(f"{model_id} has no branch, tag or commit {rev!r}",
                      hint="see `git ls-remote` for its refs") from None
    return rev, str(commit.id)


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
        from modelgit.git.paths import repo_path
        from modelgit.scanner.blobs import tree_blobs
        from modelgit.services.reports import run_report

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


def _show(ctx: Ctx, model_id: str, commit: str | None) -> None:
    import json

    data = scans.summary(ctx.store, model_id, commit)
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
