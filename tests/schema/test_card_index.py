"""The card summary stored with a model (search filters, `model show`) and the normalised gating
form. Both read cards that passed a schema, possibly a site's own, so both must also survive
values of the wrong type without raising.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelgit.schema import card_index, check_card, gated_fields

CARDS = Path(__file__).parent / "cards"


def data_of(name: str) -> dict[str, Any]:
    result = check_card((CARDS / name).read_bytes())
    assert result.ok, result.errors
    assert result.data is not None
    return result.data


EMPTY_INDEX = {
    "frameworks": [],
    "task_type": None,
    "task_algorithm": None,
    "tags": [],
    "license": None,
    "parameters": None,
    "datasets": [],
    "performance": [],
    "library_name": None,
    "pipeline_tag": None,
    "base_model": None,
    "industry": None,
}

INDEXES: list[tuple[str, dict[str, Any]]] = [
    (
        "platform_template.md",
        {
            "frameworks": ["PyTorch", "Transformers"],
            "task_type": "Natural language processing",
            "task_algorithm": "Text Classification",
            "tags": ["sentiment-analysis", "chinese"],
            "license": "Apache-2.0",  # from Open-source protocol
            "parameters": 102267648,
            "datasets": ["ChnSentiCorp", "internal-reviews-2023"],
            "performance": [
                {"dataset": "ChnSentiCorp", "metric": "accuracy", "value": 0.9458},
                {"dataset": "ChnSentiCorp", "metric": "f1", "value": 0.9441},
                {"dataset": "internal-reviews-2023", "metric": "accuracy", "value": 0.912},
            ],
            "industry": "Finance",
        },
    ),
    (
        "trainer_text_classification.md",
        {
            "frameworks": ["Transformers"],  # from library_name, in the platform's spelling
            # no Job type: derived from the model-index task
            "task_type": "Natural language processing",
            "task_algorithm": "Text Classification",
            "tags": ["generated_from_trainer"],
            "license": "apache-2.0",
            "datasets": ["imdb"],
            "performance": [
                {"dataset": "imdb", "metric": "Accuracy", "value": 0.93168},
                {"dataset": "imdb", "metric": "F1", "value": 0.9317640186255877},
            ],
            "library_name": "transformers",
            "base_model": "distilbert/distilbert-base-uncased",
        },
    ),
    (
        "trainer_whisper_asr.md",
        {
            "task_type": "Audio",
            "task_algorithm": "Automatic Speech Recognition",
            "tags": ["hf-asr-leaderboard", "generated_from_trainer"],
            "license": "apache-2.0",
            "datasets": ["mozilla-foundation/common_voice_11_0"],
            "performance": [
                {"dataset": "Common Voice 11.0", "metric": "Wer", "value": 32.09599593667993}
            ],
            "base_model": "openai/whisper-small",
        },
    ),
    (
        "trainer_no_eval.md",
        {
            "frameworks": ["Transformers"],
            "tags": ["generated_from_trainer"],
            "license": "mit",
            "library_name": "transformers",
            "base_model": "openai-community/gpt2",
        },
    ),
    (
        "typical.md",
        {
            "frameworks": ["PyTorch", "Transformers"],  # library_name adds nothing new
            "task_type": "Natural language processing",
            "task_algorithm": "Text Classification",
            "tags": ["sentiment-analysis", "generated_from_trainer"],
            "license": "apache-2.0",  # license wins over Open-source protocol
            "parameters": 66955010,
            "datasets": ["imdb"],
            # the model-index figures for the same dataset and metric are not repeated
            "performance": [
                {"dataset": "imdb", "metric": "accuracy", "value": 0.9317},
                {"dataset": "imdb", "metric": "f1", "value": 0.9318},
            ],
            "library_name": "transformers",
            "pipeline_tag": "text-classification",
            "base_model": "distilbert/distilbert-base-uncased",
            "industry": "Media",
        },
    ),
]


@pytest.mark.parametrize(("name", "expected"), INDEXES, ids=[i[0] for i in INDEXES])
def test_card_index(name: str, expected: dict[str, Any]) -> None:
    index = card_index(data_of(name))
    assert index == {**EMPTY_INDEX, **expected}
    assert json.loads(json.dumps(index)) == index  # stored as JSON


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"pipeline_tag": "fill-mask"}, ("Natural language processing", "Fill-Mask")),
        ({"pipeline_tag": "image-to-text"}, ("Multimodal", "Image-to-Text")),
        ({"pipeline_tag": "unknown-task"}, (None, None)),
        # Job type wins over the hub's task ids
        (
            {"Job type": {"Type": "Table", "Algorithm": "others"}, "pipeline_tag": "fill-mask"},
            ("Table", "others"),
        ),
    ],
)
def test_task_from_hub_ids(data: dict[str, Any], expected: tuple[str | None, str | None]) -> None:
    index = card_index(data)
    assert (index["task_type"], index["task_algorithm"]) == expected


def test_library_name_maps_to_platform_spelling() -> None:
    assert card_index({"library_name": "sentence-transformers"})["frameworks"] == [
        "Sentence Transformers"
    ]
    assert card_index({"library_name": "my-own-lib"})["frameworks"] == ["my-own-lib"]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"Training framework": "PyTorch!", "Job type": "x", "Other tag": 3, "tags": {"a": 1}},
        {"Number of parameters": True, "license": ["mit"], "base_model": 5},
        {"Performance information": [1, {"Dataset": 2}, {"Dataset": {"Name": 3}}]},
        {"model-index": [{"results": [5, {"dataset": [], "metrics": "x"}]}]},
        {"model-index": [{"results": [{"dataset": {"name": "d"}, "metrics": [{"value": "x"}]}]}]},
        {"Number of parameters": -1, "datasets": [1, None, ""], "pipeline_tag": 7},
    ],
)
def test_card_index_ignores_wrong_types(data: dict[str, Any]) -> None:
    index = card_index(data)
    assert set(index) == set(EMPTY_INDEX)
    assert index["frameworks"] == [] or index["frameworks"] == ["PyTorch!"]
    assert index["parameters"] is None
    assert index["performance"] == []


def test_card_index_accepts_numeric_text_values_from_model_index() -> None:
    data = {
        "model-index": [
            {
                "name": "m",
                "results": [
                    {
                        "task": {"type": "translation"},
                        "dataset": {"type": "wmt16", "name": "WMT16"},
                        "metrics": [
                            {"type": "bleu", "value": "27.3"},
                            {"type": "ter", "value": "?"},
                        ],
                    }
                ],
            }
        ]
    }
    assert card_index(data)["performance"] == [
        {"dataset": "WMT16", "metric": "bleu", "value": 27.3}
    ]


# --------------------------------------------------------------------------------------
# Gating form


def test_gated_fields_are_normalised() -> None:
    assert gated_fields(data_of("gated.md")) == {
        "First Name": {"type": "text"},
        "Last Name": {"type": "text"},
        "Date of birth": {"type": "date_picker"},
        "Country": {"type": "country"},
        "Affiliation": {"type": "text"},
        "Job title": {
            "type": "select",
            "options": [
                {"label": "Student", "value": "Student"},
                {"label": "Research Graduate", "value": "Research Graduate"},
                {"label": "AI researcher", "value": "AI researcher"},
                {"label": "Other", "value": "other"},
            ],
        },
        "I accept the terms of the license: research use only": {"type": "checkbox"},
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, {}),
        ({}, {}),
        ({"extra_gated_fields": ["a"]}, {}),
        (
            {"extra_gated_fields": {"A": "textbox", "B": 3, "C": {"type": "text"}}},
            {"C": {"type": "text"}},
        ),
        # a select that cannot be answered is left out rather than locking everyone out
        ({"extra_gated_fields": {"S": "select", "T": {"type": "select", "options": []}}}, {}),
        (
            {"extra_gated_fields": {"S": {"type": "select", "options": [1, {"label": "x"}, "y"]}}},
            {"S": {"type": "select", "options": [{"label": "y", "value": "y"}]}},
        ),
    ],
)
def test_gated_fields_skip_what_cannot_be_asked(
    data: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    assert gated_fields(data) == expected


def test_ungated_card_has_no_fields() -> None:
    assert gated_fields(data_of("trainer_text_classification.md")) == {}
