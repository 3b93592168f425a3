"""Every relative link and image in the README and docs/ names a file that exists, so a page
moved or renamed in one place is not left dangling in another."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "bench").glob("*.md"))]
# [text](target) and ![alt](target); the target ends at a space (a title) or ')'.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def relative_targets(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in LINK.findall(text)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_name_existing_files(page: Path) -> None:
    missing = [t for t in relative_targets(page)
               if not (page.parent / t.split("#", 1)[0]).exists()]
    assert missing == [], f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_the_check_sees_links_and_images() -> None:
    readme = relative_targets(ROOT / "README.md")
    assert "docs/access.md" in readme and "docs/images/web-model.png" in readme
