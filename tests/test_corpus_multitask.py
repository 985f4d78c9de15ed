"""The multi-task training corpus: relation questions (QA4RE and vanilla) from FewRel, WebNLG and SciERC,
entity-typing questions from NER data, answer positions balanced, none answers, held-out sources refused,
mixing corpus files; on small real excerpts (tests/data), and on the full benchmarks when they are here."""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import DATA
from corpus_data import excerpt, fewrel_file
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.corpus import (
    CorpusConfig,
    build_corpus,
    corpus_stats,
    mix_corpora,
    read_corpus,
    text_hash,
    write_corpus,
)
from ieforge.corpus.build import lettered_answers
from ieforge.corpus.heldout import CASIE_EVAL_MAX_ID, FEWREL_EVAL_PER_RELATION
from ieforge.corpus.relations import (
    distractor_labels,
    relation_overlaps,
    relation_question,
    scierc_cases,
    webnlg_cases,
)
from ieforge.corpus.typing import TypingSource, type_pool, typing_conversation
from ieforge.data import read_scierc, read_webnlg
from ieforge.distill import DistillConfig, build_examples
from ieforge.distill.annotations import AnnotatedEntity, PassageAnnotation
from ieforge.errors import InputError
from ieforge.prompts import build_re_question, load_re_prompt, load_typing_prompt
from ieforge.schemas.relations import load_relation_schema
from ieforge.types import Mention

runner = CliRunner()
OPTION = re.compile(r"^([A-Z]{1,2})\. (.*)$")


@pytest.fixture()
def relation_sources(tmp_path: Path) -> list[tuple[str, Path]]:
    return [
        ("fewrel", fewrel_file(tmp_path / "fewrel")),
        ("webnlg", excerpt("webnlg_train_excerpt.json")),
        ("scierc", excerpt("scierc_train_excerpt.json")),
    ]


NER_SOURCES = [
    ("wnut17", excerpt("wnut17_train_excerpt.conll")),
    ("ncbi_disease", excerpt("ncbi_disease_train_excerpt.tsv")),
]


def _options(message: str) -> list[tuple[str, str]]:
    return [m.groups() for line in message.splitlines() if (m := OPTION.match(line))]  # type: ignore[misc]


def _position_shares(answers: list[tuple[int, int]]) -> dict[int, list[float]]:
    """option count -> the share of answers at each position"""
    by_n: dict[int, Counter[int]] = defaultdict(Counter)
    for position, n in answers:
        by_n[n][position] += 1
    return {n: [c[p] / sum(c.values()) for p in range(n)] for n, c in by_n.items()}


# ----- relation questions ------------------------------------------------------------------------------


def test_relation_answers_sit_at_every_position_equally_often() -> None:
    schema = load_relation_schema("webnlg")
    cases = webnlg_cases(read_webnlg(excerpt("webnlg_train_excerpt.json")))
    positives = [c for c in cases if c.labels]
    rng = random.Random(0)
    answers, orders = [], set()
    for k in range(3000):
        q = relation_question(positives[k % len(positives)], schema, rng, max_options=4)
        assert q is not None
        answers.append((q.gold_position, q.options))
        orders.add(tuple(q.offered))
        assert q.gold_position < q.options - 1  # a positive case never answers none
    shares = _position_shares(answers)
    assert set(shares) == {2, 3, 4}
    # among the relation options (the none option is last) the gold is anywhere alike
    for n, row in shares.items():
        for share in row[:-1]:
            assert abs(share - 1 / (n - 1)) < 0.05, (n, row)
    assert len(orders) > 1000  # options drawn and shuffled anew for every question


def test_relation_corpus_balances_none_and_positions(relation_sources: list[tuple[str, Path]]) -> None:
    answers = []
    for seed in range(10):
        config = CorpusConfig(
            seed=seed, limit_per_dataset=None, task_shares={"re": 1.0}, re_vanilla_share=0.0
        )
        for e in build_corpus(relation_sources, config):
            answers += [(position, n) for _, position, n in lettered_answers(e)]
    assert len(answers) > 1000
    # the gold at the last (none) position as often as 1/n says, and the mean position in the middle
    expected_last = sum(1 / n for _, n in answers) / len(answers)
    last = sum(p == n - 1 for p, n in answers) / len(answers)
    assert abs(last - expected_last) < 0.05, (last, expected_last)
    mean = sum(p / (n - 1) for p, n in answers) / len(answers)
    assert abs(mean - 0.5) < 0.05
    two = [p for p, n in answers if n == 2]
    assert abs(sum(two) / len(two) - 0.5) < 0.1


