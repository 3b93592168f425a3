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
2. A line prefilter. For every default plugin there is a regular expression that matches a
   substring of anything that plugin can report (a literal prefix such as `ghp_`, the quoted run
   of at least `floor(2**limit) + 1` characters that an entropy above `limit` requires, the
   denylisted keyword without which no keyword rule matches...). None of them can match a line
   break, so each is run once over the whole text (in C) and a line whose span holds no match is
   a line on which no plugin can report anything; such lines are not analysed. Lines with a
   match go through detect-secrets' own per-line code (`_scan_line`, `_is_filtered_out`) with
   the full file as context, so filters such as `pragma: allowlist nextline secret` see exactly
   what they see in the CLI. Each prefilter is tied to a fingerprint of the plugin regexes it
   was derived from; if an upgrade changes a plugin (or adds one), the prefilter is switched off
   and every line is analysed: slower, never wrong.
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

import bisect
import codecs
import collections
import concurrent.futures
import contextlib
import hashlib
import importlib
import io
import itertools
import json
import logging
import math
import os
import re
import string
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, BinaryIO

from modelgit.scanner.findings import Finding, too_large
from modelgit.scanner.quiet import relay_logs
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

# The line prefilter. Per plugin: the fingerprint of the regexes it was derived from
# (detect-secrets 1.5) and "coarse" detectors, run once over the whole file, each matching a
# substring of anything that plugin can report (so never a line break):
#   ("lit", s)     the ASCII literal s, case-sensitive
#   ("ilit", s)    the lowercase ASCII literal s, case-insensitive (with IGNORECASE's folding)
#   ("run", "c:n") n or more consecutive characters of the RUN_CLASSES class c, in any case
#                  (IGNORECASE look-alikes and every \d digit included)
#   ("re", r)      the bytes regex r on the ASCII view
#   ("ire", r)     the bytes regex r on the lowered ASCII view
# A line where a plugin's detector fires is then checked with the plugin's own analyze_string
# (see _plugin_check), and only the plugins that find something there run detect-secrets' full
# per-line code. The comments give the plugin regexes each detector is derived from.
# One pass for the literals that start with "A": Artifactory's AKC and AP, the AWS key ids,
# Azure's AccountKey=.
A_PREFIXED = r"A(?:KC|P|3T|BIA|CCA|KIA|SIA|ccountKey=)"
RUN_CLASSES = {
    "letters": string.ascii_lowercase,
    "alnum": string.ascii_lowercase + string.digits,
    "word": string.ascii_lowercase + string.digits + "_",
    "token": string.ascii_lowercase + string.digits + "_-",
}
PLUGIN_PREFILTERS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    # (?:\s|=|:|"|^)AKC[a-zA-Z0-9]{10,}(?:\s|"|$) and (?:\s|=|:|"|^)AP[\dABCDEF][a-zA-Z0-9]{8,}...
    "ArtifactoryDetector": ("48e7d3aefba57208", [("re", A_PREFIXED)]),
    # (?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16} and (?i)aws.{0,20}?(?:key|...)...
    "AWSKeyDetector": ("ff53263459562182", [("re", A_PREFIXED), ("ilit", "aws")]),
    # AccountKey=[a-zA-Z0-9+\/=]{88}
    "AzureStorageKeyDetector": ("3f14badcb9f19aaa", [("re", A_PREFIXED)]),
    # ://[^{reserved}\s]+:([^{reserved}\s]+)@ ; as bytes, \S also takes the "?" that stands for
    # any non-ASCII character (Unicode spaces included).
    "BasicAuthDetector": ("df8c61ef4433176e", [("re", r"://\S+:\S+@")]),
    # Every rule ends in (?i)[0-9a-f]{64} or (?i)[a-z]{24}.
    "CloudantDetector": ("ecd13ab706e697dd", [("run", "alnum:64"), ("run", "letters:24")]),
    # [MNO][a-zA-Z\d_-]{23,25}\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27} (\d digits are "0" in the view);
    # from the first dot on: a regex that starts with a literal is searched for that literal
    # first, ten times faster than trying the character class at every M, N and O.
    "DiscordBotTokenDetector": ("3e26da4ba8a66a94", [
        ("re", r"\.[a-zA-Z0-9_-]{6}\.[a-zA-Z0-9_-]{27}")]),
    # (ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}
    "GitHubTokenDetector": ("be2df48d62cd0f62", [("run", "word:36")]),
    # (glpat|gldt|glft|glsoat|glrt)-..., GR1348941..., glcbt-..., glimt-, glptt-, glagent-, gloas-
    "GitLabTokenDetector": ("3560636bfd8e4eed", [
        ("re", r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-"), ("lit", "GR1348941")]),
    # An assignment ending in (?i)[a-zA-Z0-9_\-]{44}
    "IbmCloudIamDetector": ("5a3e3b01af207a60", [("run", "token:44")]),
    # An assignment ending in (?i)[a-f0-9]{48}
    "IbmCosHmacDetector": ("71c2aa0cee8e0e48", [("run", "alnum:48")]),
    # Four dotted octets of one to three ASCII digits (and an optional port).
    "IPPublicDetector": ("a3868ab9c10f3863", [("re", r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]")]),
    # eyJ[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+...
    "JwtTokenDetector": ("e14b2d9b1afc0c0b", [("lit", "eyJ")]),
    # [0-9a-z]{32}-us[0-9]{1,2}
    "MailchimpDetector": ("edd6e00c62cfb2ff", [("run", "alnum:32")]),
    # \/\/.+\/:_authToken=\s*...
    "NpmDetector": ("4449e3e0da046ed0", [("lit", "/:_authToken=")]),
    # sk-[A-Za-z0-9-_]*[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}
    "OpenAIDetector": ("e12de3c4212a93d7", [("lit", "T3BlbkFJ")]),
    # BEGIN (DSA|EC|OPENSSH|PGP|RSA|SSH2 ENCRYPTED )?PRIVATE KEY..., PuTTY-User-Key-File-2
    "PrivateKeyDetector": ("810589cc528327fa", [
        ("lit", "PRIVATE KEY"), ("lit", "PuTTY-User-Key-File-2")]),
    # pypi-AgEIcHlwaS5vcmc[A-Za-z0-9-_]{70,} and pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9-_]{70,}
    "PypiTokenDetector": ("fd59447193b4dbea", [("lit", "pypi-AgE")]),
    # SG\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}
    "SendGridDetector": ("030bea7f5050ea71", [("lit", "SG.")]),
    # (?i)xox(?:a|b|p|o|s|r)-... and (?i)https://hooks\.slack\.com/services/T...
    "SlackDetector": ("af46e9bd0a1f7426", [
        ("ilit", "xox"), ("ilit", "hooks.slack.com/services/t")]),
    # An assignment ending in (?i)[a-z0-9]{64}, or .../soap/v3(.1)?/(?i)[a-z0-9]{64}
    "SoftlayerDetector": ("7208223d8f6da016", [("run", "alnum:64")]),
    # sq0csp-[0-9A-Za-z\\\-_]{43}
    "SquareOAuthDetector": ("07a72126de6f4638", [("lit", "sq0csp-")]),
    # (?:r|s)k_live_[0-9a-zA-Z]{24}
    "StripeDetector": ("bdf398d0deecf495", [("lit", "k_live_")]),
    # \d{8,10}:[0-9A-Za-z_-]{35}
    "TelegramBotTokenDetector": ("fabc3efd8182032a", [("run", "token:35")]),
    # AC[a-z0-9]{32} and SK[a-z0-9]{32}
    "TwilioKeyDetector": ("0c3f46df7af7b490", [("run", "alnum:32")]),
}
# The other plugins' regexes (entropy: the quoted-string regex; keyword: every rule in the
# module), fingerprinted the same way before their prefilters are trusted.
ENTROPY_FINGERPRINTS = {
    "Base64HighEntropyString": "6c851d7ef8bcd2c1",
    "HexHighEntropyString": "c7fae1a9219ac848",
}
KEYWORD_FINGERPRINT = "f0cfd8a40ee87496"
# Every keyword rule contains one of keyword.DENYLIST (IGNORECASE): these are its ASCII spellings
# ("_?" both ways, "contraseña" cut before the "ñ"), and each contains one of the coarse cores.
KEYWORD_NEEDLES = (
    *(
        spelling
        for word in ("api", "auth", "service", "account", "db", "database", "priv", "private",
                     "client")
        for spelling in (f"{word}_key", f"{word}key")
    ),
    "db_pass", "dbpass", "database_pass", "databasepass", "key_pass", "keypass", "password",
    "passwd", "pwd", "secret", "contrase",
)
# The same needles as coarse detectors on the lowered view, anchored on their rarer parts so
# that "key=" and Python's "pass" cost nothing: "key" preceded by a denylisted prefix or followed
# by "pass", "pass" in one of its spellings, and the rest as literals.
KEYWORD_COARSE = (
    ("ire", "key(?:" + "|".join(
        f"(?<={needle})" for needle in KEYWORD_NEEDLES if needle.endswith("key")
    ) + "|(?=_?pass))"),
    ("ire", "pass(?:" + "|".join(
        f"(?<={needle})" for needle in KEYWORD_NEEDLES if needle.endswith("pass")
    ) + "|word|wd)"),
    ("ilit", "pwd"), ("ilit", "secret"), ("ilit", "contrase"),
)

# Non-ASCII characters that IGNORECASE matches to ASCII letters (the whole of Unicode is
# checked: tests/scanner/test_scanner_secrets.py), and what they fold to.
FOLD = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}


def _ascii_view_errors(error: UnicodeError) -> tuple[str, int]:
    """Encode-error handler giving one ASCII byte per code point (positions are kept).

    IGNORECASE look-alikes become their ASCII letter, decimal digits (what `\\d` matches)
    become "0", anything else "?", which no coarse detector looks for.
    """
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chunk = error.object[error.start:error.end]
    out = "".join(FOLD.get(c) or ("0" if c.isdecimal() else "?") for c in chunk)
    return out, error.end


codecs.register_error("modelgit-ascii-view", _ascii_view_errors)


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


# --- the prefilter --------------------------------------------------------------------------


def _fingerprint(patterns: Iterable[re.Pattern[str]]) -> str:
    source = "\n".join(f"{p.pattern}\x00{p.flags}" for p in patterns)
    return hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()[:16]


def _keyword_fingerprint() -> str:
    from detect_secrets.plugins import keyword

    rules = {
        rule
        for table in (*keyword.REGEX_BY_FILETYPE.values(),
                      keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
        for rule in table
    }
    return _fingerprint(sorted(rules, key=lambda p: p.pattern))


def _min_run(limit: float) -> int:
    """Shortest string whose Shannon entropy can exceed `limit` bits per character.

    n characters have at most log2(n) bits of entropy, so entropy > limit needs n > 2**limit.
    """
    return math.floor(2**limit) + 1


def _table(members: str, quote: bool = False) -> bytes:
    """A bytes.translate table: members -> 1, quotes -> 2 (if asked), everything else -> 0."""
    table = bytearray(256)
    for char in members:
        table[ord(char)] = 1
    if quote:
        table[ord("'")] = table[ord('"')] = 2
    return bytes(table)


Check = Callable[[str, str], bool]


@dataclass(frozen=True)
class Prefilter:
    """The compiled prefilter: coarse detectors over a file, precise checks per line."""

    # (needle, plugin names) on the ASCII view / the lowered ASCII view
    literals: tuple[tuple[bytes, frozenset[str]], ...]
    folded_literals: tuple[tuple[bytes, frozenset[str]], ...]
    # (translate table, needle, plugin names) on the lowered view; needle: "\x01" * n
    runs: tuple[tuple[bytes, bytes, frozenset[str]], ...]
    # The same for the union of those classes, at the shortest of their lengths (None: no runs).
    # Every run above lies within one of these, which are rare: the classes' tables are applied
    # to them only, rather than each to the whole view.
    union_runs: tuple[bytes, bytes] | None
    # the same on the ASCII view, for the entropy plugins: needle "\x02" (a quote) + "\x01" * n
    quoted_runs: tuple[tuple[bytes, bytes, frozenset[str]], ...]
    # (bytes regex, plugin names) on the ASCII view / the lowered view
    regexes: tuple[tuple[re.Pattern[bytes], frozenset[str]], ...]
    lowered_regexes: tuple[tuple[re.Pattern[bytes], frozenset[str]], ...]
    precise: dict[str, Check]


_FOLD_TABLE = str.maketrans(FOLD)


def _keyword_needles(line: str) -> bool:
    folded = (line if line.isascii() else line.translate(_FOLD_TABLE)).lower()
    return any(needle in folded for needle in KEYWORD_NEEDLES)


def _plugin_check(plugin: Any) -> Check:
    """Whether the plugin's own analyze_line would return anything for (path, line).

    The same test detect-secrets applies before its filters, without the dependency-injection
    layers around it: RegexBasedDetector and JWT yield from analyze_string, the entropy plugins
    keep what is above their limit, the keyword plugin picks its rules by file type.
    """
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.keyword import (
        QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        REGEX_BY_FILETYPE,
        KeywordDetector,
    )
    from detect_secrets.util.filetype import determine_file_type

    if isinstance(plugin, HighEntropyStringsPlugin):
        limit = plugin.entropy_limit
        entropy = plugin.calculate_shannon_entropy
        distinct = 2**limit  # entropy <= log2(distinct characters): a cheap test first
        return lambda path, line: any(
            len(set(s)) > distinct and entropy(s) > limit for s in plugin.analyze_string(line))
    if isinstance(plugin, KeywordDetector):
        def keyword(path: str, line: str) -> bool:
            rules = REGEX_BY_FILETYPE.get(
                determine_file_type(path), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
            return _keyword_needles(line) and any(
                True for _ in plugin.analyze_string(line, denylist_regex_to_group=rules))
        return keyword
    return lambda path, line: any(True for _ in plugin.analyze_string(line))


@lru_cache(maxsize=1)
def _prefilter() -> Prefilter | None:
    """The prefilter for the active plugins, or None when one of them cannot be trusted."""
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.settings import get_plugins

    literals: dict[bytes, set[str]] = {}
    folded: dict[bytes, set[str]] = {}
    runs: dict[str, tuple[int, set[str]]] = {}
    regexes: dict[str, set[str]] = {}
    lowered_regexes: dict[str, set[str]] = {}
    quoted: list[tuple[bytes, bytes, frozenset[str]]] = []
    precise: dict[str, Check] = {}
    for plugin in get_plugins():
        name = type(plugin).__name__
        if name in PLUGIN_PREFILTERS:
            expected, coarse = PLUGIN_PREFILTERS[name]
            if _fingerprint(plugin.denylist) != expected:
                log.warning("detect-secrets %s changed; secret prefilter off", name)
                return None
            precise[name] = _plugin_check(plugin)
            for kind, needle in coarse:
                if kind == "lit":
                    literals.setdefault(needle.encode(), set()).add(name)
                elif kind == "ilit":
                    folded.setdefault(needle.encode(), set()).add(name)
                elif kind == "run":
                    # One pass per class, at the shortest length any plugin needs; the
                    # precise checks sort out the rest.
                    members, length = needle.split(":")
                    shortest, names = runs.get(members, (int(length), set()))
                    runs[members] = (min(shortest, int(length)), names | {name})
                else:
                    regexes.setdefault(needle, set()).add(name)
        elif name in ENTROPY_FINGERPRINTS and isinstance(plugin, HighEntropyStringsPlugin):
            if _fingerprint([plugin.regex]) != ENTROPY_FINGERPRINTS[name]:
                log.warning("detect-secrets %s changed; secret prefilter off", name)
                return None
            # The plugin's quoted-string regex ([\'"])([charset]+)(\1), at the least length
            # its limit allows.
            run = _min_run(plugin.entropy_limit)
            precise[name] = _plugin_check(plugin)
            table = _table(plugin.charset, quote=True)
            quoted.append((table, b"\x02" + b"\x01" * run, frozenset((name,))))
        elif name == "KeywordDetector":
            if _keyword_fingerprint() != KEYWORD_FINGERPRINT:
                log.warning("detect-secrets KeywordDetector changed; secret prefilter off")
                return None
            precise[name] = _plugin_check(plugin)
            for kind, needle in KEYWORD_COARSE:
                if kind == "ilit":
                    folded.setdefault(needle.encode(), set()).add(name)
                else:
                    lowered_regexes.setdefault(needle, set()).add(name)
        else:
            log.warning("no secret prefilter for detect-secrets plugin %s; prefilter off", name)
            return None
    return Prefilter(
        literals=tuple((k, frozenset(v)) for k, v in literals.items()),
        folded_literals=tuple((k, frozenset(v)) for k, v in folded.items()),
        runs=tuple(
            (_table(RUN_CLASSES[members]), b"\x01" * length, frozenset(names))
            for members, (length, names) in runs.items()
        ),
        union_runs=(
            _table("".join({char for members in runs for char in RUN_CLASSES[members]})),
            b"\x01" * min(length for length, _names in runs.values()),
        ) if runs else None,
        quoted_runs=tuple(quoted),
        regexes=tuple((re.compile(k.encode()), frozenset(v)) for k, v in regexes.items()),
        lowered_regexes=tuple(
            (re.compile(k.encode()), frozenset(v)) for k, v in lowered_regexes.items()
        ),
        precise=precise,
    )


def _find_runs(runs: bytes, needle: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each maximal run of "\x01" holding needle (each run once)."""
    at = runs.find(needle)
    while at >= 0:
        end = runs.find(b"\x00", at + len(needle))
        yield at, len(runs) if end < 0 else end
        at = -1 if end < 0 else runs.find(needle, end)


def _hits(
    text: str, prefilter: Prefilter, relaxed: bool = False
) -> Iterator[tuple[int, frozenset[str]]]:
    """(offset, plugins) wherever a coarse detector fires in text (one ASCII byte per char).

    `relaxed` drops the conditions that a transformer can create: the quotes around entropy
    runs (transformers quote every value) and what follows a space in a literal (YAML folds
    line breaks into spaces).
    """
    view = text.encode("ascii", errors="modelgit-ascii-view")
    lowered = view.lower()
    for needles, haystack in ((prefilter.literals, view), (prefilter.folded_literals, lowered)):
        for needle, plugins in needles:
            if relaxed:
                needle = needle.split(b" ")[0]
            at = haystack.find(needle)
            while at >= 0:
                yield at, plugins
                at = haystack.find(needle, at + 1)
    if prefilter.union_runs is not None:
        # A maximal run of a class holding its needle lies within a maximal run of the union at
        # least as long, and is maximal there exactly when it is in the text (the union run's
        # neighbours are in no class): the same hits as each class's table on the whole view.
        union_table, shortest = prefilter.union_runs
        for start, end in _find_runs(lowered.translate(union_table), shortest):
            piece = lowered[start:end]
            for table, needle, plugins in prefilter.runs:
                if end - start >= len(needle):
                    for at, _end in _find_runs(piece.translate(table), needle):
                        yield start + at, plugins
    for table, needle, plugins in prefilter.quoted_runs:
        runs = view.translate(table)
        if relaxed:
            # Any run may end up quoted, but what the plugin reports is a piece of one whose
            # entropy is over the limit, so the run has at least as many distinct characters
            # as the needle is long (entropy <= log2(distinct characters)).
            for at, end in _find_runs(runs.replace(b"\x02", b"\x00"), needle[1:]):
                if len(set(view[at:end])) >= len(needle) - 1:
                    yield at, plugins
            continue
        at = runs.find(needle)
        while at >= 0:
            yield at, plugins
            at = runs.find(needle, at + len(needle))
    for regexes, haystack in ((prefilter.regexes, view), (prefilter.lowered_regexes, lowered)):
        for regex, plugins in regexes:
            for match in regex.finditer(haystack):
                yield match.start(), plugins


def _candidate_lines(
    path: str, lines: list[str], readlines: bool
) -> Iterable[tuple[int, frozenset[str] | None]]:
    """(index, plugins) for the lines on which exactly those plugins find something.

    Plugins is None (all of them) when there is no trusted prefilter. `readlines`: the lines end
    in their newline, as `readlines()` gives them; a transformer's lines do not (and a YAML block
    scalar's line may hold newlines of its own).
    """
    prefilter = _prefilter()
    if prefilter is None:
        return ((index, None) for index in range(len(lines)))
    joined = "".join(lines) if readlines else "\n".join(lines)
    hits = sorted(_hits(joined, prefilter), key=lambda hit: hit[0])
    tagged: dict[int, set[str]] = {}
    if readlines or joined.count("\n") == len(lines) - 1:
        # The line of an offset is the number of newlines before it.
        index, last = 0, 0
        for at, plugins in hits:
            index += joined.count("\n", last, at)
            last = at
            tagged.setdefault(index, set()).update(plugins)
    else:
        starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
        for at, plugins in hits:
            tagged.setdefault(bisect.bisect_right(starts, at) - 1, set()).update(plugins)
    out = []
    for index, names in sorted(tagged.items()):
        line = lines[index].rstrip()
        confirmed = frozenset(name for name in names if prefilter.precise[name](path, line))
        if confirmed:
            out.append((index, confirmed))
    return out


def _may_hold_secrets(path: str, text: str) -> bool:
    """False only when no transformer output and no line of text can give a finding.

    The transformers' lines are made of the text's own pieces (ini values, YAML scalars) plus
    quotes, " = " and line-folding spaces, so the relaxed coarse detectors on the raw text see
    every hit they could have - except where a transformer makes new text: ini interpolation
    ("%(name)s"), YAML escapes, "!!binary" re-encoding, %-escaped tags and the repr of non-ASCII
    complex keys. Those texts are always scanned in full.
    """
    from detect_secrets.util.filetype import FileType, determine_file_type

    prefilter = _prefilter()
    if prefilter is None or "%(" in text:
        return True
    if determine_file_type(path) == FileType.YAML and (
        "\\" in text or "binary" in text or "%" in text or not text.isascii()
    ):
        return True
    return any(True for _ in _hits(text, prefilter, relaxed=True))


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
    for index, names in _candidate_lines(path, lines, readlines):
        line_number = index + 1
        line = lines[index].rstrip()
        snippet = get_code_snippet(lines=lines, line_number=line_number)
        on_line = []
        for plugin in plugins:
            if names is not None and type(plugin).__name__ not in names:
                continue  # it finds nothing on this line (see _candidate_lines)
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
        if determine_file_type(path) in (FileType.YAML, FileType.OTHER) and not _may_hold_secrets(
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
