"""The huggingface_hub sdist that holds the upstream tests, fetched from PyPI and verified.

The version and the accepted sha256 digests come from the test lock (requirements/test.txt),
so the tests always match the client the suite installs, and a file that is not the one the
lock names is refused before anything in it runs.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements" / "test.txt"
CACHE = REPO / ".cache" / "hub-tests"


def pinned(lock: Path = LOCK) -> tuple[str, set[str]]:
    """The pinned version of huggingface-hub and the sha256 digests the lock accepts."""
    text = lock.read_text()
    match = re.search(r"^huggingface-hub==(\S+)((?:\s*\\\n\s*--hash=sha256:[0-9a-f]{64})+)",
                      text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"{lock} pins no huggingface-hub")
    return match.group(1), set(re.findall(r"sha256:([0-9a-f]{64})", match.group(2)))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(cache: Path = CACHE) -> Path:
    """The verified sdist in ``cache`` (downloaded once by pip, PyPI's ordinary client; a
    cached file is verified again before each run)."""
    version, digests = pinned()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"huggingface_hub-{version}.tar.gz"
    if not target.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                        "--disable-pip-version-check", "--no-deps", "--no-binary", ":all:",
                        f"huggingface_hub=={version}",
                        "-d", str(cache)], check=True)
    got = sha256(target)
    if got not in digests:
        target.unlink()
        raise SystemExit(f"{target.name}: sha256 {got} is not one of the lock's digests for "
                         f"huggingface-hub=={version}; refusing to run it")
    return target


def unpack(sdist: Path, cache: Path = CACHE) -> Path:
    """A fresh copy of the sdist's tree (its tests and their fixtures); returns its root."""
    root = cache / sdist.name.removesuffix(".tar.gz")
    if root.exists():
        shutil.rmtree(root)
    with tarfile.open(sdist) as tar:
        tar.extractall(cache, filter="data")
    return root
