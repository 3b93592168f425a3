"""``python -m bench``: run the side-by-side figures, print one table, write bench/RESULTS.md.

    python -m bench                      # every figure, full size (under ~10 minutes, 2 cores)
    python -m bench --quick              # fewer repetitions, 64 MiB LFS file, smaller corpus
    python -m bench --only authz,cards   # some figures (names below)
    python -m bench --smoke ...          # tiny sizes, for tests/bench (numbers mean little)
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import authz, authz_pg, cards, git_http, gitolite, lfs, pages, scanning, xet
from bench.harness import (
    BENCH_DIR,
    OUT_DIR,
    Ctx,
    Row,
    Skip,
    isolated_env,
    load_average,
    machine,
    results_markdown,
    scrub,
    text_table,
)

Figure = Callable[[Ctx], list[Row]]

# In the order they run. Names are what --only takes.
FIGURES: dict[str, tuple[str, Figure]] = {
    "clone": ("clone and fetch vs nginx + fcgiwrap", git_http.run_clone),
    "push": ("small push and 2,000-file first push vs nginx + fcgiwrap", git_http.run_push),
    "gitolite": ("gitolite over HTTP (reference)", gitolite.run),
    "authz": ("credential check in-process and as a process", authz.run),
    "pages": ("web pages' server time: model list and model page", pages.run),
    "authz-pg": ("credential check in-process on PostgreSQL", authz_pg.run),
    "secrets": ("secret scanning vs detect-secrets scan", scanning.run_secrets),
    "bandit": ("bandit reports vs bandit -r", scanning.run_bandit),
    "cards": ("card validation", cards.run),
    "lfs": ("LFS upload/download vs cp, server peak RSS, hf_hub_download", lfs.run),
    "xet": ("Xet upload/download with huggingface_hub + hf_xet vs cp, dedupe re-upload bytes",
            xet.run),
}
ALIASES = {"git": ("clone", "push"), "scan": ("secrets", "bandit"), "hf": ("lfs",),
           "credential": ("authz",)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="fewer repetitions and smaller inputs (LFS file 64 MiB)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes for the smoke test (implies --quick)")
    p.add_argument("--only", default="",
                   help="comma-separated figures: " + ", ".join(FIGURES)
                   + " (aliases: " + ", ".join(f"{k}={'+'.join(v)}" for k, v in ALIASES.items())
                   + ")")
    p.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md",
                   help="where to write the results (default bench/RESULTS.md)")
    p.add_argument("--no-results", action="store_true", help="print only; write no file")
    p.add_argument("--lfs-mib", type=int, default=None,
                   help="size of the LFS test file in MiB (default 1024, --quick 64)")
    p.add_argument("--keep", action="store_true", help="keep the work folder (for debugging)")
    args = p.parse_args(argv)
    if args.smoke:
        args.quick = True
    return args


def selected(only: str) -> list[str]:
    if not only.strip():
        return list(FIGURES)
    names: list[str] = []
    for raw in only.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        expanded = ALIASES.get(name, (name,))
        for n in expanded:
            if n not in FIGURES:
                raise SystemExit(f"unknown figure {name!r}; choose from "
                                 f"{', '.join([*FIGURES, *ALIASES])}")
            if n not in names:
                names.append(n)
    return [n for n in FIGURES if n in names]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    names = selected(args.only)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="modelgit-bench-"))
    ctx = Ctx(quick=args.quick, smoke=args.smoke, work=work,
              env=isolated_env(work / "home"),
              log=lambda msg: print(msg, file=sys.stderr, flush=True), lfs_mib=args.lfs_mib)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    ctx.log(f"bench: {mode} run of {', '.join(names)}; work folder {work}")
    # SIGTERM unwinds like Ctrl-C, so the servers this run started are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    load_at_start = load_average()
    rows: list[Row] = []
    try:
        from bench.harness import git

        git(ctx, "config", "--global", "init.defaultBranch", "main")
        git(ctx, "lfs", "install", "--skip-repo", check=False)
        for name in names:
            title, figure = FIGURES[name]
            ctx.log(f"bench: {name}: {title} ...")
            t0 = time.monotonic()
            try:
                got = figure(ctx)
            except Skip as skip:
                got = [Row(title, status=str(skip))]
            except Exception as exc:
                traceback.print_exc()
                first = scrub(str(exc)).splitlines()[0][:120] if str(exc) else ""
                got = [Row(title, status=f"error: {type(exc).__name__}: {first}")]
            rows.extend(got)
            ctx.log(f"bench: {name}: done in {time.monotonic() - t0:.0f} s")
            for r in got:
                ctx.log(f"    {r.figure}: {r.ours} vs {r.base} ({r.ratio}) {r.verdict}")
    finally:
        if args.keep:
            ctx.log(f"bench: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    print()
    print(text_table(rows))
    print()
    if not args.no_results:
        info = machine()
        args.results.write_text(results_markdown(rows, info, mode, elapsed, names,
                                                  load_at_start))
        print(f"bench: wrote {args.results} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
