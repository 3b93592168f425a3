"""Word jsonschema's validation errors so that a card's author can fix them without help.

Each error names the README line, the field path (``model-index[0].results[0].metrics[1].value``),
what is wrong, the allowed values and a "did you mean". Lines come from the composed YAML node
tree (each node keeps its ``start_mark``), walked along the jsonschema error's path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from modelgit.schema.result import CardError
from modelgit.schema.schemafile import subschema
from modelgit.schema.wording import clip, norm, sentences
from modelgit.schema.yamlload import Parsed, key_text

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["explain"]


def explain(error: ValidationError, parsed: Parsed, root_schema: Any) -> Iterator[CardError]:
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
        message = sentences(
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
    for card_error in explain(best, parsed, root_schema):
        suffix = (
            f" ({others} other allowed form{'s' if others != 1 else ''} did not match either.)"
            if others
            else ""
        )
        yield CardError(card_error.line, card_error.field, card_error.message + suffix)


def _explain_one(error: ValidationError, parsed: Parsed, root_schema: Any) -> Iterator[CardError]:
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
            prop = subschema(schema, ["properties", key])
            if isinstance(prop, dict) and isinstance(prop.get("enum"), list):
                title = prop.get("title") or "one of"
                said = f"is missing; give {title}: {_allowed_text(prop['enum'])}"
            yield CardError(line, _field([*path, key]), sentences(said, str(hint or "")))
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
        yield CardError(line, _field(path), sentences(str(override)))
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
        parts.append(clip(error.message, 200))
    if hint:
        parts.append(str(hint))
    yield CardError(line, _field(path), sentences(*parts))


_BOUNDS = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}


def _show(value: Any) -> str:
    """A value as it appears in a message: short, one line, quoted when text."""
    if isinstance(value, str):
        return "'" + clip(value).replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return clip(repr(value))


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


def _did_you_mean(value: Any, allowed: Iterable[Any]) -> str:
    """' Did you mean 'PyTorch'?' for a near miss, else ''."""
    if not isinstance(value, str) or not value:
        return ""
    choices = [a for a in allowed if isinstance(a, str)]
    wanted = norm(value)
    exact = [a for a in choices if norm(a) == wanted and a != value]
    prefix = [a for a in choices if len(norm(a)) >= 3 and wanted and wanted.startswith(norm(a))]
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


def _locate(root: Node | None, path: Sequence[Any], parsed: Parsed) -> tuple[int, Node | None]:
    """The README line that introduces ``path`` (its key's line, or its list item's line) and
    the value node there. Walks the composed nodes, which keep ``start_mark`` (0-based within
    the YAML); merges have already been inlined by the constructor."""
    line = parsed.open_line
    node = root
    for part in path:
        if isinstance(node, MappingNode) and isinstance(part, str):
            for key_node, value_node in reversed(node.value):
                if key_text(key_node) == part:
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


def _sibling_hint(error: ValidationError, root_schema: Any) -> str:
    """For an enum chosen by if/then on a discriminator (Job type: the Algorithms allowed
    depend on Type), say which other branch the value belongs to:
    "'Text Classification' is an Algorithm of Type 'Natural language processing'"."""
    spath = list(error.absolute_schema_path)
    for i in range(len(spath) - 3, -1, -1):
        if spath[i] == "allOf" and spath[i + 2] == "then":
            branches = subschema(root_schema, spath[: i + 1])
            rest = spath[i + 3 : -1]
            if not isinstance(branches, list):
                return ""
            for j, branch in enumerate(branches):
                if j == spath[i + 1] or not isinstance(branch, dict):
                    continue
                sub = subschema(branch.get("then"), rest)
                if isinstance(sub, dict) and error.instance in (sub.get("enum") or []):
                    title = sub.get("title") or "allowed in another case"
                    return f" (it is {title})"
            return ""
    return ""


def _allowed_text(values: Sequence[Any]) -> str:
    return ", ".join(str(v) if isinstance(v, str) else _show(v) for v in values)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
