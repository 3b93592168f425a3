"""Read a pickle's opcodes without executing it: which globals it imports, and whether it is whole.

Nothing here unpickles. The walker reads one opcode at a time from a stream and keeps a
symbolic stack that mirrors ``pickle._Unpickler``'s (a stack per MARK, a memo), holding only
what an import can depend on: short constant strings (for STACK_GLOBAL, which takes its module
and name from the stack, possibly through the memo) and small constant ints (to recognise the
legacy torch magic number). Everything else is "some value". The stack effects come from
``pickletools``' own opcode table, so every opcode of protocols 0-5 is covered.

An import whose module or name is not a constant string (STACK_GLOBAL on computed operands) or
comes from the copyreg extension registry (EXT1/2/4) cannot be named, so it is reported as such
and refused by the caller. A stream that ends early or breaks the unpickler's rules is reported
as unreadable, with whatever imports were seen before the break: the unpickler executes
opcodes as it reads them, so those would have run.

Bounds: at most ``max_ops`` opcodes, and the reader (``Reader``) stops at a byte limit, so time
is bounded. Memory is bounded separately, because a hostile stream can be small per opcode and
still pile up state: strings longer than ``KEEP`` bytes are skipped, not kept, and at most
``MAX_KEPT_BYTES`` of strings are kept per file (later ones become "some value", so an import
built from them is refused, not guessed); ints are kept only when they are the torch magic
number; the memo is a bitmap of used indices plus the few tracked values; MARK nesting and the
number of different globals are capped.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickletools
import re
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

#: Longest string argument kept in memory (module and attribute names are far shorter).
KEEP = 1024
#: The first pickle of torch's legacy (pre-1.6) format holds this number.
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_OPS: dict[int, pickletools.OpcodeInfo] = {ord(op.code): op for op in pickletools.opcodes}
_CHUNK = 1 << 20
MAX_KEPT_BYTES = 32 << 20
MAX_MARK_DEPTH = 10_000
MAX_MEMO_INDEX = 1 << 26
MAX_DISTINCT = 10_000


def is_opcode(byte: int) -> bool:
    """Whether ``byte`` is a pickle opcode of any protocol (a pickle's possible first byte)."""
    return byte in _OPS


class Stream(Protocol):
    """What the scan needs of a byte stream: files, BytesIO, zip members, decompressors."""

    def read(self, size: int = -1, /) -> bytes: ...
    def readline(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def tell(self) -> int: ...
    def seekable(self) -> bool: ...
    def close(self) -> None: ...


class Unreadable(Exception):
    """The bytes break the pickle format (or the reader's limits) at this point."""


class TooLarge(Unreadable):
    """A limit (bytes read, opcodes) was reached before the end of the pickle."""


class Reader:
    """A byte stream with a read limit shared by everything read from one pushed file.

    `seekable` streams (files, in-memory bytes) skip long arguments with a seek, which costs
    nothing; others (decompressing streams) read and discard, which counts against the limit.
    """

    def __init__(self, stream: Stream, budget: Budget, *, seekable: bool = False) -> None:
        self.stream = stream
        self.budget = budget
        self.seekable = seekable

    def _charge(self, n: int) -> None:
        self.budget.bytes_read += n
        if self.budget.bytes_read > self.budget.max_bytes:
            raise TooLarge(f"more than {self.budget.max_bytes} bytes to read")

    def read(self, n: int) -> bytes:
        data = self.stream.read(n)
        self._charge(len(data))
        if len(data) != n:
            raise Unreadable("the data ends in the middle of an opcode")
        return data

    def skip(self, n: int) -> None:
        if self.seekable:
            here = self.stream.tell()
            end = self.stream.seek(0, io.SEEK_END)
            if end - here < n:
                raise Unreadable("the data ends in the middle of an opcode")
            self.stream.seek(here + n)
            return
        while n > 0:
            got = len(self.read(min(n, _CHUNK)))
            n -= got

    def opcode(self) -> int:
        data = self.stream.read(1)
        if not data:
            raise Unreadable("the data ends before the pickle's STOP opcode")
        self._charge(1)
        return data[0]

    def line(self) -> bytes | None:
        """One newline-terminated argument without its newline; None when over KEEP bytes."""
        kept = b""
        while True:
            chunk = self.stream.readline(_CHUNK)
            self._charge(len(chunk))
            if not chunk:
                raise Unreadable("the data ends in the middle of an opcode")
            if len(kept) <= KEEP + 1:
                kept += chunk[: KEEP + 2]
            if chunk.endswith(b"\n"):
                return kept[:-1] if len(kept) <= KEEP + 1 else None


@dataclass
class Budget:
    """Limits shared by every stream read for one pushed file (members, nested archives)."""

    max_bytes: int
    max_ops: int
    max_members: int
    max_depth: int
    bytes_read: int = 0
    ops: int = 0
    members: int = 0
    kept: int = 0  # bytes of strings kept in memory (each counted with its object overhead)


@dataclass
class Walk:
    """What one pickle (or a chain of pickles) imports and whether it could be read whole."""

    imports: dict[tuple[str, str], None] = field(default_factory=dict)  # in order, once each
    unnamed: dict[str, None] = field(default_factory=dict)  # imports that cannot be named: why
    error: str | None = None  # why the stream cannot be read as a pickle
    too_large: bool = False
    ops: int = 0
    complete: bool = False  # reached STOP
    evidence: bool = False  # an identifier-like import or a persistent id was read
    result: object = None  # the value at STOP, when it is a constant int or str


class _Some:
    """A value the walker does not track."""

    __slots__ = ()


SOME = _Some()
Value = str | int | _Some
_K = TypeVar("_K")


def _int(data: bytes, signed: bool = True) -> int:
    return int.from_bytes(data, "little", signed=signed)


def _tracked_int(value: int) -> Value:
    """Ints matter only as the legacy magic number; keeping others would cost memory."""
    return value if value == TORCH_LEGACY_MAGIC else SOME


class _Memo:
    """The unpickler's memo: which indices are set (a bitmap) and the few values tracked."""

    def __init__(self) -> None:
        self.used = bytearray()
        self.values: dict[int, Value] = {}
        self.size = 0

    def put(self, index: int, value: Value) -> None:
        if index < 0:
            raise Unreadable("negative memo index")
        if index >= MAX_MEMO_INDEX:
            raise TooLarge(f"a memo index over {MAX_MEMO_INDEX}")
        byte, bit = divmod(index, 8)
        if byte >= len(self.used):
            self.used.extend(bytes(max(byte + 1, 2 * len(self.used)) - len(self.used)))
        if not self.used[byte] >> bit & 1:
            self.used[byte] |= 1 << bit
            self.size += 1
        if isinstance(value, _Some):
            self.values.pop(index, None)
        else:
            self.values[index] = value

    def get(self, index: int) -> Value:
        byte, bit = divmod(index, 8)
        if index < 0 or byte >= len(self.used) or not self.used[byte] >> bit & 1:
            raise Unreadable("memo value not found")
        return self.values.get(index, SOME)


class _Walker:
    def __init__(self, reader: Reader, out: Walk) -> None:
        self.reader = reader
        self.out = out
        self.stack: list[Value] = []
        self.metastack: list[list[Value]] = []
        self.memo = _Memo()
        self.proto = 0

    # ----------------------------------------------------------------- stack
    def pop(self) -> Value:
        if not self.stack:
            raise Unreadable("stack underflow")
        return self.stack.pop()

    def pop_mark(self) -> None:
        if not self.metastack:
            raise Unreadable("a MARK is missing")
        self.stack = self.metastack.pop()

    def top(self) -> Value:
        if not self.stack:
            raise Unreadable("stack underflow")
        return self.stack[-1]

    # ----------------------------------------------------------------- imports
    def imported(self, module: str, name: str) -> None:
        if self.proto < 3:  # Unpickler.find_class with fix_imports (the default)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        self._note(self.out.imports, (module, name))
        if _IDENTIFIER.match(module) and _IDENTIFIER.match(name):
            self.out.evidence = True

    @staticmethod
    def _note(seen: dict[_K, None], key: _K) -> None:
        if key not in seen:
            if len(seen) >= MAX_DISTINCT:
                raise TooLarge(f"more than {MAX_DISTINCT} different imports")
            seen[key] = None

    def global_arg(self) -> tuple[str, str] | None:
        module, name = self.reader.line(), self.reader.line()
        if module is None or name is None:
            return None
        try:
            return module.decode("utf-8"), name.decode("utf-8")
        except UnicodeDecodeError as error:
            raise Unreadable("a global's name is not UTF-8") from error

    # ----------------------------------------------------------------- arguments
    def counted(self, size: int) -> int:
        return _int(self.reader.read(size), signed=False)

    def text(self, size: int, *, utf8: bool) -> Value:
        """A length-prefixed string argument: kept when short, skipped when long."""
        if size > KEEP:
            self.reader.skip(size)
            return SOME
        data = self.reader.read(size)
        budget = self.reader.budget
        if budget.kept > MAX_KEPT_BYTES:
            return SOME
        budget.kept += size + 64
        if utf8:
            try:
                return data.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as error:
                raise Unreadable("a string is not UTF-8") from error
        # Protocol 0-1 byte strings become str with the loader's encoding (ASCII by default).
        return data.decode("ascii") if data.isascii() else SOME

    def step(self, code: int) -> bool:
        """Run one opcode symbolically; True at STOP."""
        op = _OPS.get(code)
        if op is None:
            raise Unreadable(f"byte 0x{code:02x} is not a pickle opcode")
        name = op.name
        r = self.reader
        value: Value = SOME
        if name == "STOP":
            self.out.result = self.pop()
            return True
        if name == "PROTO":
            self.proto = r.read(1)[0]
            if self.proto > 5:
                raise Unreadable(f"unsupported pickle protocol {self.proto}")
            return False
        if name == "FRAME":
            r.read(8)
            return False
        if name in ("GLOBAL", "INST"):
            pair = self.global_arg()
            if pair is None:
                self._note(self.out.unnamed, f"{name} names a global longer than {KEEP} bytes")
            else:
                self.imported(*pair)
            if name == "INST":
                self.pop_mark()
            self.stack.append(SOME)
            return False
        if name == "STACK_GLOBAL":
            attr_v, module_v = self.pop(), self.pop()
            if isinstance(module_v, str) and isinstance(attr_v, str):
                self.imported(module_v, attr_v)
            else:
                self._note(self.out.unnamed,
                    "STACK_GLOBAL imports a name built at load time, which cannot be read"
                    " without running the pickle")
            self.stack.append(SOME)
            return False
        if name in ("EXT1", "EXT2", "EXT4"):
            size = {"EXT1": 1, "EXT2": 2, "EXT4": 4}[name]
            ext = self.counted(size)
            self._note(self.out.unnamed,
                f"{name} imports extension code {ext} from the loading machine's copyreg"
                " registry, which this scan cannot see")
            self.stack.append(SOME)
            return False
        if name in ("PERSID", "BINPERSID"):
            if name == "PERSID":
                r.line()
            else:
                self.pop()
            self.out.evidence = True
            self.stack.append(SOME)
            return False
        if name == "MARK":
            if len(self.metastack) >= MAX_MARK_DEPTH:
                raise TooLarge(f"MARKs nested more than {MAX_MARK_DEPTH} deep")
            self.metastack.append(self.stack)
            self.stack = []
            return False
        if name == "POP":
            if self.stack:
                self.stack.pop()
            else:
                self.pop_mark()
            return False
        if name == "POP_MARK":
            self.pop_mark()
            return False
        if name == "DUP":
            self.stack.append(self.top())
            return False
        if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            if name == "PUT":
                index = self.decimal(r.line(), base0=False)
            elif name == "MEMOIZE":
                index = self.memo.size
            else:
                index = self.counted(1 if name == "BINPUT" else 4)
            self.memo.put(index, self.top())
            return False
        if name in ("GET", "BINGET", "LONG_BINGET"):
            if name == "GET":
                index = self.decimal(r.line(), base0=False)
            else:
                index = self.counted(1 if name == "BINGET" else 4)
            self.stack.append(self.memo.get(index))
            return False
        # Opcodes that push a constant.
        if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"):
            value = self.text(self.counted({"SHORT_BINUNICODE": 1, "BINUNICODE": 4}.get(name, 8)),
                              utf8=True)
        elif name in ("SHORT_BINSTRING", "BINSTRING"):
            size = self.counted(1) if name == "SHORT_BINSTRING" else _int(r.read(4))
            if size < 0:
                raise Unreadable("negative string length")
            value = self.text(size, utf8=False)
        elif name in ("SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BYTEARRAY8"):
            size = self.counted({"SHORT_BINBYTES": 1, "BINBYTES": 4}.get(name, 8))
            r.skip(size)
        elif name == "STRING":
            raw = r.line()
            if raw is None:
                pass  # long: kept as some value
            elif len(raw) < 2 or raw[0] != raw[-1] or raw[:1] not in (b"'", b'"'):
                raise Unreadable("a STRING argument is not quoted")
            elif b"\\" not in raw and raw.isascii():
                value = raw[1:-1].decode("ascii")
        elif name == "UNICODE":
            raw = r.line()
            if raw is not None and raw.isascii() and b"\\" not in raw:
                value = raw.decode("ascii")
        elif name in ("INT", "LONG"):
            raw = r.line()
            if raw is not None and name == "LONG" and raw.endswith(b"L"):
                raw = raw[:-1]
            if raw is not None and (name == "LONG" or raw not in (b"00", b"01")):
                value = _tracked_int(self.decimal(raw, base0=True))
        elif name in ("BININT", "BININT1", "BININT2"):
            size = {"BININT": 4, "BININT1": 1, "BININT2": 2}[name]
            value = _tracked_int(_int(r.read(size), signed=name == "BININT"))
        elif name in ("LONG1", "LONG4"):
            size = self.counted(1) if name == "LONG1" else _int(r.read(4))
            if size < 0:
                raise Unreadable("negative length")
            if size > 64:
                r.skip(size)
            else:
                value = _tracked_int(_int(r.read(size)))
        elif op.arg is not None:
            if op.arg.n >= 0:
                r.read(op.arg.n)
            else:  # FLOAT
                r.line()
        # The generic stack effect, from pickletools' table.
        before = op.stack_before
        if pickletools.markobject in before:
            self.pop_mark()
            for _ in range(before.index(pickletools.markobject)):
                self.pop()
        else:
            for _ in before:
                self.pop()
        for _ in op.stack_after:
            self.stack.append(value)
        return False

    @staticmethod
    def decimal(raw: bytes | None, *, base0: bool) -> int:
        """A protocol 0 number as the unpickler parses it (INT and LONG accept 0x, 0o, 0b)."""
        if raw is None:
            raise Unreadable(f"a number argument is longer than {KEEP} bytes")
        try:
            return int(raw, 0) if base0 else int(raw)
        except ValueError as error:
            raise Unreadable("a number argument is not a number") from error

    def run(self, budget: Budget) -> None:
        opcode = self.reader.opcode
        while True:
            code = opcode()
            self.out.ops += 1
            budget.ops += 1
            if budget.ops > budget.max_ops:
                raise TooLarge(f"more than {budget.max_ops} opcodes")
            if self.step(code):
                self.out.complete = True
                return


def walk(reader: Reader, out: Walk | None = None) -> Walk:
    """Walk one pickle from the reader's position to its STOP, adding to `out`."""
    out = out if out is not None else Walk()
    out.complete = False
    walker = _Walker(reader, out)
    try:
        walker.run(reader.budget)
    except TooLarge as error:
        out.error = f"it is too large to check ({error})"
        out.too_large = True
    except Unreadable as error:
        out.error = str(error)
    if not isinstance(out.result, (int, str)):
        out.result = None
    return out
