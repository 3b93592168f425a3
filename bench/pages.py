"""Web pages' server time on the big database: the model list and a model's page.

The database is the ``authz`` figure's (20,000 models, 1,000,000 model grants, 100,000 users;
cached under ``bench/out/``). Each sample is one WSGI call of the running app, in process
(what the server spends, no socket): ``GET /-/models`` (first page and a text search) and
``GET /-/m/<model>`` of a public model (an empty bare repository is made for the sampled
models), signed out. Goal: p95 < 50 ms (issue 20).
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench import authz
from bench.harness import Ctx, Row, fmt_ms, median, percentile

GOAL_MS = 50.0
#: Public models whose page is sampled (drawn from the database's public ones).
PAGE_MODELS = 50


def _call(app: Any, path: str, query: str = "") -> int:
    status: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
               "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1"}
    body = app(environ, lambda s, h, exc=None: status.append(s))
    for _ in body:
        pass
    return int(status[0].split()[0])


def run(ctx: Ctx) -> list[Row]:
    from modelgit import config as config_mod
    from modelgit import repos
    from modelgit.http.app import App
    from modelgit.store import Store

    users = 2_000 if ctx.smoke else authz.USERS
    folder, _ = authz.database(ctx, users)
    cfg = config_mod.load(folder)
    store = Store(cfg.db_path)
    # The figure's database is written with plain SQL, which leaves each model's search text
    # NULL (a search candidate, read the slow way); the server writes it with every model.
    store.fill_search_text()
    app = App(cfg, store)
    rng = random.Random(11)
    listed = [m["id"] for m in store.list_models() if m["visibility"] == "public"]
    models = len(listed) * 3
    public = rng.sample(listed, min(PAGE_MODELS, len(listed)))
    for model in public:
        if not repos.repo_path(cfg, model).exists():
            repos.create_bare(cfg, model)
    n = ctx.reps(full=2_000, quick=500, smoke=50)
    cases = {
        "model list (first page)": lambda: _call(app, "/-/models"),
        "model list (search)": lambda: _call(app, "/-/models", "q=model0001"),
        "model page": lambda: _call(app, f"/-/m/{rng.choice(public)}"),
    }
    rows = []
    for name, call in cases.items():
        for _ in range(min(50, n)):  # warm: indexes paged in, templates compiled
            got = call()
            assert got == 200, f"{name}: {got}"
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        p95 = percentile(times, 95)
        rows.append(Row(f"page: {name} (p95)", ours=f"{fmt_ms(p95)} p95", goal="< 50 ms p95",
                        met=p95 * 1000 < GOAL_MS,
                        notes=[f"{n:,} samples: p50 {fmt_ms(median(times))},"
                               f" p95 {fmt_ms(p95)}, max {fmt_ms(max(times))}; {users:,} users,"
                               f" about {models:,} models,"
                               f" {users * authz.GRANTS_PER_USER:,} grants; signed out"]))
    store.close()
    return rows
