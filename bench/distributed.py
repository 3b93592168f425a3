"""Figures for the distributed setup: LFS on SeaweedFS, and two front ends behind nginx.

    .venv/bin/python -m bench.distributed [--lfs-mib 1024] [--rounds 3]

* LFS up and down, 1 GiB by default, with ``curl`` on the transfer URLs a batch hands out
  (the server's speed apart from git-lfs's): through ``modelgit serve`` onto SeaweedFS
  (streamed, hashed, the store verifying ``x-amz-checksum-sha256``), the same PUT/GET
  presigned straight to SeaweedFS (what direct transfers would give), and ``cp`` + ``sync``
  on the same disk (the goal: modelgit on S3 at least 0.5× of it).
* clone and small push through nginx to two front ends (round robin) against nginx to one
  of them (the goal: no worse than 1.1×), medians over ``--rounds``.

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


def lfs_figures(root: Path, size: int) -> None:
    weed = seaweed.start(root / "weed")
    try:
        site = make_site(root / "site", {**TEST_SETTINGS,
                                         "lfs": seaweed.s3_settings(weed, root)})
        site.start()
        try:
            model = site.model("bench/s3")
            key = site.keys["owner"]
            blob = root / "object.bin"
            oid = _file(blob, size)
            answer = json.loads(batch(site, model, "upload", [{"oid": oid, "size": size}],
                                      key).body)
            put = answer["objects"][0]["actions"]["upload"]
            headers = [f"-H{k}: {v}" for k, v in put["header"].items()]
            up = _curl("-T", str(blob), *headers, put["href"])
            answer = json.loads(batch(site, model, "download", [{"oid": oid, "size": size}],
                                      key).body)
            get = answer["objects"][0]["actions"]["download"]
            down = _curl(*[f"-H{k}: {v}" for k, v in get["header"].items()], get["href"])

            client = weed.client()
            checksum = base64.b64encode(bytes.fromhex(oid)).decode()
            direct_key = f"direct/{oid}"
            url = client.generate_presigned_url("put_object", ExpiresIn=600, Params={
                "Bucket": weed.shared_bucket, "Key": direct_key, "ContentLength": size,
                "ChecksumSHA256": checksum})
            direct_up = _curl("-T", str(blob), f"-Hx-amz-checksum-sha256: {checksum}", url)
            url = client.generate_presigned_url("get_object", ExpiresIn=600, Params={
                "Bucket": weed.shared_bucket, "Key": direct_key})
            direct_down = _curl(url)
        finally:
            site.stop()
    finally:
        weed.stop()
    started = time.perf_counter()
    shutil.copyfile(blob, root / "copy.bin")
    os.sync()
    cp = time.perf_counter() - started
    print(f"LFS {size // MIB} MiB on SeaweedFS (weed server -s3, same disk):")
    print(f"  upload   through modelgit  {_rate(size, up)}   {cp / up:4.2f}x cp+sync")
    print(f"  upload   presigned direct  {_rate(size, direct_up)}")
    print(f"  download through modelgit  {_rate(size, down)}   {cp / down:4.2f}x cp+sync")
    print(f"  download presigned direct  {_rate(size, direct_down)}")
    print(f"  cp + sync                  {_rate(size, cp)}")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfs-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", choices=("lfs", "frontends"), default=None)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="modelgit-bench-home-"))
    os.environ.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
                       "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "b",
                       "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
                       "GIT_COMMITTER_EMAIL": "b@example.com"})
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], check=True)
    root = Path(tempfile.mkdtemp(prefix="modelgit-bench-dist-", dir=os.getcwd()))
    try:
        if args.only != "lfs":
            frontend_figures(root, args.rounds)
        if args.only != "frontends":
            lfs_figures(root, args.lfs_mib * MIB)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
