"""Model-card validation: the cards people really push pass, broken ones are refused with the
README line, the field path and a message that says how to fix it.

Table-driven: each broken card lists every error it must produce, exactly (line, field) plus
words the message must contain, so a change that moves a line or drops a hint fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from modelgit.schema import (
    CardError,
    CardResult,
    CardSchemaError,
    check_card,
    rejection_lines,
    validation,
)
from modelgit.schema.result import MAX_ERRORS

CARDS = Path(__file__).parent / "cards"
REPO = Path(__file__).resolve().parents[2]


def card(name: str) -> bytes:
    return (CARDS / name).read_bytes()


# --------------------------------------------------------------------------------------
# Cards that must pass untouched


@pytest.mark.parametrize(
    "name",
    [
        "platform_template.md",
        "trainer_text_classification.md",
        "trainer_whisper_asr.md",
        "trainer_no_eval.md",
        "gated.md",
    ],
)
def test_valid_cards_pass(name: str) -> None:
    result = check_card(card(name))
    assert result.errors == []
    assert result.ok
    assert isinstance(result.data, dict) and result.data


def test_trainer_card_data_is_read_as_written() -> None:
    data = check_card(card("trainer_text_classification.md")).data
    assert data is not None
    assert data["tags"] == ["generated_from_trainer"]
    result = data["model-index"][0]["results"][0]
    assert result["dataset"] == {
        "name": "imdb",
        "type": "imdb",
        "config": "plain_text",
        "split": "test",
        "args": "plain_text",
    }
    assert result["metrics"][1] == {"name": "F1", "type": "f1", "value": 0.9317640186255877}


def test_platform_template_uses_every_platform_field() -> None:
    """The template fixture must keep covering the whole platform schema."""
    schema = json.loads(
        (REPO / "modelgit" / "schema" / "model-card.schema.json").read_text(encoding="utf-8")
    )
    platform = [k for k in schema["properties"] if k[0].isupper()]
    data = check_card(card("platform_template.md")).data
    assert data is not None
    assert sorted(platform) == sorted(k for k in data if k[0].isupper())


# --------------------------------------------------------------------------------------
# Broken cards: every expected error, exactly


@dataclass(frozen=True)
class Expected:
    line: int | None
    field: str
    words: tuple[str, ...] = ()


BROKEN: list[tuple[str, list[Expected]]] = [
    (
        "broken_algorithm.md",
        [
            Expected(
                5,
                "Job type.Algorithm",
                (
                    "'Text Classification' is not an Algorithm of Type 'Computer Vision'",
                    "it is an Algorithm of Type 'Natural language processing'",
                    "Allowed: Depth Estimation, Image Classification, Object Detection",
                    "Zero-Shot Image Classification, others",
                ),
            )
        ],
    ),
    (
        "broken_parameters.md",
        [
            Expected(
                3,
                "Number of parameters",
                ("expected an integer, got the text '7B'", "Did you mean 7000000000?"),
            )
        ],
    ),
    (
        "broken_framework.md",
        [
            Expected(
                4,
                "Training framework[1]",
                (
                    "'Pytorch' is not a Training framework",
                    "PaddlePaddle",
                    "Did you mean 'PyTorch'?",
                ),
            )
        ],
    ),
    (
        "broken_gated_type.md",
        [
            Expected(
                4,
                "extra_gated_fields.Email",
                (
                    "'textbox' is not a gated field type",
                    "Allowed: text, checkbox, date_picker, country, select",
                    "Did you mean 'text'?",
                ),
            ),
            Expected(6, "extra_gated_fields.Purpose.type", ("'dropdown' is not a gated field",)),
        ],
    ),
    (
        "broken_select.md",
        [
            Expected(3, "extra_gated_fields.Use case.options", ("is missing", "select")),
            Expected(5, "extra_gated_fields.Role", ("select field needs options",)),
            Expected(8, "extra_gated_fields.Team.options", ("at least 1 item",)),
        ],
    ),
    (
        "broken_model_index.md",
        [
            Expected(7, "model-index[0].results[0].dataset.name", ("is missing",)),
            Expected(
                13,
                "model-index[0].results[0].metrics[1].value",
                ("expected a number or text, got a list",),
            ),
        ],
    ),
    (
        "broken_yaml_syntax.md",
        [Expected(4, "", ("YAML syntax error", "mapping values are not allowed", "column 18"))],
    ),
    (
        "broken_many.md",
        [
            Expected(2, "Training framework[0]", ("Did you mean 'PyTorch'?",)),
            Expected(5, "Job type.Algorithm", ("not an Algorithm of Type 'Audio'",)),
            Expected(6, "Number of parameters", ("must be ≥ 0, got -5",)),
            Expected(7, "Open-source protocol", ("expected text", "in quotes", "'2.0'")),
            Expected(
                11,
                "Performance information[0].Dataset.Permission",
                ("Allowed: Public, Private", "Did you mean 'Public'?"),
            ),
            Expected(12, "Performance information[0].Dataset.Link", ("http(s) URL",)),
            Expected(
                14,
                "Performance information[0].Dataset.Performance metric.wer",
                ("expected a number, got the text 'high'",),
            ),
        ],
    ),
]


def assert_errors(result: CardResult, expected: list[Expected]) -> None:
    got = [(e.line, e.field) for e in result.errors]
    assert got == [(x.line, x.field) for x in expected], [e.format() for e in result.errors]
    for error, want in zip(result.errors, expected, strict=True):
        for words in want.words:
            assert words in error.message, error.format()
    assert not result.ok


@pytest.mark.parametrize(("name", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_cards_name_line_field_and_fix(name: str, expected: list[Expected]) -> None:
    assert_errors(check_card(card(name)), expected)


INLINE: list[tuple[str, bytes, list[Expected]]] = [
    (
        "job type without Algorithm lists the Type's algorithms",
        b"---\nJob type:\n  Type: Table\n---\n",
        [
            Expected(
                2,
                "Job type.Algorithm",
                ("is missing", "Tabular Classification, Tabular Regression, others"),
            )
        ],
    ),
    (
        "unknown Job Type",
        b"---\nJob type:\n  Type: Computer vision\n  Algorithm: Depth Estimation\n---\n",
        [Expected(3, "Job type.Type", ("Did you mean 'Computer Vision'?",))],
    ),
    (
        "Job type written as text",
        b"---\nJob type: Audio\n---\n",
        [Expected(2, "Job type", ("expected a mapping", "{Type, Algorithm}"))],
    ),
    (
        "framework written as text, not a list",
        b"---\nTraining framework: PyTorch\n---\n",
        [Expected(2, "Training framework", ("expected a list", "[PyTorch]"))],
    ),
    (
        "parameter count with a suffix and with quotes",
        b"---\nNumber of parameters: '1.3B'\n---\n",
        [Expected(2, "Number of parameters", ("Did you mean 1300000000?",))],
    ),
    (
        "quoted number",
        b"---\nNumber of parameters: '125000'\n---\n",
        [Expected(2, "Number of parameters", ("without quotes: 125000",))],
    ),
    (
        "YAML boolean where text is expected",
        b"---\nlicense: mit\nIndustry: no\n---\n",
        [Expected(3, "Industry", ("boolean false", "in quotes: 'no'"))],
    ),
    (
        "anyOf: best match plus a count of the other forms",
        b"---\nlanguage:\n- en\n- 3\n---\n",
        [Expected(4, "language[1]", ("expected text, got the integer 3", "1 other allowed form"))],
    ),
    (
        "anyOf: a value of neither type",
        b"---\nbase_model: 7\n---\n",
        [Expected(2, "base_model", ("expected text or a list of texts, got the integer 7",))],
    ),
    (
        "gated field that is a list",
        b"---\nextra_gated_fields:\n  Country: [a, b]\n---\n",
        [Expected(3, "extra_gated_fields.Country", ("expected a mapping", "{type, options}"))],
    ),
    (
        "select option missing its value",
        b"---\nextra_gated_fields:\n  Role:\n    type: select\n    options:\n"
        b"    - Student\n    - label: Other\n---\n",
        [Expected(7, "extra_gated_fields.Role.options[1].value", ("is missing",))],
    ),
    (
        "gating texts must be text",
        b"---\nextra_gated_prompt: [a]\n---\n",
        [Expected(2, "extra_gated_prompt", ("expected text, got a list",))],
    ),
    (
        "model-index entry without results",
        b"---\nmodel-index:\n- name: m\n---\n",
        [Expected(3, "model-index[0].results", ("is missing",))],
    ),
    (
        "metric value left empty",
        b"---\nmodel-index:\n- name: m\n  results:\n  - task: {type: summarization}\n"
        b"    dataset: {type: xsum, name: XSum}\n    metrics:\n    - type: rouge1\n"
        b"      value:\n---\n",
        [
            Expected(
                9,
                "model-index[0].results[0].metrics[0].value",
                ("got nothing (the value is empty)",),
            )
        ],
    ),
    (
        "duplicate keys are reported with both lines",
        b"---\nlicense: mit\ntags: [a]\nlicense: apache-2.0\n---\n",
        [Expected(4, "license", ("duplicate key (also on line 2)",))],
    ),
    (
        "errors inside a merged anchor point at the anchor",
        b"---\nbase: &b {Type: Audio, Algorithm: Robotics}\nJob type:\n  <<: *b\n---\n",
        [Expected(2, "Job type.Algorithm", ("Reinforcement Learning",))],
    ),
    (
        "errors after leading blank lines count those lines",
        b"\n\n   ---\nlicense: 3\n---\n",
        [Expected(4, "license", ("expected text",))],
    ),
]


@pytest.mark.parametrize(
    ("content", "expected"), [(c, e) for _, c, e in INLINE], ids=[i[0] for i in INLINE]
)
def test_inline_broken_cards(content: bytes, expected: list[Expected]) -> None:
    assert_errors(check_card(content), expected)


def test_all_errors_at_once_in_line_order() -> None:
    result = check_card(card("broken_many.md"))
    lines = [e.line for e in result.errors]
    assert len(lines) == 7
    assert lines == sorted(lines)


def test_hostile_number_of_errors_is_capped() -> None:
    bad = (
        b"---\nTraining framework:\n" + b"".join(b"- Torch%d\n" % i for i in range(500)) + b"---\n"
    )
    result = check_card(bad)
    assert len(result.errors) == MAX_ERRORS + 1
    assert result.errors[-1] == CardError(None, "", "... and 400 more errors")
    assert result.errors[0].line == 3


# --------------------------------------------------------------------------------------
# Configuration: required cards and a site's own schema


@pytest.mark.parametrize(
    ("content", "required", "ok", "line"),
    [
        (b"# A model without a card\n", False, True, None),
        (b"# A model without a card\n", True, False, 1),
        (b"", True, False, 1),
        (None, False, True, None),
        (None, True, False, None),
    ],
)
def test_required_card(content: bytes | None, required: bool, ok: bool, line: int | None) -> None:
    result = check_card(content, required=required)
    assert result.ok is ok
    assert result.data is None
    if not ok:
        assert [e.line for e in result.errors] == [line]
        assert "requires a model card" in result.errors[0].message


def test_site_schema_with_dates(tmp_path: Path) -> None:
    """Timestamps load as text, so a site schema's ``format: date`` validates them."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["owner"],
        "properties": {"released": {"type": "string", "format": "date"}},
    }
    path = tmp_path / "site.schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")

    good = check_card(b"---\nowner: ml-team\nreleased: 2024-05-01\n---\n", schema_path=str(path))
    assert good.ok, good.errors
    assert good.data == {"owner": "ml-team", "released": "2024-05-01"}

    bad = check_card(b"---\nreleased: 2024-13-01\n---\n", schema_path=str(path))
    assert [(e.line, e.field) for e in bad.errors] == [(1, "owner"), (2, "released")]
    assert "not a valid date (YYYY-MM-DD)" in bad.errors[1].message

    # The shipped schema knows nothing of 'owner': the same card passes there.
    assert check_card(b"---\nreleased: 2024-13-01\n---\n").ok


