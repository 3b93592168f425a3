"""Small text helpers shared by the card messages: one-line clipping, joining parts into
sentences, and the folded form used to compare names ("PyTorch" vs "pytorch")."""

from __future__ import annotations

import re

__all__ = ["clip", "norm", "sentences"]


def clip(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sentences(*parts: str) -> str:
    """Join message parts as sentences, each ending in punctuation, skipping empty ones."""
    out: list[str] = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out:
            part = part[0].upper() + part[1:]
        out.append(part if part[-1] in ".?!" else part + ".")
    return " ".join(out)


def norm(text: str) -> str:
    """Case-folded letters and digits only: the key near-miss and name lookups compare."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())
