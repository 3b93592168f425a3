"""scan_pickles: dangerous and suspicious globals in pickles, torch zips and LFS objects."""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import BinaryIO

from modelgit.lfs.pointer import Pointer
from modelgit.lfs.pointer import parse as parse_pointer
from modelgit.scanner.blobs import Blob, tree_blobs
from modelgit.scanner.pickles import (
    scan_pickle_bytes,
    scan_pickle_file,
    scan_pickles,
)
from tests.scanner.scanner_helpers import commit, git, isolated_git

__all__ = ["isolated_git"]


class Malicious:
    """Unpickling this runs a shell command."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo hi",))


class Custom:
    """A class picklescan knows nothing about: suspicious, not dangerous."""


MALICIOUS = pickle.dumps({"weights": [1.0, 2.0], "hook": Malicious()})
CLEAN = pickle.dumps(collections.OrderedDict(layer=[0.5, 0.25], bias=(1, 2)))


def torch_zip(payload: bytes) -> bytes:
    """The layout torch.save writes: a zip with archive/data.pkl and tensor storages."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/data/0", b"\x00" * 64)
    return out.getvalue()


def lfs_pointer(data: bytes) -> bytes:
    oid = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n" \
        .encode()


def test_reduce_calling_os_system_is_high() -> None:
    findings = scan_pickle_bytes("model.pkl", MALICIOUS, "c" * 40)
    assert [(f.scanner, f.severity, f.path, f.commit) for f in findings] == [
        ("pickles", "HIGH", "model.pkl", "c" * 40)]
    assert findings[0].rule in ("posix.system", "os.system", "nt.system")


def test_clean_pickle_is_clean() -> None:
    assert scan_pickle_bytes("model.pkl", CLEAN, "c") == []


def test_unknown_global_is_medium() -> None:
    data = pickle.dumps(Custom())
    findings = scan_pickle_bytes("model.pickle", data, "c")
    assert [(f.severity, f.rule) for f in findings] == [("MEDIUM", f"{__name__}.Custom")]


def test_torch_style_zip_with_malicious_data_pkl_is_flagged() -> None:
    findings = scan_pickle_bytes("pytorch_model.pt", torch_zip(MALICIOUS), "c")
    assert [f.severity for f in findings] == ["HIGH"]
    assert scan_pickle_bytes("pytorch_model.pt", torch_zip(CLEAN), "c") == []


def test_lfs_pointer_is_resolved_through_the_store(tmp_path: Path) -> None:
    stored = tmp_path / "store"
    stored.mkdir()
    payload = torch_zip(MALICIOUS)
    pointer = lfs_pointer(payload)
    oid = hashlib.sha256(payload).hexdigest()
    (stored / oid).write_bytes(payload)

    assert parse_pointer(pointer) == Pointer(oid, len(payload))
    assert parse_pointer(CLEAN) is None
    assert parse_pointer(b"version 2\n") is None

    def open_lfs(wanted: str) -> BinaryIO | None:
        path = stored / wanted
        return path.open("rb") if path.exists() else None

    blob = Blob.from_bytes("weights/model.bin", pointer, "c" * 40)
    found = scan_pickles([blob], open_lfs=open_lfs)
    assert [(f.path, f.severity) for f in found] == [("weights/model.bin", "HIGH")]

    missing = scan_pickles([blob])
    assert [(f.rule, f.severity) for f in missing] == [("lfs-object-missing", "LOW")]
    assert scan_pickles([blob], open_lfs=lambda oid: None)[0].rule == "lfs-object-missing"

    with (stored / oid).open("rb") as stream:
        assert [f.severity for f in scan_pickle_file("model.pt", stream, "c")] == ["HIGH"]


def test_pickles_pushed_as_git_blobs(tmp_path: Path) -> None:
    work = tmp_path / "w"
    git("init", "-q", str(work))
    sha = commit(work, {"bad.pkl": MALICIOUS, "good.joblib": CLEAN, "notes.txt": "pickle\n",
                        "model.ckpt": torch_zip(CLEAN)})
    findings = scan_pickles(tree_blobs(str(work), sha))
    assert [(f.path, f.severity, f.commit) for f in findings] == [("bad.pkl", "HIGH", sha)]


def test_unreadable_pickle_file_is_reported() -> None:
    broken = b"PK\x03\x04" + b"\x00" * 10  # a truncated zip
    findings = scan_pickle_bytes("model.pt", broken, "c")
    assert [(f.rule, f.severity) for f in findings] == [("pickle-scan-error", "MEDIUM")]
