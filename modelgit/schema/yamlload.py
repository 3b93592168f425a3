"""Load a card's YAML text safely, keeping the node tree so that errors can name README lines.

The input is hostile: anyone with write access can push any bytes as README.md, and this runs
inside ``git push``. So YAML alias expansion is bounded (a "billion laughs" card is refused
before anything expands it), nesting is bounded, only the YAML types that JSON has are
accepted, and every failure comes back as a CardError on a README line instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from modelgit.schema.result import MAX_ERRORS, CardError
from modelgit.schema.wording import clip, sentences

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_NODES", "Parsed", "key_text", "load_yaml"]

#: Most YAML nodes the document may have once aliases are expanded. A 64 KiB document
#: written out in full has at most ~33,000 nodes, so honest cards never come near this.
MAX_NODES = 100_000
#: Most alias references (``*name``) a card may use.
MAX_ALIASES = 256
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
# The YAML types that map onto JSON. ``timestamp`` is loaded as text (see _CardLoader);
# ``merge`` and ``value`` are the ``<<`` and ``=`` keys that PyYAML resolves itself.
_SCALAR_TAGS = frozenset(
    _TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp", "merge", "value")
)
_SEQUENCE_TAGS = frozenset({_TAG + "seq"})
_MAPPING_TAGS = frozenset({_TAG + "map"})
_MERGE_TAG = _TAG + "merge"


@dataclass
class Parsed:
    """What parsing hands to validation: the result so far, plus the node tree and where it
    sits in the README, which the line finder needs."""

    data: dict[str, Any] | None
    errors: list[CardError]
    fatal: bool = False
    root: Node | None = None
    first_line: int = 1  # README line (1-based) of the first YAML line
    open_line: int = 1  # README line of the opening ``---``


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


def load_yaml(yaml_text: str, first_line: int, open_line: int) -> Parsed:
    """Load the front matter's YAML (README lines ``first_line`` on, opened by ``---`` on
    ``open_line``), bounded as the module says. Never raises for any text."""
    try:
        loader = _CardLoader(yaml_text)
        try:
            root = loader.get_single_node()
            if root is None:
                return Parsed({}, [], root=None, first_line=first_line, open_line=open_line)
            fatal_error, duplicates = _check_graph(root, first_line, loader.had_anchors)
            if fatal_error is not None:
                return Parsed(None, [fatal_error], fatal=True, open_line=open_line)
            if not isinstance(root, MappingNode):
                kind = "a list" if isinstance(root, SequenceNode) else "a single value"
                return Parsed(
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
        return Parsed(
            None, [_too_deep_error(first_line + deep.line)], fatal=True, open_line=open_line
        )
    except yaml.YAMLError as exc:
        error = _nesting_refusal(yaml_text, exc, first_line)
        return Parsed(
            None,
            [error or _yaml_error(exc, first_line, yaml_text)],
            fatal=True,
            open_line=open_line,
        )
    except RecursionError:
        return Parsed(
            None,
            [CardError(open_line, "", "the front matter is nested too deeply to read")],
            fatal=True,
            open_line=open_line,
        )
    except (ValueError, OverflowError) as exc:
        # e.g. an integer with more digits than Python will convert.
        return Parsed(
            None,
            [
                CardError(
                    open_line,
                    "",
                    f"the front matter has a value that cannot be read: {clip(str(exc), 90)}",
                )
            ],
            fatal=True,
            open_line=open_line,
        )
    return Parsed(data, duplicates, root=root, first_line=first_line, open_line=open_line)


def key_text(node: Node) -> str:
    """The dict key a mapping key node becomes (see _CardLoader.construct_mapping)."""
    return str(node.value) if isinstance(node, ScalarNode) else ""


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


def _yaml_error(exc: yaml.YAMLError, first_line: int, yaml_text: str) -> CardError:
    """A PyYAML error as a CardError on the README line where the parser stopped."""
    if isinstance(exc, yaml.constructor.ConstructorError) and exc.problem_mark is not None:
        return CardError(first_line + exc.problem_mark.line, "", sentences(exc.problem or ""))
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
                key = key_text(key_node)
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
