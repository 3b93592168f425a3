"""``key create|list|revoke|regenerate``. A new key is printed once and never again."""

from __future__ import annotations

from typing import Any

import click

from modelgit.authz import keys
from modelgit.cli.output import Ctx, confirm, done, emit, handle_errors, yes_option
from modelgit.cli.user import require_user
from modelgit.services import keys as key_service
from modelgit.store import now_iso


def register(cli: click.Group) -> None:
    @cli.group("key")
    def key() -> None:
        """Keys: the credential for git over HTTPS (the password git asks for)."""

    scope_opt = click.option("--scope", type=click.Choice(keys.SCOPES), default="write",
                             show_default=True)
    expires_opt = click.option("--expires", type=int, default=None, metavar="DAYS",
                               help="Expire after this many days.")

    @key.command("create")
    @click.argument("user")
    @scope_opt
    @expires_opt
    @click.pass_obj
    @handle_errors
    def create(ctx: Ctx, user: str, scope: str, expires: int | None) -> None:
        """Make a key for USER and print it (only the key, only this once)."""
        click.echo(key_service.create(ctx.store, user, scope, expires))

    @key.command("list")
    @click.argument("user")
    @click.pass_obj
    @handle_errors
    def list_(ctx: Ctx, user: str) -> None:
        require_user(ctx, user)
        now = now_iso()
        rows = []
        for r in ctx.store.list_keys(user):
            state = "revoked" if r["revoked"] else (
                "expired" if r["expires"] and r["expires"] <= now else "active")
            rows.append({**r, "state": state})
        emit(ctx, rows, ["id", "scope", "state", "created", "expires", "last_used"], "keys")

    @key.command("revoke")
    @click.argument("key_id")
    @yes_option
    @click.pass_obj
    @handle_errors
    def revoke(ctx: Ctx, key_id: str, yes: bool) -> None:
        """Revoke one key by its id (as `key list` shows it; asks first unless --yes)."""
        key_id = key_id.rstrip("…").rstrip(".")  # as older versions listed it
        def ask(row: dict[str, Any]) -> None:
            confirm(yes, f"Revoke key {key_id} of {row['user']}? Whatever uses it stops"
                         " working.", what=f"revoke key {key_id}")

        row = key_service.revoke(ctx.store, key_id, before=ask)
        done(ctx, f"revoked key {key_id} of {row['user']}")

    @key.command("regenerate")
    @click.argument("user")
    @scope_opt
    @expires_opt
    @yes_option
    @click.pass_obj
    @handle_errors
    def regenerate(ctx: Ctx, user: str, scope: str, expires: int | None, yes: bool) -> None:
        """Revoke all of USER's keys at once and print one new key (asks first unless
        --yes)."""
        new, revoked = key_service.regenerate(
            ctx.store, user, scope, expires,
            before=lambda: confirm(yes, f"Revoke every key of {user} and make one new one?",
                                   what=f"regenerate {user}'s keys"))
        click.echo(f"modelgit: revoked {revoked} key(s) of {user}; the new key:", err=True)
        click.echo(new)
