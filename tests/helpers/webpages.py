"""What the page tests share: pushing a model with git as its people do, a hostile card, and
a headless Chromium (Debian's chromium + chromedriver, driven by Selenium)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from tests.helpers.git import LFS_ENV, git
from tests.helpers.site import Site

#: A card whose body tries every way to run a script; the page must show none of them.
HOSTILE_CARD = """---
license: mit
library_name: transformers
pipeline_tag: text-classification
tags: [web-test, demo]
Number of parameters: 110000000
datasets: [imdb]
---
# Demo model

A **model card** with a table:

| metric | value |
|---|---|
| accuracy | 0.91 |

<script>alert(1)</script>
<img src=x onerror=alert(1)>
<a href="javascript:alert(1)">click me</a>
<p onclick="alert(1)" style="color:red">styled paragraph</p>
"""

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def push_model(site: Site, model_id: str, user: str, files: dict[str, str | bytes],
               work: Path, *, lfs: tuple[str, ...] = ()) -> str:
    """Clone, add ``files`` (those named in ``lfs`` through Git LFS), commit and push as
    ``user``; the new commit id."""
    dest = work / model_id.replace("/", "_")
    git("clone", "-q", site.clone_url(model_id, user), str(dest), env=LFS_ENV)
    git("config", "user.email", f"{user}@example.com", cwd=dest)
    git("config", "user.name", user, cwd=dest)
    if lfs:
        (dest / ".gitattributes").write_text(
            "".join(f"{name} filter=lfs diff=lfs merge=lfs -text\n" for name in lfs))
        git("add", ".gitattributes", cwd=dest, env=LFS_ENV)
    for name, content in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        git("add", name, cwd=dest, env=LFS_ENV)
    git("commit", "-q", "-m", "add files", cwd=dest, env=LFS_ENV)
    git("push", "-q", "origin", "HEAD", cwd=dest, env=LFS_ENV)
    return git("rev-parse", "HEAD", cwd=dest).stdout.strip()


def chromium(profile: Path) -> Any:
    """A headless Chromium with a fresh profile, nothing phoning home."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chrome = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    return driver


def fresh_profile() -> Path:
    return Path(tempfile.mkdtemp(prefix="mg-chromium-"))
