"""``modelgit``: the admin CLI. It works on the data folder directly, as the service user.

One module per noun registers its commands here; this module only parses the global options.
Exit status: 0 ok, 1 refused or invalid input, 2 usage (click's own).

The console script imports this module on every call, and Apache runs
``modelgit credential-check`` once per git request (budget: < 50 ms, bench/README.md), while
importing click and the command modules costs about as much as the whole budget. So nothing
heavy is imported at the top: ``main()`` hands a credential-check command line to the small
``modelgit.credcheck`` first, and the click group ``cli`` is built on first use (PEP 562
module ``__getattr__``), so ``from modelgit.cli.main import cli`` works as before.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # importing typing costs credential-check's start measurably
if TYPE_CHECKING:
    from typing import Any

    import click


def _build_cli() -> click.Group:
    import click

    from modelgit import config as config_mod
    from modelgit.cli import (
        access,
        card,
        db,
        hooks,
        host,
        key,
        lfs,
        model,
        scan,
        serve,
        space,
        sync,
        user,
    )
    from modelgit.cli.output import JSON_HELP, Ctx, accept_json_everywhere

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
                  help="Data folder (default: $MODELGIT_HOME or ./modelgit-data).")
    @click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
    @click.version_option(package_name="modelgit")
    @click.pass_context
    def cli(ctx: click.Context, data_dir: str | None, as_json: bool) -> None:
        """modelgit: a model hub on your own git server."""
        ctx.obj = Ctx(cfg=config_mod.load(data_dir), json=as_json)

    for module in (serve, user, key, space, model, hooks, access, lfs, host, card, sync, scan,
                   db):
        module.register(cli)
    accept_json_everywhere(cli)
    return cli


_built: dict[str, click.Group] = {}


def __getattr__(name: str) -> Any:
    """``cli`` is built the first time someone asks for it."""
    if name == "cli":
        if "cli" not in _built:
            _built["cli"] = _build_cli()
        return _built["cli"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    argv = sys.argv[1:]
    if "credential-check" in argv:
        from modelgit import credcheck

        code = credcheck.main(argv)
        if code is not None:
            sys.exit(code)
    __getattr__("cli")(prog_name="modelgit")


if __name__ == "__main__":
    main()
