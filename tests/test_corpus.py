"""The alignment corpus: answer styles read back to their gold, the mix, determinism, held-out split,
bad lines; and the preference-pair choice (no model: samples are given)."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest
from corpus_data import fewrel_file
from hypothesis import given, settings
from hypothesis import strategies as st

from ieforge.corpus import CorpusConfig, answer_f1, build_corpus, read_answer, read_corpus, write_corpus
from ieforge.corpus.build import stable_fraction
from ieforge.corpus.formats import as_json, compact, explained, json_keys
from ieforge.errors import InputError
from ieforge.prompts.parsers import parse_string_list
from ieforge.schemas.relations import load_relation_schema
from ieforge.train.pairs import PairSettings, make_pair, pairs_file, read_pairs, sample_score

GOLD = [("EU", "organization"), ("German", "else")]


def test_styles_read_back_to_their_gold() -> None:
    assert answer_f1("compact", compact(GOLD), GOLD) == 1.0
    assert answer_f1("json", as_json(GOLD, json_keys(2, "ner")), GOLD) == 1.0
    assert answer_f1("explain", explained(GOLD, "ner"), GOLD) == 1.0
    assert answer_f1("compact", compact([]), []) == 1.0
    assert answer_f1("json", as_json([("part of",)], json_keys(1, "re")), [("part of",)]) == 1.0
    assert answer_f1("compact", "[Answer]: part of.", [("part of",)]) == 1.0
    assert answer_f1("letter", "B", [("B",)]) == 1.0
    assert answer_f1("list", '["EU", "German"]', [("EU",), ("German",)]) == 1.0
    rows = json.dumps([{"person": "Ann", "city": "Rome"}])
    assert answer_f1("rows", rows, [("person", "Ann"), ("city", "Rome")]) == 1.0


def test_partial_and_wrong_answers_score_between() -> None:
    assert answer_f1("compact", "[Answer]: EU: organization", GOLD) == pytest.approx(2 / 3)
    assert answer_f1("compact", "[Answer]: NA", GOLD) == 0.0
    assert answer_f1("compact", "[Answer]: EU: person; German: else", GOLD) == 0.5
    assert answer_f1("letter", "C", [("B",)]) == 0.0
    # case and spacing do not matter, quotes around a value neither
    assert answer_f1("compact", '[Answer]:  "eu" :  Organization ; german: ELSE', GOLD) == 1.0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["compact", "json", "explain", "list", "letter", "rows"]))
def test_reading_never_raises(text: str, style: str) -> None:
    assert isinstance(read_answer(style, text, 2), set)
    assert 0.0 <= answer_f1(style, text, GOLD) <= 1.0


# ----- building ---------------------------------------------------------------------------------------


def _ner_file(path: Path, n: int = 40) -> Path:
    lines = []
    for i in range(n):
        text = f"Ann Lee met Bob in Paris on day {i}."
        ents = [{"start": 0, "end": 7, "label": "person"}, {"start": 19, "end": 24, "label": "location"}]
        if i % 3 == 0:
            ents = []
            text = f"Nothing happened on day {i}."
        lines.append(json.dumps({"id": f"s{i}", "text": text, "entities": ents}))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def sources(tmp_path: Path) -> list[tuple[str, Path]]:
    return [
        ("people", _ner_file(tmp_path / "people.jsonl")),
        ("fewrel", fewrel_file(tmp_path / "fewrel")),
    ]


def test_corpus_records_its_sources_and_mixes_styles(sources: list[tuple[str, Path]]) -> None:
    config = CorpusConfig(seed=1, limit_per_dataset=None, heldout_share=0.2)
    corpus = build_corpus(sources, config)
    # people: 40 NER sentences, 26 with entities for typing questions; FewRel: 3 relations x 8 instances
    assert Counter((e.dataset, e.family) for e in corpus) == {
        ("people", "ner"): 40,
        ("people", "typing"): 26,
        ("fewrel", "re"): 24,
    }
    assert len({e.id for e in corpus}) == 90
    assert {e.kind for e in corpus} == {"instruction", "task"}
    assert {"compact", "list", "letter"} <= {e.style for e in corpus}
    assert {e.split for e in corpus} == {"train", "heldout"}
    for e in corpus:
        assert e.messages[-1]["role"] == "assistant"
        assert e.prompt == e.messages[:-1]
        # the final answer reads back to the recorded gold: what the pair step scores against
        assert answer_f1(e.style, e.answer, e.gold) == 1.0, e


def test_task_examples_are_the_ner_task_conversation(sources: list[tuple[str, Path]]) -> None:
    from ieforge.prompts import load_ner_prompt

    prompt = load_ner_prompt("uniner-json")
    corpus = build_corpus(sources[:1], CorpusConfig(task_share=1.0, limit_per_dataset=None))
    e = next(x for x in corpus if x.gold and x.family == "ner")
    asked = [m["content"] for m in e.messages if m["role"] == "user"][1:]
    assert {prompt.question.format(label=t, text="") for t in ("person", "location")} == set(asked)
    assert e.messages[: len(prompt.chat("x", "y")) - 1][-1]["content"] == "I've read this text."
    for m in e.messages[3:]:
        if m["role"] == "assistant":  # every answer is a JSON list, as the task's "[" prefix expects
            assert parse_string_list(m["content"]).ok and m["content"].startswith("[")


def test_letter_examples_name_the_gold_option(sources: list[tuple[str, Path]]) -> None:
    config = CorpusConfig(task_share=1.0, task_shares={}, re_vanilla_share=0.0, limit_per_dataset=None)
    corpus = build_corpus(sources[1:], config)
    schema = load_relation_schema("fewrel")
    by_id = {
        f"{rel}-{i}": name
        for rel, name in (("P177", "crosses"), ("P26", "spouse"), ("P361", "part of"))
        for i in range(100, 108)
    }
    assert len(corpus) == 24
    nones = 0
    for e in corpus:
        assert e.style == "letter" and e.kind == "task"
        options = [x for x in e.messages[-2]["content"].splitlines() if re.match(r"^[A-Z]\. ", x)]
        chosen = next(x for x in options if x.startswith(f"{e.answer}. "))
        subj, obj = re.fullmatch(r"[A-Z]\. (\[.*\]) has no known relations to (\[.*\])", options[-1]).groups()
        gold = schema.verbalize(by_id[e.source_id], subj, obj)
        if chosen == options[-1]:  # the none option, always last: the gold label was left out
            nones += 1
            assert f"{e.answer}. {gold}" not in options
        else:
            assert chosen == f"{e.answer}. {gold}", (gold, chosen)
    assert len({e.answer for e in corpus}) > 2  # the options are shuffled
    assert nones > 0


def test_build_is_deterministic_and_the_split_ignores_the_seed(sources: list[tuple[str, Path]]) -> None:
    a = build_corpus(sources, CorpusConfig(seed=3))
    b = build_corpus(sources, CorpusConfig(seed=3))
    c = build_corpus(sources, CorpusConfig(seed=4))
    assert [e.model_dump() for e in a] == [e.model_dump() for e in b]
    assert [e.model_dump() for e in a] != [e.model_dump() for e in c]
    heldout = {(e.dataset, e.source_id) for e in a if e.split == "heldout"}
    assert heldout == {(e.dataset, e.source_id) for e in c if e.split == "heldout"}
    assert 0 <= stable_fraction("x", "y") < 1


def test_limit_and_fewshot(sources: list[tuple[str, Path]]) -> None:
    corpus = build_corpus(sources, CorpusConfig(limit_per_dataset=10, task_share=0.0, fewshot_share=1.0))
    assert len(corpus) == 30  # 10 per family of each dataset: NER, typing (people), relations (FewRel)
    shot = [e for e in corpus if e.shots]
    assert shot, "with fewshot_share=1 every example after the first of its kind has solved examples"
    for e in shot:
        assert len(e.messages) == 2 * e.shots + 2
        assert [m["role"] for m in e.messages] == ["user", "assistant"] * (e.shots + 1)


def test_corpus_round_trip_and_bad_line(sources: list[tuple[str, Path]], tmp_path: Path) -> None:
    corpus = build_corpus(sources)
    path = tmp_path / "corpus.jsonl"
    write_corpus(corpus, path)
    assert [e.id for e in read_corpus(path)] == [e.id for e in corpus]
    assert all(e.split == "train" for e in read_corpus(path, split="train"))
    lines = path.read_text().splitlines()
    lines[4] = json.dumps({"id": "x", "messages": "not a list"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"corpus.jsonl: line 5: not a corpus example"):
        read_corpus(path)


def test_unknown_dataset_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        build_corpus([("conll2003", tmp_path / "missing.txt")])


# ----- preference pairs ------------------------------------------------------------------------------


def _example(sources: list[tuple[str, Path]]):  # type: ignore[no-untyped-def]
    corpus = build_corpus(sources[:1], CorpusConfig(task_share=0.0, json_share=0, explain_share=0))
    return next(e for e in corpus if len(e.gold) == 2)


def test_pair_takes_best_and_worst_and_drops_close_ones(sources: list[tuple[str, Path]]) -> None:
    ex = _example(sources)
    good = ex.answer
    half = "[Answer]: " + ": ".join(ex.gold[0])
    bad = "[Answer]: NA"
    settings_ = PairSettings(model="m", corpus="c", out="o", gold_share=0.0, min_gap=0.3)
    pair, scores = make_pair(ex, [half, bad, good], settings_, random.Random(0))
    assert pair is not None and scores == [pytest.approx(2 / 3), 0.0, 1.0]
    assert pair.chosen[0]["content"] == good and pair.rejected[0]["content"] == bad
    assert pair.prompt == ex.prompt and pair.chosen_from == "sample"
    close, _ = make_pair(ex, [good, good], settings_, random.Random(0))
    assert close is None
    gold_first = PairSettings(model="m", corpus="c", out="o", gold_share=1.0)
    pair, _ = make_pair(ex, [bad, half], gold_first, random.Random(0))
    assert pair is not None and pair.chosen_from == "gold" and pair.chosen[0]["content"] == ex.answer


def test_explanations_are_scored_by_similarity_too(sources: list[tuple[str, Path]]) -> None:
    corpus = build_corpus(sources[:1], CorpusConfig(task_share=0.0, json_share=0, explain_share=1.0))
    ex = next(e for e in corpus if e.gold and e.style == "explain")
    assert sample_score(ex, ex.answer) == 1.0
    other_why = "Explanation: something else entirely.\n" + ex.answer.split("\n", 1)[1]
    assert 0.5 <= sample_score(ex, other_why) < 1.0


def test_pairs_file_resume_and_bad_line(sources: list[tuple[str, Path]], tmp_path: Path) -> None:
    ex = _example(sources)
    pair, _ = make_pair(ex, ["[Answer]: NA", ex.answer], PairSettings("m", "c", "o"), random.Random(0))
    assert pair is not None
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        pair.model_dump_json() + "\n" + json.dumps({"id": "d1", "dropped": True, "samples": [0, 0]}) + "\n"
        '{"id": "cut-by-a-kil'
    )
    with pairs_file(path) as pairs:
        assert pairs.done_ids() == {ex.id, "d1"}
    path.write_text(pair.model_dump_json() + "\n" + json.dumps({"id": "d1", "dropped": True}) + "\n")
    assert [p.id for p in read_pairs(path)] == [ex.id]
    path.write_text(pair.model_dump_json() + "\n" + json.dumps({"id": "z", "prompt": 3}) + "\n")
    with pytest.raises(InputError, match="line 2: not a preference pair"):
        read_pairs(path)
