"""scan_pickles: pickles pass only on the allowlist, in every format a loader would open.

The pickles are written out opcode by opcode (tests/scanner/pickle_builders.py): torch and
numpy are not installed, and nothing here is ever unpickled.
"""

from __future__ import annotations

import bz2
import collections
import gzip
import hashlib
import io
import lzma
import os
import pickle
import random
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from modelgit.lfs.pointer import Pointer
from modelgit.lfs.pointer import parse as parse_pointer
from modelgit.scanner.advice import refusal_lines
from modelgit.scanner.blobs import Blob, tree_blobs
from modelgit.scanner.findings import Finding
from modelgit.scanner.pickle_check import message
from modelgit.scanner.pickles import (
    Limits,
    analyse,
    scan_pickle_bytes,
    scan_pickle_file,
    scan_pickles,
)
from tests.scanner.pickle_builders import (
    checked,
    glob,
    legacy_torch,
    npy,
    object_array,
    reduce_call,
    state_dict,
    text,
    torch_zip,
    zipped,
)
from tests.scanner.scanner_helpers import commit, git, isolated_git

__all__ = ["isolated_git"]


class Malicious:
    """Unpickling this runs a shell command."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo hi",))


class Custom:
    """A class on no list: picklescan called it suspicious; the allowlist refuses it."""


MALICIOUS = pickle.dumps({"weights": [1.0, 2.0], "hook": Malicious()})
CLEAN_VALUE = collections.OrderedDict(layer=[0.5, 0.25], bias=(1, 2), ids={1, 2},
                                      raw=b"\x00\x01", z=complex(1, 2))
CLEAN = pickle.dumps(CLEAN_VALUE)


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


def test_unknown_global_is_refused() -> None:
    data = pickle.dumps(Custom())
    findings = scan_pickle_bytes("model.pickle", data, "c")
    assert [(f.severity, f.rule) for f in findings] == [("HIGH", f"{__name__}.Custom")]
    assert "is not on the list of safe globals; loading the file would call it" \
        in findings[0].message


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


def test_unreadable_zip_is_refused() -> None:
    broken = b"PK\x03\x04" + b"\x00" * 10  # a truncated zip
    findings = scan_pickle_bytes("model.pt", broken, "c")
    assert [(f.rule, f.severity) for f in findings] == [("archive-unreadable", "HIGH")]


# ----------------------------------------------------------------- the allowlist (issue 18)
def rules(name: str, data: bytes, limits: Limits | None = None) -> list[str]:
    return [p.rule for p in analyse(name, io.BytesIO(data), limits)]


def test_callable_missing_from_picklescans_lists_is_refused() -> None:
    """multiprocessing.util.spawnv_passfds was "suspicious" (MEDIUM) and passed."""
    data = reduce_call("multiprocessing.util", "spawnv_passfds", "/bin/sh")
    found = analyse("model.bin", io.BytesIO(data))
    assert [p.rule for p in found] == ["multiprocessing.util.spawnv_passfds"]
    assert "starts a program when the file is loaded" in found[0].message


@pytest.mark.parametrize("module,name", [
    ("builtins", "eval"), ("builtins", "exec"), ("builtins", "getattr"), ("builtins", "open"),
    ("builtins", "__import__"), ("torch.storage", "_load_from_bytes"), ("copyreg",
    "_reconstructor"), ("joblib.numpy_pickle", "NumpyArrayWrapper"), ("subprocess", "run"),
    ("torch._tensor", "_rebuild_from_type_v2"), ("collections", "OrderedDict.fromkeys"),
])
def test_not_on_the_list(module: str, name: str) -> None:
    assert rules("model.pkl", reduce_call(module, name, "x", proto=4)) == [f"{module}.{name}"]


def test_state_dict_passes_in_every_container() -> None:
    data = state_dict()
    assert rules("model.pkl", data) == []
    assert rules("pytorch_model.bin", torch_zip(data)) == []
    assert rules("pytorch_model.bin", legacy_torch(data)) == []
    assert rules("model.pkl.gz", gzip.compress(data)) == []


def test_every_bad_global_is_named_once_with_what_it_does() -> None:
    evil = glob("posix", "system") + b"(" + text("id") + b"tR0" \
        + glob("posix", "system") + b"(" + text("id") + b"tR0" \
        + glob(__name__, "Custom") + b")R"
    found = analyse("model.pt", io.BytesIO(torch_zip(state_dict(extra=text("x") + evil))))
    assert [p.rule for p in found] == ["posix.system", f"{__name__}.Custom"]
    assert found[0].message == ("posix.system (in archive/data.pkl) runs a shell command"
                                " when the file is loaded")
    assert found[1].message.endswith("is not on the list of safe globals; loading the file"
                                     " would call it")


def test_python2_names_are_mapped_like_the_unpickler_does() -> None:
    assert rules("a.pkl", checked(b"\x80\x02" + glob("__builtin__", "eval") + b"(" + text("1")
                                  + b"tR.")) == ["builtins.eval"]
    assert rules("a.pkl", pickle.dumps({1, 2}, protocol=2)) == []  # __builtin__.set
    assert rules("a.pkl", pickle.dumps(b"bytes", protocol=2)) == []  # _codecs.encode
    assert rules("a.pkl", pickle.dumps(b"", protocol=2)) == []  # __builtin__.bytes


def test_stack_global_resolved_through_the_memo() -> None:
    # 'posix' is memoised, popped, and fetched back for STACK_GLOBAL much later.
    data = checked(b"\x80\x04\x8c\x05posix\x94" + b"0" + b"\x8c\x01x\x94" + b"0"
                   + b"h\x00\x8c\x06system\x93" + b"\x8c\x02id\x85R.")
    assert rules("a.pkl", data) == ["posix.system"]
    assert rules("a.pkl", pickle.dumps(collections.OrderedDict(a=1), protocol=4)) == []


def test_stack_global_on_computed_operands_is_refused() -> None:
    # The module name is the result of a call: the scan cannot know it without running it.
    computed = glob("_codecs", "encode") + b"(" + text("posix") + text("ascii") + b"tR"
    data = checked(b"\x80\x04" + computed + b"\x8c\x06system\x93" + b"N\x85R.")
    found = analyse("a.pkl", io.BytesIO(data))
    assert [p.rule for p in found] == ["pickle-unnamed-import"]
    assert "STACK_GLOBAL" in found[0].message


def test_extension_registry_import_is_refused() -> None:
    assert rules("a.pkl", checked(b"\x80\x02\x82\x01)R.")) == ["pickle-unnamed-import"]


def test_inst_and_obj_on_unlisted_classes() -> None:
    inst = checked(b"(S'id'\nios\nsystem\n.")
    assert rules("a.pkl", inst) == ["os.system"]
    obj = checked(b"(" + glob("subprocess", "Popen") + text("id") + b"o.")
    assert rules("a.pkl", obj) == ["subprocess.Popen"]


@pytest.mark.parametrize("proto", range(6))
def test_every_protocol(proto: int) -> None:
    assert rules("a.pkl", pickle.dumps(Malicious(), protocol=proto)) == ["posix.system"]
    assert rules("a.pkl", pickle.dumps(CLEAN_VALUE, protocol=proto)) == []


def test_truncated_pickle_is_refused_with_what_it_imported_before_the_break() -> None:
    assert rules("a.pkl", pickle.dumps({"a": 1, "b": [1, 2, 3]})[:-3]) == ["pickle-unreadable"]
    evil = pickle.dumps([Malicious(), "x" * 100])
    assert rules("a.pkl", evil[:-20]) == ["posix.system", "pickle-unreadable"]
    found = analyse("a.pkl", io.BytesIO(evil[:-20]))
    assert "cannot be read as a pickle" in found[1].message


def test_legacy_torch_format_checks_all_five_pickles_and_not_the_raw_bytes() -> None:
    assert rules("m.bin", legacy_torch(reduce_call("posix", "system", "id"))) == ["posix.system"]
    keys = reduce_call("posix", "system", "id")
    assert rules("m.bin", legacy_torch(state_dict(), keys=keys)) == ["posix.system"]
    cut = legacy_torch(state_dict())
    magic_and_protocol = cut[: cut.index(b"\x80\x02}")]
    assert rules("m.bin", magic_and_protocol) == ["pickle-unreadable"]


def test_npy_and_npz() -> None:
    element = reduce_call("posix", "system", "id")[2:-1]
    evil = npy("|O", object_array(element))
    assert rules("emb.npy", evil) == ["posix.system"]
    assert rules("emb.npy", npy("|O", object_array(text("just text")))) == []
    assert rules("emb.npy", npy("<f4", b"\x80\x02c" * 4, (3,))) == []
    assert rules("emb.npy", npy([("a", "<f4"), ("b", "|O")], object_array(element))) \
        == ["posix.system"]
    assert rules("arrays.npz", zipped({"a.npy": evil, "b.npy": npy("<f4", b"\0" * 4)})) \
        == ["posix.system"]
    assert rules("emb.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': oops}\n") \
        == ["pickle-unreadable"]


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_pickles_any_name(compress: Callable[[bytes], bytes]) -> None:
    evil = pickle.dumps(Malicious())
    assert rules("model.pkl.gz", compress(evil)) == ["posix.system"]
    assert rules("data.bin", compress(evil)) == ["posix.system"]
    assert rules("data.json.gz", compress(b'{"a": 1}\n' * 1000)) == []


def test_joblib_compressors() -> None:
    evil = pickle.dumps(Malicious())
    assert rules("model.joblib", zlib.compress(evil)) == ["posix.system"]
    alone = lzma.compress(evil, format=lzma.FORMAT_ALONE)
    assert rules("model.joblib", alone) == ["posix.system"]
    assert rules("model.joblib", b"\x04\x22\x4d\x18" + os.urandom(64)) == ["archive-unreadable"]


def test_content_decides_not_the_name() -> None:
    evil = pickle.dumps(Malicious())
    for name in ("model.safetensors", "README.md", "weights", "config.json"):
        assert rules(name, evil) == ["posix.system"], name
    assert rules("notes.txt", pickle.dumps(Malicious(), protocol=0)) == ["posix.system"]


def test_files_that_are_not_pickles_pass() -> None:
    rng = random.Random(18)
    for _ in range(300):
        noise = bytes(rng.getrandbits(8) for _ in range(600))
        assert rules("weights.bin", noise) == []
        assert rules("weights.bin", b"\x80\x02" + noise) == []
    for size in (0x0280, 0x0380, 0x630280, 0x580280):  # headers that begin \x80\x02...
        header = b'{"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}'.ljust(64)
        safetensors = size.to_bytes(8, "little") + header + os.urandom(256)
        assert rules("model.safetensors", safetensors) == []
    assert rules("logo.png", b"\x89PNG\r\n\x1a\n" + os.urandom(200)) == []
    assert rules("notes.txt", b"cat weights.bin\nls -l\n(and so on)\n") == []
    assert rules("train.py", b"import torch\nimport os\n\nprint('hi')\n") == []
    assert rules("model.pkl", b"hello, not a pickle\n") == []


def test_limits_refuse_with_the_reason() -> None:
    bomb = gzip.compress(b"\x80\x04\x8e" + (8 << 20).to_bytes(8, "little") + bytes(8 << 20)
                         + b"\x85.")
    found = analyse("model.pkl.gz", io.BytesIO(bomb), Limits(max_bytes=1 << 20))
    assert [p.rule for p in found] == ["pickle-too-large"]
    assert "too large to check" in found[0].message
    assert rules("a.pkl", pickle.dumps(list(range(5000))), Limits(max_ops=1000)) \
        == ["pickle-too-large"]
    many = zipped({f"archive/data/{n}": b"" for n in range(20)})
    assert rules("m.pt", many, Limits(max_members=10)) == ["archive-too-many-members"]
    nested = torch_zip(state_dict())
    for depth in range(4):
        nested = zipped({f"level{depth}.zip": nested})
    assert rules("deep.zip", nested) == ["archive-too-deep"]
    assert rules("deep.zip", nested, Limits(max_depth=8)) == []


def test_zip_bomb_member_is_bounded() -> None:
    bomb = zipped({"archive/data.pkl": b"\x80\x02" + b"N0" * (4 << 20) + b"N."})
    assert len(bomb) < 100_000
    assert rules("m.pt", bomb, Limits(max_bytes=1 << 20)) == ["pickle-too-large"]


def test_duplicate_zip_entries_are_all_checked() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive.writestr("archive/data.pkl", state_dict())
        archive.writestr("archive/data.pkl", pickle.dumps(Malicious()))
    assert rules("m.pt", out.getvalue()) == ["posix.system"]


def test_old_torch_tar_format_is_refused() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name in ("sys_info", "pickle", "storages", "tensors"):
            info = tarfile.TarInfo(name)
            info.size = 2
            archive.addfile(info, io.BytesIO(b"N."))
    assert rules("old.pt", out.getvalue()) == ["archive-unreadable"]
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as archive:
        info = tarfile.TarInfo("images/cat.png")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"\x89PNG"))
    assert rules("images.tar", plain.getvalue()) == []


def test_refusal_message_lives_in_one_function() -> None:
    assert message("global", "posix:system") == \
        "posix.system runs a shell command when the file is loaded"
    refusal = refusal_lines("acme/m", [Finding(
        scanner="pickles", path="model.pkl", line=None, rule="posix.system", severity="HIGH",
        confidence="HIGH", message=message("global", "posix:system"), commit="0" * 40)])
    assert "safetensors" in " ".join(refusal)


def test_state_piled_up_by_a_hostile_stream_is_capped() -> None:
    """Small opcodes that each add state (marks, memo indices, globals) hit a cap, not RAM."""
    assert rules("a.pkl", b"\x80\x02" + b"(" * 20_000 + b".") == ["pickle-too-large"]
    assert rules("a.pkl", checked(b"\x80\x02Nr\xff\xff\xff\xff.")) == ["pickle-too-large"]
    many = b"".join(b"cm%d\nx\n0" % i for i in range(10_001))
    found = rules("a.pkl", b"\x80\x02" + many + b"N.")
    assert len(found) == 10_001 and found[-1] == "pickle-too-large"
    # A memo flood is a bitmap, and still resolves names for STACK_GLOBAL.
    flood = b"\x80\x04\x8c\x05posix" + b"\x94" * 50_000 + b"h\x00\x8c\x06system\x93N\x85R."
    assert rules("a.pkl", flood) == ["posix.system"]


def test_npz_member_without_the_npy_suffix_is_read_by_its_magic() -> None:
    element = reduce_call("posix", "system", "id")[2:-1]
    assert rules("arrays.npz", zipped({"embeddings": npy("|O", object_array(element))})) \
        == ["posix.system"]
