"""Figures for the distributed setup: LFS on SeaweedFS, and two front ends behind nginx.

    .venv/bin/python -m bench.distributed [--lfs-mib 1024] [--rounds 3]

* LFS up and down, 1 GiB by default, with ``curl`` on the transfer URLs a batch hands out
  (the server's speed apart from git-lfs's): through ``modelgit serve`` onto SeaweedFS as one
  streamed PUT (the store verifying ``x-amz-checksum-sha256``) and as a multipart upload
  (parts checked by the store, the whole by modelgit), the same PUT/GET presigned straight to
  SeaweedFS (what direct transfers would give), and ``cp`` + ``sync`` on the same disk (the
  goal: modelgit on S3 at least 0.5× of it), interleaved over ``--lfs-rounds``.
* clone and small push through nginx to two front ends (round robin) against nginx to one
  of them (the goal: no worse than 1.1×), medians over ``--rounds``.
* 24 at once (``--only crowd``): 12 pushes of new branches and 12 clones through the two
  front ends; every push's branch must be there and every clone whole (nothing lost).

It reuses the tests' helpers (tests/helpers/seaweed.py, frontends.py), so it runs the same
real parts: ``weed server -s3`` from the wheel, Debian's nginx, real git.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers import frontends, seaweed
from tests.helpers.git import git
from tests.helpers.lfs_api import batch
from tests.helpers.site import TEST_SETTINGS, make_site

MIB = 1024 * 1024


def _file(path: Path, size: int) -> str:
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            piece = block[:min(left, MIB)]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _curl(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", *args], check=True)
    return time.perf_counter() - started


def _rate(size: int, seconds: float) -> str:
    return f"{size / MIB / seconds:7.0f} MiB/s ({seconds:5.2f} s)"


def _through_site(root: Path, weed: seaweed.Seaweed, blob: Path, oid: str, size: int,
                  s3: dict[str, object]) -> tuple[float, float]:
    """Upload and download seconds of ``blob`` through a site whose ``lfs.s3`` gets ``s3``
    on top of the shared bucket's settings."""
    root.mkdir(parents=True, exist_ok=True)
    settings = seaweed.s3_settings(weed, root)
    settings["s3"] = {**settings["s3"], **s3}  # type: ignore[dict-item]
    site = make_site(root, {**TEST_SETTINGS, "lfs": settings})
    site.start()
    try:
        model = site.model("bench/s3")
        key = site.keys["owner"]
        answer = json.loads(batch(site, model, "upload", [{"oid": oid, "size": size}],
                                  key).body)
        put = answer["objects"][0]["actions"]["upload"]
        up = _curl("-T", str(blob), *[f"-H{k}: {v}" for k, v in put["header"].items()],
                   put["href"])
        answer = json.loads(batch(site, model, "download", [{"oid": oid, "size": size}],
                                  key).body)
        get = answer["objects"][0]["actions"]["download"]
        down = _curl(*[f"-H{k}: {v}" for k, v in get["header"].items()], get["href"])
    finally:
        site.stop()
    return up, down


