"""Figure ``xet``: a 1 GiB Xet upload and download with the real huggingface_hub + hf_xet,
and the bytes a deduplicated re-upload of the same file with a 1 MiB change sends.

Against ``modelgit serve`` on 127.0.0.1, each client step in a fresh process with its own
``HF_HOME`` (no Xet cache carried over), Xet on (``HF_HUB_DISABLE_XET`` absent):

* upload: ``HfApi.upload_file`` of a new 1 GiB file (64 MiB with --quick): the client chunks
  and hashes it, packs xorbs and uploads them; the server verifies every chunk and the xorb
  hash, stores the xorb, then rebuilds the file from the shard into an LFS object (sha256
  computed by the server) before the commit;
* download: ``hf_hub_download`` of it through Xet (reconstruction + xorb ranges), and, as a
  reference, the same with ``HF_HUB_DISABLE_XET=1`` (plain HTTP ``resolve``);
* re-upload: the same file with 1 MiB in the middle changed, from the uploader's own cache and
  from a fresh one (another machine: it learns the model's xorbs from the dedupe query); the
  bytes are the xorb and shard bodies the server received, summed from its log lines;
* baseline: ``cp`` + ``sync`` of the same file on the same disk, as for the LFS figure.

The time of a step is measured inside its process around the one call (not the interpreter's
start and imports); server CPU comes from ``/proc``.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from bench.harness import Ctx, Row, fmt_rate, fmt_ratio, median, samples_note, scrub
from bench.lfs import MIB, NEAR_DISK, settle
from bench.lfs import _cp_sync as cp_sync
from bench.servers import ModelgitServer, _cpu_ticks

#: The dedupe goal: a 1 MiB change re-uploaded costs under 10 MB on the wire to the server.
DEDUPE_GOAL = 10_000_000
_RECEIVED = re.compile(r" modelgit\.xet xet (?:xorb|shard) (?P<model>\S+) (?:\S+ )?(?P<n>\d+)"
                       r" bytes")
_TICK = os.sysconf("SC_CLK_TCK")

_CLIENT = """\
import json, sys, time
from huggingface_hub import HfApi, hf_hub_download
endpoint, token, what, model, arg = sys.argv[1:6]
t0 = time.perf_counter()
if what == "upload":
    HfApi(endpoint=endpoint, token=token).upload_file(
        path_or_fileobj=arg, path_in_repo="weights.bin", repo_id=model)
else:
    path = hf_hub_download(repo_id=model, filename="weights.bin", token=token,
                           cache_dir=arg, endpoint=endpoint)
