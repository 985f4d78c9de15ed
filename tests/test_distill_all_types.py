"""Student NER data with many negatives in both forms (one question per type, one question for every
type) and supervised NER training sets as annotation sources; held-out data refused. No model needed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_data
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.corpus import read_corpus
from ieforge.corpus.formats import answer_f1
from ieforge.corpus.heldout import normalized_text
from ieforge.data import read_bio, read_semeval
from ieforge.distill import AnnotatedEntity, DistillConfig, PassageAnnotation, build_examples
from ieforge.distill.build import DEFAULT_NEGATIVES
from ieforge.distill.supervised import read_supervised
from ieforge.errors import InputError
from ieforge.prompts import load_ner_prompt
from ieforge.prompts.structured import parse_type_map

runner = CliRunner()
ALL = load_ner_prompt("uniner-json-all")


def _ann(ident: str, text: str, ents: list[tuple[str, str]], complete: bool = True) -> PassageAnnotation:
    entities = []
    for surface, label in ents:
        start = text.index(surface)
        entities.append(AnnotatedEntity(start=start, end=start + len(surface), text=surface, type=label))
    return PassageAnnotation(id=ident, text=text, entities=entities, complete=complete, teacher="t")


def _corpus(n: int = 60) -> list[PassageAnnotation]:
    kinds = [f"kind{i}" for i in range(20)]
    out = []
    for i in range(n):
        a, b = kinds[i % 20], kinds[(i * 7 + 3) % 20]
        text = f"Passage {i}: Alpha{i} and Beta{i} met."
        out.append(_ann(f"p{i}", text, [(f"Alpha{i}", a), (f"Beta{i}", b)]))
    return out


def _asked(ex_messages: list[dict[str, str]]) -> list[str]:
    question = ex_messages[3]["content"]
    return json.loads(question[question.index("Types: ") + 7 : question.index("]. Answer") + 1])


def test_a_share_of_passages_asks_every_type_at_once_with_many_negatives() -> None:
    anns = _corpus()
    examples = build_examples(anns, DistillConfig(all_types_share=0.5, all_types_negatives=8, negatives=3))
    styles = Counter(ex.style for ex in examples)
    assert styles["types"] + styles["list"] == len(anns) == len(examples)
    assert 15 <= styles["types"] <= 45  # both forms, about half each
    by_id = {a.id: a for a in anns}
    for ex in examples:
        ann = by_id[ex.source_id]
        present = {e.type for e in ann.entities}
        if ex.style == "list":
            assert len(ex.messages) == 3 + 2 * (len(present) + 3)  # present types + 3 negatives
            continue
        assert len(ex.messages) == 5 and ex.prefix == "{" and ex.assistant_prefix == "{"
        asked = _asked(ex.messages)
        assert ex.messages[:4] == ALL.chat_all(ann.text, asked)  # the exact inference conversation
        assert len(asked) == len(present) + 8 and present <= set(asked)  # 8 negatives
        answer = ex.messages[4]["content"]
        assert list(json.loads(answer)) == asked  # keys in the order asked
        gold = {t: [e.text for e in ann.entities if e.type == t] for t in asked}
        assert parse_type_map(answer, asked).values == gold  # negatives answered []
        assert sorted(map(tuple, ex.gold)) == sorted((t, s) for t, v in gold.items() for s in v)
        assert answer_f1("types", answer, ex.gold) == 1.0
    orders = {tuple(_asked(ex.messages)) for ex in examples if ex.style == "types"}
    assert len(orders) > 1


def test_the_build_is_deterministic_for_a_seed_and_the_old_form_stays_the_default() -> None:
    anns = _corpus(30)
    config = DistillConfig(all_types_share=0.5, seed=4)
    assert build_examples(anns, config) == build_examples(anns, config)
    assert build_examples(anns, config) != build_examples(anns, DistillConfig(all_types_share=0.5, seed=5))
    assert DistillConfig().negatives == DEFAULT_NEGATIVES == 5 and DistillConfig().all_types_share == 0.0
    assert {ex.style for ex in build_examples(anns)} == {"list"}
    assert {ex.style for ex in build_examples(anns, DistillConfig(all_types_share=1.0))} == {"types"}
    (first,) = [ex for ex in build_examples(anns) if ex.source_id == "p0"]
    assert len(first.messages) == 3 + 2 * (2 + DEFAULT_NEGATIVES)


def test_partial_annotations_ask_only_known_types_in_both_forms() -> None:
    partial = _ann("q", "Rome is a city by the Tiber.", [("Rome", "city")], complete=False)
    partial.negatives = ["river"]
    for share in (0.0, 1.0):
        (ex,) = [
            e
            for e in build_examples([*_corpus(10), partial], DistillConfig(all_types_share=share))
            if e.source_id == "q"
        ]
        if share:
            assert sorted(_asked(ex.messages)) == ["city", "river"]
            assert json.loads(ex.messages[-1]["content"]) in (
                {"city": ["Rome"], "river": []},
                {"river": [], "city": ["Rome"]},
            )
        else:
            assert len(ex.messages) == 3 + 2 * 2


def test_bad_prompt_choices_are_refused() -> None:
    with pytest.raises(InputError, match="asks for every type at once"):
        build_examples(_corpus(2), DistillConfig(prompt="uniner-json-all"))
    with pytest.raises(InputError, match="asks one question per type"):
        build_examples(_corpus(2), DistillConfig(all_types_share=0.5, all_types_prompt="uniner-json"))
    with pytest.raises(InputError, match="from 0 to 1"):
        build_examples(_corpus(2), DistillConfig(all_types_share=1.5))


# ----- supervised training sets --------------------------------------------------------------------


def test_supervised_sets_become_gold_annotations_with_natural_type_names() -> None:
    train = shared_data("conll2003", "train.txt")
    anns = read_supervised("conll2003", train, max_chars=400, limit=40, seed=1)
    assert len(anns) == 40 and anns == read_supervised("conll2003", train, max_chars=400, limit=40, seed=1)
    assert anns != read_supervised("conll2003", train, max_chars=400, limit=40, seed=2)
    types = {"person", "location", "organization", "miscellaneous"}
    for ann in anns:
        assert len(ann.text) <= 400 and not ann.complete and ann.teacher == "conll2003 (gold)"
        assert {e.type for e in ann.entities} <= types
        assert set(ann.negatives) == types - {e.type for e in ann.entities}
        assert all(ann.text[e.start : e.end] == e.text for e in ann.entities)
    assert {e.type for a in anns for e in a.entities} == types
    for name, parts, want in (
        ("wnut17", ("wnut17", "wnut17train.conll"), {"person", "location", "corporation", "creative work"}),
        ("bc5cdr", ("bc5cdr", "train.tsv"), {"chemical", "disease"}),
        ("ncbi_disease", ("ncbi_disease", "train.tsv"), {"disease"}),
    ):
        got = read_supervised(name, shared_data(*parts), limit=200)
        assert want <= {e.type for a in got for e in a.entities}
        assert all(a.text[e.start : e.end] == e.text for a in got for e in a.entities)


@pytest.mark.parametrize(
    ("name", "parts", "why"),
    [
        ("crossner_ai", ("crossner_ai", "train.txt"), "CrossNER"),
        ("mine", ("crossner_music", "dev.txt"), "CrossNER"),
        ("conll2003", ("conll2003", "test.txt"), "test splits"),
        ("semeval", ("semeval2010_task8", "TRAIN_FILE.TXT"), "SemEval"),
    ],
)
def test_held_out_data_is_refused(name: str, parts: tuple[str, str], why: str) -> None:
    with pytest.raises(InputError, match=f"--dataset {name}=.*refused, never trained on: {why}"):
        read_supervised(name, shared_data(*parts))


def test_annotations_of_held_out_passages_are_refused() -> None:
    leaked = _ann("crossner_ai:3", "SVM is an algorithm.", [("SVM", "algorithm")])
    with pytest.raises(InputError, match=r"annotation crossner_ai:3: refused.*CrossNER"):
        build_examples([*_corpus(3), leaked])


def test_no_crossner_or_semeval_sentence_reaches_the_training_data() -> None:
    held: set[str] = set()
    for domain in ("crossner_ai", "crossner_literature", "crossner_music"):
        for split in ("train", "dev", "test"):
            held |= {normalized_text(x.text) for x in read_bio(shared_data(domain, f"{split}.txt"))}
    held |= {
        normalized_text(x.text) for x in read_semeval(shared_data("semeval2010_task8", "TRAIN_FILE.TXT"))
    }
    held = {s for s in held if len(s.split()) >= 6}
    anns = [
        ann
        for name, parts in (
            ("conll2003", ("conll2003", "train.txt")),
            ("wnut17", ("wnut17", "wnut17train.conll")),
            ("ncbi_disease", ("ncbi_disease", "train.tsv")),
            ("bc5cdr", ("bc5cdr", "train.tsv")),
        )
        for ann in read_supervised(name, shared_data(*parts), max_chars=600, limit=150)
    ]
    examples = build_examples(anns, DistillConfig(all_types_share=0.5))
    trained = normalized_text(" \n ".join(m["content"] for ex in examples for m in ex.messages))
    assert len(held) > 1000 and not [s for s in held if s in trained]


def test_distill_build_command_mixes_sources_and_forms(tmp_path: Path) -> None:
    own = tmp_path / "own.jsonl"
    own.write_text("".join(a.model_dump_json() + "\n" for a in _corpus(20)), encoding="utf-8")
    out, again = tmp_path / "train.jsonl", tmp_path / "again.jsonl"
    wnut = shared_data("wnut17", "wnut17train.conll")
    args = ["distill", "build", "--annotations", str(own), "--dataset", f"wnut17={wnut}"]
    args += ["--dataset-limit", "30", "--max-chars", "500", "--all-types-share", "0.5", "--seed", "2"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    examples = read_corpus(out)
    assert len(examples) == 50
    assert {e.dataset for e in examples} == {"t", "wnut17 (gold)"}
    assert {e.style for e in examples} == {"list", "types"}
    assert '"all_types_conversations": ' in result.output and '"all_types_negative_types": ' in result.output
    assert runner.invoke(app, [*args, "--out", str(again)]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()
    crossner = shared_data("crossner_ai", "train.txt")
    result = runner.invoke(
        app, ["distill", "build", "--dataset", f"crossner_ai={crossner}", "--out", str(out)]
    )
    assert result.exit_code == 2 and "refused, never trained on: CrossNER" in result.output
    result = runner.invoke(app, ["distill", "build", "--out", str(out)])
    assert result.exit_code == 2 and "--annotations" in result.output
