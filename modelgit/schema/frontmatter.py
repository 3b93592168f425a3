"""The names this module held before it was split, for the callers not moved yet.

``gating.py`` and ``http/server.py`` still import from here; new code imports from
``modelgit.schema`` (or the module that does the job: ``parse``, ``check``, ``summary``,
``gated``). Remove this file once no caller names it.
"""

from __future__ import annotations

from modelgit.schema.check import check_card, rejection_lines
from modelgit.schema.gated import gated_fields
from modelgit.schema.parse import MAX_FRONT_MATTER_BYTES, parse_front_matter
from modelgit.schema.result import MAX_ERRORS, CardError, CardResult, CardSchemaError
from modelgit.schema.summary import card_index
from modelgit.schema.yamlload import MAX_ALIASES, MAX_DEPTH, MAX_NODES

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