def test_none_cases_are_pairs_without_a_relation() -> None:
    docs = read_scierc(excerpt("scierc_train_excerpt.json"))
    cases = scierc_cases(docs)
    related = {d.id: [(r.head, r.tail) for r in d.relations] for d in docs}
    nones = [c for c in cases if not c.labels]
    assert nones and len(nones) < len(cases)

    def overlap(a: Mention, b: Mention) -> bool:
        return a.start < b.end and b.start < a.end

    for c in nones:
        for h, t in related[c.id.split("#")[0]]:
            assert not (overlap(c.head, h) and overlap(c.tail, t)), c
            assert not (overlap(c.head, t) and overlap(c.tail, h)), c
    schema = load_relation_schema("scierc")
    rng = random.Random(1)
    for c in nones[:50]:
        q = relation_question(c, schema, rng)
        if q is None:  # a pair of types that never holds a relation: nothing to offer
            assert not schema.allowed_labels(c.head_type, c.tail_type)
            continue
        assert q.label == "no_relation" and q.gold_position == q.options - 1


def test_scierc_options_obey_the_type_constraints() -> None:
    schema = load_relation_schema("scierc")
    rng = random.Random(2)
    for c in scierc_cases(read_scierc(excerpt("scierc_train_excerpt.json"))):
        q = relation_question(c, schema, rng)
        if q is None:
            continue
        allowed = schema.allowed_labels(c.head_type, c.tail_type)
        assert set(q.offered) <= set(allowed), (c.head_type, c.tail_type, q.offered)


def test_webnlg_distractors_never_say_the_same_fact() -> None:
    schema = load_relation_schema("webnlg")
    overlaps = relation_overlaps("webnlg")
    cases = webnlg_cases(read_webnlg(excerpt("webnlg_train_excerpt.json")))
    held: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in cases:
        held[(c.head.text.casefold(), c.tail.text.casefold())] |= set(c.labels)
    for c in cases:
        pool = set(distractor_labels(c, schema))
        assert not pool & held[(c.head.text.casefold(), c.tail.text.casefold())]
        for label in c.labels:
            assert not pool & overlaps.get(label, frozenset()), label


def test_qa4re_questions_are_what_the_task_asks(relation_sources: list[tuple[str, Path]]) -> None:
    """The user message is the QA4RE task's rendering over the offered labels, the answer a letter."""
    schema = load_relation_schema("webnlg")
    prompt = load_re_prompt("qa4re")
    case = next(c for c in webnlg_cases(read_webnlg(excerpt("webnlg_train_excerpt.json"))) if c.labels)
    q = relation_question(case, schema, random.Random(3))
    assert q is not None
    from ieforge.corpus.relations import _sub_schema

    again = build_re_question(prompt, _sub_schema(schema, q.offered), case.text, case.head, case.tail)
    assert q.messages == prompt.chat(again.text)
    assert q.answer == again.options[q.gold_position][0]
    corpus = build_corpus(relation_sources, CorpusConfig(limit_per_dataset=None))
    styles = Counter((e.family, e.style) for e in corpus)
    assert styles[("re", "letter")] > styles[("re", "label")] > 0  # QA4RE, and the vanilla form
    for e in corpus:
        if e.style == "label":
            labels = [x[2:] for x in e.messages[0]["content"].splitlines() if x.startswith("- ")]
            assert e.answer in labels and e.answer == e.gold[0][0]


def test_fewrel_evaluation_instances_are_never_used(relation_sources: list[tuple[str, Path]]) -> None:
    corpus = build_corpus(relation_sources[:1], CorpusConfig(limit_per_dataset=None, heldout_share=0))
    assert len(corpus) == 24
    assert all(int(e.source_id.rsplit("-", 1)[1]) >= FEWREL_EVAL_PER_RELATION for e in corpus)


def test_training_schemas_and_overlaps_name_real_labels() -> None:
    webnlg = load_relation_schema("webnlg")
    assert len(webnlg.labels) == 216
    assert webnlg.verbalize("birthPlace", "Ann", "Rome") == "Ann was born in Rome"
    assert webnlg.verbalize("OCLC_number", "X", "1") == "The OCLC number of X is 1"
    scierc = load_relation_schema("scierc")
    assert scierc.allowed_labels("Task", "Material") == ["USED-FOR"]
    for name in ("fewrel", "webnlg", "scierc"):
        labels = set(load_relation_schema(name).labels)
        for label, others in relation_overlaps(name).items():
            assert label in labels and others <= labels, (name, label, others - labels)


