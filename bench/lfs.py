"""Figures 7 and 8: LFS transfer speed and server memory, and ``hf_hub_download`` of the file.

With the real ``git lfs`` client against ``modelgit serve`` on 127.0.0.1:

* upload: ``git lfs push origin main`` of one new file (1 GiB by default, 64 MiB with
  --quick, ``--lfs-mib N`` to choose): batch API, then a streamed PUT that the server hashes,
  fsyncs and renames into its store;
* download: ``git lfs fetch`` of that object into a clone made without smudging;
* the same two transfers with a plain HTTP client (``curl``) straight to the transfer URLs
  a batch request hands out, so the server's own speed shows apart from git-lfs's: the upload
  ends on the server's disk (fsynced), the download in ``/dev/null`` (the notes also give it
  written to a file and synced, which adds curl's own writes);
* baseline: ``cp`` of the same file on the same disk, then ``sync``;
* peak RSS: ``VmHWM`` of the server process (``/proc/<pid>/status``) before the first
  transfer and after the last: flat means it does not grow with the object size.

``hf_hub_download`` of the same file through the hub-compatible API (``endpoint=`` the
server) is measured when that API exists, side by side with the same ``cp``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import resource
import shutil
import time
import urllib.request
from pathlib import Path

from bench import harness
from bench.harness import (
    Ctx,
    Row,
    fmt_rate,
    fmt_ratio,
    git,
    median,
    na,
    samples_note,
)
from bench.servers import ModelgitServer

RSS_GOAL_MB = 150.0
FLAT_MB = 16.0
NEAR_DISK = 0.5   # "near the disk's speed": at least half of cp's MB/s on the same disk
MIB = 1024 * 1024


def _write_file(path: Path, size: int, rep: int) -> None:
    """``size`` bytes of incompressible data, different per repetition (a new oid)."""
    block = os.urandom(MIB)
    with path.open("wb") as fh:
        fh.write(f"modelgit bench object {rep} {time.time_ns()}\n".encode())
        left = size - fh.tell()
        while left > 0:
            n = min(left, MIB)
            fh.write(block[:n])
            left -= n


def _lfs_objects(repo: Path) -> Path:
    return repo / ".git" / "lfs" / "objects"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def _action(mg: ModelgitServer, mid: str, operation: str, oid: str, size: int
            ) -> dict[str, object]:
    """The transfer action a batch request hands out for one object (what git-lfs uses)."""
    body = json.dumps({"operation": operation, "transfers": ["basic"],
                       "objects": [{"oid": oid, "size": size}]}).encode()
    req = urllib.request.Request(f"{mg.url(mid, with_key=False)}/info/lfs/objects/batch",
                                 data=body, method="POST", headers={
                                     "Content-Type": "application/vnd.git-lfs+json",
                                     "Accept": "application/vnd.git-lfs+json",
                                     "Authorization": f"Bearer {mg.key}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        obj = json.loads(resp.read())["objects"][0]
    return obj["actions"][operation]  # type: ignore[no-any-return]


def _curl(ctx: Ctx, action: dict[str, object], *args: str | Path) -> None:
    headers = [f"{k}: {v}" for k, v in dict(action.get("header") or {}).items()]  # type: ignore[call-overload]
    harness.run(["curl", "-sS", "--fail", *(a for h in headers for a in ("-H", h)), *args,
                 str(action["href"])], ctx)


def _cp_sync(ctx: Ctx, src: Path, dest: Path) -> float:
    """Seconds for ``cp SRC DEST && sync DEST`` after a settle (the baseline); DEST removed.

    An untimed copy goes first and is removed. This machine is a VM on which the first use of
    a page of memory is expensive: a copy that needs a GiB of never-used page cache took 5 s,
    one right after a GiB was freed 0.9 s (measured in turn, six times). The transfers it is
    compared with run right after a GiB was freed, so the baseline must too.
    """
    harness.run(["cp", src, dest], ctx)
    dest.unlink()
    settle(ctx)
    t0 = time.perf_counter()
    harness.run(["sh", "-c", 'cp "$1" "$2" && sync "$2"', "cp", src, dest], ctx)
    took = time.perf_counter() - t0
    dest.unlink()
    return took


def settle(ctx: Ctx) -> None:
    """Write back dirty pages before a timed step, so that no step pays for the previous
    one's writes (a 1 GiB step otherwise runs into the kernel's writeback of the last)."""
    harness.run(["sync"], ctx)


def hub_api_available() -> bool:
    return importlib.util.find_spec("modelgit.http.hub") is not None


def run(ctx: Ctx) -> list[Row]:
    size_mib = ctx.lfs_mib or (8 if ctx.smoke else 64 if ctx.quick else 1024)
    size = size_mib * MIB
    reps = ctx.reps(full=3, quick=2, smoke=1)   # 1 GiB each way takes a while
    mb = size / 1e6
    with ModelgitServer(ctx, "mg-lfs") as mg:
        mg.init().start()
        mid = mg.model("weights")
        up = ctx.work / "lfs-up"
        git(ctx, "clone", "-q", mg.url(mid), up)
        git(ctx, "lfs", "install", "--local", cwd=up)
        git(ctx, "config", "lfs.locksverify", "true", cwd=up)
        git(ctx, "lfs", "track", "*.bin", cwd=up)
        (up / "README.md").write_text("# weights\n")
        git(ctx, "add", ".gitattributes", "README.md", cwd=up)
        git(ctx, "commit", "-q", "-m", "track *.bin", cwd=up)
        git(ctx, "push", "-q", "origin", "main", cwd=up)
        down = ctx.work / "lfs-down"
        git(ctx, "clone", "-q", mg.url(mid), down, env={"GIT_LFS_SKIP_SMUDGE": "1"})
        git(ctx, "lfs", "install", "--local", cwd=down)
        mg.wait_idle()
        rss_before = mg.peak_rss_mb() or 0.0
        cp_dir = ctx.scratch("lfs-cp")
        up_t: list[float] = []
        down_t: list[float] = []
        cp_t: list[float] = []
        cps_t: list[float] = []
        curl_up_t: list[float] = []
        curl_down_t: list[float] = []
        curl_file_t: list[float] = []
        client_cpu: dict[str, list[float]] = {"up": [], "down": []}
        hub_t: list[float] = []
        hub = hub_api_available()
        hub_error = "" if hub else "not built yet"

        def one_round(i: int, nbytes: int) -> dict[str, float]:
            nonlocal hub, hub_error
            got: dict[str, float] = {}
            src = up / "weights.bin"
            _write_file(src, nbytes, i)
            git(ctx, "add", "weights.bin", cwd=up)
            git(ctx, "commit", "-q", "-m", f"weights {i}", cwd=up)
            settle(ctx)
            c0, t0 = _children_cpu(), time.perf_counter()
            git(ctx, "lfs", "push", "origin", "main", cwd=up)
            got["up"] = time.perf_counter() - t0
            got["up_cpu"] = _children_cpu() - c0
            git(ctx, "push", "-q", "origin", "main", cwd=up)
            mg.wait_idle()

            git(ctx, "fetch", "-q", "origin", cwd=down)
            settle(ctx)
            c0, t0 = _children_cpu(), time.perf_counter()
            git(ctx, "lfs", "fetch", "origin", "origin/main", cwd=down)
            got["down"] = time.perf_counter() - t0
            got["down_cpu"] = _children_cpu() - c0
            if not any(p.is_file() and p.stat().st_size == nbytes
                       for p in _lfs_objects(down).rglob("*")):
                raise RuntimeError("git lfs fetch did not bring the object")

            # The baseline is sampled twice per round, once just before the server-alone
            # transfers and once after them: the disk here is shared and its speed drifts.
            got["cp+sync-before"] = _cp_sync(ctx, src, cp_dir / "copy.bin")
            # The server alone: curl PUTs another new object and GETs this one to a file.
            other = cp_dir / "other.bin"
            _write_file(other, nbytes, 1000 + i)
            put = _action(mg, mid, "upload", _sha256(other), nbytes)
            settle(ctx)
            t0 = time.perf_counter()
            _curl(ctx, put, "-o", "/dev/null", "-T", other)
            got["curl_up"] = time.perf_counter() - t0
            other.unlink()
            get = _action(mg, mid, "download", _sha256(src), nbytes)
            settle(ctx)
            t0 = time.perf_counter()
            _curl(ctx, get, "-o", "/dev/null")
            got["curl_down"] = time.perf_counter() - t0
            fetched = cp_dir / "fetched.bin"
            settle(ctx)
            t0 = time.perf_counter()
            _curl(ctx, get, "-o", fetched)
            harness.run(["sync", fetched], ctx)
            got["curl_down_file"] = time.perf_counter() - t0
            if fetched.stat().st_size != nbytes:
                raise RuntimeError("curl did not bring the whole object")
            fetched.unlink()

            dest = cp_dir / "copy.bin"
            settle(ctx)
            t0 = time.perf_counter()
            harness.run(["cp", src, dest], ctx)
            got["cp"] = time.perf_counter() - t0
            dest.unlink()
            got["cp+sync"] = _cp_sync(ctx, src, dest)

            if hub:
                try:
                    settle(ctx)
                    got["hub"] = _hf_download(ctx, mg, mid, ctx.work / f"hf-cache-{i}")
                except Exception as exc:  # the hub API is being built: report, go on
                    hub = False
                    hub_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:60]}"
            # Keep the disk use to about one object per place.
            shutil.rmtree(_lfs_objects(down), ignore_errors=True)
            shutil.rmtree(_lfs_objects(up), ignore_errors=True)
            src.unlink()
            return got

        # An untimed round with a small object: the reference for "flat in object size"
        # (its peak includes everything a transfer loads: modules, buffers, threads).
        small_mib = max(4, size_mib // 16)
        one_round(0, small_mib * MIB)
        rss_small = mg.peak_rss_mb() or 0.0
        for i in range(1, reps + 1):
            got = one_round(i, size)
            up_t.append(got["up"])
            down_t.append(got["down"])
            cp_t.append(got["cp"])
            cps_t += [got["cp+sync-before"], got["cp+sync"]]
            curl_up_t.append(got["curl_up"])
            curl_down_t.append(got["curl_down"])
            curl_file_t.append(got["curl_down_file"])
            client_cpu["up"].append(got["up_cpu"])
            client_cpu["down"].append(got["down_cpu"])
            if "hub" in got:
                hub_t.append(got["hub"])
        peak = mg.peak_rss_mb() or 0.0
    cp_rate = mb / median(cps_t)     # the baseline: the bytes on disk, as the server's
    cp_cache = mb / median(cp_t)     # upload is (it fsyncs); plain cp ends in the page cache
    up_rate = mb / median(up_t)
    down_rate = mb / median(down_t)
    common = [f"{size_mib} MiB file, {reps} repetitions (a new object each); the baseline is"
              " `cp` followed by `sync FILE` (the server fsyncs each upload), sampled twice per"
              f" round; plain `cp` into the page cache: {fmt_rate(cp_cache)}"]
    curl_up = mb / median(curl_up_t)
    curl_down = mb / median(curl_down_t)
    rows = [
        Row(f"LFS upload, HTTP ({size_mib} MiB)", ours=fmt_rate(curl_up),
            base=f"{fmt_rate(cp_rate)} (cp+sync)", ratio=fmt_ratio(curl_up / cp_rate),
            goal="≥ 0.5× cp", met=curl_up / cp_rate >= NEAR_DISK,
            notes=[*common, "curl -T to the upload href of a batch answer: the server reads,"
                   " hashes, writes, fsyncs and renames", samples_note("curl PUT", curl_up_t),
                   samples_note("cp + sync", cps_t), samples_note("cp", cp_t)]),
        Row(f"LFS download, HTTP ({size_mib} MiB)", ours=fmt_rate(curl_down),
            base=f"{fmt_rate(cp_rate)} (cp+sync)", ratio=fmt_ratio(curl_down / cp_rate),
            goal="≥ 0.5× cp", met=curl_down / cp_rate >= NEAR_DISK,
            notes=["curl -o /dev/null from the download href: the server reads the object"
                   " (from disk or the page cache) and sends it; the client writes nothing",
                   samples_note("curl GET", curl_down_t),
                   f"to a file on the same disk, then sync FILE (curl's own writes included):"
                   f" {fmt_rate(mb / median(curl_file_t))}",
                   samples_note("curl GET to a file + sync", curl_file_t)]),
        Row(f"LFS upload, git-lfs ({size_mib} MiB)", ours=fmt_rate(up_rate),
            base=f"{fmt_rate(cp_rate)} (cp+sync)", ratio=fmt_ratio(up_rate / cp_rate),
            goal="reference", met=None,
            notes=[samples_note("git lfs push", up_t),
                   f"git-lfs's own CPU time (user + sys): median"
                   f" {median(client_cpu['up']):.1f} s"]),
        Row(f"LFS download, git-lfs ({size_mib} MiB)", ours=fmt_rate(down_rate),
            base=f"{fmt_rate(cp_rate)} (cp+sync)", ratio=fmt_ratio(down_rate / cp_rate),
            goal="reference", met=None,
            notes=[samples_note("git lfs fetch", down_t),
                   f"git-lfs's own CPU time (user + sys): median"
                   f" {median(client_cpu['down']):.1f} s for"
                   f" {median(down_t):.1f} s of wall time"]),
        Row("server peak RSS (VmHWM)", ours=f"{peak:.0f} MB",
            base=f"{rss_small:.0f} MB after {small_mib} MiB",
            ratio=f"{peak - rss_small:+.0f} MB",
            goal="flat, < 150 MB", met=peak < RSS_GOAL_MB and peak - rss_small < FLAT_MB,
            notes=[f"VmHWM of the modelgit serve process: {rss_before:.1f} MB before any"
                   f" transfer (started, warmed up, one small push), {rss_small:.1f} MB after"
                   f" a round with a {small_mib} MiB object (upload, download"
                   f"{', hf_hub_download' if hub_t else ''}), {peak:.1f} MB after {reps}"
                   f" rounds with {size_mib} MiB objects; flat = the big objects raise the"
                   f" peak by less than {FLAT_MB} MB"]),
    ]
    if hub and hub_t:
        hub_rate = mb / median(hub_t)
        rows.append(Row(f"hf_hub_download ({size_mib} MiB LFS file)", ours=fmt_rate(hub_rate),
                        base=f"{fmt_rate(cp_rate)} (cp+sync)", ratio=fmt_ratio(hub_rate / cp_rate),
                        goal="reference", met=None,
                        notes=[samples_note("hf_hub_download", hub_t)]))
    else:
        rows.append(na(f"hf_hub_download ({size_mib} MiB LFS file)", f"n/a ({hub_error})",
                       goal="reference"))
    return rows


def _hf_download(ctx: Ctx, mg: ModelgitServer, mid: str, cache: Path) -> float:
    from huggingface_hub import hf_hub_download

    t0 = time.perf_counter()
    path = hf_hub_download(repo_id=mid, filename="weights.bin", revision="main",
                           token=mg.key, cache_dir=str(cache), endpoint=mg.base_url)
    took = time.perf_counter() - t0
    Path(path).stat()
    shutil.rmtree(cache, ignore_errors=True)
    return took