def test_site_schema_is_reloaded_when_edited(tmp_path: Path) -> None:
    path = tmp_path / "site.schema.json"
    path.write_text(json.dumps({"type": "object"}), encoding="utf-8")
    assert check_card(b"---\na: 1\n---\n", schema_path=str(path)).ok
    path.write_text(json.dumps({"type": "object", "required": ["b"]}), encoding="utf-8")
    assert not check_card(b"---\na: 1\n---\n", schema_path=str(path)).ok


@pytest.mark.parametrize(
    ("text", "words"),
    [(None, "No such file"), ("{not json", "cannot be read"), ('{"type": 12}', "not a valid")],
)
def test_broken_site_schema_is_a_config_error(tmp_path: Path, text: str | None, words: str) -> None:
    path = tmp_path / "site.schema.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(CardSchemaError, match=words):
        check_card(b"---\na: 1\n---\n", schema_path=str(path))


# --------------------------------------------------------------------------------------
# Output shapes


def test_error_format() -> None:
    assert CardError(12, "Job type.Algorithm", "bad.").format() == (
        "README.md:12: Job type.Algorithm: bad."
    )
    assert CardError(3, "", "YAML syntax error").format("docs/README.md") == (
        "docs/README.md:3: YAML syntax error"
    )
    assert CardError(None, "", "binary").format() == "README.md: binary"


