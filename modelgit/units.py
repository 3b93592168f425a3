"""Byte sizes for people: the one wording of sizes in the CLI and in refusals (decimal units,
like ``--quota 10GB``). Standard library only, so a push's refusal path stays cheap."""

from __future__ import annotations


def human_size(n: int | None) -> str:
    """``1234567`` -> ``1.2 MB``; None (no quota) -> ``none``."""
    if n is None:
        return "none"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"
