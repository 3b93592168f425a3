"""picklescan on the pickle-based files a model hub stores, as git blobs and as LFS objects.

Loading a pickle runs whatever callables it names, so a model file is dangerous before anyone
calls it. picklescan reads the pickle opcodes without executing them and lists the globals the
file would import: those on its dangerous list (os.system, builtins.eval, ...) are HIGH, unknown
ones MEDIUM, known-safe ones (torch storages, collections.OrderedDict) nothing. Torch's zip
format (`archive/data.pkl` inside a zip) is opened and scanned member by member.

Weights normally arrive through Git LFS, so the git blob is only a pointer; the caller resolves
the pointer (`modelgit.lfs.pointer`: git-lfs's own rules) to the stored object (`open_lfs`,
which opens only objects linked to the model). A pointer whose object cannot be opened is
reported ("lfs-object-missing") rather than passed, so an upload that never reached the store
cannot hide a file from the scan.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, BinaryIO

from modelgit.lfs.pointer import parse as parse_pointer
from modelgit.scanner.advice import pickle_message
from modelgit.scanner.findings import Finding
from modelgit.scanner.quiet import relay_logs

if TYPE_CHECKING:
    from modelgit.scanner.blobs import Blob

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib")
SEVERITY = {"dangerous": "HIGH", "suspicious": "MEDIUM"}


def _findings(path: str, commit: str, fileobj: BinaryIO) -> list[Finding]:
    from picklescan.scanner import SafetyLevel, scan_bytes

    relay_logs("picklescan")
    extension = os.path.splitext(path)[1].lower()
    try:
        result = scan_bytes(fileobj, path, extension)
    except Exception as error:  # picklescan raises whatever its readers raise
        log.warning("picklescan could not read %s: %s", path, error)
        return [Finding(
            scanner="pickles",
            path=path,
            line=None,
            rule="pickle-scan-error",
            severity="MEDIUM",
            confidence="LOW",
            message=f"could not be scanned as a pickle ({type(error).__name__}); "
                    "treat as unverified",
            commit=commit,
        )]
    findings = []
    seen: set[tuple[str, str]] = set()
    for found in result.globals:
        if found.safety == SafetyLevel.Innocuous:
            continue
        rule = f"{found.module}.{found.name}"
        level = found.safety.value
        if (rule, level) in seen:
            continue
        seen.add((rule, level))
        findings.append(Finding(
            scanner="pickles",
            path=path,
            line=None,
            rule=rule,
            severity=SEVERITY[level],
            confidence="HIGH" if level == "dangerous" else "MEDIUM",
            message=pickle_message(rule),
            commit=commit,
        ))
    findings.sort(key=lambda f: (f.severity != "HIGH", f.rule))
    return findings


def scan_pickle_bytes(path: str, data: bytes, commit: str) -> list[Finding]:
    """Dangerous (HIGH) and suspicious (MEDIUM) globals in a pickle-based file's bytes."""
    return _findings(path, commit, io.BytesIO(data))


def scan_pickle_file(path: str, fileobj: BinaryIO, commit: str) -> list[Finding]:
    """The same for a file on disk (an LFS object), read as a stream: memory stays flat."""
    return _findings(path, commit, fileobj)


def _lfs_missing(blob: Blob, oid: str) -> Finding:
    return Finding(
        scanner="pickles",
        path=blob.path,
        line=None,
        rule="lfs-object-missing",
        severity="LOW",
        confidence="HIGH",
        message=f"LFS object {oid[:12]} is not in the store; the file was not scanned",
        commit=blob.commit,
    )


def scan_pickles(
    blobs: Iterable[Blob],
    *,
    open_lfs: Callable[[str], BinaryIO | None] | None = None,
) -> list[Finding]:
    """picklescan findings for the blobs with a pickle suffix, LFS pointers resolved.

    `open_lfs(oid)` opens the stored LFS object (the caller closes nothing: the file is closed
    here), or returns None when the store does not have it.
    """
    findings: list[Finding] = []
    for blob in blobs:
        if not blob.path.lower().endswith(PICKLE_SUFFIXES):
            continue
        data = blob.data()
        pointer = parse_pointer(data)
        if pointer is None:
            findings += scan_pickle_bytes(blob.path, data, blob.commit)
            continue
        oid = pointer.oid
        stored = open_lfs(oid) if open_lfs is not None else None
        if stored is None:
            findings.append(_lfs_missing(blob, oid))
            continue
        with stored:
            findings += scan_pickle_file(blob.path, stored, blob.commit)
    return findings
