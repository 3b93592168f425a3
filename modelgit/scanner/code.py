"""bandit on pushed Python blobs, in memory, with the repository's own bandit configuration.

bandit's CLI wants files on disk; the blobs are in the repository (or the push's quarantine),
so this drives bandit's `BanditManager` directly with each blob's bytes. The findings are
bandit's own: test id (B602...), severity, confidence, line and text, and `# nosec` is honoured
by the same code that honours it in the CLI. The one change to bandit's output: the hardcoded
password tests (B105-B107) put the string they found into their text, and a finding must never
carry a secret, so their text is cut before the value.

The repository's configuration is what `bandit -c pyproject.toml` (the `[tool.bandit]` table)
or a `.bandit` ini file (`[bandit]` with comma-separated `tests`, `skips`, `exclude`) would
give: which tests run, which are skipped, which directories are left out, and plugin options.
"""

from __future__ import annotations

import configparser
import fnmatch
import io
import logging
import threading
import tomllib
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from modelgit.scanner.findings import Finding, too_large
from modelgit.scanner.quiet import relay_logs

if TYPE_CHECKING:
    from modelgit.scanner.blobs import Blob

log = logging.getLogger(__name__)

PYTHON_SUFFIXES = (".py", ".pyw")
DEFAULT_MAX_BLOB_BYTES = 5 * 1024 * 1024
# Tests whose text quotes the string they flagged (bandit's general_hardcoded_password).
VALUE_IN_TEXT = frozenset({"B105", "B106", "B107"})

# bandit keeps its test set's blacklist configuration in module globals; one scan at a time.
_bandit_lock = threading.Lock()


def _as_list(value: Any) -> list[str]:
    """bandit accepts lists in TOML and comma-separated strings in ini files."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]


def _read(tree: Any, path: str) -> bytes | None:
    try:
        entry = tree[path]
    except KeyError:
        return None
    data = getattr(entry, "data", None)
    return bytes(data) if data is not None else None


def bandit_config_from_tree(repo_path: str, rev: str) -> dict[str, Any] | None:
    """The repository's bandit configuration at `rev`, or None when it has none."""
    from modelgit.git import revisions
    from modelgit.git.repo import open_path

    return bandit_config(revisions.resolve(open_path(repo_path, {}), rev).tree, rev)


def bandit_config(tree: Any, rev: str = "") -> dict[str, Any] | None:
    """The bandit configuration in a commit's tree (a pygit2 tree: the pre-receive hook reads
    the pushed tip through the quarantine), or None when it has none.

    `pyproject.toml`'s `[tool.bandit]` wins key by key over `.bandit`'s `[bandit]` section.
    An unreadable file is logged and ignored: a broken config must not stop pushes.
    """
    config: dict[str, Any] = {}
    found = False

    ini = _read(tree, ".bandit")
    if ini is not None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(ini.decode("utf-8"))
            section = dict(parser.items("bandit"))
        except (configparser.Error, UnicodeDecodeError) as error:
            log.warning("ignoring unreadable .bandit at %s: %s", rev, error)
        else:
            found = True
            for key in ("tests", "skips"):
                if key in section:
                    config[key] = _as_list(section[key])
            if "exclude" in section:
                config["exclude_dirs"] = _as_list(section["exclude"])

    toml = _read(tree, "pyproject.toml")
    if toml is not None:
        try:
            table = tomllib.loads(toml.decode("utf-8")).get("tool", {}).get("bandit")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            log.warning("ignoring unreadable pyproject.toml at %s: %s", rev, error)
            table = None
        if isinstance(table, dict):
            found = True
            config.update(table)
    return config if found else None


def _excluded(path: str, patterns: list[str]) -> bool:
    """bandit's exclude_dirs: a pattern naming a directory (or glob) the path lies under."""
    parts = path.split("/")
    for pattern in patterns:
        pattern = pattern.strip().strip("/").removeprefix("./")
        if not pattern:
            continue
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*"):
            return True
        if any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts))):
            return True
    return False


def _message(test_id: str, test_name: str, text: str) -> str:
    if test_id in VALUE_IN_TEXT:
        text = text.split(":", 1)[0]  # "Possible hardcoded password: '<value>'"
    return f"{test_name}: {text}"


def scan_python(
    blobs: Iterable[Blob],
    *,
    config: dict[str, Any] | None = None,
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
) -> list[Finding]:
    """bandit's findings for the Python blobs (.py, .pyw) among `blobs`, in blob order.

    `config` is what `bandit_config_from_tree` returns (tests, skips, exclude_dirs and plugin
    options). Blobs bandit cannot parse (syntax errors) give no findings, as in the CLI.
    """
    relay_logs("bandit", "stevedore")  # before the imports: loading plugins may log
    with warnings.catch_warnings():  # stevedore's deprecation warnings while loading them
        warnings.simplefilter("ignore")
        from bandit.core import config as b_config
        from bandit.core import constants as b_constants
        from bandit.core import extension_loader
        from bandit.core import manager as b_manager

    config = dict(config or {})
    python = [b for b in blobs if b.path.lower().endswith(PYTHON_SUFFIXES)]
    excluded = _as_list(config.get("exclude_dirs"))
    findings: list[Finding] = []
    todo = []
    for blob in python:
        if _excluded(blob.path, excluded):
            continue
        if blob.size > max_blob_bytes:
            findings.append(too_large(blob.path, blob.commit, blob.size, max_blob_bytes, "bandit"))
            continue
        todo.append(blob)
    if not todo:
        return findings

    known = extension_loader.MANAGER.check_id
    include = {t for t in _as_list(config.get("tests")) if known(t)}
    exclude = {t for t in _as_list(config.get("skips")) if known(t)} - include
    settings = b_config.BanditConfig()
    for key, value in config.items():
        if key not in ("tests", "skips", "exclude_dirs"):
            settings.config[key] = value  # plugin options, e.g. hardcoded_tmp_directory

    per_blob: list[tuple[Blob, list[Any]]] = []
    with _bandit_lock:
        manager = b_manager.BanditManager(
            settings, "file", profile={"include": include, "exclude": exclude}, quiet=True
        )
        # Compiling the pushed code may warn about it (invalid escapes...): not for our output.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for blob in todo:
                before = len(manager.results)
                manager._parse_file(blob.path, io.BytesIO(blob.data()), [blob.path])
                per_blob.append((blob, manager.results[before:]))

    seen: set[tuple[str, str, int]] = set()
    for blob, issues in per_blob:
        for issue in sorted(issues, key=lambda i: (i.lineno, i.test_id)):
            if not issue.filter(b_constants.LOW, b_constants.LOW):
                continue
            seen_key = (blob.path, issue.test_id, issue.lineno)
            if seen_key in seen:
                continue  # the same issue in a later version of the file, same push
            seen.add(seen_key)
            findings.append(Finding(
                scanner="bandit",
                path=blob.path,
                line=issue.lineno,
                rule=issue.test_id,
                severity=issue.severity,
                confidence=issue.confidence,
                message=_message(issue.test_id, issue.test, issue.text),
                commit=blob.commit,
            ))
    return findings
