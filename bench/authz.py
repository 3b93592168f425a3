"""Figure 4: the credential check, in the server process and as ``modelgit credential-check``.

The database has 100,000 users (one key each), 1,000 spaces, 20,000 models and 1,000,000
model grants, plus space roles and access requests. It is built once with ``executemany`` in
one transaction and cached under ``bench/out/`` (rebuilt when modelgit's schema changes).

In-process, one sample is exactly what the server does for a git request carrying Basic
credentials before it starts ``git http-backend``: the brute-force brake query
(``App.brake_seconds``), ``authenticate()`` (sha256 of the key, ``key_by_hash``, constant-time
compare, liveness) and ``App.model_decision()`` (``access_facts`` + ``decide()``), for a random
user and model (80 % of samples on a model the user has a grant on).
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.harness import (
    BIN,
    Ctx,
    Row,
    fmt_ms,
    fmt_ratio,
    median,
    na,
    percentile,
)

USERS = 100_000
SPACES = 1_000
MODELS = 20_000
GRANTS_PER_USER = 10          # 1,000,000 model grants
SPACE_ROLES_EVERY = 10        # 10,000 space roles
REQUESTS_EVERY = 4            # 25,000 access requests
IN_PROCESS_GOAL_MS = 1.0
PROCESS_GOAL_MS = 50.0
ROLES = ("visitor", "user", "developer", "maintainer")


def user_name(i: int) -> str:
    return f"user{i:06d}"


def key_of(i: int) -> str:
    """A well-formed key (``mg_`` + 40 alphanumerics), derived from the user number."""
    return "mg_" + hashlib.sha256(f"bench-key-{i}".encode()).hexdigest()[:40]


def model_id(m: int) -> str:
    return f"space{m % SPACES:04d}/model{m:05d}"


def grants_of(i: int) -> list[int]:
    """The models user i holds a role on (distinct: 2003 is prime to MODELS)."""
    return [(i * 7 + j * 2003) % MODELS for j in range(GRANTS_PER_USER)]


def _build(path: Path, users: int) -> None:
    from modelgit.authz import keys
    from modelgit.store import Store

    tmp = path.with_name(f"{path.name}.{os.getpid()}.building")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    Store.create(tmp)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA foreign_keys = OFF")
    now = "2025-01-01T00:00:00.000Z"
    models = min(MODELS, max(100, users // 5))
    spaces = min(SPACES, models)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO users (name, fullname, email, is_admin, space_creator, created)"
        " VALUES (?, '', ?, 0, 0, ?)",
        ((user_name(i), f"{user_name(i)}@example.com", now) for i in range(users)))
    conn.executemany(
        "INSERT INTO keys (id, user, hash, scope, created, last_used)"
        " VALUES (?, ?, ?, 'write', ?, ?)",
        ((keys.public_id(key_of(i)) + f"{i:06d}", user_name(i), keys.digest(key_of(i)), now,
          now) for i in range(users)))
    conn.executemany(
        "INSERT INTO spaces (name, owner, created) VALUES (?, ?, ?)",
        ((f"space{s:04d}", user_name(s * 37 % users), now) for s in range(spaces)))
    conn.executemany(
        "INSERT INTO models (id, space, name, owner, visibility, gated, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((f"space{m % spaces:04d}/model{m:05d}", f"space{m % spaces:04d}", f"model{m:05d}",
          user_name(m % spaces * 37 % users), "public" if m % 3 == 0 else "private",
          "manual" if m % 6 == 0 else "off", now) for m in range(models)))
    conn.executemany(
        "INSERT INTO model_roles (model, user, role) VALUES (?, ?, ?)",
        ((f"space{m % spaces:04d}/model{m:05d}", user_name(i), ROLES[(i + j) % len(ROLES)])
         for i in range(users)
         for j, m in enumerate((i * 7 + j * 2003) % models for j in range(GRANTS_PER_USER))))
    conn.executemany(
        "INSERT OR IGNORE INTO space_roles (space, user, role) VALUES (?, ?, ?)",
        ((f"space{i % spaces:04d}", user_name(i), ("user", "maintainer")[i % 2])
         for i in range(0, users, SPACE_ROLES_EVERY)))
    conn.executemany(
        "INSERT OR IGNORE INTO access_requests (model, user, status, timestamp)"
        " VALUES (?, ?, ?, ?)",
        ((f"space{(i * 13) % spaces:04d}/model{(i * 13) % models:05d}", user_name(i),
          ("pending", "accepted", "rejected")[i % 3], now)
         for i in range(0, users, REQUESTS_EVERY)))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.replace(path)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)


def database(ctx: Ctx, users: int) -> tuple[Path, float | None]:
    """The data folder holding the big database; (folder, seconds spent building or None)."""
    from modelgit.store import Store, StoreError

    folder = ctx.out / f"authz-{users}"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "modelgit.db"
    if db.exists():
        try:
            Store(db).check_schema()
            return folder, None
        except StoreError:
            ctx.log("bench: authz: cached database has an old schema; rebuilding")
            db.unlink()
    ctx.log(f"bench: authz: building {users:,} users / {users * GRANTS_PER_USER:,} grants"
            f" in {db} (cached for later runs)")
    t0 = time.perf_counter()
    _build(db, users)
    return folder, time.perf_counter() - t0


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("users", "keys", "models", "model_roles", "space_roles",
                          "access_requests")}
    finally:
        conn.close()


def _samples(users: int, n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(user, key, model id) triples; 80 % on a model the user has a grant on."""
    rng = random.Random(seed)
    models = min(MODELS, max(100, users // 5))
    spaces = min(SPACES, models)
    out = []
    for _ in range(n):
        i = rng.randrange(users)
        m = (rng.choice(grants_of(i)) % models) if rng.random() < 0.8 else rng.randrange(models)
        out.append((user_name(i), key_of(i), f"space{m % spaces:04d}/model{m:05d}"))
    return out


def in_process(folder: Path, users: int, n: int) -> tuple[list[float], dict[str, Any]]:
    """Seconds per credential check, the server's own code, warm."""
    from modelgit import config as config_mod
    from modelgit.http import auth
    from modelgit.http.app import App
    from modelgit.http.request import Request
    from modelgit.store import Store

    cfg = config_mod.load(folder)
    if not cfg.uses_postgres:
        # A server that has been running has its database in the page cache: read it once.
        with open(cfg.db_path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    store = Store(cfg.store_target)
    app = App(cfg, store)
    samples = _samples(users, n)
    headers = [(f"Basic {base64.b64encode(f'{u}:{k}'.encode()).decode()}", mid)
               for u, k, mid in samples]
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET",
               "PATH_INFO": "/x/y.git/info/refs"}
    # Keys were "used" at build time; make them recent so authenticate() does not write
    # last_used (it does once a minute per key; steady state is reads).
    with store.tx() as c:
        c.execute("UPDATE keys SET last_used = ?", (_now(),))
    # Warm: first queries page the indexes in; the server has been running for a while.
    for header, mid in headers[: min(2000, n)]:
        app.model_decision(Request(environ, auth.authenticate(store, header)), mid, "read")
    times: list[float] = []
    cpu: list[float] = []
    allowed = 0
    perf = time.perf_counter
    thread_time = time.thread_time
    for header, mid in headers:
        c0 = thread_time()
        t0 = perf()
        app.brake_seconds(environ, header)
        req = Request(environ, auth.authenticate(store, header))
        decision, _ = app.model_decision(req, mid, "read")
        times.append(perf() - t0)
        cpu.append(thread_time() - c0)
        allowed += decision.allowed
    # Breakdown of the parts (separate passes over the same samples).
    parts: dict[str, float] = {}
    part_n = min(n, 5000)
    t = []
    for header, _ in headers[:part_n]:
        t0 = perf()
        app.brake_seconds(environ, header)
        t.append(perf() - t0)
    parts["brake query"] = median(t)
    t = []
    for header, _ in headers[:part_n]:
        t0 = perf()
        auth.authenticate(store, header)
        t.append(perf() - t0)
    parts["authenticate (key lookup)"] = median(t)
    subjects = [(auth.authenticate(store, h).subject, mid) for h, mid in headers[:part_n]]
    t = []
    for subject, mid in subjects:
        t0 = perf()
        store.access_facts(mid, subject.user)
        t.append(perf() - t0)
    parts["access_facts"] = median(t)
    store.close()
    return times, {"allowed": allowed, "parts": parts, "cpu": cpu}


def _now() -> str:
    from modelgit.store import now_iso

    return now_iso()


def credential_check_command(folder: Path) -> list[str] | None:
    """How Apache runs the helper: the launcher install.sh writes (``python -I -S``), made
    here the same way; None when this modelgit has no launcher yet."""
    try:
        from modelgit.credcheck import launcher_text
    except ImportError:
        return None
    launcher = folder / "modelgit-credential-check"
    launcher.write_text(launcher_text(str(BIN / "python")))
    launcher.chmod(0o755)
    return [str(launcher), "--data", str(folder)]


def as_process(ctx: Ctx, folder: Path, users: int, n: int, cmd: list[str]
               ) -> tuple[list[float], list[float], list[int]]:
    """Seconds per helper call (and per bare ``python -I -c pass`` for the floor)."""
    samples = _samples(users, n, seed=11)
    times: list[float] = []
    floor: list[float] = []
    codes: list[int] = []
    env: dict[str, str] = {}
    python = str(BIN / "python")
    harness.run([python, "-I", "-c", "pass"], ctx)
    for user, key, mid in samples:
        t0 = time.perf_counter()
        proc = harness.run(cmd, ctx, input=f"{user}\n{key}\n".encode(), check=False,
                   env={**env, "URI": f"/{mid}.git/info/refs", "CONTEXT": "git"})
        times.append(time.perf_counter() - t0)
        codes.append(proc.returncode)
        t0 = time.perf_counter()
        harness.run([python, "-I", "-c", "pass"], ctx)
        floor.append(time.perf_counter() - t0)
    return times, floor, codes


def run(ctx: Ctx) -> list[Row]:
    users = 2_000 if ctx.smoke else USERS
    folder, built = database(ctx, users)
    counts = _counts(folder / "modelgit.db")
    n = ctx.reps(full=20_000, quick=5_000, smoke=300)
    times, info = in_process(folder, users, n)
    p50, p99 = median(times), percentile(times, 99)
    size = (f"{counts['users']:,} users, {counts['keys']:,} keys, {counts['models']:,} models,"
            f" {counts['model_roles']:,} model grants, {counts['space_roles']:,} space roles,"
            f" {counts['access_requests']:,} access requests")
    rows = [Row(
        "credential check in-process (p99)", ours=f"{fmt_ms(p99)} p99", goal="< 1 ms p99",
        met=p99 * 1000 < IN_PROCESS_GOAL_MS,
        notes=[size, f"database {f'built in {built:.0f} s' if built else 'from the cache'}"
                     f" ({folder / 'modelgit.db'})",
               f"{n:,} samples: p50 {fmt_ms(p50)}, p90 {fmt_ms(percentile(times, 90))},"
               f" p99 {fmt_ms(p99)}, max {fmt_ms(max(times))}; {info['allowed']:,} allowed",
               f"CPU time of the same samples (immune to other processes taking the CPU):"
               f" p50 {fmt_ms(median(info['cpu']))}, p99 {fmt_ms(percentile(info['cpu'], 99))}",
               "one sample = App.brake_seconds + authenticate() + App.model_decision()"
               " (access_facts + decide), the server's own functions",
               "parts (p50): " + ", ".join(f"{k} {fmt_ms(v)}" for k, v in info["parts"].items())],
    )]
    cmd = credential_check_command(folder)
    if cmd is None:
        rows.append(na("modelgit credential-check as a process", goal="< 50 ms"))
        return rows
    calls = ctx.reps(full=40, quick=10, smoke=3)
    rows.append(_socket_row(ctx, folder, users, calls, cmd))
    ptimes, floor, codes = as_process(ctx, folder, users, calls, cmd)
    pm, fm = median(ptimes), median(floor)
    allowed = sum(1 for c in codes if c == 0)
    rows.append(Row(
        "credential-check, no server (fallback)", ours=fmt_ms(pm),
        base=f"{fmt_ms(fm)} (python -I -c pass)", ratio=fmt_ratio(pm / fm), goal="< 50 ms",
        met=pm * 1000 < PROCESS_GOAL_MS,
        notes=[f"command: modelgit-credential-check --data DIR, the launcher install.sh writes"
               f" (user and key on stdin, URI in the environment); exit codes"
               f" {sorted(set(codes))};"
               f" {calls} calls, p99 {fmt_ms(percentile(ptimes, 99))};"
               f" exit 0 (allowed) for {allowed} of {calls} (about 80 % have a grant,"
               " some of them only visitor)",
               "the baseline is the floor every Python helper pays: interpreter start-up",
               "this is the fallback when modelgit serve is down; the Apache snippet that"
               " install.sh writes passes --socket (the row above)"],
    ))
    return rows


def _socket_row(ctx: Ctx, folder: Path, users: int, calls: int, cmd: list[str]) -> Row:
    """``credential-check --socket``: what install.sh's Apache snippet runs, asking the
    running ``modelgit serve`` (same decide()) instead of importing the checks."""
    import subprocess

    sock = folder / "run" / "bench-auth.sock"
    sock.unlink(missing_ok=True)
    server = subprocess.Popen(
        [str(BIN / "modelgit"), "--data", str(folder), "serve", "--socket", str(sock)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ctx.env,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        ptimes, floor, codes = as_process(ctx, folder, users, calls,
                                          [*cmd, "--socket", str(sock)])
    finally:
        server.terminate()
        server.wait(timeout=30)
    pm, fm = median(ptimes), median(floor)
    return Row(
        "modelgit credential-check as a process", ours=fmt_ms(pm),
        base=f"{fmt_ms(fm)} (python -I -c pass)", ratio=fmt_ratio(pm / fm), goal="< 50 ms",
        met=pm * 1000 < PROCESS_GOAL_MS,
        notes=[f"command: modelgit-credential-check --data DIR --socket SOCK (the launcher,"
               f" python -I -S, as install.sh's Apache snippet runs it, with modelgit serve on"
               f" the socket); exit codes"
               f" {sorted(set(codes))}; {calls} calls, p99 {fmt_ms(percentile(ptimes, 99))}"])
