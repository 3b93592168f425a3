"""``init`` and ``serve``: create a data folder, and run the server on it."""

from __future__ import annotations

import click

from modelgit.authz import keys
from modelgit.cli.output import Ctx, handle_errors
from modelgit.config import Config
from modelgit.store import Store


def initialise(cfg: Config, admin: str | None) -> str | None:
    """Create the folders and the database (or migrate it); make the admin the first time.

    Returns the admin's new key when one was made, so the caller can show it once.
    """
    from modelgit.names import check_user

    for folder in (cfg.data_dir, cfg.repos_dir, cfg.lfs_dir, cfg.log_dir):
        folder.mkdir(parents=True, exist_ok=True)
    cfg.data_dir.chmod(0o750)
    store = Store.create(cfg.store_target)
    if admin is None:
        return None
    check_user(admin)
    if store.get_user(admin) is not None:
        return None
    store.add_user(admin, is_admin=True, space_creator=True)
    new = keys.make_key()
    store.add_key(new.key_id, admin, new.digest, "write", None)
    store.audit("user.add", actor="cli", target=admin, detail={"admin": True})
    return new.key


def _show_admin_key(admin: str, key: str) -> None:
    click.echo(f"modelgit: created site admin {admin!r}. Their key is shown once, now;"
               " store it safely:", err=True)
    click.echo(key)


def register(cli: click.Group) -> None:
    @cli.command("init")
    @click.option("--admin", default=None, help="Create this site admin and print their key.")
    @click.pass_obj
    @handle_errors
    def init_cmd(ctx: Ctx, admin: str | None) -> None:
        """Create the data folder and database (migrating an older one)."""
        key = initialise(ctx.cfg, admin)
        click.echo(f"modelgit: data folder ready at {ctx.cfg.data_dir}", err=True)
        if admin and key:
            _show_admin_key(admin, key)

    @cli.command("serve")
    @click.option("--host", default=None,
                  help="Listen address (default: host in config.yaml, else 127.0.0.1).")
    @click.option("--port", type=click.IntRange(0, 65535), default=None,
                  help="Listen port (default: port in config.yaml, else 8080; 0: any free"
                       " port). The CLI's clone URLs follow the running server's.")
    @click.option("--socket", default=None, help="Listen on this unix socket instead.")
    @click.option("--admin", default="admin", show_default=True,
                  help="Site admin to create when the data folder is new.")
    @click.pass_obj
    @handle_errors
    def serve_cmd(ctx: Ctx, host: str | None, port: int | None, socket: str | None,
                  admin: str) -> None:
        """Serve git over HTTP (and the API) from the data folder; creates it if missing."""
        from modelgit.http.server import serve

        if ctx.cfg.uses_postgres:  # a new site is one whose database has no user yet
            fresh = not Store.create(ctx.cfg.store_target).list_users()
        else:
            fresh = not ctx.cfg.db_path.exists()
        if fresh:
            key = initialise(ctx.cfg, admin)
            if key:
                _show_admin_key(admin, key)
        else:
            Store(ctx.cfg.store_target).migrate()
        serve(ctx.cfg, host=host, port=port, socket=socket)
