"""The secret scan's line prefilter: which lines any default detect-secrets plugin could report on.

For every plugin, a coarse detector matches a substring of anything that plugin can report and
never a line break, so one pass over the whole text (in C) finds the only lines worth handing to
detect-secrets' own per-line code. Each detector is tied to a fingerprint of the plugin regexes
it was derived from; when an upgrade changes a plugin, its prefilter is off and every line is
analysed: slower, never wrong. :mod:`modelgit.scanner.secrets` uses it.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import itertools
import logging
import math
import re
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

log = logging.getLogger("modelgit.scanner.secrets")

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


def candidate_lines(
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


def may_hold_secrets(path: str, text: str) -> bool:
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