def test_rejection_lines() -> None:
    errors = check_card(card("broken_gated_type.md")).errors
    lines = rejection_lines(errors)
    assert lines[0] == "push rejected: the model card README.md is invalid (2 errors):"
    assert lines[1].startswith("README.md:4: extra_gated_fields.Email: 'textbox'")
    assert lines[2].startswith("README.md:6: extra_gated_fields.Purpose.type: 'dropdown'")
    assert lines[3] == (
        "hint: run `modelgit card check README.md` locally, fix the card, commit and push again"
    )
    assert all("\n" not in line for line in lines)
    assert rejection_lines([]) == []


# --------------------------------------------------------------------------------------
# Cost


TYPICAL = card("typical.md")


def test_typical_card_is_typical() -> None:
    # Trainer keys, every platform field and gating: what a team pushes here.
    result = check_card(TYPICAL)
    assert result.ok, result.errors
    assert result.data is not None and "Job type" in result.data and "model-index" in result.data


def test_warm_check_is_fast() -> None:
    check_card(TYPICAL)  # build the validator
    runs = 50
    best = float("inf")
    start = time.perf_counter()
    for _ in range(runs):
        t = time.perf_counter()
        check_card(TYPICAL)
        best = min(best, time.perf_counter() - t)
    mean = (time.perf_counter() - start) / runs
    print(
        f"\nwarm check_card of a typical card: mean {mean * 1000:.2f} ms, best {best * 1000:.2f} ms"
    )
    assert mean < 0.050


def test_validator_is_built_once() -> None:
    first = validation.validator(None)
    check_card(TYPICAL)
    assert validation.validator(None) is first


def test_import_does_not_load_jsonschema() -> None:
    code = (
        "import sys, modelgit.schema as f; "
        "print('jsonschema' in sys.modules); "
        "f.check_card(b'---\\na: 1\\n---\\n'); "
        "print('jsonschema' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]


# --------------------------------------------------------------------------------------
# The pre-commit hook that model authors use


def test_pre_commit_hook_entry() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "modelgit-card"]
    assert hook["entry"] == "modelgit card check"
    assert hook["language"] == "python"
    pattern = re.compile(hook["files"])
    assert pattern.search("README.md")
    assert not pattern.search("docs/README.md")
    assert not pattern.search("README.md.bak")
