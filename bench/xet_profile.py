"""``python -m bench.xet_profile``: the server's CPU per GiB for the Xet upload path alone.

No client and no HTTP: pseudo-random bytes cut into chunks (8-128 KiB) and packed into xorbs
of ~64 MiB with the footer hf_xet writes (``xorb.serialize``), then
``services.xet.put_xorb`` for each and ``put_shard`` for a shard naming one file made of
them, on a fresh site (files storage), timed with ``time.process_time`` and, with
``--profile``, under cProfile (the top functions by own time are printed).

    .venv/bin/python -m bench.xet_profile --mib 256 [--scheme 0|1|2] [--no-footer] [--profile]

Scheme 0 (uncompressed) is what hf_xet sends for incompressible bytes, as in the ``xet``
figure; 1 and 2 (LZ4, byte grouping + LZ4) use chunks half random, half zeros.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import shutil
import tempfile
import time
from pathlib import Path

from modelgit.config import load
from modelgit.services import xet as service
from modelgit.xet import hashes, xorb
from tests.helpers.site import make_site
from tests.helpers.xet import file_shard

MIB = 1024 * 1024
XORB_BYTES = 64 * MIB


def build(total: int, scheme: int, footer: bool, seed: int = 1
          ) -> tuple[list[tuple[str, bytes]], bytes]:
    """Xorbs (hex hash, bytes) holding ``total`` bytes, and a shard of the one file."""
    rng = random.Random(seed)
    xorbs: list[tuple[str, bytes]] = []
    terms: list[tuple[bytes, int, int, int]] = []
    entries: list[tuple[bytes, int]] = []
    left = total
    while left > 0:
        chunks: list[bytes] = []
        size = 0
        while size < XORB_BYTES and left > 0:
            n = min(left, rng.randint(8 * 1024, 128 * 1024))
            chunk = rng.randbytes(n) if scheme == xorb.SCHEME_NONE else (
                rng.randbytes(n // 2) + bytes(n - n // 2))
            chunks.append(chunk)
            entries.append((hashes.chunk_hash(chunk), n))
            size += n
            left -= n
        data, xh = xorb.serialize(chunks, scheme, footer=footer)
        xorbs.append((hashes.to_hex(xh), data))
        terms.append((xh, size, 0, len(chunks)))
    return xorbs, file_shard([(hashes.file_hash(entries), terms)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.xet_profile")
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--scheme", type=int, default=xorb.SCHEME_NONE, choices=(0, 1, 2))
    parser.add_argument("--no-footer", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    total = args.mib * MIB
    xorbs, shard_body = build(total, args.scheme, not args.no_footer)
    root = Path(tempfile.mkdtemp(prefix="modelgit-xet-profile-"))
    try:
        site = make_site(root)
        site.user("owner", admin=True)
        model = site.model("profile/weights")
        cfg, store = load(site.data), site.store()
        profiles = [cProfile.Profile(), cProfile.Profile()]
        times = []
        for step, profile in enumerate(profiles):
            start = time.process_time()
            if args.profile:
                profile.enable()
            if step == 0:
                for xhex, data in xorbs:
                    service.put_xorb(cfg, store, model, xhex, data, "owner")
            else:
                assert service.put_shard(cfg, store, model, shard_body, "owner") == 1
            profile.disable()
            times.append(time.process_time() - start)
        gib = total / 1024**3
        print(f"{args.mib} MiB, scheme {args.scheme}, footer {not args.no_footer}: CPU per GiB"
              f" put_xorb {times[0] / gib:.2f} s, put_shard {times[1] / gib:.2f} s,"
              f" total {sum(times) / gib:.2f} s")
        if args.profile:
            for profile in profiles:
                pstats.Stats(profile).sort_stats("tottime").print_stats(12)
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
