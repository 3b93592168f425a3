"""Model cards: the README front-matter schema (``model-card.schema.json``) and the code that
checks and summarises it.

``parse`` finds the front matter and ``yamlload`` loads it within bounds; ``check`` validates
it (``validation`` compiles the schema, ``explain`` words the errors); ``summary`` and
``gated`` read a checked card for search and for the access-request form. The public names
are re-exported here so callers write ``from modelgit.schema import check_card``; importing
them stays cheap because jsonschema is only imported when a card is first checked.
"""

from __future__ import annotations

from modelgit.schema.check import check_card, rejection_lines
from modelgit.schema.gated import gated_fields
from modelgit.schema.parse import parse_front_matter
from modelgit.schema.result import CardError, CardResult, CardSchemaError
from modelgit.schema.summary import card_index

__all__ = [
    "CardError",
    "CardResult",
    "CardSchemaError",
    "card_index",
    "check_card",
    "gated_fields",
    "parse_front_matter",
    "rejection_lines",
]
