"""Figures 1 and 2: git over HTTP through ``modelgit serve`` vs plain ``git http-backend``.

Both hosts serve the same commits on 127.0.0.1 in the same run; repetitions alternate which
host goes first so that drift (page cache, other load) does not favour one side.

* clone: ``git clone`` of a 200-file repository (about 2 MB of code, docs and configs).
* fetch: ``git fetch`` of one new commit (3 changed files) into a copy of an older clone.
* small push: one changed file (README.md, so the card check runs too) on top of that
  repository, with every pre-receive check modelgit has (see the notes for the list).
* 2,000-file first push: a new repository's first push (about 20 MB of text).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from bench.content import write_tree
from bench.harness import (
    CommandFailed,
    Ctx,
    Row,
    fmt_ratio,
    fmt_s,
    git,
    median,
    samples_note,
    timed,
)
from bench.servers import ModelgitServer, PlainHost

CLONE_GOAL = 1.2
PUSH_GOAL = 1.5
DEFAULT_SCAN_BUDGET = 20
BENCH_SCAN_BUDGET = 120
IDLE_NOTE = ("timed runs start once the server is idle (the setup push's background reporting"
             " scans took {:.1f} s to finish)")


def _commit_all(ctx: Ctx, repo: Path, message: str) -> None:
    git(ctx, "add", "-A", cwd=repo)
    git(ctx, "commit", "-q", "-m", message, cwd=repo)


def _source_repo(ctx: Ctx, name: str, files: int, seed: int) -> tuple[Path, int]:
    src = ctx.scratch(name)
    size = write_tree(src, files, seed=seed)
    git(ctx, "init", "-q", "--initial-branch=main", cwd=src)
    _commit_all(ctx, src, f"{files} files")
    return src, size


def side_by_side(reps: int, ours: Callable[[int], float], base: Callable[[int], float]
                 ) -> tuple[list[float], list[float]]:
    """Alternate the order each repetition; return (ours, base) seconds."""
    a: list[float] = []
    b: list[float] = []
    for i in range(reps):
        if i % 2 == 0:
            a.append(ours(i))
            b.append(base(i))
        else:
            b.append(base(i))
            a.append(ours(i))
    return a, b


def ratio_row(figure: str, ours: list[float], base: list[float], goal: float | None,
              notes: list[str]) -> Row:
    mo, mb = median(ours), median(base)
    ratio = mo / mb
    return Row(figure, ours=fmt_s(mo), base=fmt_s(mb), ratio=fmt_ratio(ratio),
               goal=f"≤ {goal}×" if goal else "—",
               met=(ratio <= goal) if goal else None,
               notes=[*notes, samples_note("modelgit", ours), samples_note("plain", base)])


def warm_evidence(mg: ModelgitServer) -> str:
    log = mg.log_text()
    warm = log.count("(warm)")
    hooks_log = mg.data / "log" / "hooks.log"
    cold = hooks_log.read_text().count("(cold)") if hooks_log.exists() else 0
    return f"hooks run warm in the server: {warm} warm hook runs, {cold} cold (in the hook process)"


def checks_in_use() -> str:
    try:
        from modelgit.hooks import pre_receive

        names = ", ".join(c.__name__ for c in pre_receive.CHECKS)
    except Exception as exc:
        return f"pre-receive checks: unknown ({exc})"
    return f"pre-receive checks on every push: {names}"


# ------------------------------------------------------------------------------ clone/fetch
def run_clone(ctx: Ctx) -> list[Row]:
    reps = ctx.reps(full=9, quick=3)
    with ModelgitServer(ctx, "mg-clone") as mg, PlainHost(ctx, "plain-clone") as plain:
        mg.init().start()
        plain.start()
        src, size = _source_repo(ctx, "clone-src", 200, seed=1)
        mid = mg.model("repo200", role="developer")
        plain.create_repo("repo200")
        urls = {"mg": mg.url(mid), "plain": plain.url("repo200")}
        for url in urls.values():
            git(ctx, "push", "-q", url, "main", cwd=src)
        # Clones at commit A, then a commit B (3 files) pushed to both: the fetch figure.
        bases: dict[str, Path] = {}
        for side, url in urls.items():
            bases[side] = ctx.work / f"clone-base-{side}"
            git(ctx, "clone", "-q", url, bases[side])
        for i, f in enumerate(sorted((src / "docs").iterdir())[:3]):
            f.write_text(f.read_text() + f"\nChange {i}.\n")
        _commit_all(ctx, src, "three changed files")
        for url in urls.values():
            git(ctx, "push", "-q", url, "main", cwd=src)

        scratch = ctx.scratch("clone-runs")
        idle = mg.wait_idle()

        def clone(side: str) -> Callable[[int], float]:
            def go(i: int) -> float:
                dest = scratch / f"{side}-{i}"
                t = timed(lambda: git(ctx, "clone", "-q", urls[side], dest))
                shutil.rmtree(dest)
                return t
            return go

        def fetch(side: str) -> Callable[[int], float]:
            def go(i: int) -> float:
                dest = scratch / f"fetch-{side}-{i}"
                shutil.copytree(bases[side], dest, symlinks=True)
                t = timed(lambda: git(ctx, "fetch", "-q", "origin", cwd=dest))
                shutil.rmtree(dest)
                return t
            return go

        # One untimed round each to warm the page cache and both servers.
        clone("mg")(-1)
        clone("plain")(-1)
        c_ours, c_base = side_by_side(reps, clone("mg"), clone("plain"))
        f_ours, f_base = side_by_side(reps, fetch("mg"), fetch("plain"))
        common = [f"200 files, {size / 1e6:.1f} MB of text; {reps} repetitions, alternating"
                  " order", warm_evidence(mg), IDLE_NOTE.format(idle)]
        return [
            ratio_row("clone, 200-file repo", c_ours, c_base, CLONE_GOAL, common),
            ratio_row("fetch, 1 commit (3 files)", f_ours, f_base, CLONE_GOAL,
                      [f"fetch of one new commit into a copy of an older clone; {reps}"
                       " repetitions"]),
        ]


# ------------------------------------------------------------------------------ push
def run_push(ctx: Ctx) -> list[Row]:
    reps = ctx.reps(full=9, quick=3)
    first_reps = ctx.reps(full=3, quick=1)
    first_files = 2000 if not ctx.smoke else 200
    with ModelgitServer(ctx, "mg-push") as mg, PlainHost(ctx, "plain-push") as plain:
        mg.init(settings=f"scan:\n  time_budget_seconds: {BENCH_SCAN_BUDGET}\n").start()
        plain.start()
        src, _ = _source_repo(ctx, "push-src", 200, seed=2)
        mid = mg.model("push200")
        plain.create_repo("push200")
        urls = {"mg": mg.url(mid), "plain": plain.url("push200")}
        clones: dict[str, Path] = {}
        for side, url in urls.items():
            git(ctx, "push", "-q", url, "main", cwd=src)
            clones[side] = ctx.work / f"push-clone-{side}"
            git(ctx, "clone", "-q", url, clones[side])

        def small_push(side: str) -> Callable[[int], float]:
            def go(i: int) -> float:
                repo = clones[side]
                readme = repo / "README.md"
                readme.write_text(readme.read_text() + f"\nRun {i}: one more line of prose.\n")
                _commit_all(ctx, repo, f"card prose {i}")
                return timed(lambda: git(ctx, "push", "-q", "origin", "main", cwd=repo))
            return go

        idle = mg.wait_idle()
        small_push("mg")(-1)
        small_push("plain")(-1)
        mg.wait_idle()
        s_ours, s_base = side_by_side(reps, small_push("mg"), small_push("plain"))

        big, big_size = _source_repo(ctx, "push-src-2000", first_files, seed=3)

        def first_push(side: str) -> Callable[[int], float]:
            def go(i: int) -> float:
                name = f"first{i + 1}"
                if side == "mg":
                    first_idle.append(mg.wait_idle())  # the last first push's reports
                    url = mg.url(mg.model(name))
                else:
                    url = plain.url(plain.create_repo(name))
                return timed(lambda: git(ctx, "push", "-q", url, "main", cwd=big))
            return go

        first_error = ""
        first_idle: list[float] = []
        try:
            b_ours, b_base = side_by_side(first_reps, first_push("mg"), first_push("plain"))
        except CommandFailed as exc:
            remote = [ln for ln in str(exc).splitlines() if ln.startswith("remote:")]
            first_error = " ".join(remote)[:300] or str(exc).splitlines()[0]
        checks = checks_in_use()
        evidence = warm_evidence(mg)
        small = ratio_row(
            "push, 1 changed file", s_ours, s_base, PUSH_GOAL,
            ["one commit changing README.md (so the card is validated) on a 200-file"
             f" repository; {reps} repetitions, alternating order", checks, evidence,
             "modelgit repositories also have receive.fsckObjects=true; the plain host runs"
             " git's defaults", IDLE_NOTE.format(idle)])
        first_name = f"first push, {first_files:,} files"
        if first_error:
            return [small, Row(first_name, goal="—", status="error: push refused",
                               notes=[f"the first push was refused: {first_error}"])]
        slow = [t for t in b_ours if t > DEFAULT_SCAN_BUDGET]
        return [small, ratio_row(
            first_name, b_ours, b_base, None,
            [f"{first_files:,} files, {big_size / 1e6:.1f} MB of text, into a new empty"
             f" repository; {first_reps} repetitions; no goal",
             f"the bench raises scan.time_budget_seconds to {BENCH_SCAN_BUDGET} s so the push"
             f" completes; {len(slow)} of {len(b_ours)} modelgit pushes took longer than the"
             f" default budget of {DEFAULT_SCAN_BUDGET} s and would have been refused",
             "before each, the server finished the previous push's background reports"
             " (waits: " + ", ".join(f"{w:.1f} s" for w in first_idle) + ")"])]
