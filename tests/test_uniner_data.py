"""UniversalNER question-file reader, on small fixtures and on the real CrossNER test files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA

from ieforge.data import UniNERExample, dataset_labels, read_bio, read_uniner
from ieforge.errors import InputError


def _real(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared benchmark data not found: {path}")
    return path


def _record(ident: str, text: str, *qa: tuple[str, str]) -> dict[str, Any]:
    turns = [{"from": "human", "value": f"Text: {text}"}, {"from": "gpt", "value": "I've read this text."}]
    for kind, answer in qa:
        turns.append({"from": "human", "value": f"What describes {kind} in the text?"})
        turns.append({"from": "gpt", "value": answer})
    return {"id": ident, "conversations": turns}


def _dump(tmp_path: Path, records: Any, name: str = "uniner.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_consecutive_records_form_one_passage(tmp_path: Path) -> None:
    path = _dump(
        tmp_path,
        [
            _record("q0", "Ada Lovelace met Babbage in London .", ("person", '["Ada Lovelace", "Babbage"]')),
            _record("q1", "Ada Lovelace met Babbage in London .", ("location", '["London"]')),
            _record("q2", "Ada Lovelace met Babbage in London .", ("country", "[]")),
            _record("q3", "Paris , Paris !", ("location", '["Paris", "Paris"]'), ("person", "[]")),
        ],
    )
    first, second = read_uniner(path)
    assert first == UniNERExample(
        id="q0",
        text="Ada Lovelace met Babbage in London .",
        gold={"person": ["Ada Lovelace", "Babbage"], "location": ["London"], "country": []},
    )
    # several question/answer pairs in one record; repeated gold strings are kept as in the file
    assert second == UniNERExample(
        id="q3", text="Paris , Paris !", gold={"location": ["Paris", "Paris"], "person": []}
    )


def test_a_repeated_sentence_stays_two_passages(tmp_path: Path) -> None:
    path = _dump(
        tmp_path,
        [
            _record("a", "Same text .", ("band", "[]")),
            _record("b", "Same text .", ("song", "[]")),
            _record("c", "Same text .", ("band", '["text"]')),
            _record("d", "Same text .", ("song", "[]")),
        ],
    )
    examples = read_uniner(path)
    assert [(ex.id, ex.gold) for ex in examples] == [
        ("a", {"band": [], "song": []}),
        ("c", {"band": ["text"], "song": []}),
    ]


def test_empty_list(tmp_path: Path) -> None:
    assert read_uniner(_dump(tmp_path, [])) == []


GOOD = _record("x", "Some text .", ("thing", "[]"))


def _with(**changes: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(GOOD))
    record.update(changes)
    return record


def _turns(*values: str) -> list[dict[str, str]]:
    return [{"from": "human" if n % 2 == 0 else "gpt", "value": v} for n, v in enumerate(values)]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (["not", "a", "dict"], "expected a JSON object, found list"),
        ({"conversations": GOOD["conversations"]}, 'missing or empty "id"'),
        (_with(conversations=None), 'missing "conversations" list'),
        (
            _with(conversations=GOOD["conversations"][:3]),
            "expected the text, its acknowledgement .* found 3 turns",
        ),
        (_with(conversations=[]), "expected the text, .* found 0 turns"),
        (
            _with(conversations=[*GOOD["conversations"][:3], {"from": "human", "value": "[]"}]),
            r'turn 3: expected \{"from": "gpt"',
        ),
        (_with(conversations=[*GOOD["conversations"][:3], {"from": "gpt"}]), "turn 3: expected"),
        (_with(conversations=_turns("Some text .", "ok", "What describes x in the text?", "[]")), "turn 0:"),
        (_with(conversations=_turns("Text: t", "ok", "Which are persons?", "[]")), "turn 2: not a"),
        (_with(conversations=_turns("Text: t", "ok", "What describes x in the text?", "[oops")), "turn 3:"),
        (_with(conversations=_turns("Text: t", "ok", "What describes x in the text?", '"a"')), "turn 3:"),
        (_with(conversations=_turns("Text: t", "ok", "What describes x in the text?", "[1, 2]")), "turn 3:"),
        (
            _with(
                conversations=_turns(
                    "Text: t",
                    "ok",
                    "What describes x in the text?",
                    "[]",
                    "What describes x in the text?",
                    "[]",
                )
            ),
            "turn 4: type 'x' is asked twice",
        ),
    ],
)
def test_malformed_record_names_file_and_index(tmp_path: Path, record: Any, message: str) -> None:
    path = _dump(tmp_path, [GOOD, GOOD, record])
    with pytest.raises(InputError, match=rf"uniner\.json: record 2: {message}"):
        read_uniner(path)


def test_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"obj\.json: expected a JSON list of records, found dict"):
        read_uniner(_dump(tmp_path, {"id": "x"}, "obj.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('[\n{"id": "x",\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.json: line 3: not valid JSON"):
        read_uniner(broken)
    with pytest.raises(InputError, match=r"absent\.json: cannot read UniversalNER file"):
        read_uniner(tmp_path / "absent.json")


# --- the real files ------------------------------------------------------------------------------------

# (folder, records, passages = test sentences, types asked per passage = the dataset's types except misc)
REAL = [
    ("crossner_ai", 5603, 431, 13),
    ("crossner_literature", 4576, 416, 11),
    ("crossner_music", 5580, 465, 12),
]


@pytest.mark.parametrize(("folder", "records", "passages", "types"), REAL)
def test_real_uniner_file(folder: str, records: int, passages: int, types: int) -> None:
    examples = read_uniner(_real(folder, "uniner_format_test.json"))
    assert len(examples) == passages
    assert sum(len(ex.gold) for ex in examples) == records
    asked = set(examples[0].gold)
    assert len(asked) == types and all(set(ex.gold) == asked for ex in examples)
    # the types asked are the built-in natural-language names, minus the catch-all "else"
    assert asked == set(dataset_labels(folder).values()) - {"else"}
    assert all(s in ex.text for ex in examples for answers in ex.gold.values() for s in answers)
    # the passages are the test sentences of the column file, in the same order
    sentences = read_bio(_real(folder, "test.txt"))
    assert [ex.text for ex in examples] == [s.text for s in sentences]


def test_real_crossner_ai_first_passages() -> None:
    examples = read_uniner(_real("crossner_ai", "uniner_format_test.json"))
    first = examples[0]
    assert first.id == "CrossNER_AI_0" and examples[1].id == "CrossNER_AI_13"
    assert first.text.startswith("Typical generative model approaches include naive Bayes classifier s ,")
    assert first.gold["algorithm"] == [
        "naive Bayes classifier",
        "Gaussian mixture model",
        "variational autoencoders",
    ]
    assert first.gold["organization"] == []
