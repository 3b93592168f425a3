"""Figure 3 (reference only): the same clone and push through gitolite in HTTP mode.

modelgit's design quoted 3.8× for gitolite's HTTP mode against plain git-http-backend. The figure is
measured only when Debian's ``gitolite3`` is installed; the benchmark never installs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.harness import Ctx, Row, na


def installed() -> bool:
    return shutil.which("gitolite") is not None or Path("/usr/share/gitolite3").exists()


def run(ctx: Ctx) -> list[Row]:
    if not installed():
        return [na("gitolite over HTTP (clone, push)", "not installed")]
    return [na("gitolite over HTTP (clone, push)",
               "installed, but its HTTP-mode setup is not automated yet (see bench/README.md)")]
