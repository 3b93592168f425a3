"""The lock files in requirements/ as data, for tests/test_lock.py and `make test-latest`.

A lock file is what ``uv pip compile --generate-hashes`` writes and ``pip install
--require-hashes -r`` reads: one ``name==version [; marker]`` entry per package, each followed
by its ``--hash=sha256:...`` options, with backslash-continued lines and ``#`` comments.

``python -m tests.helpers.lockfiles LOCK`` (run by `make test-latest` in .venv-latest) lists
how the packages installed in the running interpreter differ from LOCK's pins for this
platform.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "modelgit"


@dataclass(frozen=True)
class Pin:
    """One entry of a lock file. ``version`` is None when the entry is not ``==`` exactly one
    version (which a lock must never contain; the tests say so)."""

    name: str  # canonical (PEP 503) name
    version: str | None
    marker: Marker | None
    hashes: tuple[str, ...]
    line: int  # where the entry starts in the file, for messages

    def applies(self) -> bool:
        """True when pip installs this entry on the running interpreter and platform."""
        return self.marker is None or self.marker.evaluate()


def read_lock(path: Path) -> list[Pin]:
    """Every entry of a lock file, in order. Raises ValueError on a line pip would not read
    as a requirement with hashes."""
    pins: list[Pin] = []
    entry, start = "", 0
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, raw in enumerate(lines, start=1):
        text = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not text:
            continue
        if not entry:
            start = number
        entry += " " + text.removesuffix("\\").strip()
        if not text.endswith("\\"):
            pins.append(_pin(entry.strip(), path, start))
            entry = ""
    if entry:
        pins.append(_pin(entry.strip(), path, start))
    return pins


def _pin(entry: str, path: Path, line: int) -> Pin:
    if entry.startswith("-"):
        raise ValueError(f"{path}:{line}: an option where a package was expected: {entry}")
    spec, *options = entry.split(" --")
    hashes: list[str] = []
    for option in options:
        name, _, value = option.partition("=")
        if name != "hash" or not value:
            raise ValueError(f"{path}:{line}: unexpected option --{option}")
        hashes.append(value)
    requirement = Requirement(spec)
    pinned = list(requirement.specifier)
    version = pinned[0].version if len(pinned) == 1 and pinned[0].operator == "==" else None
    if version is not None and "*" in version:
        version = None
    return Pin(
        canonicalize_name(requirement.name), version, requirement.marker, tuple(hashes), line
    )


def installed() -> dict[str, str]:
    """Canonical name -> version of every distribution the running interpreter sees, as
    ``pip freeze --all`` lists them, without this project itself."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonicalize_name(name) != PROJECT:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def drift(lock: Path) -> list[str]:
    """How the installed packages differ from the lock's pins that apply here, one line each."""
    pins = {p.name: p.version or "?" for p in read_lock(lock) if p.applies()}
    have = installed()
    lines = []
    for name in sorted(pins.keys() | have.keys()):
        locked, now = pins.get(name), have.get(name)
        if locked == now:
            continue
        if locked is None:
            lines.append(f"  + {name} {now} (not in the lock)")
        elif now is None:
            lines.append(f"  - {name} {locked} (in the lock, not installed)")
        else:
            lines.append(f"  ~ {name} {locked} -> {now}")
    return lines


def main(argv: list[str]) -> int:
    lock = Path(argv[0]) if argv else ROOT / "requirements" / "test.txt"
    lines = drift(lock)
    if not lines:
        print(f"the newest releases are {lock}'s pins: no drift")
    else:
        n = len(lines)
        print(f"the newest releases differ from {lock} in {n} package{'s' if n != 1 else ''}:")
        print("\n".join(lines))
        print("if the suite passes with them, `make lock-upgrade` moves the pins there")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
