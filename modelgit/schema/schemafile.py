"""The shipped ``model-card.schema.json`` as plain JSON, and a walk into a schema by path.

Reading it needs no jsonschema (the card summary reads the Job type table from it, so that
the table lives in one place); the compiled validator is ``validation``'s job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

__all__ = ["DEFAULT_SCHEMA_NAME", "default_schema", "default_schema_text", "subschema"]

DEFAULT_SCHEMA_NAME = "model-card.schema.json"


def default_schema_text() -> str:
    """The shipped schema file's text."""
    # Imported here: importlib.resources pulls in tempfile, shutil, zipfile... (~10 ms).
    from importlib import resources

    return (
        resources.files(__package__ or "modelgit.schema")
        .joinpath(DEFAULT_SCHEMA_NAME)
        .read_text(encoding="utf-8")
    )


@cache
def default_schema() -> dict[str, Any]:
    """The shipped schema as plain JSON (no jsonschema import): card_index reads the Job
    type table from it so that the table lives in one place."""
    loaded: dict[str, Any] = json.loads(default_schema_text())
    return loaded


def subschema(schema: Any, path: Sequence[Any]) -> Any:
    """The part of ``schema`` at ``path`` (keys and list indexes), None when it is not there."""
    for part in path:
        if isinstance(schema, dict) and part in schema:
            schema = schema[part]
        elif isinstance(schema, list) and isinstance(part, int) and part < len(schema):
            schema = schema[part]
        else:
            return None
    return schema
