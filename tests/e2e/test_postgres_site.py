"""A real ``modelgit serve`` on PostgreSQL (issue 23): git clone and push with roles, LFS-free,
every row in the PostgreSQL database and no SQLite file in the data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.conftest import TEST_SETTINGS, Site, commit_file, git, make_site
from tests.helpers.postgres import Cluster
from tests.helpers.wait import wait_for


@pytest.fixture(scope="module")
def pg_site(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = make_site(tmp_path_factory.mktemp("pgsite"),
                     {**TEST_SETTINGS, "database": pg_cluster.new_database()})
    site.start()
    yield site
    site.stop()


def test_roles_over_git_on_postgresql(pg_site: Site, work: Path) -> None:
    site = pg_site
    model = site.model("pg/weights")
    git("clone", "-q", site.clone_url(model, "owner"), str(work / "seed"))
    commit_file(work / "seed", "README.md", "# on postgres\n", "first")
    git("push", "-q", "origin", "main", cwd=work / "seed")

    for role, can_clone, can_push in [("visitor", False, False), ("user", True, False),
                                      ("developer", True, True)]:
        name = f"pg-{role}"
        site.user(name)
        site.cli("grant", model, name, role)
        target = work / role
        cloned = git("clone", "-q", site.clone_url(model, name), str(target), check=False)
        assert (cloned.returncode == 0) == can_clone, cloned.stderr
        if not can_clone:
            assert "visitor" in cloned.stderr and "403" in cloned.stderr
            continue
        assert (target / "README.md").read_text() == "# on postgres\n"
        commit_file(target, f"{role}.txt", role)
        pushed = git("push", "origin", "main", cwd=target, check=False)
        assert (pushed.returncode == 0) == can_push, pushed.stderr
        if not can_push:
            assert "developer or above" in pushed.stderr

    assert not (site.data / "modelgit.db").exists()
    url = yaml.safe_load((site.data / "config.yaml").read_text())["database"]
    with psycopg.connect(url) as conn:
        roles = dict(conn.execute(  # type: ignore[arg-type]
            "SELECT \"user\", role FROM model_roles WHERE model = %s", (model,)).fetchall())
    assert roles["pg-developer"] == "developer" and roles["pg-visitor"] == "visitor"

    # The pushes queued post-push scans; the server's worker claims them from PostgreSQL
    # (FOR UPDATE SKIP LOCKED) and finishes every one.
    def tasks() -> list[tuple[str, str]]:
        with psycopg.connect(url) as conn:
            return conn.execute(  # type: ignore[return-value]
                "SELECT kind, status FROM tasks WHERE model = %s", (model,)).fetchall()

    assert any(kind == "scan" for kind, _ in tasks())
    wait_for(lambda: all(status == "done" for _, status in tasks()), 60,
             lambda: f"every task of {model} done on PostgreSQL: {tasks()}")
