"""The lock files in requirements/ say exactly what pyproject.toml asks for: every dependency
pinned to one version with its hashes, within pyproject's lower bounds, and one pin per package
across the runtime and test locks. An edit of pyproject.toml without `make lock` fails here.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers.lockfiles import ROOT, Pin, read_lock

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = ROOT / "requirements" / "runtime.txt"
TEST = ROOT / "requirements" / "test.txt"
TOOL = ROOT / "requirements" / "lock-tool.txt"

RUNTIME_DEPS = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
TEST_DEPS = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]]
# The build backend is locked too, so that installing the project downloads nothing.
BUILD_DEPS = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]

LOCKED = [
    *((RUNTIME, r) for r in RUNTIME_DEPS + BUILD_DEPS),
    *((TEST, r) for r in RUNTIME_DEPS + TEST_DEPS + BUILD_DEPS),
]


@cache
def by_name(lock: Path) -> dict[str, list[Pin]]:
    pins: dict[str, list[Pin]] = defaultdict(list)
    for pin in read_lock(lock):
        pins[pin.name].append(pin)
    return pins


@pytest.mark.parametrize("requirement", RUNTIME_DEPS + TEST_DEPS, ids=str)
def test_pyproject_keeps_a_lower_bound(requirement: Requirement) -> None:
    assert any(s.operator in (">=", "==", "~=") for s in requirement.specifier), (
        f"pyproject.toml: give {requirement.name} a lower bound (>=): the oldest release the "
        "code is known to work with"
    )


@pytest.mark.parametrize(
    ("lock", "requirement"), LOCKED, ids=[f"{lock.name}-{r.name}" for lock, r in LOCKED]
)
def test_every_dependency_is_pinned_with_hashes_within_its_bounds(
    lock: Path, requirement: Requirement
) -> None:
    pins = by_name(lock).get(canonicalize_name(requirement.name))
    hint = "run `make lock` after editing pyproject.toml"
    assert pins, f"{requirement.name} is in pyproject.toml but not in {lock.name}: {hint}"
    for pin in pins:
        assert pin.version is not None, f"{lock.name}:{pin.line}: {pin.name} is not pinned =="
        assert pin.hashes, f"{lock.name}:{pin.line}: {pin.name} has no --hash"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{lock.name}:{pin.line}: {pin.name}=={pin.version} is outside pyproject.toml's "
            f"{requirement}: {hint}"
        )
    # A universal lock may split a package by Python version or platform; one entry at least
    # is what this interpreter installs.
    assert any(pin.applies() for pin in pins), f"{lock.name}: no {requirement.name} for here"


@pytest.mark.parametrize("lock", [RUNTIME, TEST, TOOL], ids=lambda p: p.name)
def test_every_entry_is_one_version_with_sha256_hashes(lock: Path) -> None:
    pins = read_lock(lock)
    assert pins
    for pin in pins:
        assert pin.version is not None, f"{lock.name}:{pin.line}: {pin.name} is not pinned =="
        assert pin.hashes, f"{lock.name}:{pin.line}: {pin.name} has no --hash"
        assert all(h.startswith("sha256:") and len(h) == 7 + 64 for h in pin.hashes), pin


def test_runtime_and_test_locks_pin_shared_packages_alike() -> None:
    """`make serve` after `make test` reinstalls nothing, and the suite tests the very
    versions a server runs: every runtime entry is in the test lock, unchanged."""
    test = {(p.name, p.version) for p in read_lock(TEST)}
    missing = [
        f"{p.name}=={p.version}" for p in read_lock(RUNTIME) if (p.name, p.version) not in test
    ]
    assert missing == [], f"pinned differently in {TEST.name}; run `make lock`"


def test_the_lock_tool_is_locked() -> None:
    assert "uv" in by_name(TOOL)
