"""FewRel reader on the real validation file and on broken fixtures."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_data

from ieforge.data import read_fewrel
from ieforge.errors import InputError
from ieforge.schemas.relations import load_relation_schema


def test_real_val_wiki_file() -> None:
    examples = read_fewrel(shared_data("fewrel", "val_wiki.json"))
    counts = Counter(e.label for e in examples)
    assert len(counts) == 16 and set(counts.values()) == {700}
    for e in examples:
        assert e.text[e.head.start : e.head.end] == e.head.text
        assert e.text[e.tail.start : e.tail.end] == e.tail.text
    first = examples[0]
    assert first.id == "P177-0" and first.label == "P177"
    assert (first.head.text, first.tail.text) == ("Cape Girardeau Bridge", "Mississippi River")


def test_relation_names_are_the_builtin_schema_labels() -> None:
    named = read_fewrel(
        shared_data("fewrel", "val_wiki.json"),
        per_relation=1,
        relation_names=shared_data("fewrel", "pid2name.json"),
    )
    assert named[0].label == "crosses" and named[0].id == "P177-0"
    assert [e.label for e in named] == load_relation_schema("fewrel").labels
    with pytest.raises(InputError, match="relation P177 has no name"):
        read_fewrel(shared_data("fewrel", "val_wiki.json"), relation_names={"P1": "x"})


def test_per_relation_keeps_a_balanced_slice() -> None:
    examples = read_fewrel(shared_data("fewrel", "val_wiki.json"), per_relation=3)
    assert len(examples) == 48
    assert [e.id for e in examples[:4]] == ["P177-0", "P177-1", "P177-2", "P364-0"]


def _write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "fewrel.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_mentions_use_first_occurrence_and_token_range(tmp_path: Path) -> None:
    inst = {
        "tokens": ["New", "York", "City", "is", "in", "New", "York", "."],
        "h": ["new york city", "Q60", [[0, 1, 2]]],
        "t": ["new york", "Q1384", [[5, 6], [0, 1]]],
    }
    (ex,) = read_fewrel(_write(tmp_path, json.dumps({"P131": [inst]})))
    assert ex.text == "New York City is in New York ."
    assert (ex.head.start, ex.head.end, ex.head.text) == (0, 13, "New York City")
    assert (ex.tail.start, ex.tail.end, ex.tail.text) == (20, 28, "New York")
    assert ex.label == "P131" and ex.id == "P131-0"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"P1": [', "line 1: not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"P1": 3}', "relation P1: expected a list"),
        ('{"P1": [{"tokens": []}]}', "relation P1, instance 0: expected an object with a non-empty"),
        ('{"P1": [{"tokens": ["a"], "h": ["a", "x", [[0]]]}]}', "instance 0: 't' must be"),
        ('{"P1": [{"tokens": ["a"], "h": ["a", "x", [[3]]], "t": ["a", "x", [[0]]]}]}', "outside the 1"),
    ],
)
def test_broken_files_name_file_and_instance(tmp_path: Path, content: str, message: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(InputError, match=message) as err:
        read_fewrel(path)
    assert str(path) in str(err.value)
