"""Users' own gold data in the ieforge JSONL format: NER and relation examples, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ieforge.data import read_ner_jsonl, read_re_jsonl
from ieforge.errors import InputError
from ieforge.evaluate.runner import detect_ner_format, detect_re_format, load_ner_dataset, load_re_dataset

TEXT = "Marie Curie worked in Paris."


def _write(path: Path, *records: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_ner_lines_in_the_shape_ieforge_ner_writes(tmp_path: Path) -> None:
    # an `ieforge ner --output` line: the input record, then entities with text and score, then stats
    out_line = {
        "id": "doc-1",
        "text": TEXT,
        "entities": [
            {"start": 0, "end": 11, "text": "Marie Curie", "label": "person", "score": 0.91},
            {"start": 22, "end": 27, "text": "Paris", "label": "location", "score": None},
        ],
        "stats": {"answers": 2, "strings": 2, "unparsed": 0, "ungrounded": 0},
    }
    hand_written = {"text": "Nobody here.", "entities": []}  # no id: the line number is used
    path = _write(tmp_path / "gold.jsonl", out_line, hand_written)
    first, second = read_ner_jsonl(path)
    assert first.id == "doc-1" and [(e.text, e.label) for e in first.entities] == [
        ("Marie Curie", "person"),
        ("Paris", "location"),
    ]
    assert first.entities[0].score is None  # gold spans carry no confidence
    assert second.id == "2" and second.entities == []
    dataset = load_ner_dataset("mine", path)
    assert detect_ner_format(path) == "jsonl" and dataset.format == "jsonl"
    assert dataset.labels == ["person", "location"]
    assert dataset.examples[0].strings == {"person": ["Marie Curie"], "location": ["Paris"]}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"text": TEXT}, "line 2: missing 'entities' list"),
        ({"text": "", "entities": []}, "line 2: missing or empty 'text'"),
        ({"text": TEXT, "entities": [{"start": 0, "end": 5}]}, "line 2: entity 0: missing 'label'"),
        (
            {"text": TEXT, "entities": [{"start": 0, "end": 40, "label": "person"}]},
            r"line 2: entity 0: 'start'/'end' must be offsets with 0 <= start < end <= 28",
        ),
        (
            {"text": TEXT, "entities": [{"start": 0, "end": 5, "label": "person", "text": "Curie"}]},
            r"line 2: entity 0: 'text' is 'Curie' but text\[0:5\] is 'Marie'",
        ),
        ({"text": TEXT, "entities": [{"start": True, "end": 5, "label": "x"}]}, "line 2: entity 0: 'start'"),
        (["not", "an", "object"], "line 2: expected a JSON object, got list"),
    ],
)
def test_ner_errors_name_file_and_line(tmp_path: Path, bad: object, message: str) -> None:
    path = _write(tmp_path / "gold.jsonl", {"text": TEXT, "entities": []}, bad)
    with pytest.raises(InputError, match=r"gold\.jsonl: " + message):
        read_ner_jsonl(path)


def test_ner_file_level_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "entities": []}\n{"text": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.jsonl: line 2: not valid JSON"):
        read_ner_jsonl(broken)
    twice = _write(
        tmp_path / "twice.jsonl",
        {"id": 1, "text": "a", "entities": []},
        {"id": "1", "text": "b", "entities": []},
    )
    with pytest.raises(InputError, match=r"twice\.jsonl: example id '1' occurs twice"):
        read_ner_jsonl(twice)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.jsonl: no records"):
        read_ner_jsonl(empty)
    with pytest.raises(InputError, match=r"nowhere\.jsonl: no such file"):
        read_ner_jsonl(tmp_path / "nowhere.jsonl")


def test_relation_lines_input_style_and_output_style(tmp_path: Path) -> None:
    text = "The cake was made by the baker at dawn."
    as_input = {"id": "a", "text": text, "head": "cake", "tail": "baker", "label": "Product-Producer(e1,e2)"}
    with_offsets = {
        "id": "b",
        "text": text,
        "head": {"start": 4, "end": 8},
        "tail": {"start": 25, "end": 30, "text": "baker"},
        "head_type": "FOOD",
        "tail_type": "PERSON",
        "label": "Product-Producer(e1,e2)",
    }
    # an `ieforge re --output` line: the input record plus the model's relation object
    as_output = {
        "id": "c",
        "text": text,
        "relation": {
            "label": "Other",
            "head": {"start": 25, "end": 30, "text": "baker"},
            "tail": {"start": 34, "end": 38, "text": "dawn"},
            "score": 0.4,
            "options": {"Other": 0.4},
        },
    }
    path = _write(tmp_path / "pairs.jsonl", as_input, with_offsets, as_output)
    a, b, c = read_re_jsonl(path)
    assert (a.head.start, a.head.end, a.tail.text) == (4, 8, "baker") and a.head_type is None
    assert (b.head.text, b.tail.start, b.head_type, b.tail_type) == ("cake", 25, "FOOD", "PERSON")
    assert (c.label, c.head.text, c.tail.text) == ("Other", "baker", "dawn")
    dataset = load_re_dataset("mine", path)
    assert detect_re_format(path) == "jsonl" and dataset.format == "jsonl" and len(dataset.examples) == 3


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"text": "a b", "head": "a", "tail": "b"}, "missing gold 'label'"),
        ({"text": "a b", "head": "a", "tail": "z", "label": "x"}, "tail 'z' does not occur in the text"),
        ({"text": "a b", "tail": "b", "label": "x"}, "missing 'head'"),
        ({"text": "a b", "head": {"start": 2, "end": 1}, "tail": "b", "label": "x"}, "head: 'start'/'end'"),
        ({"text": "a b", "head": "a", "tail": "b", "label": "x", "head_type": 3}, "'head_type' must be"),
        ({"text": "a b", "relation": "x"}, "'relation' must be an object"),
    ],
)
def test_relation_errors_name_file_and_line(tmp_path: Path, bad: object, message: str) -> None:
    path = _write(tmp_path / "pairs.jsonl", bad)
    with pytest.raises(InputError, match=r"pairs\.jsonl: line 1: " + message):
        read_re_jsonl(path)
