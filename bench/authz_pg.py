"""Figure: the credential check in-process on PostgreSQL (issue 23), same samples and same
server functions as bench/authz.py, against the same 100,000 users / 1,000,000 grants copied
with ``modelgit db copy`` (store/copy.py) into a throwaway cluster from Debian's package
(tests/helpers/postgres.py) on 127.0.0.1 over TCP, as a separate database server would be."""

from __future__ import annotations

import time

from bench.authz import GRANTS_PER_USER, USERS, database, in_process
from bench.harness import Ctx, Row, fmt_ms, median, percentile

GOAL_MS = 2.0


def run(ctx: Ctx) -> list[Row]:
    from modelgit.store import Store
    from modelgit.store.copy import copy_database
    from tests.helpers.postgres import cluster

    users = 2_000 if ctx.smoke else USERS
    folder, _ = database(ctx, users)
    n = ctx.reps(full=20_000, quick=5_000, smoke=300)
    with cluster() as pg:
        url = pg.new_database()
        ctx.log(f"bench: authz-pg: copying {users:,} users / {users * GRANTS_PER_USER:,}"
                " grants to PostgreSQL")
        t0 = time.perf_counter()
        report = copy_database(Store(folder / "modelgit.db"), Store(url))
        copied = time.perf_counter() - t0
        target = Store(url)
        target.conn.execute("ANALYZE")
        target.close()
        pg_folder = ctx.out / f"authz-pg-{users}"
        pg_folder.mkdir(parents=True, exist_ok=True)
        (pg_folder / "config.yaml").write_text(f"database: {url}\n")
        times, info = in_process(pg_folder, users, n)
    p50, p99 = median(times), percentile(times, 99)
    same = all(t.same for t in report)
    return [Row(
        "credential check in-process on PostgreSQL (p99)", ours=f"{fmt_ms(p99)} p99",
        goal=f"< {GOAL_MS:g} ms p99", met=p99 * 1000 < GOAL_MS,
        notes=[f"{sum(t.source_rows for t in report):,} rows copied from SQLite in"
               f" {copied:.0f} s, every table {'identical' if same else 'NOT identical'}"
               " (counts and checksums)",
               f"{n:,} samples: p50 {fmt_ms(p50)}, p90 {fmt_ms(percentile(times, 90))},"
               f" p99 {fmt_ms(p99)}, max {fmt_ms(max(times))}; {info['allowed']:,} allowed",
               f"CPU time: p50 {fmt_ms(median(info['cpu']))},"
               f" p99 {fmt_ms(percentile(info['cpu'], 99))}",
               "PostgreSQL on 127.0.0.1 over TCP, fsync off (a throwaway cluster);"
               " one connection per thread; the three reads prepared on the server once per"
               " session (store/pg.py execute_prepared)",
               "parts (p50): " + ", ".join(f"{k} {fmt_ms(v)}" for k, v in info["parts"].items())],
    )]
