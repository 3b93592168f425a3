"""The one record every scanner returns, so that policy, storage and the CLI handle them alike.

A finding names where something is (path, line, the commit that added the blob) and what rule
matched; it never carries the matched text. Secret findings in particular must be safe to print
in `remote:` lines, logs and tables, so scanners build messages from rule names only.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("HIGH", "MEDIUM", "LOW")


@dataclass(frozen=True)
class Finding:
    """One issue found in one blob.

    `blocking` is decided by policy (config.yaml, per-model overrides), never by a scanner:
    scanners report, the pre-receive hook decides.
    """

    scanner: str  # "secrets" | "bandit" | "pickles" | "limits"
    path: str
    line: int | None
    rule: str  # detect-secrets type, bandit test id, pickle global, "skipped-too-large"
    severity: str  # "HIGH" | "MEDIUM" | "LOW"
    confidence: str
    message: str  # never contains a secret value
    commit: str  # full sha of the commit whose tree added the blob
    blocking: bool = False


def too_large(path: str, commit: str, size: int, cap: int, what: str) -> Finding:
    """A blob a scanner refused to read because of the size cap: reported, never passed silently."""
    return Finding(
        scanner="limits",
        path=path,
        line=None,
        rule="skipped-too-large",
        severity="MEDIUM",
        confidence="HIGH",
        message=f"{size} bytes is over the {cap}-byte limit for the {what} scan; not scanned",
        commit=commit,
    )