took = time.perf_counter() - t0
print(json.dumps({"seconds": took}))
"""


def _write_file(path: Path, size: int, seed: int) -> None:
    """``size`` bytes that never repeat (a repeated block would deduplicate inside the file,
    which is not what this figure measures): a seeded PRNG, 1 MiB at a time."""
    rng = random.Random(seed)
    with path.open("wb") as fh:
        for _ in range(size // MIB):
            fh.write(rng.randbytes(MIB))
        fh.write(rng.randbytes(size % MIB))


def _change_one_mib(path: Path, at: int, seed: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(at)
        fh.write(random.Random(seed).randbytes(MIB))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _client(ctx: Ctx, mg: ModelgitServer, what: str, model: str, arg: Path, home: Path, *,
            xet: bool = True) -> dict[str, float]:
    """One client step in its own process: its own timing, its CPU, the server's CPU."""
    env = {k: v for k, v in ctx.env.items() if k != "HF_HUB_DISABLE_XET"}
    env.update({"HF_HOME": str(home), "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    if not xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    settle(ctx)
    c0, s0 = _children_cpu(), _cpu_ticks(mg.pid)
    proc = subprocess.run([sys.executable, "-c", _CLIENT, mg.base_url, mg.key, what, model,
                           str(arg)], env=env, capture_output=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise RuntimeError(scrub(f"hf {what} failed: {proc.stderr.decode()[-1500:]}"))
    got = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return {"seconds": float(got["seconds"]), "client_cpu": _children_cpu() - c0,
            "server_cpu": (_cpu_ticks(mg.pid) - s0) / _TICK}


def _received(mg: ModelgitServer, model: str) -> int:
    """Xorb and shard body bytes the server verified for the model, from its log."""
    return sum(int(m.group("n")) for line in mg.log_text().splitlines()
               if (m := _RECEIVED.search(line)) is not None and m.group("model") == model)


def run(ctx: Ctx) -> list[Row]:
    size_mib = ctx.lfs_mib or (8 if ctx.smoke else 64 if ctx.quick else 1024)
    size = size_mib * MIB
    reps = ctx.reps(full=2, quick=2, smoke=1)
    mb = size / 1e6
    samples: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    with ModelgitServer(ctx, "mg-xet") as mg:
        mg.init().start()
        scratch = ctx.scratch("xet-files")
        src = scratch / "weights.bin"
        for i in range(reps):
            model = mg.model(f"xet-{i}")
            homes = ctx.scratch(f"xet-homes-{i}")
            _write_file(src, size, seed=2200 + i)
            mg.wait_idle()
            up = _client(ctx, mg, "upload", model, src, homes / "uploader")
            keep("up", up["seconds"])
            keep("up_client_cpu", up["client_cpu"])
            keep("up_server_cpu", up["server_cpu"])
            keep("up_bytes", _received(mg, model))
            mg.wait_idle()
            keep("cp+sync-before", cp_sync(ctx, src, scratch / "copy.bin"))

            down = _client(ctx, mg, "download", model, homes / "cache-xet", homes / "down-xet")
            keep("down", down["seconds"])
            keep("down_client_cpu", down["client_cpu"])
            keep("down_server_cpu", down["server_cpu"])
            shutil.rmtree(homes / "cache-xet", ignore_errors=True)
            http = _client(ctx, mg, "download", model, homes / "cache-http",
                           homes / "down-http", xet=False)
            keep("http", http["seconds"])
            shutil.rmtree(homes / "cache-http", ignore_errors=True)

            # The same file with 1 MiB changed: from the uploader's cache, then (another
            # 1 MiB changed) from a machine that never saw it.
            for name, at, home in (("same", size // 2, homes / "uploader"),
                                   ("fresh", size // 3, homes / "elsewhere")):
                _change_one_mib(src, at, seed=7000 + i * 10 + len(name))
                before = _received(mg, model)
                again = _client(ctx, mg, "upload", model, src, home)
                keep(f"re_{name}_bytes", _received(mg, model) - before)
                keep(f"re_{name}", again["seconds"])
                mg.wait_idle()
            keep("cp+sync", cp_sync(ctx, src, scratch / "copy.bin"))
            src.unlink()
            shutil.rmtree(homes, ignore_errors=True)
            ctx.log(f"    xet round {i + 1}: up {samples['up'][-1]:.1f} s, down"
                    f" {samples['down'][-1]:.1f} s, re-upload"
                    f" {samples['re_same_bytes'][-1]:,.0f} / {samples['re_fresh_bytes'][-1]:,.0f}"
                    " bytes")
        peak = mg.peak_rss_mb() or 0.0
    return _rows(samples, size_mib, mb, reps, peak)


def _rows(s: dict[str, list[float]], size_mib: int, mb: float, reps: int, peak: float
          ) -> list[Row]:
    cp_rate = mb / median(s["cp+sync-before"] + s["cp+sync"])
    base = f"{fmt_rate(cp_rate)} (cp+sync)"
    up_rate, down_rate, http_rate = (mb / median(s[k]) for k in ("up", "down", "http"))
    common = [f"{size_mib} MiB of seeded pseudo-random bytes (incompressible, no repeats),"
              f" {reps} rounds, a new model and file each; each client step in a fresh process"
              " and HF_HOME, timed inside it around the call; baseline `cp` + `sync FILE`,"
              " twice per round", samples_note("cp + sync", s["cp+sync-before"] + s["cp+sync"])]
    wire = median(s["up_bytes"]) / 1e6
    change = MIB / 1e6

    def dedupe_row(kind: str, label: str) -> Row:
        got = median(s[f"re_{kind}_bytes"])
        return Row(f"Xet re-upload, 1 MiB changed, {label} ({size_mib} MiB)",
                   ours=f"{got / 1e6:,.2f} MB sent", base=f"{change:.2f} MB changed",
                   ratio=fmt_ratio(got / MIB), goal="< 10 MB", met=got < DEDUPE_GOAL,
                   notes=[samples_note("bytes received (xorbs + shard)",
                                       s[f"re_{kind}_bytes"], lambda b: f"{b:,.0f}"),
                          samples_note("upload_file", s[f"re_{kind}"])])

    return [
        Row(f"Xet upload, huggingface_hub ({size_mib} MiB)", ours=fmt_rate(up_rate), base=base,
            ratio=fmt_ratio(up_rate / cp_rate), goal="≥ 0.5× cp",
            met=up_rate / cp_rate >= NEAR_DISK,
            notes=[*common, samples_note("upload_file", s["up"]),
                   f"bytes received (xorbs + shard): {wire:,.1f} MB for {mb:,.1f} MB",
                   f"client CPU (hf_xet: chunking, hashing, LZ4 attempts): median"
                   f" {median(s['up_client_cpu']):.1f} s; server CPU (verify, rebuild, sha256,"
                   f" store): median {median(s['up_server_cpu']):.1f} s"]),
        Row(f"Xet download, hf_hub_download ({size_mib} MiB)", ours=fmt_rate(down_rate),
            base=base, ratio=fmt_ratio(down_rate / cp_rate), goal="≥ 0.5× cp",
            met=down_rate / cp_rate >= NEAR_DISK,
            notes=[samples_note("hf_hub_download through Xet", s["down"]),
                   "into the client's cache on the same disk, not synced",
                   f"client CPU: median {median(s['down_client_cpu']):.1f} s; server CPU:"
                   f" median {median(s['down_server_cpu']):.1f} s"]),
        Row(f"hf_hub_download, plain HTTP ({size_mib} MiB)", ours=fmt_rate(http_rate),
            base=base, ratio=fmt_ratio(http_rate / cp_rate), goal="reference", met=None,
            notes=[samples_note("HF_HUB_DISABLE_XET=1", s["http"])]),
        dedupe_row("same", "same cache"),
        dedupe_row("fresh", "fresh cache"),
        Row("server peak RSS after the Xet rounds", ours=f"{peak:.0f} MB", goal="reference",
            notes=["VmHWM of modelgit serve: a xorb (≤ 64 MiB) is held in memory while it"
                   " is verified, and one at a time while a shard's file is rebuilt"]),
    ]
