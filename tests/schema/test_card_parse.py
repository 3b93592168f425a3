"""Front-matter extraction and the guards around YAML: where the block starts and ends, which
encodings are accepted, and how hostile READMEs (bombs, huge, binary, deep) are refused
quickly with a README line instead of crashing or stalling a push.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelgit.schema import CardResult, check_card, parse_front_matter
from modelgit.schema.parse import MAX_FRONT_MATTER_BYTES
from modelgit.schema.yamlload import MAX_ALIASES, MAX_DEPTH

CARDS = Path(__file__).parent / "cards"


def only_error(result: CardResult) -> tuple[int | None, str, str]:
    assert len(result.errors) == 1, [e.format() for e in result.errors]
    error = result.errors[0]
    return error.line, error.field, error.message


# --------------------------------------------------------------------------------------
# Where the front matter is


@pytest.mark.parametrize(
    ("content", "data"),
    [
        (b"---\nlicense: mit\n---\nbody\n", {"license": "mit"}),
        (b"\n  \n---\nlicense: mit\n---\n", {"license": "mit"}),  # blank lines first
        (b"   ---\nlicense: mit\n---\n", {"license": "mit"}),  # spaces before the marker
        (b"---\nlicense: mit\n---   \n", {"license": "mit"}),  # trailing spaces on closing
        (b"---\nlicense: mit\n---\t\n", {"license": "mit"}),
        (b"---\nlicense: mit\n---", {"license": "mit"}),  # no newline at the end
        (b"---\n---\n", {}),  # empty front matter
        (b"---\n# only a comment\n---\n", {}),
        (b"---\nlicense: mit\n---\n\n---\nnot: yaml\n---\n", {"license": "mit"}),
        (b"# Title\n---\nlicense: mit\n---\n", None),  # first non-blank line is not ---
        (b"--- title\nlicense: mit\n---\n", None),
        (b"", None),
        (b"plain text", None),
    ],
)
def test_front_matter_is_found(content: bytes, data: dict[str, str] | None) -> None:
    result = parse_front_matter(content)
    assert result.errors == []
    assert result.data == data


def test_utf8_bom_is_tolerated_and_lines_still_count() -> None:
    ok = check_card("\ufeff---\nlicense: mit\n---\n".encode())
    assert ok.ok and ok.data == {"license": "mit"}
    bad = check_card("\ufeff---\nlicense: mit\nNumber of parameters: lots\n---\n".encode())
    assert only_error(bad)[:2] == (3, "Number of parameters")


def test_crlf_card_reads_like_lf() -> None:
    lf = (CARDS / "platform_template.md").read_bytes()
    crlf = lf.replace(b"\n", b"\r\n")
    assert check_card(crlf).ok
    assert check_card(crlf).data == check_card(lf).data


def test_crlf_errors_keep_their_lines() -> None:
    content = (CARDS / "broken_model_index.md").read_bytes().replace(b"\n", b"\r\n")
    result = check_card(content)
    assert [(e.line, e.field) for e in result.errors] == [
        (7, "model-index[0].results[0].dataset.name"),
        (13, "model-index[0].results[0].metrics[1].value"),
    ]


def test_crlf_closing_marker_with_trailing_spaces() -> None:
    assert check_card(b"---\r\nlicense: mit\r\n---  \r\nbody\r\n").data == {"license": "mit"}


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"---\nlicense: mit\n", 1),
        (b"\n\n---\nlicense: mit\n --- \n", 3),  # an indented --- does not close the block
        (b"---\nlicense: mit\n----\n", 1),
    ],
)
def test_unclosed_block(content: bytes, line: int) -> None:
    got_line, field, message = only_error(check_card(content))
    assert (got_line, field) == (line, "")
    assert f"opened by '---' on line {line} is never closed" in message
    assert "add a line '---'" in message


# --------------------------------------------------------------------------------------
# YAML problems with their README lines


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"---\nlicense: mit\ntags: [a, b\n---\n", 4, "expected ',' or ']'"),
        (b"\n\n---\na: 1\nb: c: d\n---\n", 5, "mapping values are not allowed"),
        (b"---\na: 1\n  b: 2\n---\n", 3, "mapping values are not allowed"),
        (b"---\nname: 'unterminated\n---\n", 3, "unexpected end of stream"),
        (b"---\na: *missing\n---\n", 2, "undefined alias"),
        (b"---\n\tlicense: mit\n---\n", 2, "tabs for indentation"),
    ],
)
def test_yaml_syntax_error_names_the_line(content: bytes, line: int, words: str) -> None:
    got_line, field, message = only_error(check_card(content))
    assert (got_line, field) == (line, "")
    assert message.startswith("YAML syntax error: ")
    assert words in message


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"---\n- a\n- b\n---\n", 2, "the front matter is a list"),
        (b"---\njust text\n---\n", 2, "the front matter is a single value"),
        (b"\n---\n\n42\n---\n", 4, "the front matter is a single value"),
    ],
)
def test_non_mapping_front_matter(content: bytes, line: int, words: str) -> None:
    got_line, field, message = only_error(check_card(content))
    assert (got_line, field) == (line, "")
    assert words in message and "must be a mapping" in message


def test_timestamps_stay_text() -> None:
    data = parse_front_matter(b"---\nday: 2024-05-01\nat: 2024-05-01 10:30:00\n---\n").data
    assert data == {"day": "2024-05-01", "at": "2024-05-01 10:30:00"}


def test_keys_are_always_text() -> None:
    data = parse_front_matter(b"---\n1: one\nyes: y\n2024-01-01: d\nnull: n\n---\n").data
    assert data == {"1": "one", "yes": "y", "2024-01-01": "d", "null": "n"}
    line, _, message = only_error(check_card(b"---\nok: 1\n? [a, b]\n: c\n---\n"))
    assert line == 3 and "a key must be text" in message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"---\nweights: !!binary aGVsbG8=\n---\n", "!!binary"),
        (b"---\nnames: !!set {a, b}\n---\n", "!!set"),
        (b"---\nx: !!python/object/apply:os.system ['id']\n---\n", "!!python/object/apply"),
        (b"---\nx: !custom 3\n---\n", "!custom"),
    ],
)
def test_non_json_yaml_types_are_refused(content: bytes, words: str) -> None:
    line, field, message = only_error(check_card(content))
    assert (line, field) == (2, "")
    assert words in message and "not allowed" in message


def test_huge_integer_is_an_error_not_a_crash() -> None:
    line, _, message = only_error(check_card(b"---\nn: " + b"9" * 6000 + b"\n---\n"))
    assert line == 1 and "cannot be read" in message


# --------------------------------------------------------------------------------------
# Hostile READMEs: refused, quickly


def timed(content: bytes) -> tuple[CardResult, float]:
    start = time.perf_counter()
    result = check_card(content)
    return result, time.perf_counter() - start


def billion_laughs() -> bytes:
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*lol{level - 1}"] * 9)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return ("---\n" + "\n".join(lines) + "\n---\n# 10^9 lols\n").encode()


def test_billion_laughs_is_refused_in_well_under_a_second() -> None:
    check_card(b"---\na: 1\n---\n")  # warm
    result, seconds = timed(billion_laughs())
    assert seconds < 1.0
    assert result.data is None
    line, field, message = only_error(result)
    assert field == "" and "expands to more than" in message and "aliases" in message
    assert line is not None and 2 <= line <= 11


def test_alias_loop_is_refused() -> None:
    line, _, message = only_error(check_card(b"---\nlicense: mit\nloop: &a [1, *a]\n---\n"))
    assert line == 3 and "loop" in message


def test_too_many_aliases_is_refused_even_when_small() -> None:
    refs = ", ".join(["*a"] * (MAX_ALIASES + 1))
    result = check_card(f"---\nx: &a 1\ny: [{refs}]\n---\n".encode())
    assert "more than 256 YAML aliases" in only_error(result)[2]


def test_honest_aliases_are_fine() -> None:
    content = (
        b"---\nbase: &ds {Name: imdb, Permission: Public, Link: ''}\n"
        b"Training data:\n  - Dataset: *ds\n"
        b"Performance information:\n  - Dataset:\n      <<: *ds\n"
        b"      Performance metric: {accuracy: 0.9}\n---\n"
    )
    result = check_card(content)
    assert result.ok, result.errors
    assert result.data is not None
    assert result.data["Performance information"][0]["Dataset"]["Name"] == "imdb"


@pytest.mark.parametrize(
    ("content", "line"),
    [
        # crashes libyaml's own composer; newer libyaml refuses it in its own words
        (b"---\nx: " + b"[" * 30_000 + b"]" * 30_000 + b"\n---\n", 2),
        (b"---\nx: " + b"{a: [" * 600 + b"]}" * 600 + b"\n---\n", 2),
        (b"---\nx:\n  " + b"- " * 30_000 + b"a\n---\n", 3),
        # 120 mappings, one per line: the 65th opens on README line 66
        (b"---\n" + b"".join(b" " * i + b"k:\n" for i in range(120)) + b"---\n", 66),
    ],
    ids=["flow", "flow-mixed", "compact-sequences", "block"],
)
def test_deep_nesting_is_refused_without_crashing(content: bytes, line: int) -> None:
    """The same refusal, in modelgit's words and at the line where the level past the limit
    opens, whichever YAML library version reads the card."""
    result, seconds = timed(content)
    assert seconds < 1.0
    assert result.data is None
    assert only_error(result) == (
        line,
        "",
        f"the front matter is nested more than {MAX_DEPTH} levels deep",
    )


def test_nesting_up_to_the_limit_is_fine() -> None:
    # the card's mapping is level 1, so x holds MAX_DEPTH - 1 more levels
    deepest = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    result = check_card(b"---\nx: " + deepest + b"\n---\n")
    assert result.ok, result.errors
    assert only_error(check_card(b"---\nx: [" + deepest + b"]\n---\n"))[0] == 2


def test_five_megabyte_card_is_refused() -> None:
    content = b"---\nlicense: mit\ndescription: " + b"x" * (5 * 1024 * 1024) + b"\n---\n"
    result, seconds = timed(content)
    assert seconds < 1.0
    line, field, message = only_error(result)
    assert (line, field) == (1, "")
    assert "5.0 MiB" in message and "64 KiB" in message


def test_five_megabyte_unclosed_card_is_refused() -> None:
    result, seconds = timed(b"---\n" + b"key: value\n" * 500_000)
    assert seconds < 1.0
    assert "never closed" in only_error(result)[2]


def test_front_matter_size_limit_is_exact() -> None:
    def card_of(size: int) -> bytes:
        head = b"a: 1\n#"
        return b"---\n" + head + b"x" * (size - len(head) - 1) + b"\n---\n"

    assert check_card(card_of(MAX_FRONT_MATTER_BYTES)).ok
    assert "the limit is 64 KiB" in only_error(check_card(card_of(MAX_FRONT_MATTER_BYTES + 1)))[2]


def test_large_readme_body_is_fine() -> None:
    content = b"---\nlicense: mit\n---\n" + b"A long model description.\n" * 200_000
    result, seconds = timed(content)
    assert result.ok and result.data == {"license": "mit"}
    assert seconds < 1.0


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 3, "binary"),
        (b"---\nlicense: mit\n---\n\x00", 4, "binary"),
        (b"---\nauthor: Jos\xe9\n---\n", 2, "not valid UTF-8 (byte 0xe9"),
        ("---\nlicense: mit\n---\n".encode("utf-16"), None, "UTF-16"),
    ],
)
def test_binary_and_non_utf8_readmes(content: bytes, line: int | None, words: str) -> None:
    result = check_card(content)
    got_line, field, message = only_error(result)
    assert (got_line, field) == (line, "")
    assert words in message
    assert result.data is None


# --------------------------------------------------------------------------------------
# Never raises


def test_parse_only_does_not_apply_the_schema() -> None:
    content = (CARDS / "broken_algorithm.md").read_bytes()
    assert parse_front_matter(content).ok
    assert not check_card(content).ok


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_result(content: bytes) -> None:
    for result in (check_card(content, required=True), parse_front_matter(content)):
        assert isinstance(result, CardResult)
        for error in result.errors:
            assert error.format()


yaml_ish = st.lists(
    st.sampled_from(
        [
            "a: 1",
            "- x",
            "  b: [1, 2",
            "&x {a: 1}",
            "*x",
            "<<: *x",
            "? [k]",
            ": v",
            "'q",
            "Job type:",
            "  Type: Audio",
            "  Algorithm: 3",
            "Training framework: [Pytorch]",
            "extra_gated_fields:",
            "  F: select",
            "model-index:",
            "- results: [{}]",
            "!!set",
            "\t",
            "...",
            "---",
            "Number of parameters: 7B",
            "%YAML 1.1",
            "k: !!binary x",
        ]
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(yaml_ish)
def test_any_yaml_ish_front_matter_gives_a_result(lines: list[str]) -> None:
    content = ("---\n" + "\n".join(lines) + "\n---\n").encode()
    result = check_card(content)
    assert isinstance(result, CardResult)
    for error in result.errors:
        assert error.line is None or error.line >= 1
        assert "\n" not in error.format()