# ----- entity typing -----------------------------------------------------------------------------------


def test_typing_questions_read_options_not_positions() -> None:
    source = TypingSource(
        id="s1",
        text="Sonmarg is in Kashmir and Ann visited it with Bob on Monday .",
        entities=((0, 7, "location"), (14, 21, "location"), (26, 29, "person"), (46, 49, "person")),
        taken=((0, 7), (14, 21), (26, 29), (46, 49)),
        types=("location", "person", "group", "product"),
    )
    prompt = load_typing_prompt("typing-mc")
    rng = random.Random(0)
    answers, none_spans, excluded = [], Counter[str](), 0
    for _ in range(1500):
        messages, asked = typing_conversation(source, rng, questions=3, max_options=5)
        assert (
            messages[: len(prompt.chat(text="", span="", options="")) - 1]
            == prompt.chat(text=source.text, span="", options="")[:-1]
        )
        assert len({q.span for q in asked}) == len(asked)
        for q in asked:
            options = [text for _, text in _options(q.question)]
            assert options[-1] == prompt.none_option and len(options) == q.options
            assert q.answer == f"Answer: {q.letter}"
            answers.append((q.gold_position, q.options))
            if q.label is None:
                own = {label for s, e, label in source.entities if source.text[s:e] == q.span}
                if own:
                    excluded += 1
                    assert not own & set(options)
                else:
                    none_spans[q.span] += 1
                    assert set(options[:-1]) <= set(source.types)
            else:
                assert options[q.gold_position] == q.label
    for n, row in _position_shares(answers).items():
        assert all(abs(share - 1 / n) < 0.06 for share in row), (n, row)
    assert excluded > 50 and sum(none_spans.values()) > 50  # both kinds of none answer
    assert all(not re.search(r"Sonmarg|Kashmir|Ann|Bob", span) for span in none_spans)


def test_typing_distractors_are_not_near_synonyms() -> None:
    source = TypingSource(
        id="s2",
        text="Apple hired Ann .",
        entities=((0, 5, "corporation"),),
        taken=((0, 5),),
        types=("corporation", "person", "group"),
    )
    rng = random.Random(4)
    offered: set[str] = set()
    for _ in range(300):
        _, asked = typing_conversation(source, rng, questions=1, max_options=16)
        offered |= {text for q in asked if q.span == "Apple" for _, text in _options(q.question)}
    assert "person" in offered and "corporation" in offered
    assert not {"organization", "group"} & offered
    assert "crossner" not in " ".join(type_pool())
    assert not {"algorithm", "programming language", "musical artist", "writer"} & set(type_pool())


def test_typing_corpus_from_ner_excerpts() -> None:
    corpus = build_corpus(NER_SOURCES, CorpusConfig(limit_per_dataset=None, family_limits={"ner": 0}))
    assert {e.family for e in corpus} == {"typing"}
    stats = corpus_stats(corpus)["lettered"]["typing"]
    assert stats["answers"] >= len(corpus) and stats["last_option_share"] > 0.05
    for e in corpus:
        assert e.assistant_prefix == "Answer:" and e.answer.startswith("Answer: ")
        assert e.prefix == "Answer:"
        # the types are the readers' natural-language names
        names = {t for _, t in _options(e.messages[-2]["content"])}
        assert not {"creative-work", "B-Disease", "Disease"} & names


# ----- held-out sources, determinism, limits ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "relative", "reason"),
    [
        ("crossner_ai", "crossner_ai/train.txt", "CrossNER"),
        ("mydata", "CrossNER_music/dev.txt", "CrossNER"),
        ("mit_movie", "mit/engtrain.bio", "MIT Movie"),
        ("restaurant", "r/restauranttrain.bio", "MIT Movie"),
        ("semeval", "se/TRAIN_FILE.TXT", "SemEval"),
        ("re", "semeval2010_task8/DEV_SUBSET_7201-8000_FROM_TRAIN.TXT", "SemEval"),
        ("conll04", "c/train.json", "CoNLL04"),
        ("fewnerd", "few-nerd/supervised/train.txt", "Few-NERD"),
        ("rams", "rams/dev.jsonlines", "RAMS"),
        ("events", "rams/test.jsonlines", "RAMS"),
        ("carb", "carb/dev.txt", "CaRB"),
        ("conll2003", "conll2003/test.txt", "test splits"),
        ("webnlg", "webnlg/test_triples.json", "test splits"),
    ],
)
def test_held_out_sources_are_refused(tmp_path: Path, name: str, relative: str, reason: str) -> None:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\tO\n")
    with pytest.raises(InputError, match=reason) as info:
        build_corpus([(name, path)])
    assert "\n" not in str(info.value) and "never trained on" in str(info.value)
    result = runner.invoke(
        app, ["corpus", "build", "--data", f"{name}={path}", "--out", str(tmp_path / "c.jsonl")]
    )
    assert result.exit_code != 0 and reason in result.output
    from ieforge.distill import collect_passages

    with pytest.raises(InputError, match=reason):
        collect_passages([(name, path)])


