"""The tests' own layout: shared code lives in tests/helpers/, and no test module imports
another one.

A test module that imports another runs that module's imports and autouse fixtures where
nobody expects them, and cannot change without breaking its importers; whatever two modules
share belongs in tests/helpers/ (or in a conftest.py fixture).
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def allowed(module: str) -> bool:
    """``module`` (after "tests.") is the helpers or a conftest (whose fixtures' types and
    names a test of that folder may import)."""
    parts = module.split(".")
    return parts[0] == "helpers" or parts[-1] == "conftest"


#: Scripts that `make` runs, not tests: they share nothing and nothing imports them.
SCRIPTS = frozenset({"check_secrets.py"})

# "from tests.x import ..." or "import tests.x", also inside a string that a child runs.
IMPORT = re.compile(r"^\s*(?:from|import)\s+tests\.([\w.]+)", re.MULTILINE)


def offending_imports(root: Path) -> list[str]:
    """``path: tests.name`` for each import of the tests package that is not allowed."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for match in IMPORT.finditer(path.read_text(encoding="utf-8")):
            if not allowed(match.group(1)):
                found.append(f"{path.relative_to(root)}: tests.{match.group(1)}")
    return found


def stray_modules(root: Path) -> list[str]:
    """Modules outside helpers/ that are neither tests, conftest, a package file nor a
    script: shared code that other tests would end up importing."""
    return [str(path.relative_to(root)) for path in sorted(root.rglob("*.py"))
            if "helpers" not in path.relative_to(root).parts
            and not path.name.startswith("test_")
            and path.name not in {"conftest.py", "__init__.py"}
            and str(path.relative_to(root)) not in SCRIPTS]


def test_no_test_module_imports_another() -> None:
    assert offending_imports(TESTS) == [], "move what is shared to tests/helpers/"


def test_shared_code_lives_in_helpers() -> None:
    assert stray_modules(TESTS) == [], "move shared modules to tests/helpers/"
    assert not list((TESTS / "helpers").rglob("test_*.py")), "tests do not go in helpers/"


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    """Both checks fail on a tree that breaks them (so their passing above means something)."""
    (tmp_path / "lfs").mkdir()
    (tmp_path / "lfs" / "test_a.py").write_text(
        "from tests.helpers.wait import wait_for\nfrom tests.conftest import Site\n"
        "from tests.lfs.conftest import Repo\n"
        "from tests.lfs.test_b import upload\n"
        'SCRIPT = """\n    import tests.lfs.test_b\n"""\n')
    (tmp_path / "lfs" / "shared.py").write_text("")
    assert offending_imports(tmp_path) == ["lfs/test_a.py: tests.lfs.test_b"] * 2
    assert stray_modules(tmp_path) == ["lfs/shared.py"]
