"""`make test-hub`: run huggingface_hub's own tests against modelgit and judge the result.

A test that fails and is not in expected-failures.txt fails the run; a listed test that now
passes is reported, so the list can shrink. Each listed test names its group, and each group
must have its reason in docs/hub-suite.md, so nothing fails without a written reason.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from hubsuite import fetch

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected-failures.txt"
DOC = fetch.REPO / "docs" / "hub-suite.md"

#: The upstream test files whose tests reach the server. Buckets, kernels, jobs, inference,
#: Spaces' CLI, OAuth and webhooks-server files test features modelgit does not offer, and
#: the rest test the client alone; docs/hub-suite.md says so.
FILES = ("test_hf_api.py", "test_file_download.py", "test_snapshot_download.py",
         "test_hf_file_system.py", "test_repocard.py", "test_commit_api.py")

PYTEST_INI = """[pytest]
# Written by hubsuite/run.py: the upstream markers, without its addopts or pytest-env.
markers =
    api: upstream suite marker
    transfer: upstream suite marker
    inference: upstream suite marker
    xet: upstream suite marker
    no_xet: upstream suite marker
    production: runs against huggingface.co itself (deselected)
    deprecated: upstream suite marker
    git_lfs: upstream suite marker
    vcr: upstream suite marker
"""

CONFTEST = """# Written by hubsuite/run.py: the suite's conftest is modelgit's (hubsuite/plugin.py).
import sys
sys.path.append({repo!r})
from hubsuite.plugin import *  # noqa: F403
"""


def prepare(root: Path) -> None:
    """Make the unpacked tests a package with our conftest and markers."""
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "conftest.py").write_text(CONFTEST.format(repo=str(fetch.REPO)))
    (root / "pytest.ini").write_text(PYTEST_INI)


def expected() -> dict[str, str]:
    """Listed test id -> its group (``id  # group`` per line)."""
    listed: dict[str, str] = {}
    for line in EXPECTED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            test_id, _, group = line.partition("#")
            listed[test_id.strip()] = group.strip()
    return listed


def messages(report: Path) -> dict[str, str]:
    """Test id -> the first lines of its failure, from pytest's junit report."""
    found: dict[str, str] = {}
    for case in ET.parse(report).iter("testcase"):  # noqa: S314
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            text = (problem.get("message") or "").strip().splitlines()[:3]
            found[test_id_of(case)] = "\n    ".join(text)
    return found


def test_id_of(case: ET.Element) -> str:
    """file::Class::name, from a junit testcase's classname (tests.test_x.Class) and name."""
    parts = case.get("classname", "").split(".")
    module = next(i for i, p in enumerate(parts) if p.startswith("test_"))
    return "::".join([parts[module] + ".py", *parts[module + 1:], case.get("name", "")])


def outcomes(report: Path) -> dict[str, str]:
    """Test id (file::Class::name) -> passed, failed or skipped, from pytest's junit report."""
    found: dict[str, str] = {}
    for case in ET.parse(report).iter("testcase"):  # noqa: S314
        test_id = test_id_of(case)
        if case.find("failure") is not None or case.find("error") is not None:
            state = "failed"
        elif case.find("skipped") is not None:
            state = "skipped"
        else:
            state = "passed"
        # A test that passes but errors in teardown has two entries: the failure wins.
        if found.get(test_id) != "failed":
            found[test_id] = state
    return found


def undocumented_groups(listed: dict[str, str]) -> list[str]:
    doc = DOC.read_text()
    return sorted({g for g in listed.values() if not g or f"| {g} |" not in doc})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubsuite")
    parser.add_argument("-n", "--workers", default=os.environ.get("HUBSUITE_WORKERS", "4"))
    parser.add_argument("-k", default="", help="pytest's -k, to run a part (no comparison)")
    args = parser.parse_args(argv)
    root = fetch.unpack(fetch.download())
    prepare(root)
    report = root / "report.xml"
    # No tracebacks on the terminal (most failures are listed ones); a new failure's message
    # is printed below, from the report.
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN", "--tb=no",
               "--disable-warnings",
               # One file per worker, in file order: which uploads a worker's Xet cache has
               # seen before decides some failures (docs/hub-suite.md), so keep it stable.
               "-n", str(args.workers), "--dist", "loadfile", "-m", "not production",
               f"--junitxml={report}",
               *(["-k", args.k] if args.k else []), *(f"tests/{f}" for f in FILES)]
    subprocess.run(command, cwd=root, check=False)
    if not report.is_file():
        print("hubsuite: pytest wrote no report")
        return 1
    got = outcomes(report)
    counts = {s: sum(1 for v in got.values() if v == s) for s in ("passed", "failed", "skipped")}
    listed = expected()
    new = sorted(t for t, s in got.items() if s == "failed" and t not in listed)
    fixed = sorted(t for t, s in got.items() if s == "passed" and t in listed)
    print(f"\nhuggingface_hub {fetch.pinned()[0]} suite against modelgit: "
          f"{counts['passed']} passed, {counts['failed']} failed "
          f"({counts['failed'] - len(new)} of them listed in hubsuite/expected-failures.txt), "
          f"{counts['skipped']} skipped")
    if args.k:
        return 0
    for test_id in fixed:
        print(f"now passes, remove it from hubsuite/expected-failures.txt: {test_id}")
    why = messages(report) if new else {}
    for test_id in new:
        print(f"NEW FAILURE (fix it, or list it with its reason): {test_id}\n    {why[test_id]}")
    missing = undocumented_groups(listed)
    for group in missing:
        print(f"group without a reason in docs/hub-suite.md: {group!r}")
    return 1 if new or missing else 0


if __name__ == "__main__":
    sys.exit(main())