def test_a_file_in_semeval_markup_is_refused_under_any_name(tmp_path: Path) -> None:
    path = tmp_path / "relations.txt"
    path.write_text('1\t"The <e1>factory</e1> makes <e2>cars</e2>."\nProduct-Producer(e2,e1)\nComment:\n\n')
    with pytest.raises(InputError, match="SemEval"):
        build_corpus([("mine", path)])


def test_same_seed_same_corpus(tmp_path: Path, relation_sources: list[tuple[str, Path]]) -> None:
    sources = relation_sources + NER_SOURCES
    a = build_corpus(sources, CorpusConfig(seed=5, limit_per_dataset=30))
    b = build_corpus(sources, CorpusConfig(seed=5, limit_per_dataset=30))
    c = build_corpus(sources, CorpusConfig(seed=6, limit_per_dataset=30))
    assert [e.model_dump() for e in a] == [e.model_dump() for e in b]
    assert [e.model_dump() for e in a] != [e.model_dump() for e in c]
    write_corpus(a, tmp_path / "a.jsonl")
    write_corpus(b, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_family_limits(relation_sources: list[tuple[str, Path]], tmp_path: Path) -> None:
    config = CorpusConfig(limit_per_dataset=None, family_limits={"re": 5, "table": 0, "ner": 3})
    counts = Counter((e.dataset, e.family) for e in build_corpus(relation_sources, config))
    assert counts == {
        ("fewrel", "re"): 5,
        ("webnlg", "re"): 5,
        ("scierc", "re"): 5,
        ("scierc", "ner"): 3,
    }
    with pytest.raises(InputError, match="unknown family 'relations'"):
        build_corpus(relation_sources, CorpusConfig(family_limits={"relations": 5}))
    out = tmp_path / "c.jsonl"
    args = ["corpus", "build", "--data", f"scierc={relation_sources[2][1]}", "--out", str(out)]
    result = runner.invoke(app, [*args, "--family-limit", "re=4", "--family-limit", "ner=0"])
    assert result.exit_code == 0, result.output
    assert Counter(e.family for e in read_corpus(out)) == {"re": 4}
    assert '"lettered"' in result.output
    bad = runner.invoke(app, [*args, "--family-limit", "re"])
    assert bad.exit_code != 0 and "expected FAMILY=N" in bad.output


# ----- mixing with the distillation conversations ------------------------------------------------------


def test_mix_merges_corpus_and_distill_files(
    tmp_path: Path, relation_sources: list[tuple[str, Path]]
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(build_corpus(relation_sources, CorpusConfig(limit_per_dataset=10)), corpus)
    ann = PassageAnnotation(
        id="p1",
        text="Ann Lee moved to Paris in 2001.",
        entities=[
            AnnotatedEntity(start=0, end=7, text="Ann Lee", type="person"),
            AnnotatedEntity(start=17, end=22, text="Paris", type="city"),
        ],
        teacher="teacher-x",
    )
    distilled = tmp_path / "distill.jsonl"
    write_corpus(build_examples([ann], DistillConfig(typing_questions=1)), distilled)
    a = mix_corpora([corpus, distilled], seed=1)
    b = mix_corpora([distilled, corpus], seed=1)
    assert [e.id for e in a] == [e.id for e in b]  # the file order does not matter
    assert len(a) == len(read_corpus(corpus)) + len(read_corpus(distilled))
    assert {e.dataset for e in a} >= {"teacher-x", "fewrel"}
    out = tmp_path / "train.jsonl"
    result = runner.invoke(
        app, ["corpus", "mix", str(corpus), str(distilled), "--out", str(out), "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    assert [e.id for e in read_corpus(out)] == [e.id for e in a]
    # what SFT reads: the train split of one corpus file
    assert read_corpus(out, split="train")
    with pytest.raises(InputError, match="also in"):
        mix_corpora([corpus, corpus])
    leaked = tmp_path / "leak.jsonl"
    line = json.loads(corpus.read_text().splitlines()[0])
    leaked.write_text(json.dumps({**line, "id": "x1", "dataset": "crossner_ai"}) + "\n")
    with pytest.raises(InputError, match="CrossNER"):
        mix_corpora([corpus, leaked])


# ----- the full benchmarks -----------------------------------------------------------------------------

TRAINING_SOURCES = [
    ("conll2003", "conll2003/train.txt"),
    ("wnut17", "wnut17/wnut17train.conll"),
    ("ncbi_disease", "ncbi_disease/train.tsv"),
    ("bc5cdr", "bc5cdr/train.tsv"),
    ("scierc", "scierc/train.json"),
    ("fewrel", "fewrel/val_wiki.json"),
    ("webnlg", "webnlg/train_triples.json"),
    ("casie", "casie/annotation"),
]
needs_data = pytest.mark.skipif(not DATA.exists(), reason=f"shared benchmark data not found at {DATA}")


def _sentences(text: str) -> list[str]:
    return [text, *re.split(r"(?<=[.!?])\s+", text)]


def _training_texts(e: object) -> list[str]:
    """Every text a training example shows: its user messages, line by line and after "Text: " or
    "Sentence: ", with QA4RE's [brackets] around the entities taken out."""
    out = []
    for m in e.messages:  # type: ignore[attr-defined]
        if m["role"] != "user":
            continue
        content = m["content"].replace("[", "").replace("]", "")
        out += _sentences(content)
        for line in content.splitlines():
            for cue in ("Text: ", "Sentence: "):
                if line.startswith(cue):
                    out += _sentences(line[len(cue) :])
        at = content.find("Text: ")
        if at >= 0:
            out += _sentences(content[at + len("Text: ") :])
    return out


@needs_data
def test_no_crossner_or_semeval_sentence_is_trained_on(tmp_path: Path) -> None:
    from ieforge.data import read_bio, read_semeval
    from ieforge.data.labels import dataset_labels

    held: set[str] = set()
    for domain in ("ai", "literature", "music"):
        for split in ("train", "dev", "test"):
            path = DATA / f"crossner_{domain}" / f"{split}.txt"
            held |= {
                text_hash(x.text) for x in read_bio(path, label_map=dataset_labels(f"crossner_{domain}"))
            }
    folder = DATA / "semeval2010_task8"
    for name in ("TRAIN_FILE.TXT", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT"):
        held |= {text_hash(x.text) for x in read_semeval(folder / name)}
    assert len(held) > 9000
    sources = [(name, DATA / rel) for name, rel in TRAINING_SOURCES]
    config = CorpusConfig(limit_per_dataset=1500, heldout_share=0)
    corpus = build_corpus(sources, config)
    assert {e.family for e in corpus} == {"ner", "re", "typing", "ed", "eae", "table"}
    leaks = [(e.id, t) for e in corpus for t in _training_texts(e) if text_hash(t) in held]
    assert not leaks, leaks[:3]
    # the check would see a leak: a CrossNER sentence in a QA4RE-shaped message is caught
    probe = corpus[0].model_copy(
        update={
            "messages": [
                {
                    "role": "user",
                    "content": "Sentence: "
                    + "["
                    + read_bio(DATA / "crossner_ai" / "test.txt", label_map=dataset_labels("crossner_ai"))[
                        0
                    ].text
                    + "]",
                }
            ]
        }
    )
    assert any(text_hash(t) in held for t in _training_texts(probe))
    # CASIE's evaluation articles (the lowest ids, read first by the events benchmark) are never used
    casie = [e for e in corpus if e.dataset == "casie"]
    assert casie and all(int(e.source_id.split("#")[0]) > CASIE_EVAL_MAX_ID for e in casie)


@needs_data
def test_real_held_out_files_are_refused() -> None:
    for name, rel in [
        ("crossner_ai", "crossner_ai/train.txt"),
        ("semeval", "semeval2010_task8/DEV_SUBSET_7201-8000_FROM_TRAIN.TXT"),
        ("rams", "rams/dev.jsonlines"),
        ("carb", "carb/dev.txt"),
        ("conll2003", "conll2003/test.txt"),
    ]:
        with pytest.raises(InputError, match="never trained on"):
            build_corpus([(name, DATA / rel)])
