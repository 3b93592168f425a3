"""Find a README's front matter (the YAML between two ``---`` lines) and load it.

README bytes are decoded (binary and non-UTF-8 files are refused with the line), the block is
found with ``str.find`` so a 5 MB README costs little, and it is capped at 64 KiB before
``yamlload`` reads it. Every entry point returns errors instead of raising.
"""

from __future__ import annotations

import re

from modelgit.schema.result import CardError, CardResult
from modelgit.schema.wording import clip
from modelgit.schema.yamlload import Parsed, load_yaml

__all__ = ["MAX_FRONT_MATTER_BYTES", "parse", "parse_front_matter", "unexpected"]

#: Largest front matter accepted, in bytes (the YAML between the two ``---`` lines).
MAX_FRONT_MATTER_BYTES = 64 * 1024

# First non-blank line is the opening marker (spaces around it allowed).
_OPENING = re.compile(r"\A(?:[ \t\r]*\n)*[ \t]*---[ \t]*\r?(?:\n|\Z)")


def parse_front_matter(content: bytes) -> CardResult:
    """Extract and load the front matter without checking it against a schema.

    ``data`` is None when the README has no front matter (which is not an error here) or
    when it cannot be read (then ``errors`` says why).
    """
    try:
        parsed = parse(content)
    except Exception as exc:  # hostile input must never crash a push
        return CardResult(None, [unexpected(exc)])
    return CardResult(parsed.data, parsed.errors)


def unexpected(exc: BaseException) -> CardError:
    """A failure nobody foresaw, as a card error rather than a crashed push."""
    return CardError(
        None, "", f"the model card could not be read ({type(exc).__name__}: {clip(str(exc))})"
    )


def parse(content: bytes | None) -> Parsed:
    """Find, bound and load the front matter. Never raises for any input."""
    if content is None:
        return Parsed(None, [])
    text, error = _decode(content)
    if error is not None or text is None:
        return Parsed(None, [error] if error else [], fatal=True)
    opening = _OPENING.match(text)
    if opening is None:
        return Parsed(None, [])
    open_line = text.count("\n", 0, text.index("---")) + 1
    first_line = open_line + 1
    closing = _find_closing(text, opening.end())
    if closing is None:
        return Parsed(
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
        return Parsed(
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
    return load_yaml(yaml_text, first_line, open_line)


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
