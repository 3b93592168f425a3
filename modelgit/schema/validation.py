"""The compiled JSON Schema validator for a card schema, built once per schema file version.

The push path is hot and building a validator imports jsonschema (~100 ms), so that import
happens on the first check, not when this module is imported, and the result is kept.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from modelgit.schema.result import CardSchemaError
from modelgit.schema.schemafile import DEFAULT_SCHEMA_NAME, default_schema_text

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = ["build_validator", "validator"]

_VALIDATORS: dict[tuple[str, int, int], Validator] = {}
_VALIDATORS_LOCK = threading.Lock()


def validator(schema_path: str | None) -> Validator:
    """The compiled validator for a schema file (None: the shipped one), built once per file
    version.

    A site schema is keyed by its modification time and size, so editing it takes effect
    without a restart. Raises CardSchemaError when the file cannot be used.
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
    found = _VALIDATORS.get(key)
    if found is not None:
        return found
    with _VALIDATORS_LOCK:
        found = _VALIDATORS.get(key)
        if found is None:
            found = build_validator(schema_path)
            _VALIDATORS[key] = found
    return found


def build_validator(schema_path: str | None) -> Validator:
    """Read, check and compile a schema file (None: the shipped one); no cache."""
    import jsonschema.validators
    from jsonschema.exceptions import SchemaError

    where = schema_path or DEFAULT_SCHEMA_NAME
    try:
        text = (
            Path(schema_path).expanduser().read_text(encoding="utf-8")
            if schema_path
            else default_schema_text()
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
    compiled: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return compiled
