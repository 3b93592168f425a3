"""Model cards: extract a README's YAML front matter, validate it, and summarise it.

The same code answers ``modelgit card check``, the pre-receive hook and the post-receive
indexer, so a card that passes locally passes on push. Three things shape it:

* **The input is hostile.** Anyone with write access can push any bytes as README.md, and the
  check runs inside ``git push``. Every entry point returns errors instead of raising, the
  front matter is capped at 64 KiB, YAML alias expansion is bounded (a "billion laughs" card
  is refused in about a millisecond, before anything expands it), nesting is bounded, and
  only the YAML types that JSON has are accepted.
* **Errors must be actionable.** Each error names the README line, the field path
  (``model-index[0].results[0].metrics[1].value``), what is wrong, the allowed values and a
  "did you mean". Lines come from the composed YAML node tree (each node keeps its
  ``start_mark``), walked along the jsonschema error's path.
* **The push path is hot.** The validator is built once per schema file and kept; building it
  imports jsonschema, so that import happens on first use, not when this module is imported.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_ERRORS",
    "MAX_FRONT_MATTER_BYTES",
    "MAX_NODES",
    "CardError",
    "CardResult",
    "CardSchemaError",
    "card_index",
    "check_card",
    "gated_fields",
    "parse_front_matter",
    "rejection_lines",
]

#: Largest front matter accepted, in bytes (the YAML between the two ``---`` lines).
MAX_FRONT_MATTER_BYTES = 64 * 1024
#: Most YAML nodes the document may have once aliases are expanded. A 64 KiB document
#: written out in full has at most ~33,000 nodes, so honest cards never come near this.
MAX_NODES = 100_000
#: Most alias references (``*name``) a card may use.
MAX_ALIASES = 256
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 64
#: Most errors reported for one card; the rest are counted in a last line.
MAX_ERRORS = 100

DEFAULT_SCHEMA_NAME = "model-card.schema.json"
GATED_FIELD_TYPES = ("text", "checkbox", "date_picker", "country", "select")

_TAG = "tag:yaml.org,2002:"
# The YAML types that map onto JSON. ``timestamp`` is loaded as text (see _CardLoader);
# ``merge`` and ``value`` are the ``<<`` and ``=`` keys that PyYAML resolves itself.
_SCALAR_TAGS = frozenset(
    _TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp", "merge", "value")
)
_SEQUENCE_TAGS = frozenset({_TAG + "seq"})
_MAPPING_TAGS = frozenset({_TAG + "map"})
_MERGE_TAG = _TAG + "merge"

# First non-blank line is the opening marker (spaces around it allowed).
_OPENING = re.compile(r"\A(?:[ \t\r]*\n)*[ \t]*---[ \t]*\r?(?:\n|\Z)")


class CardSchemaError(ValueError):
    """The site's schema file cannot be used (unreadable, not JSON, not a valid JSON Schema).

    This is a configuration problem of the site, not of the person pushing, so it is raised
    rather than reported as a card error: blaming the card would send the author hunting for
    a mistake that is not theirs.
    """


@dataclass(frozen=True)
class CardError:
    """One problem with a card, worded so that the author can fix it without help.

    ``line`` is the 1-based README line (None when the problem has no place, e.g. a missing
    README), ``field`` the path of the offending value (``""`` for whole-document problems).
    """

    line: int | None
    field: str
    message: str

    def format(self, path: str = "README.md") -> str:
        """``README.md:12: Job type.Algorithm: ...``: the shape compilers use, so editors and
        terminals can jump to the line."""
        where = f"{path}:{self.line}" if self.line is not None else path
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class CardResult:
    """The parsed front matter (None when there is none or it cannot be read) and every
    problem found, so that a push is refused once with the whole list."""

    data: dict[str, Any] | None
    errors: list[CardError]

    @property
    def ok(self) -> bool:
        """True when the card may be pushed."""
        return not self.errors


# --------------------------------------------------------------------------------------
# YAML loading


class _TooDeep(Exception):
    """Raised by _BoundedComposer at the list or mapping that opens nesting level
    MAX_DEPTH + 1; ``line`` is its 0-based line in the YAML text."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _BoundedComposer(Composer):
    """Composer that refuses the list or mapping opening level MAX_DEPTH + 1 before it
    composes it, so deep nesting costs at most MAX_DEPTH frames of Python recursion and is
    refused in modelgit's words at the line where it starts (see also _nesting_refusal).
    It comes after the parser among a loader's bases: the parser supplies the
    event methods (libyaml's or Python's), this class replaces Composer.compose_node."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        events: Any = self  # the parser beside this class in the loader
        if not events.check_event(SequenceStartEvent, MappingStartEvent):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            mark = events.peek_event().start_mark
            raise _TooDeep(mark.line if mark is not None else 0)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _FastSafeLoader(CParser, Composer, SafeConstructor, Resolver):
        """libyaml parses (the pure-Python parser is ~10x slower), Python composes.

        ``yaml.CSafeLoader`` composes in C, recursively and without a limit, so a deeply
        nested card (``[[[[...``) crashes the whole process; Python's composer, bounded by
        _BoundedComposer, refuses it.
        """

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        check_node = Composer.check_node
        get_node = Composer.get_node
        get_single_node = Composer.get_single_node

    _BaseLoader: type[Any] = _FastSafeLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _CardLoader(_BaseLoader, _BoundedComposer):  # type: ignore[misc]  # libyaml-or-pure base
    """``yaml.safe_load`` semantics, except:

    * timestamps stay text, so ``format: date`` can validate them and the data stays JSON;
    * mapping keys are always strings: a key YAML reads as a number or a boolean
      (``1:``, ``yes:``) keeps the text the author wrote, as JSON would need it to be, and
      matches what the line finder looks for; a list or mapping used as a key is an error.
    """

    had_anchors = False
    anchors: dict[str, Node]  # Composer's, declared here because the base class is Any to mypy

    def __init__(self, stream: str) -> None:
        _BaseLoader.__init__(self, stream)  # it sets up every part, Composer included

    def compose_document(self) -> Node | None:
        """Composer.compose_document, remembering whether the document defined anchors:
        without them no node is shared and the alias-expansion bound can be skipped."""
        self.get_event()  # DOCUMENT-START
        node: Node | None = self.compose_node(None, None)
        self.get_event()  # DOCUMENT-END
        self.had_anchors = bool(self.anchors)
        self.anchors = {}
        return node

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            # The composer makes only scalar, sequence and mapping nodes; the stubs give ``id``
            # to those subclasses, not to Node.
            kind = node.id if isinstance(node, (ScalarNode, SequenceNode)) else "node"
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {kind}", node.start_mark
            )
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                if not isinstance(key_node, ScalarNode):
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        "a key must be text, not a list or a mapping",
                        key_node.start_mark,
                    )
                key = key_node.value
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def _construct_timestamp_as_text(loader: Any, node: Node) -> str:
    return str(loader.construct_scalar(node))


_CardLoader.add_constructor(_TAG + "timestamp", _construct_timestamp_as_text)


def _too_deep_error(line: int) -> CardError:
    return CardError(line, "", f"the front matter is nested more than {MAX_DEPTH} levels deep")


def _nesting_refusal(yaml_text: str, exc: yaml.YAMLError, first_line: int) -> CardError | None:
    """Our nesting refusal when the card nests more than MAX_DEPTH levels before the place
    where the parser stopped, else None (the parser's own error stands).

    libyaml has a nesting limit of its own, and its scanner looks up to 1,024 characters
    ahead, so ``[[[[...`` reaches that limit before the composer reaches MAX_DEPTH and the
    author would read libyaml's words, which change between versions. Composing again only
    the text before that place, which libyaml's limit never reached, lets the bound speak
    first. Only refused cards pay for it: one more pass of libyaml over the front matter at
    most, stopped early by the bound.
    """
    mark = exc.problem_mark if isinstance(exc, yaml.MarkedYAMLError) else None
    if mark is None or mark.index <= 0:
        return None
    probe = _CardLoader(yaml_text[: mark.index])
    try:
        probe.get_single_node()
    except _TooDeep as deep:
        return _too_deep_error(first_line + deep.line)
    except (yaml.YAMLError, RecursionError):
        return None  # the text ends mid-document there, so some error is expected
    finally:
        probe.dispose()
    return None


def _key_text(node: Node) -> str:
    """The dict key a mapping key node becomes (see _CardLoader.construct_mapping)."""
    return str(node.value) if isinstance(node, ScalarNode) else ""


@dataclass
class _Parsed:
    """What parsing hands to validation: the result so far, plus the node tree and where it
    sits in the README, which the line finder needs."""

    data: dict[str, Any] | None
    errors: list[CardError]
    fatal: bool = False
    root: Node | None = None
    first_line: int = 1  # README line (1-based) of the first YAML line
    open_line: int = 1  # README line of the opening ``---``


def _decode(content: bytes) -> tuple[str | None, CardError | None]:
    """README bytes to text; binary or non-UTF-8 READMEs are refused with the line."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, CardError(None, "", "the file is UTF-16 encoded; save it as UTF-8")
    nul = content.find(b"\x00")
    if nul >= 0:
        line = content.count(b"\n", 0, nul) + 1
        return None, CardError(
            line, "", "the file is binary (it contains NUL bytes); a model card is UTF-8 text"
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        return None, CardError(
            line,
            "",
            f"the file is not valid UTF-8 (byte 0x{content[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} bytes"


def _yaml_error(exc: yaml.YAMLError, first_line: int, yaml_text: str) -> CardError:
    """A PyYAML error as a CardError on the README line where the parser stopped."""
    if isinstance(exc, yaml.constructor.ConstructorError) and exc.problem_mark is not None:
        return CardError(first_line + exc.problem_mark.line, "", _sentences(exc.problem or ""))
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        message = f"YAML syntax error: {problem}"
        if mark is not None:
            message += f" (column {mark.column + 1})"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f", {exc.context} on line {first_line + exc.context_mark.line}"
        if mark is not None:
            lines = yaml_text.split("\n", mark.line + 1)
            text = lines[mark.line] if mark.line < len(lines) else ""
            if "\t" in text[: len(text) - len(text.lstrip())]:
                message += "; YAML does not allow tabs for indentation, use spaces"
        line = first_line + mark.line if mark is not None else None
        return CardError(line, "", message)
    return CardError(None, "", f"YAML syntax error: {exc}")


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_graph(
    root: Node, first_line: int, shared: bool
) -> tuple[CardError | None, list[CardError]]:
    """Bound the composed document before anything expands it, and find duplicate keys.

    Returns a fatal error (or None) and the non-fatal duplicate-key errors. ``shared`` says
    the document defines anchors, the only way YAML shares a node; only then is the costly
    expansion bound computed (see _check_aliases). The plain walk refuses deep nesting and
    YAML types that have no JSON equivalent (``!!binary``, ``!!set``, custom tags).
    """
    if shared:
        fatal = _check_aliases(root, first_line)
        if fatal is not None:
            return fatal, []
    duplicates: list[CardError] = []
    visited: set[int] = set()
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if node.__class__ is ScalarNode:
            if node.tag not in _SCALAR_TAGS:
                return _tag_error(node, first_line), duplicates
            continue
        if shared:
            if id(node) in visited:
                continue
            visited.add(id(node))
        if depth > MAX_DEPTH:
            return _too_deep_error(first_line + node.start_mark.line), duplicates
        if node.__class__ is MappingNode:
            if node.tag not in _MAPPING_TAGS:
                return _tag_error(node, first_line), duplicates
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                stack.append((key_node, depth + 1))
                stack.append((value_node, depth + 1))
                if key_node.tag == _MERGE_TAG:
                    continue
                key = _key_text(key_node)
                key_line = first_line + key_node.start_mark.line
                if key in seen and len(duplicates) < MAX_ERRORS:
                    duplicates.append(
                        CardError(
                            key_line,
                            key,
                            f"duplicate key (also on line {seen[key]}); "
                            "only the last one would count, so keep one",
                        )
                    )
                seen.setdefault(key, key_line)
        else:
            if node.tag not in _SEQUENCE_TAGS:
                return _tag_error(node, first_line), duplicates
            stack.extend((child, depth + 1) for child in node.value)
    return None, duplicates


def _tag_error(node: Node, first_line: int) -> CardError:
    tag = str(node.tag).replace(_TAG, "!!")
    return CardError(
        first_line + node.start_mark.line,
        "",
        f"YAML type {tag} is not allowed in a model card; use plain text, numbers, "
        "true/false, lists and mappings",
    )


def _check_aliases(root: Node, first_line: int) -> CardError | None:
    """Refuse alias bombs and alias loops before anything expands them.

    PyYAML shares one node for every use of an alias, so composing a "billion laughs" card is
    cheap; what explodes is whatever walks the constructed data afterwards (the validator, the
    JSON encoder). Counting each node's expanded size bottom-up, with a shared node counted
    once per reference, costs one visit per distinct node and catches the bomb before any
    expansion. A node met again while still on the path is a loop (``&a [*a]``).
    """
    expanded: dict[int, int] = {}
    on_path: set[int] = set()
    aliases = 0
    # (node, depth, leaving)
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, leaving = stack.pop()
        nid = id(node)
        line = first_line + node.start_mark.line
        if leaving:
            on_path.discard(nid)
            total = 1 + sum(expanded[id(c)] for c in _children(node))
            if total > MAX_NODES:
                return CardError(
                    line,
                    "",
                    f"the front matter expands to more than {MAX_NODES:,} values "
                    "(through YAML aliases); write it out without aliases",
                )
            expanded[nid] = total
            continue
        if nid in expanded:
            aliases += 1
            if aliases > MAX_ALIASES:
                return CardError(
                    line,
                    "",
                    f"the front matter uses more than {MAX_ALIASES} YAML aliases (*name); "
                    "write the values out instead",
                )
            continue
        if nid in on_path:
            return CardError(line, "", "a YAML alias refers to the value that contains it (a loop)")
        if depth > MAX_DEPTH:
            return _too_deep_error(line)
        on_path.add(nid)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(_children(node)))
    return None


def _find_closing(text: str, start: int) -> int | None:
    """Where the closing marker line begins: the next line, from ``start`` (a line start),
    that is exactly ``---`` apart from trailing blanks and CR. ``str.find`` keeps this at
    memchr speed on a 5 MB README; a multiline regex walks it character by character."""
    if text.startswith("---", start) and _is_marker_tail(text, start + 3):
        return start
    i = text.find("\n---", start)
    while i != -1:
        if _is_marker_tail(text, i + 4):
            return i + 1
        i = text.find("\n---", i + 4)
    return None


def _is_marker_tail(text: str, at: int) -> bool:
    """True when the rest of the line from ``at`` is only blanks and CR."""
    end = text.find("\n", at)
    rest = text[at:] if end == -1 else text[at:end]
    return not rest.strip(" \t\r")


def _parse(content: bytes | None) -> _Parsed:
    """Find, bound and load the front matter. Never raises for any input."""
    if content is None:
        return _Parsed(None, [])
    text, error = _decode(content)
    if error is not None or text is None:
        return _Parsed(None, [error] if error else [], fatal=True)
    opening = _OPENING.match(text)
    if opening is None:
        return _Parsed(None, [])
    open_line = text.count("\n", 0, text.index("---")) + 1
    first_line = open_line + 1
    closing = _find_closing(text, opening.end())
    if closing is None:
        return _Parsed(
            None,
            [
                CardError(
                    open_line,
                    "",
                    f"the front matter opened by '---' on line {open_line} is never closed; "
                    "add a line '---' after the last line of YAML",
                )
            ],
            fatal=True,
            open_line=open_line,
        )
    yaml_text = text[opening.end() : closing]
    size = len(yaml_text.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        return _Parsed(
            None,
            [
                CardError(
                    open_line,
                    "",
                    f"the front matter is {_size_text(size)}; the limit is "
                    f"{MAX_FRONT_MATTER_BYTES // 1024} KiB. Move long text below the "
                    "closing '---'",
                )
            ],
            fatal=True,
            open_line=open_line,
        )
    try:
        loader = _CardLoader(yaml_text)
        try:
            root = loader.get_single_node()
            if root is None:
                return _Parsed({}, [], root=None, first_line=first_line, open_line=open_line)
            fatal_error, duplicates = _check_graph(root, first_line, loader.had_anchors)
            if fatal_error is not None:
                return _Parsed(None, [fatal_error], fatal=True, open_line=open_line)
            if not isinstance(root, MappingNode):
                kind = "a list" if isinstance(root, SequenceNode) else "a single value"
                return _Parsed(
                    None,
                    [
                        CardError(
                            first_line + root.start_mark.line,
                            "",
                            f"the front matter is {kind}; it must be a mapping of "
                            "'key: value' lines",
                        )
                    ],
                    fatal=True,
                    open_line=open_line,
                )
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except _TooDeep as deep:
        return _Parsed(
            None, [_too_deep_error(first_line + deep.line)], fatal=True, open_line=open_line
        )
    except yaml.YAMLError as exc:
        error = _nesting_refusal(yaml_text, exc, first_line)
        return _Parsed(
            None,
            [error or _yaml_error(exc, first_line, yaml_text)],
            fatal=True,
            open_line=open_line,
        )
    except RecursionError:
        return _Parsed(
            None,
            [CardError(open_line, "", "the front matter is nested too deeply to read")],
            fatal=True,
            open_line=open_line,
        )
    except (ValueError, OverflowError) as exc:
        # e.g. an integer with more digits than Python will convert.
        return _Parsed(
            None,
            [
                CardError(
                    open_line,
                    "",
                    f"the front matter has a value that cannot be read: {_clip(str(exc), 90)}",
                )
            ],
            fatal=True,
            open_line=open_line,
        )
    return _Parsed(data, duplicates, root=root, first_line=first_line, open_line=open_line)


def parse_front_matter(content: bytes) -> CardResult:
    """Extract and load the front matter without checking it against a schema.

    ``data`` is None when the README has no front matter (which is not an error here) or
    when it cannot be read (then ``errors`` says why).
    """
    try:
        parsed = _parse(content)
    except Exception as exc:  # hostile input must never crash a push
        return CardResult(None, [_unexpected(exc)])
    return CardResult(parsed.data, parsed.errors)


def _unexpected(exc: BaseException) -> CardError:
    return CardError(
        None, "", f"the model card could not be read ({type(exc).__name__}: {_clip(str(exc))})"
    )


# --------------------------------------------------------------------------------------
# Schema and validator


_VALIDATORS: dict[tuple[str, int, int], Validator] = {}
_VALIDATORS_LOCK = threading.Lock()


def _default_schema_text() -> str:
    # Imported here: importlib.resources pulls in tempfile, shutil, zipfile... (~10 ms).
    from importlib import resources

    return (
        resources.files(__package__ or "modelgit.schema")
        .joinpath(DEFAULT_SCHEMA_NAME)
        .read_text(encoding="utf-8")
    )


@cache
def _default_schema() -> dict[str, Any]:
    """The shipped schema as plain JSON (no jsonschema import): card_index reads the Job
    type table from it so that the table lives in one place."""
    loaded: dict[str, Any] = json.loads(_default_schema_text())
    return loaded


def _validator(schema_path: str | None) -> Validator:
    """The compiled validator for a schema file, built once per file version.

    jsonschema is imported here, on first use, because importing it costs ~100 ms and most
    modelgit commands never check a card. A site schema is keyed by its modification time and
    size, so editing it takes effect without a restart.
    """
    if schema_path:
        path = Path(schema_path).expanduser()
        try:
            stat = path.stat()
        except OSError as exc:
            raise CardSchemaError(f"model-card schema {path}: {exc.strerror}") from exc
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    else:
        key = ("", 0, 0)
    validator = _VALIDATORS.get(key)
    if validator is not None:
        return validator
    with _VALIDATORS_LOCK:
        validator = _VALIDATORS.get(key)
        if validator is None:
            validator = _build_validator(schema_path)
            _VALIDATORS[key] = validator
    return validator


def _build_validator(schema_path: str | None) -> Validator:
    import jsonschema.validators
    from jsonschema.exceptions import SchemaError

    where = schema_path or DEFAULT_SCHEMA_NAME
    try:
        text = (
            Path(schema_path).expanduser().read_text(encoding="utf-8")
            if schema_path
            else _default_schema_text()
        )
        schema = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CardSchemaError(f"model-card schema {where}: cannot be read: {exc}") from exc
    if not isinstance(schema, dict | bool):
        raise CardSchemaError(f"model-card schema {where}: not a JSON Schema object")
    cls = jsonschema.validators.validator_for(
        schema, default=jsonschema.validators.Draft202012Validator
    )
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise CardSchemaError(
            f"model-card schema {where}: not a valid JSON Schema: {exc.message}"
        ) from exc
    validator: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


# --------------------------------------------------------------------------------------
# Errors people can act on


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: Any) -> str:
    """A value as it appears in a message: short, one line, quoted when text."""
    if isinstance(value, str):
        return "'" + _clip(value).replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return _clip(repr(value))


def _describe(value: Any) -> str:
    """What a value is, for 'expected X, got Y'."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return f"the boolean {_show(value)}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {_show(value)}"
    if isinstance(value, str):
        return f"the text {_show(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_NAMES = {
    "string": ("text", "texts"),
    "integer": ("an integer", "integers"),
    "number": ("a number", "numbers"),
    "boolean": ("true or false", "booleans"),
    "array": ("a list", "lists"),
    "object": ("a mapping", "mappings"),
    "null": ("nothing (null)", "nulls"),
}


def _type_phrase(schema: Any) -> str | None:
    """'a list of texts' for {"type": "array", "items": {"type": "string"}}; None when the
    subschema is not a plain type."""
    if not isinstance(schema, dict) or "type" not in schema:
        return None
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    phrases = []
    for t in types:
        name = _TYPE_NAMES.get(t, (str(t), str(t)))[0]
        items = schema.get("items")
        if t == "array" and isinstance(items, dict) and isinstance(items.get("type"), str):
            name = "a list of " + _TYPE_NAMES.get(items["type"], (items["type"],) * 2)[1]
        phrases.append(name)
    return " or ".join(phrases)


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _did_you_mean(value: Any, allowed: Iterable[Any]) -> str:
    """' Did you mean 'PyTorch'?' for a near miss, else ''."""
    if not isinstance(value, str) or not value:
        return ""
    choices = [a for a in allowed if isinstance(a, str)]
    wanted = _norm(value)
    exact = [a for a in choices if _norm(a) == wanted and a != value]
    prefix = [a for a in choices if len(_norm(a)) >= 3 and wanted and wanted.startswith(_norm(a))]
    if exact or prefix:
        matches = (exact or prefix)[:1]
    else:
        folded = {a.casefold(): a for a in choices}
        close = difflib.get_close_matches(value.casefold(), list(folded), n=2, cutoff=0.7)
        matches = [folded[c] for c in close]
    if not matches:
        return ""
    return " Did you mean " + " or ".join(_show(m) for m in matches) + "?"


_SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def _number_hint(value: Any, expected: Sequence[str]) -> str:
    """For numbers written as text: '"7B"' -> did you mean 7000000000?"""
    if not isinstance(value, str) or not ({"integer", "number"} & set(expected)):
        return ""
    text = value.strip().replace(",", "").replace("_", "")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmMbBgGtT]?)", text)
    if not match:
        return ""
    number, suffix = match.groups()
    if not suffix:
        return f" Write it without quotes: {number}"
    scaled = float(number) * _SUFFIXES[suffix.lower()]
    if "integer" in expected:
        return f" Did you mean {round(scaled)}?"
    return f" Did you mean {scaled:g}?"


def _text_hint(value: Any, node: Node | None, expected: Sequence[str]) -> str:
    """YAML reads `no`, `1.0`, `2024-01-01` as other types; say to quote them."""
    if "string" not in expected or isinstance(value, str | list | dict):
        return ""
    if value is None:
        return ""
    raw = node.value if isinstance(node, ScalarNode) else _show(value)
    if isinstance(value, bool):
        return f" YAML reads {raw} as a boolean; write it in quotes: '{raw}'"
    return f" Write it in quotes if it is text: '{raw}'"


def _locate(root: Node | None, path: Sequence[Any], parsed: _Parsed) -> tuple[int, Node | None]:
    """The README line that introduces ``path`` (its key's line, or its list item's line) and
    the value node there. Walks the composed nodes, which keep ``start_mark`` (0-based within
    the YAML); merges have already been inlined by the constructor."""
    line = parsed.open_line
    node = root
    for part in path:
        if isinstance(node, MappingNode) and isinstance(part, str):
            for key_node, value_node in reversed(node.value):
                if _key_text(key_node) == part:
                    line = parsed.first_line + key_node.start_mark.line
                    node = value_node
                    break
            else:
                return line, None
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = parsed.first_line + node.start_mark.line
        else:
            return line, None
    return line, node


def _field(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _subschema(schema: Any, path: Sequence[Any]) -> Any:
    for part in path:
        if isinstance(schema, dict) and part in schema:
            schema = schema[part]
        elif isinstance(schema, list) and isinstance(part, int) and part < len(schema):
            schema = schema[part]
        else:
            return None
    return schema


def _sibling_hint(error: ValidationError, root_schema: Any) -> str:
    """For an enum chosen by if/then on a discriminator (Job type: the Algorithms allowed
    depend on Type), say which other branch the value belongs to:
    "'Text Classification' is an Algorithm of Type 'Natural language processing'"."""
    spath = list(error.absolute_schema_path)
    for i in range(len(spath) - 3, -1, -1):
        if spath[i] == "allOf" and spath[i + 2] == "then":
            branches = _subschema(root_schema, spath[: i + 1])
            rest = spath[i + 3 : -1]
            if not isinstance(branches, list):
                return ""
            for j, branch in enumerate(branches):
                if j == spath[i + 1] or not isinstance(branch, dict):
                    continue
                sub = _subschema(branch.get("then"), rest)
                if isinstance(sub, dict) and error.instance in (sub.get("enum") or []):
                    title = sub.get("title") or "allowed in another case"
                    return f" (it is {title})"
            return ""
    return ""


def _allowed_text(values: Sequence[Any]) -> str:
    return ", ".join(str(v) if isinstance(v, str) else _show(v) for v in values)


def _explain_one(error: ValidationError, parsed: _Parsed, root_schema: Any) -> Iterator[CardError]:
    """Word one jsonschema error; a 'required' error becomes one CardError per missing key."""
    path = list(error.absolute_path)
    line, node = _locate(parsed.root, path, parsed)
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-hint")
    kind = error.validator
    value = error.instance
    if kind == "required":
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [k for k in required if isinstance(value, dict) and k not in value]
        for key in missing:
            said = "is missing"
            prop = _subschema(schema, ["properties", key])
            if isinstance(prop, dict) and isinstance(prop.get("enum"), list):
                title = prop.get("title") or "one of"
                said = f"is missing; give {title}: {_allowed_text(prop['enum'])}"
            yield CardError(line, _field([*path, key]), _sentences(said, str(hint or "")))
        return
    closed = error.validator_value is False
    if kind == "additionalProperties" and isinstance(value, dict) and closed:
        known = list((schema.get("properties") or {}).keys())
        patterns = list((schema.get("patternProperties") or {}).keys())
        for key in value:
            if key in known or any(re.search(p, key) for p in patterns):
                continue
            key_line, _ = _locate(parsed.root, [*path, key], parsed)
            yield CardError(
                key_line,
                _field([*path, key]),
                f"unknown key; allowed here: {_allowed_text(known)}.{_did_you_mean(key, known)}",
            )
        return
    override = schema.get("x-message")
    if override:
        yield CardError(line, _field(path), _sentences(str(override)))
        return
    parts: list[str] = []
    if kind == "type":
        expected = _as_list(error.validator_value)
        phrase = _type_phrase(schema) or _type_phrase({"type": expected})
        parts.append(f"expected {phrase}, got {_describe(value)}")
        parts += [_number_hint(value, expected), _text_hint(value, node, expected)]
    elif kind in ("enum", "const"):
        allowed = _as_list(error.validator_value) if kind == "enum" else [error.validator_value]
        title = schema.get("title") or ("an allowed value" if kind == "enum" else "allowed")
        parts.append(f"{_show(value)} is not {title}{_sibling_hint(error, root_schema)}")
        parts.append(f"Allowed: {_allowed_text(allowed)}")
        parts.append(_did_you_mean(value, allowed))
    elif kind in _BOUNDS:
        parts.append(f"must be {_BOUNDS[kind]} {error.validator_value}, got {_show(value)}")
    elif kind == "minItems":
        n = error.validator_value
        parts.append(f"needs at least {n} item{'s' if n != 1 else ''}")
    elif kind == "minLength":
        n = error.validator_value
        parts.append("must not be empty" if n == 1 else f"must be at least {n} characters")
    elif kind == "pattern":
        parts.append(f"{_show(value)} is not in the expected form")
    elif kind == "format":
        fmt = error.validator_value
        shape = {"date": " (YYYY-MM-DD)", "date-time": " (YYYY-MM-DDTHH:MM:SSZ)"}.get(fmt, "")
        parts.append(f"{_show(value)} is not a valid {fmt}{shape}")
    elif kind == "not" or kind is None:
        parts.append("this value is not allowed here")
    else:
        parts.append(_clip(error.message, 200))
    if hint:
        parts.append(str(hint))
    yield CardError(line, _field(path), _sentences(*parts))


_BOUNDS = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}


def _sentences(*parts: str) -> str:
    """Join message parts as sentences, each ending in punctuation, skipping empty ones."""
    out: list[str] = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out:
            part = part[0].upper() + part[1:]
        out.append(part if part[-1] in ".?!" else part + ".")
    return " ".join(out)


def _explain(error: ValidationError, parsed: _Parsed, root_schema: Any) -> Iterator[CardError]:
    """Word an error; for anyOf / oneOf pick the branch that fits the value best
    (``best_match``) and say how many other forms there were."""
    from jsonschema.exceptions import best_match

    if error.validator not in ("anyOf", "oneOf"):
        yield from _explain_one(error, parsed, root_schema)
        return
    branches = error.validator_value if isinstance(error.validator_value, list) else []
    here = list(error.absolute_path)
    if error.context and all(
        c.validator == "type" and list(c.absolute_path) == here for c in error.context
    ):
        line, node = _locate(parsed.root, here, parsed)
        phrases = [p for p in (_type_phrase(b) for b in branches) if p]
        types = [t for b in branches if isinstance(b, dict) for t in _as_list(b.get("type"))]
        message = _sentences(
            f"expected {' or '.join(phrases)}, got {_describe(error.instance)}",
            _number_hint(error.instance, types),
            _text_hint(error.instance, node, types),
        )
        yield CardError(line, _field(here), message)
        return
    best = best_match([error])
    if best is None or best is error:
        line, _ = _locate(parsed.root, here, parsed)
        yield CardError(line, _field(here), "does not match any of the allowed forms.")
        return
    others = max(len(branches) - 1, 0)
    for card_error in _explain(best, parsed, root_schema):
        suffix = (
            f" ({others} other allowed form{'s' if others != 1 else ''} did not match either.)"
            if others
            else ""
        )
        yield CardError(card_error.line, card_error.field, card_error.message + suffix)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _finish(errors: list[CardError], unexplained: int = 0) -> list[CardError]:
    """Dedupe, order by line, and cap the list so a hostile card cannot flood the push;
    ``unexplained`` counts errors past the cap that were not even worded."""
    unique = list(dict.fromkeys(errors))
    unique.sort(key=lambda e: (e.line is not None, e.line or 0))
    if len(unique) > MAX_ERRORS or unexplained:
        extra = max(len(unique) - MAX_ERRORS, 0) + unexplained
        unique = [
            *unique[:MAX_ERRORS],
            CardError(None, "", f"... and {extra} more error{'s' if extra != 1 else ''}"),
        ]
    return unique


def check_card(
    content: bytes | None, *, required: bool = False, schema_path: str | None = None
) -> CardResult:
    """Parse and validate a README's bytes; all problems at once, never an exception for any
    README content.

    ``content`` None means there is no README.md at all. ``required`` makes a missing card
    (no README, or no front matter) an error; by default a README without front matter is
    fine. ``schema_path`` is a site's own schema (config ``card.schema``) instead of the
    shipped one. Raises CardSchemaError only when that schema itself is unusable.
    """
    try:
        parsed = _parse(content)
    except Exception as exc:
        return CardResult(None, [_unexpected(exc)])
    if parsed.fatal:
        return CardResult(parsed.data, _finish(parsed.errors))
    if parsed.data is None:
        if not required:
            return CardResult(None, [])
        if content is None:
            return CardResult(
                None, [CardError(None, "", "this site requires a model card: add a README.md")]
            )
        return CardResult(
            None,
            [
                CardError(
                    1,
                    "",
                    "this site requires a model card: start README.md with a line '---', "
                    "the card's YAML, then a line '---'",
                )
            ],
        )
    validator = _validator(schema_path)
    errors = list(parsed.errors)
    unexplained = 0
    try:
        seen_required: set[tuple[tuple[Any, ...], tuple[Any, ...]]] = set()
        for error in validator.iter_errors(parsed.data):
            if error.validator == "required":
                key = (tuple(error.absolute_path), tuple(error.absolute_schema_path))
                if key in seen_required:
                    continue
                seen_required.add(key)
            if len(errors) > MAX_ERRORS:
                unexplained += 1  # only counted: wording them would be wasted work
                continue
            errors.extend(_explain(error, parsed, validator.schema))
    except Exception as exc:  # a schema construct that fails at validation time
        errors.append(_unexpected(exc))
    return CardResult(parsed.data, _finish(errors, unexplained))


def rejection_lines(errors: list[CardError], path: str = "README.md") -> list[str]:
    """What a refused push prints (git shows each line as ``remote: ...``): why, every
    error, and how to check the card before pushing again."""
    if not errors:
        return []
    n = len(errors)
    return [
        f"push rejected: the model card {path} is invalid ({n} error{'s' if n != 1 else ''}):",
        *(error.format(path) for error in errors),
        f"hint: run `modelgit card check {path}` locally, fix the card, commit and push again",
    ]


# --------------------------------------------------------------------------------------
# Summaries for search, `model show` and gating


def _strings(value: Any) -> list[str]:
    """A string or list of strings as a list; anything else contributes nothing."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _unique(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for v in values:
        if v.casefold() not in seen:
            seen.add(v.casefold())
            out.append(v)
    return out


def _unique_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, metric), case-insensitively: a card that states a score both in
    its platform fields and in model-index shows it once, the platform figure first."""
    seen: set[tuple[str, str]] = set()
    out = []
    for row in rows:
        key = (str(row["dataset"]).casefold(), str(row["metric"]).casefold())
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = float(value.strip().rstrip("%"))
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


@cache
def _job_table() -> tuple[dict[str, str], tuple[str, ...]]:
    """Algorithm (normalised) -> Type, and the framework names, from the shipped schema."""
    schema = _default_schema()
    props = schema.get("properties", {})
    algorithms: dict[str, str] = {}
    for branch in props.get("Job type", {}).get("allOf", []):
        job_type = _subschema(branch, ["if", "properties", "Type", "const"])
        enum = _subschema(branch, ["then", "properties", "Algorithm", "enum"]) or []
        for algorithm in enum:
            if algorithm != "others":
                algorithms.setdefault(_norm(algorithm), f"{job_type}\x00{algorithm}")
    frameworks = tuple(_subschema(props, ["Training framework", "items", "enum"]) or [])
    return algorithms, frameworks


def _task_from_hub_id(task_id: Any) -> tuple[str | None, str | None]:
    """'text-classification' -> ('Natural language processing', 'Text Classification')."""
    if not isinstance(task_id, str):
        return None, None
    found = _job_table()[0].get(_norm(task_id))
    if found is None:
        return None, None
    job_type, algorithm = found.split("\x00")
    return job_type, algorithm


def card_index(data: dict[str, Any]) -> dict[str, Any]:
    """The card summary stored with the model and used by ``model list`` filters and
    ``model show``. Reads platform and hub keys alike and tolerates wrong types (it also
    runs on cards checked against a site's own schema), so it never raises.

    * frameworks: ``Training framework`` plus ``library_name`` (mapped to the platform's
      spelling when it names one, e.g. ``transformers`` -> ``Transformers``);
    * task_type / task_algorithm: ``Job type``; without it, derived from ``pipeline_tag`` or
      the first ``model-index`` task (``text-classification`` -> Natural language
      processing / Text Classification) so hub-style cards are found by ``--task`` too;
    * tags: ``Other tag`` and ``tags``; license: ``license``, else ``Open-source protocol``;
    * datasets: ``Training data`` names and ``datasets``;
    * performance: rows from ``Performance information`` and from ``model-index`` metrics.
    """
    if not isinstance(data, dict):
        data = {}
    framework_names = _job_table()[1]
    by_norm = {_norm(f): f for f in framework_names}

    frameworks = _strings(data.get("Training framework"))
    library = data.get("library_name")
    if isinstance(library, str) and library.strip():
        frameworks.append(by_norm.get(_norm(library), library))

    task_type: str | None = None
    task_algorithm: str | None = None
    job = data.get("Job type")
    if isinstance(job, dict):
        task_type = job.get("Type") if isinstance(job.get("Type"), str) else None
        task_algorithm = job.get("Algorithm") if isinstance(job.get("Algorithm"), str) else None
    if task_type is None and task_algorithm is None:
        task_type, task_algorithm = _task_from_hub_id(data.get("pipeline_tag"))
    raw_index = data.get("model-index")
    model_index = raw_index if isinstance(raw_index, list) else []
    results = [
        r
        for entry in model_index
        if isinstance(entry, dict) and isinstance(entry.get("results"), list)
        for r in entry["results"]
        if isinstance(r, dict)
    ]
    if task_type is None and task_algorithm is None:
        for result in results:
            task = result.get("task")
            if isinstance(task, dict):
                task_type, task_algorithm = _task_from_hub_id(task.get("type"))
                if task_type:
                    break

    datasets: list[str] = []
    performance: list[dict[str, Any]] = []
    for key in ("Training data", "Performance information"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else []:
            dataset = entry.get("Dataset") if isinstance(entry, dict) else None
            if not isinstance(dataset, dict):
                continue
            name = dataset.get("Name") if isinstance(dataset.get("Name"), str) else None
            if name and key == "Training data":
                datasets.append(name)
            metrics = dataset.get("Performance metric")
            if key == "Performance information" and name and isinstance(metrics, dict):
                for metric, value in metrics.items():
                    number = _number(value)
                    if number is not None and not isinstance(value, str):
                        performance.append({"dataset": name, "metric": metric, "value": number})
    datasets.extend(_strings(data.get("datasets")))
    for result in results:
        raw_dataset = result.get("dataset")
        dataset = raw_dataset if isinstance(raw_dataset, dict) else {}
        dataset_name = dataset.get("name") or dataset.get("type")
        raw_metrics = result.get("metrics")
        for metric in raw_metrics if isinstance(raw_metrics, list) else []:
            if not isinstance(metric, dict):
                continue
            metric_name = metric.get("name") or metric.get("type")
            number = _number(metric.get("value"))
            if (
                isinstance(dataset_name, str)
                and isinstance(metric_name, str)
                and number is not None
            ):
                performance.append(
                    {"dataset": dataset_name, "metric": metric_name, "value": number}
                )

    parameters = data.get("Number of parameters")
    if isinstance(parameters, bool) or not isinstance(parameters, int) or parameters < 0:
        parameters = None
    license_ = data.get("license") if isinstance(data.get("license"), str) else None
    if not license_ and isinstance(data.get("Open-source protocol"), str):
        license_ = data["Open-source protocol"]
    base_model = data.get("base_model")
    if not isinstance(base_model, str):
        base_model = _strings(base_model) or None

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and value.strip() else None

    return {
        "frameworks": _unique(frameworks),
        "task_type": task_type,
        "task_algorithm": task_algorithm,
        "tags": _unique([*_strings(data.get("Other tag")), *_strings(data.get("tags"))]),
        "license": license_ or None,
        "parameters": parameters,
        "datasets": _unique(datasets),
        "performance": _unique_rows(performance),
        "library_name": text("library_name"),
        "pipeline_tag": text("pipeline_tag"),
        "base_model": base_model,
        "industry": text("Industry"),
    }


def gated_fields(data: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``extra_gated_fields`` in one shape for the access-request form and its checks:
    ``{label: {"type": ...}}``, plus ``"options": [{"label", "value"}, ...]`` for select.

    Entries that are not valid (which a checked card does not have) are left out rather
    than guessed at, and a select without usable options is dropped: a form that cannot be
    answered would lock everyone out.
    """
    raw = data.get("extra_gated_fields") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return {}
    fields: dict[str, dict[str, Any]] = {}
    for label, spec in raw.items():
        if not isinstance(label, str) or not label.strip():
            continue
        field_type = spec if isinstance(spec, str) else None
        if isinstance(spec, dict) and isinstance(spec.get("type"), str):
            field_type = spec["type"]
        if field_type not in GATED_FIELD_TYPES:
            continue
        if field_type != "select":
            fields[label] = {"type": field_type}
            continue
        options: list[dict[str, str]] = []
        raw_options = spec.get("options") if isinstance(spec, dict) else None
        for option in raw_options if isinstance(raw_options, list) else []:
            if isinstance(option, str) and option:
                options.append({"label": option, "value": option})
            elif (
                isinstance(option, dict)
                and isinstance(option.get("label"), str)
                and option.get("value") is not None
            ):
                options.append({"label": option["label"], "value": str(option["value"])})
        if options:
            fields[label] = {"type": "select", "options": options}
    return fields
