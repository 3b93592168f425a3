"""``model create|list|show|set|delete`` and ``grant|revoke|roles``."""

from __future__ import annotations

from typing import Any

import click

from modelgit import sync
from modelgit.authz import roles
from modelgit.cli.output import Ctx, confirm, done, emit, emit_one, handle_errors, yes_option
from modelgit.errors import Refused
from modelgit.services import models
from modelgit.urls import clone_url


def require_model(ctx: Ctx, model_id: str) -> dict[str, Any]:
    return models.require(ctx.store, model_id)


def _default_branch_scan(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any] | None:
    """The last scan summary of the default branch's tip (None before any push or scan)."""
    from modelgit.git import revisions
    from modelgit.git.errors import RepositoryNotFound
    from modelgit.git.repo import open_model
    from modelgit.services.scans import summary

    try:
        tip = revisions.ref_commit(open_model(ctx.cfg, row["id"]),
                                   f"refs/heads/{row['default_branch']}")
    except RepositoryNotFound:
        return None
    if tip is None:
        return None
    data = summary(ctx.store, row["id"], str(tip.id))
    if not data["scans"]:
        return None
    return {"commit": data["commit"], "scans": data["scans"], "counts": data["counts"]}


def register(cli: click.Group) -> None:
    @cli.group("model")
    def model() -> None:
        """Models: one bare git repository each, with roles, visibility and gating."""

    @model.command("create")
    @click.argument("model_id", metavar="ID")
    @click.option("--owner", required=True)
    @click.option("--name", "display_name", default="", help="Display name (any text).")
    @click.option("--public", is_flag=True, help="Visible to everyone (default private).")
    @click.option("--gated", type=click.Choice(["off", "auto", "manual"]), default="off")
    @click.option("--empty", is_flag=True,
                  help="No first commit (default: one with the hubs' LFS .gitattributes),"
                       " for pushing a history made elsewhere.")
    @click.pass_obj
    @handle_errors
    def create(ctx: Ctx, model_id: str, owner: str, display_name: str, public: bool,
               gated: str, empty: bool) -> None:
        """Create SPACE/MODEL and its repository (SPACE may be the owner's own name: their
        personal space, made on first use unless config.yaml turns models.personal_spaces
        off)."""
        first = models.create(ctx.store, ctx.cfg, model_id, owner, display_name=display_name,
                              public=public, gated=gated, empty=empty)
        url = clone_url(ctx.cfg, model_id)
        done(ctx, f"created {model_id}; clone it with: git clone {url}", id=model_id,
             clone_url=url, initial_commit=first)

    @model.command("list")
    @click.option("--framework", default=None, help="Training framework, e.g. PyTorch.")
    @click.option("--task", default=None, help="Job type or algorithm, e.g. Translation.")
    @click.option("--tag", default=None)
    @click.option("--license", "license_", default=None)
    @click.option("--search", default=None, help="Text in the id, name or tags.")
    @click.pass_obj
    @handle_errors
    def list_(ctx: Ctx, framework: str | None, task: str | None, tag: str | None,
              license_: str | None, search: str | None) -> None:
        """Models, filtered by their card (filters combine; case-insensitive)."""
        wanted = models.CardFilter(framework=framework, task=task, tag=tag, license=license_,
                                   search=search)
        rows = [{**row, "frameworks": ", ".join(index.get("frameworks") or []),
                 "task": index.get("task_algorithm") or index.get("task_type"),
                 "license": index.get("license")}
                for row, index in models.search(ctx.store, wanted)]
        for row in rows:
            row.pop("card", None)
        emit(ctx, rows, ["id", "display_name", "visibility", "gated", "frameworks", "task",
                         "license"], "models")

    @model.command("show")
    @click.argument("model_id", metavar="ID")
    @click.pass_obj
    @handle_errors
    def show(ctx: Ctx, model_id: str) -> None:
        row = require_model(ctx, model_id)
        obj = {**row, "clone_url": clone_url(ctx.cfg, model_id),
               "roles": ctx.store.model_roles(model_id)}
        card = models.card_of(row)
        obj.pop("card", None)
        index = card.get("index", {})
        obj["card"] = index
        obj["scan"] = _default_branch_scan(ctx, row)
        obj["replicas"] = sync.replicas(ctx.store, model_id)
        emit_one(ctx, obj, f"model {model_id}")
        if not ctx.json and obj["replicas"]:
            emit(ctx, obj["replicas"], ["region", "ref", "commit", "synced"], "replicas")
        if not ctx.json and obj["scan"]:
            counts = obj["scan"]["counts"]
            click.echo(f"  last scan of {row['default_branch']}: " + (", ".join(
                f"{n} {sev}" for sev, n in sorted(counts.items())) or "no findings") + " ("
                + ", ".join(f"{s['scanner']} {s['status']}" for s in obj["scan"]["scans"])
                + ")")
        if not ctx.json and index:
            for key in ("frameworks", "task_type", "task_algorithm", "license", "parameters",
                        "tags", "datasets"):
                value = index.get(key)
                if value:
                    shown = ", ".join(map(str, value)) if isinstance(value, list) else value
                    click.echo(f"  card {key}: {shown}")
            if index.get("performance"):
                emit(ctx, index["performance"], ["dataset", "metric", "value"], "performance")

    @model.command("set")
    @click.argument("model_id", metavar="ID")
    @click.option("--public/--private", "public", default=None)
    @click.option("--gated", type=click.Choice(["off", "auto", "manual"]), default=None)
    @click.option("--name", "display_name", default=None)
    @click.option("--notify", type=click.Choice(["realtime", "daily", "off"]), default=None,
                  help="Emails about new access requests (manual gating): one per request,"
                       " a daily digest (`modelgit access digest`), or none.")
    @click.option("--notify-email", default=None, metavar="ADDR",
                  help="Send them here (comma-separated list; '' for the default: the model"
                       " owner, else the space's owners and maintainers).")
    @click.pass_obj
    @handle_errors
    def set_(ctx: Ctx, model_id: str, public: bool | None, gated: str | None,
             display_name: str | None, notify: str | None, notify_email: str | None) -> None:
        """Change visibility, gating, notifications or the display name."""
        require_model(ctx, model_id)
        values: dict[str, str] = {}
        if public is not None:
            values["visibility"] = "public" if public else "private"
        if gated is not None:
            values["gated"] = gated
        if display_name is not None:
            values["display_name"] = display_name
        if notify is not None:
            values["notify"] = notify
        if notify_email is not None:
            from modelgit.notify import parse_addresses

            try:
                values["notify_email"] = ", ".join(parse_addresses(notify_email))
            except ValueError as exc:
                raise Refused(f"--notify-email: {exc}") from exc
        models.update(ctx.store, model_id, values)
        done(ctx, f"{model_id}: " + ", ".join(f"{k}={v}" for k, v in values.items()))

    @model.command("delete")
    @click.argument("model_id", metavar="ID")
    @yes_option
    @click.pass_obj
    @handle_errors
    def delete(ctx: Ctx, model_id: str, yes: bool) -> None:
        """Delete the model, its roles and its repository (asks first unless --yes).

        Its LFS objects stay until `modelgit gc` finds nothing links them.
        """
        require_model(ctx, model_id)
        confirm(yes, f"Delete {model_id} with its repository, roles and access requests?"
                     " This cannot be undone.", what=f"delete {model_id}")
        models.delete(ctx.store, ctx.cfg, model_id)
        done(ctx, f"deleted {model_id}")

    @cli.command("grant")
    @click.argument("model_id", metavar="ID")
    @click.argument("user")
    @click.argument("role", type=click.Choice(roles.ROLES))
    @click.pass_obj
    @handle_errors
    def grant(ctx: Ctx, model_id: str, user: str, role: str) -> None:
        """Give USER a ROLE on the model (one role per user)."""
        models.grant(ctx.store, model_id, user, role)
        done(ctx, f"{user} is now {role} on {model_id}")

    @cli.command("revoke")
    @click.argument("model_id", metavar="ID")
    @click.argument("user")
    @yes_option
    @click.pass_obj
    @handle_errors
    def revoke(ctx: Ctx, model_id: str, user: str, yes: bool) -> None:
        """Take USER's role on the model away (asks first unless --yes)."""
        def ask(current: str) -> None:
            confirm(yes, f"Take {user}'s role {current} on {model_id} away?",
                    what=f"revoke {user} on {model_id}")

        models.revoke(ctx.store, model_id, user, before=ask)
        done(ctx, f"{user} has no role on {model_id} any more")

    @cli.command("roles")
    @click.argument("model_id", metavar="ID")
    @click.pass_obj
    @handle_errors
    def roles_(ctx: Ctx, model_id: str) -> None:
        """Who holds which role on the model (the owner and space owners included)."""
        rows = models.holders(ctx.store, model_id)
        emit(ctx, rows, ["user", "role", "via"], f"roles on {model_id}")
