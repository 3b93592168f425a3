"""``adopt`` and ``credential-check``: modelgit on an existing git host (docs/architecture.md).

Both only parse and print: adopting is :mod:`modelgit.services.adopt`, the check is
:mod:`modelgit.credcheck`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelgit.cli.output import Ctx, emit, handle_errors
from modelgit.services.adopt import adopt


def register(cli: click.Group) -> None:
    """Register the existing-host commands."""

    @cli.command("adopt")
    @click.argument("root", type=click.Path(file_okay=False, path_type=Path))
    @click.option("--space", required=True, help="Space the models go into (made if new).")
    @click.option("--owner", required=True, help="Owner of the space and of the models.")
    @click.pass_obj
    @handle_errors
    def adopt_cmd(ctx: Ctx, root: Path, space: str, owner: str) -> None:
        """Make each bare *.git repository under ROOT a private model SPACE/<name>, in place.

        Idempotent: rerunning links what is missing and refreshes the hooks. A hook already in
        a repository is kept as <hook>.legacy and runs before modelgit's.
        """
        report = adopt(ctx.cfg, ctx.store, root, space, owner)
        rows = [vars(r) for r in report]
        emit(ctx, rows, ["repo", "model", "status", "detail"], f"repositories under {root}")
        skipped = [r for r in report if r.status == "skipped"]
        if not ctx.json:
            done = len(report) - len(skipped)
            click.echo(f"{done} model(s) ready in space {space}; {len(skipped)} skipped",
                       err=True)

    @cli.command("credential-check")
    @click.option("--git-prefix", default="", help="URL prefix of the git repositories, e.g."
                                                    " /git (as in the web server's config).")
    @click.option("--socket", default=None,
                  help="modelgit serve's unix socket: ask the running server (fast), and"
                       " decide in this process only when it cannot be reached.")
    @click.option("--key-only", is_flag=True,
                  help="Check only the key (and its scope); leave the decision to the"
                       " `Require external-group read|write` step.")
    @click.pass_obj
    def credential_check_cmd(ctx: Ctx, git_prefix: str, socket: str | None,
                             key_only: bool) -> None:
        """For Apache's mod_authnz_external (pipe): user and key on stdin, URI in the
        environment; exit 0 allows. See modelgit-apache.conf written by install.sh."""
        from modelgit import credcheck

        argv = ["--data", str(ctx.cfg.data_dir), "credential-check", "--git-prefix", git_prefix,
                *(["--socket", socket] if socket else []), *(["--key-only"] if key_only else [])]
        # credcheck reads stdin itself, as on the fast path: click.get_text_stream is
        # deprecated since click 8.5 and goes in 9.0.
        code = credcheck.main(argv)
        sys.exit(code or 0)
