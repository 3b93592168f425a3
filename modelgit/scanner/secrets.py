"""detect-secrets on blob contents in memory, with the CLI's exact findings at push speed.

Why not call `detect-secrets scan`: it wants files on disk (a push's blobs are only in the
quarantine) and it runs every plugin's regexes on every line through several layers of dependency
injection, about 0.1-0.3 MB/s per core on ordinary code and prose. A push must be checked within
seconds, so this module keeps detect-secrets' own decision procedure and skips only work that
provably cannot produce a finding:

1. The same file-level pipeline as `detect_secrets.core.scan.scan_file`: filename filters
   (non-text extensions, lock files, swagger), UTF-8 text with universal newlines (undecodable
   blobs are binary and skipped, as the CLI skips them), the config/YAML transformers, and the
   "eager" transformer pass when the first pass finds nothing.
2. A line prefilter (`scanner.secret_prefilter`): one pass over the whole text finds the only
   lines on which any plugin could report; those go through detect-secrets' own per-line code
   (`_scan_line`, `_is_filtered_out`) with the full file as context, so filters such as
   `pragma: allowlist nextline secret` see exactly what they see in the CLI. A plugin whose
   regexes changed in an upgrade turns its prefilter off: slower, never wrong.
3. Parallel scanning when the push is big enough to pay for it: scan processes (made once,
   from a forkserver, never forked from the threaded server) take batches of blobs, largest
   first, each taking the next when it is done (`_scan_pooled`).
4. Large text and LFS (see `scanner.windows`): a blob over `max_blob_bytes` that is text is
   scanned in overlapping windows, each a unit of the parallel scan, up to `max_scan_bytes`
   (reported `skipped-too-large` above it, unread); an LFS pointer stands for its stored
   object when that is text. The same bytes under the same file type are scanned once.

Deliberate differences from the CLI, both in the direction of safety: secrets are never sent to
providers for verification (the CLI tries, and drops what a provider calls invalid; offline it
keeps them, which is what this module reports), and the `.secrets.baseline` is used only as a
list of accepted (file, hashed secret) pairs - its plugin and filter settings are ignored, since
they could name code files from the pushed repository to import.

Findings carry the file, line and secret type; the secret value never leaves the scan.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import importlib
import io
import json
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, BinaryIO

from modelgit.scanner.findings import Finding, too_large
from modelgit.scanner.quiet import relay_logs
from modelgit.scanner.secret_prefilter import candidate_lines, may_hold_secrets
from modelgit.scanner.windows import SNIFF_BYTES, Window, looks_like_text, read_lfs_text, windows

if TYPE_CHECKING:
    from modelgit.scanner.blobs import Blob

log = logging.getLogger(__name__)

DEFAULT_MAX_BLOB_BYTES = 5 * 1024 * 1024
# Largest text (a git blob, or an LFS object that is text) the scan reads, in windows above
# DEFAULT_MAX_BLOB_BYTES (config scan.max_secret_scan_bytes).
DEFAULT_MAX_SCAN_BYTES = 100 * 1024 * 1024
BASELINE_FILENAME = ".secrets.baseline"
# Below this many bytes handing blobs to a scan process costs more (the copy through its pipe,
# the results' round trip) than it saves.
PARALLEL_MIN_BYTES = 1024 * 1024

# What `detect-secrets scan` uses when given no baseline (`detect-secrets scan --all-files` in an
# empty folder prints it), less two filters: verification (sends secrets to providers) and
# `is_invalid_file` (checks that the file exists on disk; our blobs are in memory).
PLUGINS = (
    "ArtifactoryDetector", "AWSKeyDetector", "AzureStorageKeyDetector",
    "Base64HighEntropyString", "BasicAuthDetector", "CloudantDetector",
    "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector",
    "HexHighEntropyString", "IbmCloudIamDetector", "IbmCosHmacDetector", "IPPublicDetector",
    "JwtTokenDetector", "KeywordDetector", "MailchimpDetector", "NpmDetector", "OpenAIDetector",
    "PrivateKeyDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector",
    "SoftlayerDetector", "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
FILTERS = (
    "detect_secrets.filters.allowlist.is_line_allowlisted",
    "detect_secrets.filters.heuristic.is_indirect_reference",
    "detect_secrets.filters.heuristic.is_likely_id_string",
    "detect_secrets.filters.heuristic.is_lock_file",
    "detect_secrets.filters.heuristic.is_not_alphanumeric_string",
    "detect_secrets.filters.heuristic.is_potential_uuid",
    "detect_secrets.filters.heuristic.is_prefixed_with_dollar_sign",
    "detect_secrets.filters.heuristic.is_sequential_string",
    "detect_secrets.filters.heuristic.is_swagger_file",
    "detect_secrets.filters.heuristic.is_templated_secret",
)
SETTINGS: dict[str, Any] = {
    "plugins_used": [{"name": name} for name in PLUGINS],
    "filters_used": [{"path": path} for path in FILTERS],
}
NOT_IN_MEMORY = "detect_secrets.filters.common.is_invalid_file"

# Secret types whose rule is a heuristic rather than a provider's token format.
HEURISTIC_TYPES = frozenset({
    "Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword", "Public IP (ipv4)",
})

_settings_lock = threading.Lock()


# --- settings -------------------------------------------------------------------------------


@contextmanager
def _detect_secrets_settings() -> Iterator[None]:
    """detect-secrets' global settings set to SETTINGS for the duration (restored after).

    Held for the whole of a scan; a scan process enters it once and keeps it
    (`scan_in_worker`).
    """
    from detect_secrets.settings import get_settings, transient_settings

    with _settings_lock, transient_settings(SETTINGS):
        get_settings().disable_filters(NOT_IN_MEMORY)
        yield


# --- the per-file pipeline (detect_secrets.core.scan.scan_file, in memory) -------------------


def _text_file(path: str, data: bytes | memoryview) -> io.TextIOWrapper:
    """What `open(path)` gives detect-secrets: UTF-8 text, universal newlines, a `.name`."""
    raw = io.BytesIO(data)
    raw.name = path
    return io.TextIOWrapper(raw, encoding="utf-8")


def _scan_lines(path: str, lines: list[str], readlines: bool) -> list[Any]:
    """`_process_line_based_plugins`, for the plugins that find something on a line.

    The order differs from detect-secrets' (its line filters run first, here last) but not the
    outcome: filters only remove, and a line no plugin reports on needs no filtering.
    """
    from detect_secrets.core.scan import _is_filtered_out, _scan_line
    from detect_secrets.settings import get_plugins
    from detect_secrets.util.code_snippet import get_code_snippet

    found = []
    plugins = get_plugins()
    for index, names in candidate_lines(path, lines, readlines):
        line_number = index + 1
        line = lines[index].rstrip()
        snippet = get_code_snippet(lines=lines, line_number=line_number)
        on_line = []
        for plugin in plugins:
            if names is not None and type(plugin).__name__ not in names:
                continue  # it finds nothing on this line (see candidate_lines)
            for secret in _scan_line(
                plugin=plugin, filename=path, line=line, line_number=line_number,
                context=snippet,
            ):
                if not _is_filtered_out(
                    required_filter_parameters=["context"], filename=secret.filename,
                    secret=secret.secret_value, plugin=plugin, line=line, context=snippet,
                ):
                    on_line.append(secret)
        if on_line and not _is_filtered_out(
            required_filter_parameters=["line"], filename=path, line=line, context=snippet
        ):
            found += on_line
    return found


def scan_text(path: str, data: bytes | memoryview) -> list[tuple[int, str, str]]:
    """(line, secret type, sha1 of the secret) for one file, as `detect-secrets scan` reports it.

    Like the CLI's results, one entry per distinct (type, secret) in the file, at its first line.
    Must run with the detect-secrets settings applied (see `_detect_secrets_settings`).
    """
    from detect_secrets.core.scan import _is_filtered_out
    from detect_secrets.transformers import get_transformed_file
    from detect_secrets.util.filetype import FileType, determine_file_type

    if _is_filtered_out(required_filter_parameters=["filename"], filename=path):
        return []
    file = _text_file(path, data)
    try:
        # Worth it where a transformer may parse the whole file (YAML; the eager ini pass on
        # "other" files); elsewhere the exact prefilter below costs the same.
        if determine_file_type(path) in (FileType.YAML, FileType.OTHER) and not may_hold_secrets(
            path, file.read()
        ):
            return []
        file.seek(0)
        transformed = get_transformed_file(file)  # type: ignore[arg-type]
        readlines = not transformed
        lines = transformed if transformed else file.readlines()
    except UnicodeDecodeError:
        return []  # binary: detect-secrets ignores it
    secrets = _scan_lines(path, lines, readlines)
    if not secrets:
        # Nothing found: the CLI retries with the "eager" transformers (e.g. .env as ini).
        file.seek(0)
        eager = get_transformed_file(file, use_eager_transformers=True)  # type: ignore[arg-type]
        if eager:
            secrets = _scan_lines(path, eager, readlines=False)
    out: dict[tuple[str, str], int] = {}
    for secret in secrets:
        out.setdefault((secret.type, secret.secret_hash), secret.line_number)
    return [(line, kind, digest) for (kind, digest), line in out.items()]


# What scan_text gives for one blob.
Found = list[tuple[int, str, str]]


# --- baseline ---------------------------------------------------------------------------------


def baseline_entries(baseline: bytes | None) -> set[tuple[str, str]]:
    """(filename, hashed_secret) pairs listed in a `.secrets.baseline`; empty if unreadable.

    An unreadable baseline suppresses nothing: failing closed is the safe side for a push.
    """
    if not baseline:
        return set()
    try:
        results = json.loads(baseline.decode("utf-8"))["results"]
        return {
            (filename.replace("\\", "/"), str(entry["hashed_secret"]))
            for filename, entries in results.items()
            for entry in entries
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("unreadable %s; it suppresses nothing", BASELINE_FILENAME)
        return set()


# --- the entry point --------------------------------------------------------------------------


def _message(kind: str) -> str:
    return (
        f"possible {kind} (detect-secrets); remove it from the commits that added it, "
        "or mark a false positive with 'pragma: allowlist secret'"
    )


@dataclass(frozen=True)
class _Unit:
    """One piece of work for scan_text: a blob whole, or one window of a large text."""

    blob: int                                    # index of the blob it belongs to
    path: str
    size: int
    load: Callable[[], bytes | memoryview]
    window: Window | None = None                 # None: the whole file

    def data(self) -> bytes | memoryview:
        return self.load()

    def place(self, found: Found) -> Found:
        """The unit's findings with the file's line numbers, own lines only."""
        if self.window is None:
            return found
        w = self.window
        out = []
        for line, kind, digest in found:
            at = w.first_line + line - 1
            if at >= w.own_first and (w.own_last is None or at <= w.own_last):
                out.append((at, kind, digest))
        return out


def _slice(view: memoryview, start: int, end: int) -> memoryview:
    return view[start:end]


def _pieces(index: int, path: str, data: bytes, max_blob_bytes: int) -> list[_Unit]:
    """A text read in full: one unit up to max_blob_bytes, windows above it."""
    view = memoryview(data)
    if len(data) <= max_blob_bytes:
        return [_Unit(index, path, len(data), partial(_slice, view, 0, len(data)))]
    return [_Unit(index, path, w.end - w.start, partial(_slice, view, w.start, w.end), w)
            for w in windows(data)]


def scan_secrets(
    blobs: Iterable[Blob],
    *,
    baseline: bytes | None = None,
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
    max_scan_bytes: int = DEFAULT_MAX_SCAN_BYTES,
    open_lfs: Callable[[str], BinaryIO | None] | None = None,
    workers: int | None = None,
) -> list[Finding]:
    """detect-secrets findings for the blobs, in blob order, each secret once per path.

    A blob up to `max_blob_bytes` is scanned whole, as `detect-secrets scan` would; a larger
    one that is text (no NUL and valid UTF-8 in its first 8 KiB) is scanned in overlapping
    windows (see `scanner.windows`), up to `max_scan_bytes`; above that it is reported as
    `skipped-too-large` (scanner "limits") without being read, and policy decides (the
    pre-receive check refuses it unless the site set ``scan.oversize: allow``). A large binary
    blob is skipped, as detect-secrets skips what does not decode.

    With `open_lfs`, an LFS pointer stands for its object: a text object is read from the
    store and scanned like a blob of that size (a binary one, or one not in the store, is
    skipped here; the pointer rules are the LFS checks' business).

    A secret that several blobs of one path carry (the file changed again later in the push)
    is reported once, for the first commit that carried it. `baseline` is the content of
    `.secrets.baseline` at the pushed tip; the secrets it lists are not reported, and the
    baseline file itself is not scanned.
    """
    from detect_secrets.core.scan import _is_filtered_out

    relay_logs("detect-secrets")  # after the import: it puts its own stderr handler there
    accepted = baseline_entries(baseline)
    max_scan_bytes = max(max_scan_bytes, max_blob_bytes)  # what is read whole is never "over"
    findings: list[Finding] = []
    kept: list[Blob] = []
    scanned_as: list[int] = []  # per kept blob: the kept blob whose scan stands for it
    small: list[_Unit] = []
    large: list[list[_Unit]] = []  # the windows of each large text, scanned one text at a time
    # The same bytes under the same kind of file name give the same findings (the path counts
    # only through its file type; path filters ran already): each is read and scanned once,
    # so that a tree naming one blob at 10,000 paths costs one blob, not 10,000.
    done: dict[tuple[str, str, object], int | tuple[str, int]] = {}
    with _detect_secrets_settings():
        for blob in blobs:
            if baseline is not None and os.path.basename(blob.path) == BASELINE_FILENAME:
                continue
            if _is_filtered_out(required_filter_parameters=["filename"], filename=blob.path):
                continue  # e.g. .png, .zip, lock files: never scanned by detect-secrets
            pointer = _pointer(blob) if open_lfs is not None else None
            key = ("lfs", pointer, _file_type(blob.path)) if pointer is not None \
                else ("git", blob.oid, _file_type(blob.path))
            if key in done:
                outcome = done[key]
                if isinstance(outcome, int):
                    kept.append(blob)
                    scanned_as.append(outcome)
                elif outcome[0] == "oversize":
                    findings.append(too_large(blob.path, blob.commit, outcome[1],
                                              max_scan_bytes, "secret"))
                continue
            index = len(kept)
            units: list[_Unit] = []
            if pointer is not None and open_lfs is not None:
                text = read_lfs_text(open_lfs, pointer, max_scan_bytes)
                if text.kind == "oversize":
                    done[key] = ("oversize", text.size)
                    findings.append(too_large(blob.path, blob.commit, text.size,
                                              max_scan_bytes, "secret"))
                elif text.kind == "text":
                    units = _pieces(index, blob.path, text.data, max_blob_bytes)
                # binary, or not in the store: nothing here to read
            elif blob.size <= max_blob_bytes:
                units = [_Unit(index, blob.path, blob.size, blob.data)]
            elif blob.size > max_scan_bytes:
                done[key] = ("oversize", blob.size)
                findings.append(too_large(blob.path, blob.commit, blob.size, max_scan_bytes,
                                          "secret"))
            else:
                data = blob.data()
                if looks_like_text(data[:SNIFF_BYTES]):
                    units = _pieces(index, blob.path, data, max_blob_bytes)
            if not units:
                done.setdefault(key, ("skip", 0))
                continue
            done[key] = index
            kept.append(blob)
            scanned_as.append(index)
            if len(units) == 1 and units[0].window is None:
                small.append(units[0])
            else:
                large.append(units)
        per_blob: list[dict[tuple[str, str], int]] = [{} for _ in kept]
        for group in (small, *large):
            for unit, found in zip(group, _run(group, workers), strict=True):
                first = per_blob[unit.blob]
                for line, kind, digest in unit.place(found):
                    if line < first.get((kind, digest), line + 1):
                        first[(kind, digest)] = line
        per_blob = [per_blob[source] for source in scanned_as]

    seen: set[tuple[str, str, str]] = set()
    for blob, first in zip(kept, per_blob, strict=True):
        for line, kind, digest in sorted((line, kind, digest)
                                         for (kind, digest), line in first.items()):
            if (blob.path, digest) in accepted or (blob.path, kind, digest) in seen:
                continue
            seen.add((blob.path, kind, digest))
            findings.append(Finding(
                scanner="secrets",
                path=blob.path,
                line=line,
                rule=kind,
                severity="HIGH",
                confidence="MEDIUM" if kind in HEURISTIC_TYPES else "HIGH",
                message=_message(kind),
                commit=blob.commit,
            ))
    return findings


def _file_type(path: str) -> object:
    """What of a path a scan's findings depend on, besides the path filters: its file type."""
    from detect_secrets.util.filetype import determine_file_type

    return determine_file_type(path)


def _pointer(blob: Blob) -> str | None:
    """The LFS object id a pointer blob names, or None."""
    from modelgit.lfs.pointer import MAX_POINTER_BYTES, parse

    if blob.size > MAX_POINTER_BYTES:
        return None
    found = parse(blob.data())
    return found.oid if found is not None else None


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run(units: list[_Unit], workers: int | None) -> list[Found]:
    """scan_text over the units, in scan processes when there is enough to share."""
    workers = _default_workers() if workers is None else max(1, workers)
    if workers == 1 or len(units) < 2 or sum(unit.size for unit in units) < PARALLEL_MIN_BYTES:
        return [scan_text(unit.path, unit.data()) for unit in units]
    # Largest first, so that one big file does not start last and finish alone.
    order = sorted(range(len(units)), key=lambda i: -units[i].size)
    found = _scan_pooled(units, order, workers)
    return [found[i] for i in range(len(units))]


#: The scan processes of the secret scan (``scanner.pool``): one per core.
SECRETS_POOL = "secrets"  # pragma: allowlist secret
#: Bytes of units handed to a scan process at a time (one job per small file would cost more
#: in the pool's queues than scanning it).
BATCH_BYTES = 256 * 1024
#: The function a scan process runs on a unit (a module global, so that a test can make a
#: scan process fail mid-scan by naming a function of its own).
_IN_WORKER = "modelgit.scanner.secrets:scan_in_worker"


def _scan_pooled(units: list[_Unit], order: list[int], workers: int) -> dict[int, Found]:
    """scan_text's results for the units in `order`, from `workers` scan processes.

    The processes come from a forkserver (``scanner.pool``), made once and kept, never forked
    from this threaded process; units go to them in batches through the pool's pipe (a push's
    blobs are in this process's memory only), largest first, two batches per process in
    flight, each process taking the next batch when it is done. This thread only waits: it
    holds no GIL the pool's own threads need to keep the processes fed (scanning here too made
    the whole scan slower), and a server's other threads go on answering. Fails closed: if a
    scan process fails or dies, or the wait is interrupted, this raises (and the push is
    refused), and the pool is stopped at once (its processes killed; the next scan makes a
    new one).
    """
    from modelgit.scanner import pool as pools

    executor = pools.executor(SECRETS_POOL, workers)
    batches: list[list[int]] = [[]]
    size = 0
    for index in order:
        if size >= BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(index)
        size += units[index].size
    target = _IN_WORKER
    found: dict[int, Found] = {}
    waiting = collections.deque(batches)
    jobs: dict[concurrent.futures.Future[list[Found]], list[int]] = {}
    try:
        while waiting or jobs:
            # Two batches per process in flight: each has the next one at hand, and at most
            # that many copies of blobs wait in the pool's pipes (a large text's windows are
            # megabytes each).
            while waiting and len(jobs) < 2 * workers:
                batch = waiting.popleft()
                jobs[executor.submit(_call, target, [(units[i].path, bytes(units[i].data()))
                                                     for i in batch])] = batch
            done, _ = concurrent.futures.wait(jobs, return_when="FIRST_COMPLETED")
            for job in done:
                batch = jobs.pop(job)
                results = job.result()
                if len(results) != len(batch):
                    raise RuntimeError(f"a scan process sent results for {len(results)} of"
                                       f" {len(batch)} blobs")
                found.update(zip(batch, results, strict=True))
    except BaseException as exc:
        pools.discard(SECRETS_POOL, executor, kill=True)
        if isinstance(exc, Exception):
            detail = "".join(traceback.format_exception_only(exc)).strip()
            raise RuntimeError(f"secret scan: a scan process failed: {detail}") from exc
        raise
    if sorted(found) != sorted(order):
        raise RuntimeError("secret scan: not every blob was scanned exactly once")
    return found


def _call(target: str, work: list[tuple[str, bytes]]) -> list[Found]:
    module, _, name = target.partition(":")
    function: Callable[[str, bytes], Found] = getattr(importlib.import_module(module), name)
    return [function(path, data) for path, data in work]


_worker_settings: list[contextlib.ExitStack] = []


def scan_in_worker(path: str, data: bytes) -> Found:
    """scan_text in a scan process, under detect-secrets' settings (entered once per process
    and kept: the process does nothing else)."""
    if not _worker_settings:
        stack = contextlib.ExitStack()
        stack.enter_context(_detect_secrets_settings())
        _worker_settings.append(stack)
    return scan_text(path, data)


def warm_workers() -> None:
    """Start the scan processes and build their prefilter before the first large push."""
    from modelgit.scanner import pool as pools

    executor = pools.executor(SECRETS_POOL, _default_workers())
    jobs = [executor.submit(_call, _IN_WORKER, [("warm.txt", b"warm = 1\n")])
            for _ in range(_default_workers())]
    for job in jobs:
        job.result()