def _cp_sync(blob: Path, target: Path) -> float:
    started = time.perf_counter()
    shutil.copyfile(blob, target)
    os.sync()
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def lfs_figures(root: Path, size: int, rounds: int) -> None:
    """One streamed PUT (the default below 5 GiB) and a multipart upload (``multipart_bytes``
    64 MiB: parts of 16 MiB, two at a time) through modelgit, presigned straight to the
    store, and ``cp`` + ``sync``, alternating within each round so drift hits all alike;
    medians over ``rounds``."""
    blob = root / "object.bin"
    oid = _file(blob, size)
    times: dict[str, list[float]] = {}

    def note(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    weed = seaweed.start(root / "weed")
    try:
        client = weed.client()
        checksum = base64.b64encode(bytes.fromhex(oid)).decode()
        _cp_sync(blob, root / "warm.bin")  # untimed: the first copy finds no free page cache
        for r in range(rounds):
            note("cp", _cp_sync(blob, root / "copy.bin"))
            for name, s3 in (("single", {}), ("multipart", {"multipart_bytes": 64 * MIB})):
                up, down = _through_site(root / f"{name}-{r}", weed, blob, oid, size, s3)
                note(f"{name} up", up)
                note(f"{name} down", down)
            direct_key = f"direct/{oid}-{r}"
            url = client.generate_presigned_url("put_object", ExpiresIn=600, Params={
                "Bucket": weed.shared_bucket, "Key": direct_key, "ContentLength": size,
                "ChecksumSHA256": checksum})
            note("direct up", _curl("-T", str(blob), f"-Hx-amz-checksum-sha256: {checksum}",
                                    url))
            url = client.generate_presigned_url("get_object", ExpiresIn=600, Params={
                "Bucket": weed.shared_bucket, "Key": direct_key})
            note("direct down", _curl(url))
            note("cp", _cp_sync(blob, root / "copy.bin"))
    finally:
        weed.stop()
    mid = {name: statistics.median(values) for name, values in times.items()}
    cp = mid["cp"]
    print(f"LFS {size // MIB} MiB on SeaweedFS (weed server -s3, same disk), medians of"
          f" {rounds} rounds:")
    for name, label in (("single up", "upload   one streamed PUT  "),
                        ("multipart up", "upload   multipart 16 MiB  "),
                        ("direct up", "upload   presigned direct  "),
                        ("single down", "download through modelgit "),
                        ("multipart down", "download (multipart object)"),
                        ("direct down", "download presigned direct ")):
        print(f"  {label} {_rate(size, mid[name])}   {cp / mid[name]:4.2f}x cp+sync")
    print(f"  cp + sync                   {_rate(size, cp)}")


def frontend_figures(root: Path, rounds: int) -> None:
    site = make_site(root / "fe")
    with frontends.balanced(site) as fronts:
        model = site.model("bench/fe")
        seed = root / "seed"
        git("clone", "-q", site.clone_url(model, "owner"), str(seed))
        for n in range(200):
            (seed / f"file{n}.txt").write_text(os.urandom(2000).hex())
        git("add", ".", cwd=seed)
        git("commit", "-qm", "seed", cwd=seed)
        git("push", "-q", "origin", "main", cwd=seed)
        urls = {"two": site.clone_url(model, "owner"),
                "one": fronts.clone_url(0, model, "owner")}
        times: dict[str, dict[str, list[float]]] = {k: {"clone": [], "push": []} for k in urls}
        warm = 3  # not counted: every front end's threads open their store connections
        for r in range(warm + rounds):
            for name, url in urls.items():  # alternate, so drift hits both alike
                dest = root / f"c-{name}-{r}"
                started = time.perf_counter()
                git("clone", "-q", url, str(dest))
                cloned = time.perf_counter() - started
                (dest / f"small-{name}-{r}.txt").write_text("x\n")
                git("add", ".", cwd=dest)
                git("commit", "-qm", "small", cwd=dest)
                git("pull", "-q", "--rebase", cwd=dest)
                started = time.perf_counter()
                git("push", "-q", "origin", "main", cwd=dest)
                if r >= warm:
                    times[name]["clone"].append(cloned)
                    times[name]["push"].append(time.perf_counter() - started)
    print(f"clone and small push through nginx, medians of {rounds}:")
    for op in ("clone", "push"):
        one = statistics.median(times["one"][op])
        two = statistics.median(times["two"][op])
        print(f"  {op:5}  one front end {one * 1000:6.0f} ms   two {two * 1000:6.0f} ms"
              f"   {two / one:4.2f}x")


def crowd_figure(root: Path, pushes: int = 12, clones: int = 12) -> None:
    """``pushes`` pushes (each its own branch, a new commit with 50 files) and ``clones``
    clones at the same moment through nginx over two front ends; then every branch must be on
    the server at the commit its push made, every clone whole (``git fsck``) at the tip of
    main, and both front ends must have served a share. Nothing lost, or it raises."""
    from concurrent.futures import ThreadPoolExecutor

    site = make_site(root / "crowd")
    with frontends.balanced(site) as fronts:
        model = site.model("bench/crowd")
        url = site.clone_url(model, "owner")
        seed = root / "crowd-seed"
        git("clone", "-q", url, str(seed))
        for n in range(200):
            (seed / f"file{n}.txt").write_text(os.urandom(2000).hex())
        git("add", ".", cwd=seed)
        git("commit", "-qm", "seed", cwd=seed)
        git("push", "-q", "origin", "main", cwd=seed)
        main_tip = git("rev-parse", "HEAD", cwd=seed).stdout.strip()
        expected: dict[str, str] = {}
        work: list[Path] = []
        for i in range(pushes):
            repo = root / f"crowd-push-{i}"
            git("clone", "-q", url, str(repo))
            git("checkout", "-qb", f"crowd-{i}", cwd=repo)
            for n in range(50):
                (repo / f"p{i}-{n}.txt").write_text(os.urandom(1000).hex())
            git("add", ".", cwd=repo)
            git("commit", "-qm", f"crowd {i}", cwd=repo)
            expected[f"refs/heads/crowd-{i}"] = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
            work.append(repo)
        before = [fronts.requests_seen(i) for i in range(2)]

        def push(repo: Path) -> subprocess.CompletedProcess[str]:
            return git("push", "-q", "origin", "HEAD", cwd=repo, check=False)

        def clone(i: int) -> subprocess.CompletedProcess[str]:
            return git("clone", "-q", url, str(root / f"crowd-clone-{i}"), check=False)

        started = time.perf_counter()
        with ThreadPoolExecutor(pushes + clones) as pool:
            jobs = [pool.submit(push, repo) for repo in work]
            jobs += [pool.submit(clone, i) for i in range(clones)]
            results = [job.result() for job in jobs]
        wall = time.perf_counter() - started
        failed = [r.stderr for r in results if r.returncode != 0]
        if failed:
            raise SystemExit(f"{len(failed)} of {len(results)} failed: {failed[:3]}")
        listed = dict(line.split("\t")[::-1] for line in git(
            "ls-remote", url, "refs/heads/*").stdout.splitlines())
        lost = {ref: sha for ref, sha in expected.items() if listed.get(ref) != sha}
        if lost or listed.get("refs/heads/main") != main_tip:
            raise SystemExit(f"refs lost or moved: {lost}")
        for i in range(clones):
            dest = root / f"crowd-clone-{i}"
            git("fsck", "--strict", "--no-progress", cwd=dest)
            if git("rev-parse", "HEAD", cwd=dest).stdout.strip() != main_tip:
                raise SystemExit(f"clone {i} is not at main's tip")
        bare = site.data / "repos" / f"{model}.git"
        git("fsck", "--strict", "--no-progress", cwd=bare)
        served = [fronts.requests_seen(i) - before[i] for i in range(2)]
    print(f"{pushes} pushes + {clones} clones at once through two front ends: {wall:.1f} s;"
          f" all {len(results)} succeeded, {pushes} branches at their commits, every clone"
          f" whole; requests served per front end {served[0]} / {served[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfs-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--lfs-rounds", type=int, default=3)
    parser.add_argument("--only", choices=("lfs", "frontends", "crowd"), default=None)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="modelgit-bench-home-"))
    os.environ.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
                       "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "b",
                       "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
                       "GIT_COMMITTER_EMAIL": "b@example.com"})
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], check=True)
    root = Path(tempfile.mkdtemp(prefix="modelgit-bench-dist-", dir=os.getcwd()))
    try:
        if args.only in (None, "frontends"):
            frontend_figures(root, args.rounds)
        if args.only in (None, "crowd"):
            crowd_figure(root)
        if args.only in (None, "lfs"):
            lfs_figures(root, args.lfs_mib * MIB, args.lfs_rounds)
    finally:
        from tests.helpers import postgres

        postgres.stop_shared()  # started by make_site under MODELGIT_TEST_DATABASE=postgresql
        seaweed.stop_shared()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
