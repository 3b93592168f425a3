"""Hand-built pickles and model files for the pickle scan's tests (torch and numpy are not
installed, and the scan must never unpickle, so opcode streams are written out directly).

Every builder's output is checked with ``pickletools.dis``, which validates the stack, so a
test that expects "passes" is not passing a broken stream by accident.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import struct
import zipfile


def glob(module: str, name: str) -> bytes:
    """GLOBAL module name."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(value: str) -> bytes:
    """BINUNICODE."""
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def checked(data: bytes) -> bytes:
    """The stream, after pickletools has validated it (raises on a malformed stream)."""
    pickletools.dis(data, out=io.StringIO())
    return data


def reduce_call(module: str, name: str, *args: str, proto: int = 2) -> bytes:
    """A pickle that calls module.name(*args) when loaded (args are strings)."""
    body = b"(" + b"".join(text(a) for a in args) + b"t"
    return checked(b"\x80" + bytes([proto]) + glob(module, name) + body + b"R.")


def _tensor(key: str) -> bytes:
    """torch._utils._rebuild_tensor_v2(<persistent storage>, 0, (2, 2), (2, 1), False, {})."""
    pid = (b"(" + text("storage") + glob("torch", "FloatStorage") + text(key) + text("cpu")
           + b"K\x04t")
    return (glob("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"Q" + b"K\x00"
            + b"K\x02K\x02\x86" + b"K\x02K\x01\x86" + b"\x89"
            + glob("collections", "OrderedDict") + b")R" + b"tR")


def state_dict(names: tuple[str, ...] = ("layer.weight", "layer.bias"),
               extra: bytes = b"") -> bytes:
    """The data.pkl torch.save writes for a state dict: an OrderedDict of tensors whose
    storages are persistent ids, with `_metadata` set through BUILD (protocol 2)."""
    items = b"".join(text(name) + _tensor(str(i)) for i, name in enumerate(names))
    metadata = b"}" + text("_metadata") + glob("collections", "OrderedDict") + b")R" + b"s"
    return checked(b"\x80\x02" + glob("collections", "OrderedDict") + b")R" + b"(" + items
                   + extra + b"u" + metadata + b"b.")


def torch_zip(payload: bytes, *, storages: int = 2, data_pkl: str = "archive/data.pkl"
              ) -> bytes:
    """The layout torch.save writes: archive/data.pkl, archive/data/<n> storages, version."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(data_pkl, payload)
        archive.writestr("archive/byteorder", "little")
        for n in range(storages):
            # float16 weights can begin with 0x80 0x02: raw storages must not be sniffed.
            archive.writestr(f"archive/data/{n}", b"\x80\x02c" + os.urandom(61) + b"\n\n")
        archive.writestr("archive/version", "3\n")
    return out.getvalue()


def legacy_torch(data: bytes, *, keys: bytes | None = None) -> bytes:
    """torch's pre-1.6 format: magic number, protocol, sys info, the data pickle, the storage
    keys, then raw storage bytes (which are never unpickled)."""
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True,
                             "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    keys = keys if keys is not None else pickle.dumps(["0", "1"], protocol=2)
    raw = struct.pack("<q", 4) + b"\x80\x02cposix\nsystem\n" + os.urandom(32)
    return (magic + pickle.dumps(1001, protocol=2) + sys_info + checked(data) + keys + raw)


def npy(descr: str, payload: bytes, shape: tuple[int, ...] = (1,)) -> bytes:
    """A .npy file (format 1.0) with the given dtype description and payload."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin-1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def object_array(element: bytes) -> bytes:
    """What numpy pickles for an object array holding one element (`element`: pickle ops
    that push one value), as np.save(allow_pickle=True) writes it (protocol 3)."""
    core = "numpy.core.multiarray"
    dtype = glob("numpy", "dtype") + text("O8") + b"\x89\x88\x87R" \
        + b"(K\x03" + text("|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb"
    array = (glob(core, "_reconstruct") + glob("numpy", "ndarray") + b"K\x00\x85C\x01b\x87R"
             + b"(K\x01K\x01\x85" + dtype + b"\x89]" + element + b"atb")
    return checked(b"\x80\x03" + array + b".")


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
