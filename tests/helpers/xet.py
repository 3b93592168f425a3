"""What the Xet tests share: the client with Xet on, and the bytes the server's CAS received.

The byte count comes from the server's own log: ``modelgit.xet`` writes one line per verified
xorb and per shard with the size of the body it received, so a test measures what actually
crossed the wire to the server, not what the client says it sent.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelgit.xet import hashes, shard
from tests.helpers.hub_client import hf_setup

if TYPE_CHECKING:
    from tests.helpers.site import Site

_RECEIVED = re.compile(r" modelgit\.xet xet (?:xorb|shard) (?P<model>\S+) (?:\S+ )?(?P<n>\d+)"
                       r" bytes")


def xet_on(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """The unmodified client with hf_xet and Xet on (the suite's default turns it off)."""
    import hf_xet  # noqa: F401 - installed with huggingface_hub; these tests need it
    import huggingface_hub.constants as constants

    hf_setup(monkeypatch, home)
    monkeypatch.delenv("HF_HUB_DISABLE_XET")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)


def call_elsewhere(site: Site, home: Path, method: str, **kwargs: str) -> None:
    """``HfApi(...).<method>(**kwargs)`` as the owner, from a fresh process with its own
    HF_HOME and Xet on: a machine with no Xet cache, so anything it does not send again it
    learnt from the server's dedupe answers."""
    code = ("import json, sys; from huggingface_hub import HfApi;"
            " getattr(HfApi(endpoint=sys.argv[1], token=sys.argv[2]), sys.argv[3])"
            "(**json.loads(sys.argv[4]))")
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    env.pop("HF_HUB_DISABLE_XET", None)
    subprocess.run([sys.executable, "-c", code, site.url, site.keys["owner"], method,
                    json.dumps(kwargs)], env=env, check=True, capture_output=True, timeout=300)


def _lines(log_text: str) -> set[str]:
    """The log's distinct lines: ``Site.log_text`` joins the server's stderr and its
    ``server.log``, which hold the same lines (each starts with a millisecond timestamp)."""
    return set(log_text.splitlines())


def cas_bytes_received(log_text: str, model: str) -> int:
    """The bytes of every xorb and shard body the server verified for ``model``, from its log."""
    found = (_RECEIVED.search(line) for line in _lines(log_text))
    return sum(int(m.group("n")) for m in found if m is not None and m.group("model") == model)


def requests_to(log_text: str, path_part: str) -> int:
    """How many requests the access log shows whose path contains ``path_part``."""
    return sum(1 for line in _lines(log_text)
               if " modelgit.access " in line and path_part in line)


def file_shard(files: list[tuple[bytes, list[tuple[bytes, int, int, int]]]]) -> bytes:
    """A version-2 shard with a file section only, as a client uploads after its xorbs: each
    file is (Xet file hash, [(xorb hash, unpacked bytes, first chunk, end chunk)])."""
    out = bytearray(shard.TAG + struct.pack("<QQ", 2, 0))
    for file_hash, terms in files:
        out += file_hash + struct.pack("<4I", 0, len(terms), 0, 0)
        for xorb_hash, size, start, end in terms:
            out += xorb_hash + struct.pack("<4I", 0, size, start, end)
    out += hashes.MARKER + bytes(16)  # end of the file section
    out += hashes.MARKER + bytes(16)  # an empty xorb section
    return bytes(out)
