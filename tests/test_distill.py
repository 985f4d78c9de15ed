"""Distillation data without a model: teacher answers read, grounded and normalized; Pile-NER files
grouped by passage; student conversations built in the UniversalNER format; passages packed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.corpus import read_corpus
from ieforge.distill import (
    AnnotatedEntity,
    DistillConfig,
    PassageAnnotation,
    build_examples,
    merge_annotations,
    normalize_type,
    read_annotations,
)
from ieforge.distill.annotations import AnnotationStats, ground_pairs
from ieforge.distill.build import type_frequencies
from ieforge.distill.passages import pack_texts
from ieforge.errors import InputError
from ieforge.prompts import load_chat_prompt
from ieforge.prompts.structured import parse_entity_pairs
from ieforge.runs.jsonl import in_shard, parse_shard

runner = CliRunner()


# ----- reading teacher answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '[("Obama", "person"), ("Hawaii", "location")]',
        '[["Obama", "person"], ["Hawaii", "location"]]',
        '```json\n[["Obama", "person"], ["Hawaii", "location", "extra"]]\n```',
        '[{"entity": "Obama", "type": "person"}, {"text": "Hawaii", "label": "location"}]',
        '{"person": ["Obama"], "location": "Hawaii"}',
        "Obama: person\nHawaii: location",
        "1. Obama (person)\n2. Hawaii (location)",
        "Here are the entities:\n- **Obama** - person\n- Hawaii - location",
    ],
)
def test_entity_pairs_in_every_common_shape(raw: str) -> None:
    parsed = parse_entity_pairs(raw)
    assert parsed.ok
    assert parsed.values == [["Obama", "person"], ["Hawaii", "location"]]


def test_cut_off_answers_keep_their_complete_pairs() -> None:
    assert parse_entity_pairs('[("Obama", "person"), ("Haw').values == [["Obama", "person"]]
    assert parse_entity_pairs("[]").ok and not parse_entity_pairs("[]").values
    assert not parse_entity_pairs("I cannot help with that.").ok
    assert not parse_entity_pairs(None).ok


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[](){}\"',:;- \nabcXY1\\")), max_size=80))
def test_reading_a_teacher_answer_never_raises(raw: str) -> None:
    parsed = parse_entity_pairs(raw)
    assert all(len(pair) == 2 for pair in parsed.values)


def test_teacher_prompts() -> None:
    published = load_chat_prompt("annotate", "uniner-teacher")
    chat = published.chat(text="Obama was born in Hawaii.")
    assert chat[0] == {"role": "system", "content": "You are a helpful information extraction system."}
    assert chat[1]["content"].startswith(
        "Given a passage, your task is to extract all entities and identify their entity types. The output "
        'should be in a list of tuples of the following format: [("entity 1", "type of entity 1"), ... ].'
    )
    assert chat[1]["content"].endswith("Passage: Obama was born in Hawaii.")
    assert published.assistant_prefix == ""
    assert load_chat_prompt("annotate", "open-json").assistant_prefix == "["


# ----- types and grounding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("Person", "person"),
        ("persons", "person"),
        ("programming_language", "programming language"),
        ("MedicalCondition", "medical condition"),
        ("ORGANIZATION", "organization"),
        ("cities", "city"),
        ("'Software'", "software"),
        ("news", "news"),
        ("species", "species"),
        ("class", "class"),
        ("analysis", "analysis"),
        ("sports teams", "sports team"),
        ("", None),
        ("123", None),
        ("a type name that is far too long", None),
    ],
)
def test_type_names_are_normalized(raw: str, norm: str | None) -> None:
    assert normalize_type(raw) == norm


def test_grounding_finds_every_occurrence_and_counts_the_rest() -> None:
    text = "Paris is in France. Paris is big."
    stats = AnnotationStats()
    ents = ground_pairs(text, [("Paris", "City"), ("Lyon", "city"), ("France", "!!")], stats)
    assert [(e.start, e.end, e.type) for e in ents] == [(0, 5, "city"), (20, 25, "city")]
    assert all(text[e.start : e.end] == e.text for e in ents)
    assert (stats.pairs, stats.ungrounded, stats.bad_type) == (3, 1, 1)


# ----- annotation files -------------------------------------------------------------------------


def _pile_line(pair_id: str, tag: str, text: str, answer: list[str]) -> str:
    return json.dumps(
        {
            "doc_question_pairID": pair_id,
            "tagName": tag,
            "input": text,
            "instruction": f"Extract the Named Entities of type {tag.upper()} from the text.",
            "output": json.dumps(answer),
        }
    )


PASSAGE_A = "Ada Lovelace wrote notes on the Analytical Engine in London."
PASSAGE_B = "The Rhine flows through Basel."


@pytest.fixture
def pile_file(tmp_path: Path) -> Path:
    path = tmp_path / "pile.jsonl"
    lines = [
        _pile_line("1:0", "person", PASSAGE_A, ["Ada Lovelace"]),
        _pile_line("1:1", "machine", PASSAGE_A, ["Analytical Engine", "Difference Engine"]),
        _pile_line("1:2", "court", PASSAGE_A, []),
        _pile_line("2:0", "river", PASSAGE_B, ["Rhine"]),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_pile_ner_lines_become_partial_passage_annotations(pile_file: Path) -> None:
    a, b = read_annotations(pile_file)
    assert a.text == PASSAGE_A and not a.complete and a.teacher.startswith("chatgpt")
    assert {(e.text, e.type) for e in a.entities} == {
        ("Ada Lovelace", "person"),
        ("Analytical Engine", "machine"),
    }
    assert a.negatives == ["court"]
    assert a.stats.ungrounded == 1  # "Difference Engine" is not in the passage
    assert [(e.text, e.type) for e in b.entities] == [("Rhine", "river")]


def test_annotation_files_round_trip_and_bad_lines_are_named(tmp_path: Path, pile_file: Path) -> None:
    anns = read_annotations(pile_file)
    own = tmp_path / "own.jsonl"
    own.write_text("".join(a.model_dump_json() + "\n" for a in anns), encoding="utf-8")
    assert read_annotations(own) == anns
    own.write_text(anns[0].model_dump_json() + "\n" + '{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"own.jsonl: line 2: not a passage annotation"):
        read_annotations(own)
    own.write_text("{broken\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"own.jsonl: line 1: not valid JSON"):
        read_annotations(own)
    bad = tmp_path / "pile_bad.jsonl"
    bad.write_text(
        _pile_line("1:0", "person", PASSAGE_A, ["Ada Lovelace"])
        + "\n"
        + _pile_line("1:1", "x", "other", [])
        + "\n"
    )
    with pytest.raises(InputError, match=r"pile_bad.jsonl: line 2: passage 1 has a different text"):
        read_annotations(bad)


def _ann(
    pid: str, text: str, ents: list[tuple[str, str]], complete: bool = True, teacher: str = "t"
) -> PassageAnnotation:
    entities = []
    for s, label in ents:
        i = text.index(s)
        entities.append(AnnotatedEntity(start=i, end=i + len(s), text=s, type=label))
    return PassageAnnotation(id=pid, text=text, entities=entities, complete=complete, teacher=teacher)


def test_annotations_of_one_passage_from_two_teachers_merge() -> None:
    a = _ann("a", PASSAGE_B, [("Rhine", "river")], complete=False, teacher="chatgpt")
    a.negatives = ["city", "court"]
    b = _ann("b", PASSAGE_B, [("Basel", "city")], teacher="qwen")
    failed = PassageAnnotation(id="c", text="Nothing.", error="RuntimeError: out of memory")
    (m,) = merge_annotations([a, b, failed])
    assert {e.type for e in m.entities} == {"river", "city"}
    assert m.negatives == ["court"] and m.complete and m.teacher == "chatgpt+qwen"


# ----- student conversations ----------------------------------------------------------------------


def test_conversation_is_the_universalner_format() -> None:
    ann = _ann(
        "a", PASSAGE_A, [("Ada Lovelace", "person"), ("London", "city"), ("Analytical Engine", "machine")]
    )
    others = [
        _ann(f"o{i}", f"Text number {i} about Bob.", [("Bob", "person"), ("Text", "thing")]) for i in range(5)
    ]
    examples = build_examples([ann, *others], DistillConfig(negatives=1, seed=3))
    ex = next(e for e in examples if e.source_id == "a")
    msgs = ex.messages
    assert msgs[0] == {
        "role": "system",
        "content": "A virtual assistant answers questions from a user based on the provided text.",
    }
    assert msgs[1] == {"role": "user", "content": f"Text: {PASSAGE_A}"}
    assert msgs[2] == {"role": "assistant", "content": "I've read this text."}
    questions = msgs[3::2]
    answers = msgs[4::2]
    assert sum(1 for m in msgs if PASSAGE_A in m["content"]) == 1  # the text once
    asked = [q["content"].removeprefix("What describes ").removesuffix(" in the text?") for q in questions]
    assert all(q["content"] == f"What describes {t} in the text?" for q, t in zip(questions, asked))
    assert sorted(asked) == ["city", "machine", "person", "thing"]  # 3 present + 1 sampled negative
    got = dict(zip(asked, (json.loads(a["content"]) for a in answers)))
    assert got == {
        "person": ["Ada Lovelace"],
        "city": ["London"],
        "machine": ["Analytical Engine"],
        "thing": [],
    }
    assert (ex.family, ex.kind, ex.style, ex.assistant_prefix, ex.prefix) == ("ner", "task", "list", "", "")
    assert ex.gold == [[s] for s in got[asked[-1]]]
    assert build_examples([ann, *others], DistillConfig(negatives=1, seed=3)) == examples


def test_question_order_is_shuffled_and_json_prompt_keeps_its_prefix() -> None:
    types = [f"type{i}" for i in range(6)]
    text = " ".join(f"w{i}" for i in range(6))
    ann = _ann("a", text, [(f"w{i}", t) for i, t in enumerate(types)])
    orders = set()
    for seed in range(8):
        (ex,) = build_examples([ann], DistillConfig(negatives=0, seed=seed))
        orders.add(tuple(m["content"] for m in ex.messages[3::2]))
    assert len(orders) > 1
    (ex,) = build_examples([ann], DistillConfig(negatives=0, prompt="uniner-json"))
    assert ex.prefix == "[" and "JSON list" in ex.messages[3]["content"]


def test_negatives_follow_type_frequency_and_only_for_complete_passages() -> None:
    common = [_ann(f"c{i}", f"Alice met person {i}.", [("Alice", "person")]) for i in range(40)]
    rare = [_ann("r", "Zed is a rare thing.", [("Zed", "rare thing")])]
    target = _ann("t", "Berlin is a city.", [("Berlin", "city")])
    partial = _ann("p", "Rome is a city too.", [("Rome", "city")], complete=False)
    partial.negatives = ["river"]
    picked: Counter[str] = Counter()
    for seed in range(60):
        for ex in build_examples([*common, *rare, target, partial], DistillConfig(negatives=1, seed=seed)):
            asked = [m["content"] for m in ex.messages[3::2]]
            if ex.source_id == "t":
                assert len(asked) == 2
                picked.update(q for q in asked if "city" not in q)
            if ex.source_id == "p":  # partial: only its own known negative, nothing sampled
                assert sorted(asked) == [
                    "What describes city in the text?",
                    "What describes river in the text?",
                ]
    assert picked["What describes person in the text?"] > 5 * picked["What describes rare thing in the text?"]
    assert type_frequencies([*common, *rare])["person"] == 40


def test_long_passages_are_split_and_entities_rebased() -> None:
    text = "Alice lives in Paris. " * 3 + "Bob visited Rome last year."
    ann = _ann("a", text, [])
    ann.entities = [AnnotatedEntity(start=i, end=i + 5, text="Alice", type="person") for i in (0, 22, 44)] + [
        AnnotatedEntity(start=text.index("Rome"), end=text.index("Rome") + 4, text="Rome", type="city")
    ]
    examples = build_examples([ann], DistillConfig(negatives=0, max_chars=30))
    assert len(examples) >= 2
    for ex in examples:
        piece = ex.messages[1]["content"].removeprefix("Text: ")
        assert len(piece) <= 30
        for a in ex.messages[4::2]:
            for s in json.loads(a["content"]):
                assert s in piece
    rome = next(ex for ex in examples if "Rome" in ex.messages[1]["content"])
    answers = {
        q["content"]: json.loads(a["content"]) for q, a in zip(rome.messages[3::2], rome.messages[4::2])
    }
    assert answers["What describes city in the text?"] == ["Rome"]
    assert answers["What describes person in the text?"] == []


def test_distill_build_command_writes_a_corpus(tmp_path: Path, pile_file: Path) -> None:
    own = tmp_path / "own.jsonl"
    own.write_text(
        _ann("q", "Basel lies on the Rhine.", [("Basel", "city")], teacher="qwen").model_dump_json() + "\n"
    )
    out = tmp_path / "train.jsonl"
    result = runner.invoke(
        app,
        ["distill", "build", "--annotations", str(pile_file), "--annotations", str(own), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert '"passages": 3' in result.output and '"types": 4' in result.output
    examples = read_corpus(out)
    assert len(examples) == 3 and {e.dataset for e in examples} == {"chatgpt (Pile-NER)", "qwen"}
    result = runner.invoke(
        app, ["distill", "build", "--annotations", str(tmp_path / "nope.jsonl"), "--out", str(out)]
    )
    assert result.exit_code == 2 and "no such file" in result.output


# ----- passages and shards ------------------------------------------------------------------------


def test_texts_are_packed_into_passages() -> None:
    texts = ["One two.", "Three four.", "One two.", "x" * 30, "Five six seven eight nine ten. " * 4]
    passages = pack_texts(texts, 40)
    assert passages[0] == "One two. Three four."
    assert all(len(p) <= 40 for p in passages)
    assert sum(p.count("One two.") for p in passages) == 1


def test_shards_split_ids_without_overlap() -> None:
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) is None
    for bad in ("3/3", "x/2", "1", "-1/2"):
        with pytest.raises(InputError, match="--shard"):
            parse_shard(bad)
    ids = [f"p{i}" for i in range(300)]
    parts = [[i for i in ids if in_shard(i, (k, 3))] for k in range(3)]
    assert sorted(i for p in parts for i in p) == sorted(ids)
    assert all(60 < len(p) < 140 for p in parts)


def test_part_of_speech_types_are_left_out_unless_kept() -> None:
    ann = _ann(
        "a", "The big dog barked at Alice.", [("big", "adjective"), ("barked", "verb"), ("Alice", "person")]
    )
    (ex,) = build_examples([ann], DistillConfig(negatives=0))
    assert [m["content"] for m in ex.messages[3::2]] == ["What describes person in the text?"]
    (ex,) = build_examples([ann], DistillConfig(negatives=0, drop_types=frozenset()))
    assert len(ex.messages[3::2]) == 3


def test_corpus_lines_carry_a_prefix_only_when_they_have_their_own(tmp_path: Path) -> None:
    from ieforge.corpus import write_corpus

    ann = _ann("a", "Berlin is a city.", [("Berlin", "city")])
    (ex,) = build_examples([ann], DistillConfig(negatives=0))
    plain = ex.model_copy(update={"assistant_prefix": None})
    path = tmp_path / "c.jsonl"
    write_corpus([ex, plain], path)
    first, second = (json.loads(x) for x in path.read_text().splitlines())
    assert first["assistant_prefix"] == "" and "assistant_prefix" not in second  # older corpora unchanged
    assert [e.prefix for e in read_corpus(path)] == ["", "["]


# ----- typing questions (two-stage NER) -------------------------------------------------------------


def test_typing_questions_teach_the_typing_prompt() -> None:
    from ieforge.prompts import load_typing_prompt

    ann = _ann(
        "a", PASSAGE_A, [("Ada Lovelace", "person"), ("London", "city"), ("Analytical Engine", "machine")]
    )
    others = [
        _ann(f"o{i}", f"Text number {i} about Bob.", [("Bob", "person"), ("Text", "thing")]) for i in range(5)
    ]
    seen_none = seen_type = 0
    typing = load_typing_prompt("typing-mc")
    for seed in range(12):
        examples = build_examples([ann, *others], DistillConfig(negatives=1, seed=seed, typing_questions=2))
        ex = next(e for e in examples if e.source_id == "a")
        plain = build_examples([ann, *others], DistillConfig(negatives=1, seed=seed))
        n_plain = len(next(e for e in plain if e.source_id == "a").messages)
        turns = ex.messages[n_plain:]
        assert len(turns) == 4 and [m["role"] for m in turns] == ["user", "assistant"] * 2
        for q, a in zip(turns[::2], turns[1::2]):
            span = q["content"].split('"')[1]
            lines = q["content"].splitlines()
            options = {line[0]: line[3:] for line in lines[1:-1]}
            assert lines[-1] == "Answer with the letter of one option."
            assert q == typing.chat(text=PASSAGE_A, span=span, options="\n".join(lines[1:-1]))[-1]
            assert list(options.values())[-1] == "none of these" and 2 <= len(options) <= 15
            letter = a["content"].removeprefix("Answer: ")
            assert a["content"].startswith("Answer: ") and letter in options
            gold = {"Ada Lovelace": "person", "London": "city", "Analytical Engine": "machine"}.get(span)
            if options[letter] == "none of these":
                seen_none += 1
                assert gold not in options.values()  # its own type was not offered, or not an entity
            else:
                seen_type += 1
                assert options[letter] == gold
        assert ex.gold == [[turns[-1]["content"]]]
    assert seen_none and seen_type


def test_non_entity_spans_come_only_from_complete_passages() -> None:
    text = "Ada Lovelace wrote notes about engines in the autumn of that long year."
    partial = _ann("p", text, [("Ada Lovelace", "person")], complete=False)
    for seed in range(10):
        (ex,) = build_examples([partial], DistillConfig(negatives=0, seed=seed, typing_questions=3))
        spans = [m["content"].split('"')[1] for m in ex.messages if m["content"].startswith("Which option")]
        assert spans == ["Ada Lovelace"]
    complete = _ann("c", text, [("Ada Lovelace", "person")])
    found = set()
    for seed in range(10):
        (ex,) = build_examples([complete], DistillConfig(negatives=0, seed=seed, typing_questions=3))
        found |= {m["content"].split('"')[1] for m in ex.messages if m["content"].startswith("Which option")}
    others = found - {"Ada Lovelace"}
    assert others and all(o in text and "Ada" not in o and "Lovelace" not in o for o in others)
