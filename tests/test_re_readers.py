"""TACRED, SciERC and WebNLG readers and the relation-example helper: small fixtures and the real files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_data

from ieforge.data import (
    DocumentExample,
    RelationMention,
    TripleExample,
    find_mention,
    read_scierc,
    read_tacred,
    read_webnlg,
    relation_examples,
)
from ieforge.errors import InputError
from ieforge.types import Entity, Mention


def _write(tmp_path: Path, content: str | bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _json(tmp_path: Path, data: Any, name: str = "sample.json") -> Path:
    return _write(tmp_path, json.dumps(data), name)


def _jsonl(tmp_path: Path, records: list[Any], name: str = "sample.json") -> Path:
    return _write(tmp_path, "".join(json.dumps(r) + "\n" for r in records), name)


def _grounded(text: str, span: Mention | Entity) -> bool:
    return text[span.start : span.end] == span.text


# --- TACRED -------------------------------------------------------------------------------------------

TACRED_RECORD: dict[str, Any] = {
    "id": "e7798fb926b9403cfcd2",
    "docid": "APW_ENG_20101103.0539",
    "relation": "per:title",
    "token": ["At", "the", "same", "time", ",", "Chief", "Financial", "Officer", "Douglas", "Flint",
              "will", "become", "chairman", "-LRB-", "HSBC", "-RRB-", "."],
    "subj_start": 8,
    "subj_end": 9,
    "subj_type": "PERSON",
    "obj_start": 12,
    "obj_end": 12,
    "obj_type": "TITLE",
    "stanford_pos": ["IN"] * 17,
}  # fmt: skip


def _tacred(**changes: Any) -> dict[str, Any]:
    record = dict(TACRED_RECORD)
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def test_tacred_offsets_and_types(tmp_path: Path) -> None:
    second = _tacred(id="b2", relation="no_relation", subj_start=14, subj_end=14, subj_type="ORGANIZATION",
                     obj_start=13, obj_end=15, obj_type="MISC")  # fmt: skip
    first, other = read_tacred(_json(tmp_path, [_tacred(), second]))
    assert first.id == "e7798fb926b9403cfcd2" and first.label == "per:title"
    assert first.text == (
        "At the same time , Chief Financial Officer Douglas Flint will become chairman -LRB- HSBC -RRB- ."
    )
    assert (first.head.text, first.head.start, first.head.end) == ("Douglas Flint", 43, 56)
    assert first.tail.text == "chairman" and _grounded(first.text, first.tail)
    assert (first.head_type, first.tail_type) == ("PERSON", "TITLE")
    # PTB bracket tokens stay as written, inside a span too
    assert other.head.text == "HSBC" and other.tail.text == "-LRB- HSBC -RRB-"
    assert other.label == "no_relation" and other.head_type == "ORGANIZATION"
    assert all(_grounded(ex.text, m) for ex in (first, other) for m in (ex.head, ex.tail))


def test_tacred_types_are_optional_and_ids_may_be_numbers(tmp_path: Path) -> None:
    (ex,) = read_tacred(_json(tmp_path, [_tacred(id=7, subj_type=None, obj_type=None)]))
    assert ex.id == "7" and ex.head_type is None and ex.tail_type is None


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"id": "x"}, "expected a JSON list of TACRED records"),
        (["not a record"], "record 0: expected a JSON object"),
        ([_tacred(id="")], "missing or empty 'id'"),
        ([_tacred(token=[])], "'token' must be a non-empty list"),
        ([_tacred(token=["a", 3])], "token 1 is 3"),
        ([_tacred(relation="")], "missing or empty 'relation'"),
        ([_tacred(subj_start="8")], "'subj_start' and 'subj_end' must be integer"),
        ([_tacred(obj_end=True)], "'obj_start' and 'obj_end' must be integer"),
        ([_tacred(subj_end=17)], "subj tokens 8..17 are not a span of the 17 tokens"),
        ([_tacred(obj_start=13, obj_end=12)], "obj tokens 13..12 are not a span"),
        ([_tacred(obj_start=-1)], "obj tokens -1..12"),
        ([_tacred(subj_type=3)], "'subj_type' must be a string"),
        ([_tacred(), _tacred()], "record 1 (id e7798fb926b9403cfcd2): duplicate id (first at record 0)"),
    ],
)
def test_tacred_errors(tmp_path: Path, records: Any, message: str) -> None:
    path = _json(tmp_path, records)
    with pytest.raises(InputError) as info:
        read_tacred(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_tacred_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read TACRED file"):
        read_tacred(tmp_path / "missing.json")
    with pytest.raises(InputError, match=r"line 2: not valid JSON"):
        read_tacred(_write(tmp_path, '[\n{"id": }]', "broken.json"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_tacred(_write(tmp_path, b"[\xff]", "latin.json"))


# --- SciERC -------------------------------------------------------------------------------------------

SCIERC_DOC: dict[str, Any] = {
    "doc_key": "P01-1",
    "sentences": [
        ["We", "present", "a", "parser", "for", "German", "."],
        ["The", "parser", "beats", "a", "CRF", "baseline", "on", "F1", "."],
    ],
    "ner": [
        [[3, 3, "Method"], [5, 5, "Material"]],
        [[8, 8, "Generic"], [11, 12, "Method"], [14, 14, "Metric"]],
    ],
    "relations": [
        [[3, 3, 5, 5, "USED-FOR"]],
        [[11, 12, 8, 8, "COMPARE"], [14, 14, 8, 8, "EVALUATE-FOR"]],
    ],
    "clusters": [[[3, 3], [8, 8]]],
}


def _scierc(**changes: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(SCIERC_DOC))
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def test_scierc_sentence_examples(tmp_path: Path) -> None:
    first, second = read_scierc(_jsonl(tmp_path, [SCIERC_DOC]))
    assert first.id == "P01-1-0" and second.id == "P01-1-1"
    assert first.text == "We present a parser for German ."
    assert [(e.text, e.label, e.start, e.end) for e in first.entities] == [
        ("parser", "Method", 13, 19),
        ("German", "Material", 24, 30),
    ]
    assert first.relations == [
        RelationMention(
            head=Mention(start=13, end=19, text="parser"),
            tail=Mention(start=24, end=30, text="German"),
            label="USED-FOR",
        )
    ]
    # document-level token indices become offsets into the second sentence's own text
    assert second.text == "The parser beats a CRF baseline on F1 ."
    assert [(r.head.text, r.tail.text, r.label) for r in second.relations] == [
        ("CRF baseline", "parser", "COMPARE"),
        ("F1", "parser", "EVALUATE-FOR"),
    ]
    for ex in (first, second):
        assert all(_grounded(ex.text, e) for e in ex.entities)
        assert all(_grounded(ex.text, m) for r in ex.relations for m in (r.head, r.tail))


def test_scierc_without_ner_or_relations(tmp_path: Path) -> None:
    (only,) = read_scierc(_jsonl(tmp_path, [{"doc_key": "d", "sentences": [["A", "b"]]}]))
    assert only.text == "A b" and only.entities == [] and only.relations == []


def test_scierc_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path, "\n" + json.dumps(SCIERC_DOC) + "\n\n" + json.dumps(SCIERC_DOC) + "\n", "s.json")
    assert len(read_scierc(path)) == 4


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (["a list"], "line 1: expected a JSON object"),
        (_scierc(doc_key=""), "missing or empty 'doc_key'"),
        (_scierc(sentences=[]), "'sentences' must be a non-empty list"),
        (_scierc(sentences=[["a"], []]), "sentence 1 is not a non-empty list of token strings"),
        (_scierc(ner=[[]]), "'ner' must hold one list per sentence (2 lists)"),
        (_scierc(relations={"a": 1}), "'relations' must hold one list per sentence"),
        (_scierc(ner=[{"x": 1}, []]), "sentence 0: 'ner' entry must be a list"),
        (_scierc(ner=[[[3, 3]], []]), "sentence 0: entity 0 is [3, 3], not [start, end, type]"),
        (_scierc(ner=[[[3, "3", "Task"]], []]), "sentence 0: entity 0 has non-integer token indices"),
        (
            _scierc(ner=[[], [[6, 8, "Task"]]]),
            "sentence 1: entity 0 tokens 6..8 are outside the sentence's tokens 7..15",
        ),
        (_scierc(ner=[[[4, 3, "Task"]], []]), "entity 0 tokens 4..3 are outside"),
        (_scierc(relations=[3, []]), "sentence 0: 'relations' entry must be a list"),
        (_scierc(relations=[[[3, 3, 5, 5]], []]), "relation 0 is [3, 3, 5, 5], not [head start"),
        (
            _scierc(relations=[[[3, 3, 5, 9, "USED-FOR"]], []]),
            "relation 0 tail tokens 5..9 are outside",
        ),
    ],
)
def test_scierc_errors(tmp_path: Path, record: Any, message: str) -> None:
    path = _jsonl(tmp_path, [record])
    with pytest.raises(InputError) as info:
        read_scierc(path)
    assert message in str(info.value) and f"{path}: line 1" in str(info.value)


def test_scierc_error_names_the_document(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [SCIERC_DOC, _scierc(doc_key="BAD-7", ner=[[[0, 99, "Task"]], []])])
    with pytest.raises(InputError, match=r"line 2 \(doc BAD-7\): sentence 0: entity 0 tokens 0\.\.99"):
        read_scierc(path)
    with pytest.raises(InputError, match=r"line 1: not valid JSON"):
        read_scierc(_write(tmp_path, "{oops\n", "bad.json"))
    with pytest.raises(InputError, match="cannot read SciERC file"):
        read_scierc(tmp_path / "missing.json")


# --- relation examples from a document ----------------------------------------------------------------


def test_relation_examples_from_gold_relations(tmp_path: Path) -> None:
    second = read_scierc(_jsonl(tmp_path, [SCIERC_DOC]))[1]
    examples = relation_examples(second)
    assert [(e.id, e.head.text, e.tail.text, e.label, e.head_type, e.tail_type) for e in examples] == [
        ("P01-1-1-0", "CRF baseline", "parser", "COMPARE", "Method", "Generic"),
        ("P01-1-1-1", "F1", "parser", "EVALUATE-FOR", "Metric", "Generic"),
    ]
    assert all(e.text == second.text for e in examples)


def test_relation_examples_with_none_label_cover_every_ordered_pair(tmp_path: Path) -> None:
    second = read_scierc(_jsonl(tmp_path, [SCIERC_DOC]))[1]
    examples = relation_examples(second, none_label="NONE")
    # 3 entities -> 6 ordered pairs: the 2 gold relations first, then the other 4 as NONE
    assert len(examples) == 6
    assert Counter(e.label for e in examples) == {"COMPARE": 1, "EVALUATE-FOR": 1, "NONE": 4}
    pairs = {(e.head.text, e.tail.text) for e in examples}
    assert len(pairs) == 6 and ("parser", "CRF baseline") in pairs
    assert [e.id for e in examples] == [f"P01-1-1-{i}" for i in range(6)]


def test_relation_examples_argument_without_entity_has_no_type() -> None:
    doc = DocumentExample(
        id="d",
        text="a b",
        entities=[Entity(start=0, end=1, text="a", label="X")],
        relations=[
            RelationMention(
                head=Mention(start=0, end=1, text="a"), tail=Mention(start=2, end=3, text="b"), label="R"
            )
        ],
    )
    (ex,) = relation_examples(doc, none_label="NONE")
    assert (ex.head_type, ex.tail_type, ex.label) == ("X", None, "R")


# --- WebNLG -------------------------------------------------------------------------------------------


def test_webnlg_triples_with_spans(tmp_path: Path) -> None:
    records = [
        {
            "text": "Peter Stöger is manager of 1 . FC Köln , which played in the 201415 and 2014 seasons .",
            "triple_list": [
                ["1 . FC Köln", "manager", "Peter Stöger"],
                ["1 . FC Köln", "season", "2014"],
                ["1 . FC Köln", "ground", "RheinEnergieStadion"],
            ],
        },
        {"text": "Nothing here .", "triple_list": []},
    ]
    first, empty = read_webnlg(_json(tmp_path, records, "train_triples.json"))
    assert isinstance(first, TripleExample) and first.id == "train_triples-0" and empty.triples == []
    manager, season, ground = first.triples
    assert (manager.subject, manager.relation, manager.object) == ("1 . FC Köln", "manager", "Peter Stöger")
    assert manager.subject_span == Mention(start=27, end=38, text="1 . FC Köln")
    assert manager.object_span == Mention(start=0, end=12, text="Peter Stöger")
    # "2014" also occurs inside "201415"; the whole-word occurrence is preferred
    assert season.object_span is not None and first.text[season.object_span.end] == " "
    assert first.text[season.object_span.start - 4 : season.object_span.start] == "and "
    assert ground.object_span is None  # not in the text verbatim
    for t in first.triples:
        for span in (t.subject_span, t.object_span):
            assert span is None or _grounded(first.text, span)


def test_find_mention() -> None:
    assert find_mention("the 201415 and 2014 seasons", "2014") == Mention(start=15, end=19, text="2014")
    # with no whole-word occurrence, the first occurrence at all
    assert find_mention("see 201415", "2014") == Mention(start=4, end=8, text="2014")
    assert find_mention("a (b) c", "(b)") == Mention(start=2, end=5, text="(b)")
    assert find_mention("abc", "x") is None and find_mention("abc", "") is None


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"text": "x"}, "expected a JSON list of {text, triple_list} records"),
        ([3], "record 0: expected a JSON object"),
        ([{"text": " ", "triple_list": []}], "record 0: missing or empty 'text'"),
        ([{"text": "a b"}], "'triple_list' must be a list"),
        ([{"text": "a b", "triple_list": [["a", "r"]]}], "triple 0 is ['a', 'r'], not [subject, relation"),
        ([{"text": "a b", "triple_list": [["a", "", "b"]]}], "triple 0 is"),
        ([{"text": "a b", "triple_list": [["a", "r", 1]]}], "triple 0 is"),
    ],
)
def test_webnlg_errors(tmp_path: Path, records: Any, message: str) -> None:
    path = _json(tmp_path, records)
    with pytest.raises(InputError) as info:
        read_webnlg(path)
    assert message in str(info.value) and str(path) in str(info.value)


# --- the real files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("split", "docs", "sentences", "entities", "relations"),
    [("train", 350, 1861, 5598, 3219), ("dev", 50, 275, 811, 455), ("test", 100, 551, 1685, 974)],
)
def test_real_scierc(split: str, docs: int, sentences: int, entities: int, relations: int) -> None:
    examples = read_scierc(shared_data("scierc", f"{split}.json"))
    assert len({ex.id.rsplit("-", 1)[0] for ex in examples}) == docs
    assert len(examples) == sentences
    assert sum(len(ex.entities) for ex in examples) == entities
    assert sum(len(ex.relations) for ex in examples) == relations
    labels = {r.label for ex in examples for r in ex.relations}
    assert labels == {
        "USED-FOR",
        "FEATURE-OF",
        "HYPONYM-OF",
        "PART-OF",
        "COMPARE",
        "CONJUNCTION",
        "EVALUATE-FOR",
    }
    types = {e.label for ex in examples for e in ex.entities}
    assert types == {"Task", "Method", "Material", "Metric", "OtherScientificTerm", "Generic"}
    for ex in examples:
        assert all(_grounded(ex.text, e) for e in ex.entities)
        assert all(_grounded(ex.text, m) for r in ex.relations for m in (r.head, r.tail))
        # every relation argument is one of the sentence's entities, so it gets a type
        res = relation_examples(ex)
        assert len(res) == len(ex.relations)
        assert all(r.head_type is not None and r.tail_type is not None for r in res)


@pytest.mark.parametrize(
    ("split", "sentences", "triples"), [("train", 5019, 11313), ("val", 500, 1224), ("test", 703, 1607)]
)
def test_real_webnlg(split: str, sentences: int, triples: int) -> None:
    examples = read_webnlg(shared_data("webnlg", f"{split}_triples.json"))
    assert len(examples) == sentences
    assert sum(len(ex.triples) for ex in examples) == triples
    for ex in examples:
        for t in ex.triples:
            # the "exact match" version: every subject and object is in its sentence verbatim
            assert t.subject_span is not None and t.object_span is not None
            assert t.subject_span.text == t.subject and t.object_span.text == t.object
            assert _grounded(ex.text, t.subject_span) and _grounded(ex.text, t.object_span)


def test_real_webnlg_relations_are_in_rel2id() -> None:
    (rel2id,) = json.loads(shared_data("webnlg", "rel2id.json").read_text(encoding="utf-8"))
    assert len(rel2id) == 216
    used = {
        t.relation
        for split in ("train", "val", "test")
        for ex in read_webnlg(shared_data("webnlg", f"{split}_triples.json"))
        for t in ex.triples
    }
    assert used <= set(rel2id)
