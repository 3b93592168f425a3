"""``space create|list|show|grant|revoke|set``."""

from __future__ import annotations

from typing import Any

import click

from modelgit.authz import roles
from modelgit.cli.output import (
    Ctx,
    confirm,
    done,
    emit,
    emit_one,
    handle_errors,
    parse_size,
    yes_option,
)
from modelgit.errors import Invalid
from modelgit.services import spaces
from modelgit.units import human_size


def require_space(ctx: Ctx, name: str) -> dict[str, Any]:
    return spaces.require(ctx.store, name)


def register(cli: click.Group) -> None:
    @cli.group("space")
    def space() -> None:
        """Model spaces: a namespace of models with its owners, maintainers and users."""

    @space.command("create")
    @click.argument("name")
    @click.option("--owner", required=True, help="The space's owner (fixed).")
    @click.option("--quota", default=None, help="Storage quota, e.g. 10GB.")
    @click.option("--fullname", default="", help='Its full name, e.g. "Acme Research".')
    @click.pass_obj
    @handle_errors
    def create(ctx: Ctx, name: str, owner: str, quota: str | None, fullname: str) -> None:
        size = parse_size(quota) if quota else None
        spaces.create(ctx.store, name, owner, size, fullname=fullname)
        done(ctx, f"created space {name} owned by {owner}", space=name)

    @space.command("list")
    @click.pass_obj
    @handle_errors
    def list_(ctx: Ctx) -> None:
        rows = [{**r, "quota": human_size(r["quota_bytes"])} for r in ctx.store.list_spaces()]
        emit(ctx, rows, ["name", "fullname", "owner", "models", "quota", "created"], "spaces")

    @space.command("show")
    @click.argument("name")
    @click.pass_obj
    @handle_errors
    def show(ctx: Ctx, name: str) -> None:
        """Owner, size against quota, models, each user's share, and members."""
        from modelgit.quota import space_usage

        row = require_space(ctx, name)
        members = ctx.store.space_roles(name)
        usage = space_usage(ctx.cfg, ctx.store, name)
        quota = row["quota_bytes"]
        models = [m["id"] for m in usage["models"]]
        if ctx.json:
            emit_one(ctx, {**row, "quota": human_size(quota), "models": models,
                           "members": members, "usage": usage}, f"space {name}")
            return
        size = f"{human_size(usage['total'])} of {human_size(quota)}"
        if quota:
            size += f" ({100 * usage['total'] / quota:.1f}%)"
        elif quota is None:
            size = f"{human_size(usage['total'])} (no quota)"
        emit_one(ctx, {"fullname": row.get("fullname") or "", "owner": row["owner"],
                       "created": row["created"], "size": size,
                       "git": human_size(usage["git"]), "lfs": human_size(usage["lfs"]),
                       "xet": human_size(usage["xet"]),
                       "models": len(models)}, f"space {name}")
        total = usage["total"] or 1
        shares = [{"user": u["user"], "models": u["models"], "size": human_size(u["total"]),
                   "share": f"{100 * u['total'] / total:.1f}%"} for u in usage["users"]]
        emit(ctx, shares, ["user", "models", "size", "share"], "size per user (model owner)")
        emit(ctx, [{"model": m["id"], "owner": m["owner"], "git": human_size(m["git"]),
                    "lfs": human_size(m["lfs"]), "size": human_size(m["total"])}
                   for m in usage["models"]], ["model", "owner", "git", "lfs", "size"],
             "models")
        emit(ctx, members, ["user", "role"], "members")

    @space.command("grant")
    @click.argument("name")
    @click.argument("user")
    @click.argument("role", type=click.Choice(roles.SPACE_ROLES))
    @click.pass_obj
    @handle_errors
    def grant(ctx: Ctx, name: str, user: str, role: str) -> None:
        spaces.grant(ctx.store, name, user, role)
        done(ctx, f"{user} is now {role} of space {name}")

    @space.command("revoke")
    @click.argument("name")
    @click.argument("user")
    @yes_option
    @click.pass_obj
    @handle_errors
    def revoke(ctx: Ctx, name: str, user: str, yes: bool) -> None:
        """Take USER's role in the space away (asks first unless --yes)."""
        def ask(current: str | None) -> None:
            confirm(yes, f"Take {user}'s role {current} in space {name} away?",
                    what=f"revoke {user} in space {name}")

        spaces.revoke(ctx.store, name, user, before=ask)
        done(ctx, f"{user} has no role in space {name} any more")

    @space.command("set")
    @click.argument("name")
    @click.option("--quota", default=None, help="New quota, e.g. 10GB, or 'none'.")
    @click.option("--fullname", default=None, help='New full name ("" removes it).')
    @click.pass_obj
    @handle_errors
    def set_(ctx: Ctx, name: str, quota: str | None, fullname: str | None) -> None:
        """Change the space's quota or full name."""
        require_space(ctx, name)
        if quota is None and fullname is None:
            raise Invalid("nothing to set: give --quota and/or --fullname")
        said = []
        if quota is not None:
            value = None if quota.lower() == "none" else parse_size(quota)
            spaces.set_quota(ctx.store, name, value)
            said.append(f"quota: {human_size(value)}")
        if fullname is not None:
            spaces.set_fullname(ctx.store, name, fullname)
            said.append(f"full name: {fullname.strip() or '(none)'}")
        done(ctx, f"space {name} " + "; ".join(said))
