"""Check a README's model card: parse, validate against the schema, word every problem.

The same code answers ``modelgit card check``, the pre-receive hook and the post-receive
indexer, so a card that passes locally passes on push. It never raises for any README
content; only an unusable site schema raises (CardSchemaError).
"""

from __future__ import annotations

from typing import Any

from modelgit.schema.explain import explain
from modelgit.schema.parse import parse, unexpected
from modelgit.schema.result import MAX_ERRORS, CardError, CardResult
from modelgit.schema.validation import validator as compiled_validator

__all__ = ["check_card", "rejection_lines"]


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
        parsed = parse(content)
    except Exception as exc:
        return CardResult(None, [unexpected(exc)])
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
    validator = compiled_validator(schema_path)
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
            errors.extend(explain(error, parsed, validator.schema))
    except Exception as exc:  # a schema construct that fails at validation time
        errors.append(unexpected(exc))
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
