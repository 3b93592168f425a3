"""Whether a stream is a pickle, and what in it is refused: the allowlist rule and its words.

Loading a pickle runs whatever callables it names, so a model file is dangerous before anyone
calls it. The opcodes are read without executing them (``pickle_opcodes``) and the file is
refused unless every global it imports is on the allowlist of data-only constructors
(``pickle_globals``): an unknown callable is refused, not "suspicious". An import that cannot
be named and a pickle that cannot be read to its end are refused too: the loader executes
opcodes as it reads them, so a broken tail proves nothing about what came before.

A file is taken for a pickle only with evidence (a protocol header, a pickle name, an import or
a few opcodes read whole), so random weights, safetensors headers and text are not refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelgit.scanner.advice import pickle_meaning
from modelgit.scanner.pickle_globals import is_safe
from modelgit.scanner.pickle_opcodes import TORCH_LEGACY_MAGIC, Budget, Reader, Stream, Walk, walk

__all__ = ["Problem", "check_pickle", "message"]

#: A stream that breaks within this many opcodes, importing nothing, is not taken for a pickle.
_PROBE_OPS = 5
_TORCH_LEGACY_PICKLES = 5


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused: a rule id and the sentence for the person who pushed."""

    rule: str
    message: str


def message(kind: str, subject: str = "", where: str = "") -> str:
    """Every sentence the pickle scan says, in one place (kind: what was found; subject: the
    global or the reason; where: the archive member or decompressed stream it was found in)."""
    inside = f" (in {where})" if where else ""
    if kind == "global":
        module, _, name = subject.rpartition(":")
        return f"{module}.{name}{inside} {pickle_meaning(f'{module}.{name}')}"
    if kind == "unnamed":
        return f"{subject}{inside}; loading the file would import it"
    if kind == "unreadable":
        return (f"{where or 'the file'} cannot be read as a pickle ({subject}); the loader runs "
                "what it reads before the break, so the file cannot be checked")
    if kind == "too-large":
        return f"{where or 'the file'} is {subject}; refused unchecked"
    if kind == "archive":
        return f"{where or 'the file'} {subject}, so the pickles in it cannot be checked"
    raise ValueError(kind)


def _global(module: str, name: str, where: str) -> Problem:
    return Problem(f"{module}.{name}", message("global", f"{module}:{name}", where))


def _legacy_chain(reader: Reader, first: Walk) -> Walk:
    """torch's legacy format: four more pickles follow the magic number; raw bytes after."""
    for _ in range(_TORCH_LEGACY_PICKLES - 1):
        if first.error is not None:
            break
        walk(reader, first)
    return first


def _walk_problems(found: Walk, where: str) -> list[Problem]:
    problems = []
    seen: set[tuple[str, str]] = set()
    for module, name in found.imports:
        if (module, name) in seen or is_safe(module, name):
            continue
        seen.add((module, name))
        problems.append(_global(module, name, where))
    for reason in dict.fromkeys(found.unnamed):
        problems.append(Problem("pickle-unnamed-import", message("unnamed", reason, where)))
    if found.too_large:
        problems.append(Problem("pickle-too-large", message("too-large", found.error or "",
                                                            where)))
    elif found.error is not None:
        problems.append(Problem("pickle-unreadable", message("unreadable", found.error, where)))
    return problems


def check_pickle(stream: Stream, budget: Budget, where: str, mode: str, plain: bool
                 ) -> list[Problem]:
    """Why the pickle in ``stream`` must be refused ([] when it passes or is not a pickle).

    mode: "required" (a pickle by its place), "strong"/"suffix" (by its first bytes or its
    name: broken early and importing nothing means not a pickle), "loose" (any file: a pickle
    only if it reads as a complete one with an import or a few opcodes)."""
    reader = Reader(stream, budget, seekable=plain)
    found = walk(reader)
    if found.complete and found.result == TORCH_LEGACY_MAGIC:
        found = _legacy_chain(reader, found)
    # Random bytes end in STOP now and then (`\x83??.` is EXT2, STOP), so a few opcodes or a
    # named import are needed; a shorter stream can import only through EXT, whose registry
    # is empty unless the loading program fills it.
    if mode == "loose":
        is_pickle = (found.complete and (found.evidence or found.ops >= _PROBE_OPS)) \
            or (found.too_large and found.evidence)
    elif mode in ("strong", "suffix"):
        is_pickle = found.evidence or found.too_large or found.ops >= _PROBE_OPS
    else:
        is_pickle = True
    return _walk_problems(found, where) if is_pickle else []

