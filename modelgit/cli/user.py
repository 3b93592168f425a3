"""``user add|list|remove``."""

from __future__ import annotations

from typing import Any

import click

from modelgit.cli.output import Ctx, confirm, done, emit, handle_errors, yes_option
from modelgit.services import users


def require_user(ctx: Ctx, name: str) -> dict[str, Any]:
    return users.require(ctx.store, name)


def register(cli: click.Group) -> None:
    @cli.group("user")
    def user() -> None:
        """People who use the hub."""

    @user.command("add")
    @click.argument("name")
    @click.option("--email", default="")
    @click.option("--fullname", default="")
    @click.option("--admin", is_flag=True, help="Site admin: may do everything.")
    @click.option("--space-creator", is_flag=True, help="May create spaces.")
    @click.pass_obj
    @handle_errors
    def add(ctx: Ctx, name: str, email: str, fullname: str, admin: bool,
            space_creator: bool) -> None:
        """Add a user (then give them a key with `modelgit key create`)."""
        users.add(ctx.store, name, email=email, fullname=fullname, admin=admin,
                  space_creator=space_creator)
        done(ctx, f"added user {name}", user=name)

    @user.command("list")
    @click.pass_obj
    @handle_errors
    def list_(ctx: Ctx) -> None:
        rows = [{**r, "is_admin": bool(r["is_admin"]), "space_creator": bool(r["space_creator"])}
                for r in ctx.store.list_users()]
        emit(ctx, rows, ["name", "fullname", "email", "is_admin", "space_creator", "created"],
             "users")

    @user.command("remove")
    @click.argument("name")
    @yes_option
    @click.pass_obj
    @handle_errors
    def remove(ctx: Ctx, name: str, yes: bool) -> None:
        """Remove a user with their keys and roles (not an owner of a space or model; asks
        first unless --yes)."""
        users.remove(ctx.store, name, before=lambda: confirm(
            yes, f"Remove user {name} with their keys and roles?", what=f"remove {name}"))
        done(ctx, f"removed user {name}")
