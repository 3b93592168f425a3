"""A model card's Markdown as safe HTML: rendered by markdown-it-py (CommonMark, tables),
then cleaned by nh3 (ammonia's allow-list): no script or style elements, no event-handler or
style attributes, links only to http, https, mailto or this site. The Content-Security-Policy
would stop a script anyway; this keeps the page itself clean.
"""

from __future__ import annotations

import re
from functools import cache

import nh3
from markdown_it import MarkdownIt

#: Most Markdown rendered for one card (a README can be any size; the page shows the start).
MAX_CARD_CHARS = 200_000
_FENCE = re.compile(r"\A\ufeff?---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML passes markdown-it (cards use it for images and layout) and nh3 cleans it.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def body_of(text: str) -> str:
    """The README without its YAML front matter (the metadata table shows that)."""
    opening = _FENCE.match(text)
    if opening is None:
        return text
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        return ""
    return text[closing.end():].lstrip("\r\n")


def card_html(text: str) -> str:
    """Sanitised HTML of a card's Markdown body."""
    rendered = _markdown().render(body_of(text)[:MAX_CARD_CHARS])
    return nh3.clean(rendered, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)
