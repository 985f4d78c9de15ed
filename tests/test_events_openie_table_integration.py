"""Events, open IE and on-demand tables end to end with a real model on real benchmark text."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import DATA, shared_data
from typer.testing import CliRunner

from ieforge import Extractor
from ieforge.cli import app
from ieforge.data import read_carb, read_casie, read_rams
from ieforge.data.ondemand import build_table_cases
from ieforge.evaluate.events import event_prf, predicted_mentions
from ieforge.evaluate.openie import carb_scores, predicted_extractions
from ieforge.evaluate.tables import table_cell_prf
from ieforge.models import Backend
from ieforge.schemas.events import load_event_schema
from ieforge.tasks.events import EventTask
from ieforge.types import EventResult, Phrase

pytestmark = pytest.mark.model
runner = CliRunner()


def _check_events(result: EventResult, schema_name: str) -> None:
    schema = load_event_schema(schema_name)
    text = result.text
    for event in result.events:
        t = event.trigger
        assert text[t.start : t.end] == t.text
        roles = schema.roles_of(event.type)  # the type is in the schema
        for a in event.arguments:
            assert a.role in roles
            assert text[a.start : a.end] == a.text


def _check_phrase(text: str, p: Phrase) -> None:
    if p.grounded:
        assert text[p.start : p.end] == p.text


@pytest.fixture(scope="module")
def casie_article() -> str:
    (doc,) = read_casie(shared_data("casie", "annotation", "10001.json"), fix_offsets=True)
    return doc.text[:700]


def test_casie_events_per_type_on_a_real_article(small_backend: Backend, casie_article: str) -> None:
    task = EventTask(
        small_backend, "casie", max_new_tokens=24, argument_max_new_tokens=48, max_trigger_words=2
    )
    assert task.detection == "per-type"
    result = task.run(casie_article)
    assert result.schema_name == "casie@1" and result.prompt == "triggers@1+arguments@1"
    _check_events(result, "casie")
    assert all(len(e.trigger.text.split()) <= 2 for e in result.events)
    # one trigger question per type, one argument question per trigger (every CASIE type has roles)
    assert result.stats.answers == 5 + len(result.events)


def test_rams_arguments_of_gold_triggers_and_joint_detection(small_backend: Backend) -> None:
    docs = read_rams(shared_data("rams", "dev.jsonlines"))[:2]
    task = EventTask(small_backend, "rams", max_new_tokens=24, argument_max_new_tokens=48)
    assert task.detection == "joint"  # 139 types: one question for all of them
    given = [[(e.trigger, e.type) for e in d.events] for d in docs]
    results = list(task.arguments_many([d.text for d in docs], given))
    for doc, res in zip(docs, results):
        assert [(e.trigger, e.type) for e in res.events] == [(e.trigger, e.type) for e in doc.events]
        _check_events(res, "rams")
    scores = event_prf([d.events for d in docs], [predicted_mentions(r.events) for r in results])
    assert scores.trigger_classification.f1 == 1.0  # the triggers were given
    (full,) = task.run_many([docs[0].text])
    _check_events(full, "rams")
    assert full.stats.answers >= 1


def test_unknown_event_type_for_given_trigger_is_an_error(small_backend: Backend) -> None:
    from ieforge.errors import InputError
    from ieforge.types import Mention

    task = EventTask(small_backend, "casie")
    with pytest.raises(InputError, match="Breach"):
        list(task.arguments_many(["A breach."], [[(Mention(start=2, end=8, text="breach"), "Breach")]]))


def test_openie_on_carb_sentences(small_backend: Backend) -> None:
    examples = read_carb(shared_data("carb", "dev.txt"), shared_data("carb", "gold", "dev.tsv"))[:3]
    ex = Extractor(small_backend, max_new_tokens=40)
    results = list(ex.triples_many([e.text for e in examples]))
    assert len(results) == 3
    for example, res in zip(examples, results):
        assert res.prompt == "triples@1" and res.stats.answers == 1
        for t in res.triples:
            for p in (t.subject, t.relation, t.object, *t.extra):
                _check_phrase(example.text, p)
            assert t.score is None or 0.0 < t.score <= 1.0
    scores = carb_scores(examples, [predicted_extractions(r.triples) for r in results])
    assert scores.gold == sum(len(e.extractions) for e in examples)
    assert 0.0 <= scores.f1 <= 1.0


def test_table_on_real_cases(small_backend: Backend) -> None:
    cases = build_table_cases(DATA, n_per_source=1, seed=0)
    ex = Extractor(small_backend, max_new_tokens=40)
    results = list(
        ex.tables_many(
            [c.text for c in cases],
            instruction=[c.instruction for c in cases],
            headers=[c.headers for c in cases],
        )
    )
    for case, res in zip(cases, results):
        assert res.headers == case.headers
        for row in res.rows:
            assert set(row.cells) <= set(case.headers)
            for cell in row.cells.values():
                _check_phrase(case.text, cell)
        prf = table_cell_prf([case.rows], [res.records()])
        assert prf.tp + prf.fn == sum(1 for row in case.rows for v in row.values() if v.strip())


def test_cli_events_openie_table(model_home: Path, tmp_path: Path, casie_article: str) -> None:
    res = runner.invoke(
        app, ["events", casie_article[:300], "--model", "smollm2", "--json", "--max-new-tokens", "24"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["schema_name"] == "casie@1" and data["text"] == casie_article[:300]

    text = "The iPhone 15 costs $799 and the iPad Air costs $599."
    res = runner.invoke(
        app,
        [
            "table",
            text,
            "--instruction",
            "List the products and prices.",
            "--headers",
            "product,price",
            "--model",
            "smollm2",
            "--format",
            "csv",
            "--max-new-tokens",
            "32",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["product", "price"] and all(len(r) == 2 for r in rows)

    inp = tmp_path / "docs.jsonl"
    inp.write_text(
        json.dumps({"id": "a", "text": "Smith moved to Boston in 2010."})
        + "\n"
        + json.dumps({"id": "b", "text": "Jones founded a bakery in Lyon."})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    args = [
        "openie",
        "--input",
        str(inp),
        "--output",
        str(out),
        "--model",
        "smollm2",
        "--max-new-tokens",
        "32",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    first = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in first] == ["a", "b"]
    out.write_text(first[0] + "\n", encoding="utf-8")  # as if killed after the first record
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "resuming: 1 of 2 documents already" in res.output
    assert out.read_text(encoding="utf-8").splitlines() == first


def test_cli_table_checks_its_arguments_before_loading() -> None:
    res = runner.invoke(app, ["table", "some text", "--headers", "a,b", "--model", "no-such-model"])
    assert res.exit_code == 2 and "--instruction" in res.output
    res = runner.invoke(app, ["events", "x", "--schema", "no-such-schema", "--model", "no-such-model"])
    assert res.exit_code == 2 and "no-such-schema" in res.output and "no-such-model" not in res.output
