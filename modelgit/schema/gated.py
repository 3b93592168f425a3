"""The access-request form a gated model's card asks for (``extra_gated_fields``), read into
one shape that the form and its checks share. Pure: data in, data out."""

from __future__ import annotations

from typing import Any

__all__ = ["GATED_FIELD_TYPES", "gated_fields"]

GATED_FIELD_TYPES = ("text", "checkbox", "date_picker", "country", "select")


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
