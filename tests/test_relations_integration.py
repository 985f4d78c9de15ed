"""QA4RE and the vanilla baseline end to end on a real model and real SemEval sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shared_data
from typer.testing import CliRunner

from ieforge import Extractor
from ieforge.cli import app
from ieforge.data import read_semeval
from ieforge.errors import InputError
from ieforge.extractor import make_query
from ieforge.models import Backend
from ieforge.schemas.relations import RelationSchema, load_relation_schema
from ieforge.tasks.relations import RelationQuery, RelationTask

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def semeval_dev() -> list:  # type: ignore[type-arg]
    return read_semeval(shared_data("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT"))[:8]


def test_qa4re_letter_reading_gives_a_distribution(small_backend: Backend, semeval_dev: list) -> None:  # type: ignore[type-arg]
    schema = load_relation_schema("semeval")
    task = RelationTask(small_backend, schema=schema, method="qa4re")
    rels = list(task.run_many([RelationQuery(e.text, e.head, e.tail) for e in semeval_dev]))
    assert len(rels) == len(semeval_dev)
    for e, r in zip(semeval_dev, rels):
        assert r.label in [*schema.labels, schema.none_label]
        assert r.head == e.head and r.tail == e.tail
        assert sum(r.options.values()) == pytest.approx(1.0, abs=1e-6)
        assert r.score == pytest.approx(max(r.options.values()))
        assert r.choice_mass is not None and 0.0 < r.choice_mass <= 1.0
        assert r.prompt == "qa4re@1" and r.method == "qa4re"


def test_more_than_26_options_are_scored_in_full(small_backend: Backend) -> None:
    labels = [f"rel{i}" for i in range(27)]
    schema = RelationSchema(
        name="wide",
        version=1,
        none_label="none",
        labels=labels,
        templates={"none": ["{subj} ? {obj}"], **{x: [f"{{subj}} {x} {{obj}}"] for x in labels}},
    )
    task = RelationTask(small_backend, schema=schema)
    rel = task.run(make_query("Bill Gates founded Microsoft.", "Bill Gates", "Microsoft"))
    assert len(rel.options) == 28  # letters run to AB
    assert sum(rel.options.values()) == pytest.approx(1.0, abs=1e-6)


def test_type_constraints_prune_the_options(small_backend: Backend) -> None:
    ex = Extractor(small_backend)
    typed = ex.relations(
        "Bill Gates founded Microsoft in 1975.",
        "Microsoft",
        "Bill Gates",
        schema="tacred",
        head_type="ORGANIZATION",
        tail_type="PERSON",
    )
    assert set(typed.options) == {
        "org:founded_by",
        "org:top_members/employees",
        "org:shareholders",
        "no_relation",
    }


def test_vanilla_and_generated_readings(small_backend: Backend, semeval_dev: list) -> None:  # type: ignore[type-arg]
    ex = Extractor(small_backend)
    e = semeval_dev[0]
    for method, reading in (("vanilla", "generate"), ("qa4re", "generate")):
        rel = ex.relations(
            e.text, (e.head.start, e.head.end), (e.tail.start, e.tail.end), method=method, reading=reading
        )  # type: ignore[arg-type]
        assert rel.method == method
        assert rel.label in [*load_relation_schema("semeval").labels, "Other"]
        assert rel.answered or rel.label == "Other"


def test_cli_re_json_and_jsonl(model_home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["re", "The <e1>bottle</e1> was full of <e2>wine</e2>.", "--model", "smollm2", "--json"]
    )
    assert res.exit_code == 0, res.output
    rel = json.loads(res.stdout)
    assert rel["head"]["text"] == "bottle" and rel["tail"]["text"] == "wine"
    inp = tmp_path / "pairs.jsonl"
    inp.write_text(
        json.dumps(
            {"id": "a", "text": "Bill Gates founded Microsoft.", "head": "Bill Gates", "tail": "Microsoft"}
        )
        + "\n"
        + json.dumps({"id": "b", "text": "The <e1>key</e1> was in the <e2>box</e2>."})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["re", "--input", str(inp), "--output", str(out), "--model", "smollm2"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[1]["relation"]["head"]["text"] == "key"


def test_end_to_end_extraction_uses_ner_then_type_constraints(small_backend: Backend) -> None:
    schema = RelationSchema(
        name="work",
        version=1,
        none_label="no_relation",
        labels=["employee_of", "founder_of"],
        templates={
            "no_relation": ["{subj} has no known relations to {obj}"],
            "employee_of": ["{subj} works for {obj}"],
            "founder_of": ["{subj} founded {obj}"],
        },
        constraints={"PERSON:ORGANIZATION": ["employee_of", "founder_of"]},
    )
    ex = Extractor(small_backend, max_new_tokens=32)
    text = "Nadim Ladki wrote the story for Reuters in Al-Ain, United Arab Emirates."
    ents = ex.entities(text, ["person", "organization"])
    assert {e.label for e in ents} <= {"person", "organization"}
    rels = ex.extract_relations(text, schema=schema)
    for r in rels:
        assert (r.head_type, r.tail_type) == ("PERSON", "ORGANIZATION")
        assert r.label in {"employee_of", "founder_of"}
        assert (
            text[r.head.start : r.head.end] == r.head.text and text[r.tail.start : r.tail.end] == r.tail.text
        )
        assert any((e.start, e.end, e.label) == (r.head.start, r.head.end, "person") for e in ents)
    untyped = schema.model_copy(update={"constraints": None, "name": "untyped"})
    with pytest.raises(InputError, match="names no entity types"):
        ex.extract_relations(text, schema=untyped)


def test_calibration_divides_by_the_content_free_prior(small_backend: Backend, semeval_dev: list) -> None:  # type: ignore[type-arg]
    queries = [RelationQuery(e.text, e.head, e.tail) for e in semeval_dev[:3]]
    plain = RelationTask(small_backend, schema="semeval")
    calibrated = RelationTask(small_backend, schema="semeval", calibrate=True)
    assert calibrated.variant == "letters+calibrated"
    prior = calibrated.letter_prior(None, None)
    assert sum(prior.values()) == pytest.approx(1.0, abs=1e-6)
    for q, raw, cal in zip(queries, plain.run_many(queries), calibrated.run_many(queries)):
        letters = plain.question(q).options
        # the calibrated distribution is the raw one divided by the prior, renormalized
        expected = {label: raw.options[label] / prior[letter] for letter, label in letters}
        total = sum(expected.values())
        for label, p in cal.options.items():
            assert p == pytest.approx(expected[label] / total, rel=1e-4)
        assert cal.choice_mass == pytest.approx(raw.choice_mass)


def test_demonstrations_are_earlier_turns_with_the_gold_answer(
    small_backend: Backend,
    semeval_dev: list,  # type: ignore[type-arg]
) -> None:
    solved = [(RelationQuery(e.text, e.head, e.tail), e.label) for e in semeval_dev[4:6]]
    task = RelationTask(small_backend, schema="semeval", demonstrations=solved)
    assert task.variant == "letters+2shot"
    e = semeval_dev[0]
    question = task.question(RelationQuery(e.text, e.head, e.tail))
    chat = task.chat(question)
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "assistant", "user"]
    for (q, label), answer in zip(solved, (chat[1], chat[3])):
        assert task.question(q).label_of(answer["content"]) == label
    rel = task.run(RelationQuery(e.text, e.head, e.tail))
    assert sum(rel.options.values()) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="not in schema"):
        RelationTask(small_backend, schema="semeval", demonstrations=[(solved[0][0], "founded_by")])


def test_verify_reading_asks_one_yes_no_question_per_option(small_backend: Backend) -> None:
    ex = Extractor(small_backend)
    rel = ex.relations(
        "Bill Gates founded Microsoft in 1975.",
        "Microsoft",
        "Bill Gates",
        schema="tacred",
        head_type="ORGANIZATION",
        tail_type="PERSON",
        reading="verify",
        calibrate=True,
    )
    assert rel.prompt == "qa4re-verify@1"
    assert set(rel.options) == {
        "org:founded_by",
        "org:top_members/employees",
        "org:shareholders",
        "no_relation",
    }
    assert sum(rel.options.values()) == pytest.approx(1.0, abs=1e-6)
    assert rel.choice_mass is not None and 0.0 < rel.choice_mass <= 1.0
    with pytest.raises(ValueError, match="needs a yes/no prompt"):
        RelationTask(small_backend, prompt="qa4re", reading="verify")


def test_cli_demonstrations_from_the_training_file(model_home: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "re",
            "The <e1>key</e1> was in a <e2>box</e2>.",
            "--model",
            "smollm2-135m",
            "--demos",
            str(shared_data("semeval2010_task8", "TRAIN_FILE.TXT")),
            "--shots",
            "2",
            "--calibrate",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    rel = json.loads(res.stdout)
    assert rel["label"] in [*load_relation_schema("semeval").labels, "Other"]
    assert sum(rel["options"].values()) == pytest.approx(1.0, abs=1e-4)


def test_score_reading_ranks_whole_vanilla_labels(small_backend: Backend, semeval_dev: list) -> None:  # type: ignore[type-arg]
    e = semeval_dev[0]
    task = RelationTask(small_backend, schema="semeval", method="vanilla", reading="score", calibrate=True)
    assert task.variant == "score+calibrated"
    rel = task.run(RelationQuery(e.text, e.head, e.tail))
    assert set(rel.options) == set(load_relation_schema("semeval").all_labels)
    assert sum(rel.options.values()) == pytest.approx(1.0, abs=1e-6)
    assert rel.label == max(rel.options, key=lambda x: rel.options[x]) and rel.answered
    # the vanilla method without a scored reading generates, as published
    assert RelationTask(small_backend, method="vanilla").reading == "generate"


def test_permutations_average_the_rotated_questions(small_backend: Backend, semeval_dev: list) -> None:  # type: ignore[type-arg]
    queries = [RelationQuery(e.text, e.head, e.tail) for e in semeval_dev[:2]]
    single = RelationTask(small_backend, schema="semeval")
    perm = RelationTask(small_backend, schema="semeval", permutations=3)
    assert perm.variant == "letters+3perm"
    assert perm.rotations(queries[0]) == [0, 6, 12]  # 18 relations, a third apart
    probs = perm.label_probabilities(queries, calibrated=True)
    rels = list(perm.run_many(queries))
    # the three rotated questions of each query, read by the plain task in the same batch (bf16 scores
    # depend slightly on the batch's shape)
    rotated = [single.question(q, r) for q in queries for r in perm.rotations(q)]
    read = single._option_probs(rotated)
    for n, (p, rel) in enumerate(zip(probs, rels)):
        for label in p.raw:
            expected = 0.0
            for question, (letters, _) in zip(rotated[3 * n : 3 * n + 3], read[3 * n : 3 * n + 3]):
                expected += sum(letters[x] for x, lab in question.options if lab == label) / 3
            assert p.raw[label] == pytest.approx(expected, rel=1e-4)
        assert sum(p.raw.values()) == pytest.approx(1.0, abs=1e-6)
        assert p.calibrated is not None and sum(p.calibrated.values()) == pytest.approx(1.0, abs=1e-6)
        assert rel.label == max(p.raw, key=p.raw.__getitem__) and rel.options == p.raw
    with pytest.raises(ValueError, match="at least 1"):
        RelationTask(small_backend, permutations=0)
    with pytest.raises(ValueError, match="letters or score"):
        RelationTask(small_backend, reading="generate", permutations=2)
    # typed queries rotate only the relations their types allow
    tacred = RelationTask(small_backend, schema="tacred", permutations=8)
    q = make_query("Ann was born in Paris.", "Ann", "Paris", "PERSON", "CITY")
    assert tacred.rotations(q) == [0, 1, 2]
    rel = tacred.run(q)
    assert set(rel.options) == {
        "per:city_of_birth",
        "per:city_of_death",
        "per:cities_of_residence",
        "no_relation",
    }


def test_cli_rejects_permutations_without_a_scored_reading() -> None:
    result = CliRunner().invoke(
        app, ["re", "The <e1>key</e1> was in a <e2>box</e2>.", "--reading", "generate", "--permutations", "2"]
    )
    assert result.exit_code != 0 and "permutations" in result.output
