"""NER with one question for every type (uniner-json-all) end to end with the real SmolLM2-135M: shapes,
offsets and prompt ids only, never what the model extracts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shared_data
from typer.testing import CliRunner

from ieforge import Extractor
from ieforge.cli import app
from ieforge.models import Backend
from ieforge.tasks.ner import NERTask
from ieforge.types import NERResult

pytestmark = pytest.mark.model

runner = CliRunner()
LABELS = ["person", "location", "organization"]


def _check(result: NERResult, labels: list[str]) -> None:
    keys = set()
    for e in result.entities:
        assert result.text[e.start : e.end] == e.text
        assert e.label in labels
        assert e.score is None or 0.0 <= e.score <= 1.0
        assert (e.start, e.end, e.label) not in keys
        keys.add((e.start, e.end, e.label))


def test_one_answer_per_text_single_stage_and_as_proposer(
    small_backend: Backend,
    conll_test: list,  # type: ignore[type-arg]
) -> None:
    texts = [r["sentence"] for r in conll_test[:2]]
    single = Extractor(small_backend, prompt="uniner-json-all", typing="off", max_new_tokens=2)
    results = list(single.ner_many(texts, LABELS))
    assert [r.text for r in results] == texts
    for r in results:
        assert r.prompt == "uniner-json-all@1" and r.model == "smollm2-135m"
        assert r.stats.answers == 1  # one conversation per text, not one per type
        _check(r, LABELS)
    two_stage = Extractor(small_backend, prompt="uniner-json-all", typing="mc", max_new_tokens=2)
    r = two_stage.ner("Nadim Ladki wrote for Reuters.", LABELS)
    assert r.prompt.startswith("uniner-json-all@1+typing-mc@1") and r.stats.answers == 1
    _check(r, LABELS)


def test_long_text_one_answer_per_chunk(
    small_backend: Backend,
    conll_test: list,  # type: ignore[type-arg]
) -> None:
    text = " ".join(r["sentence"] for r in conll_test[3:6])
    task = NERTask(small_backend, prompt="uniner-json-all", max_chunk_tokens=40, max_new_tokens=1)
    chunks = task.chunks(text, LABELS)
    assert len(chunks) >= 2 and all(text[c.start : c.end] == c.text for c in chunks)
    budgets = task.answer_budgets(chunks, LABELS)
    assert all(
        b > small_backend.count_tokens('{"person": [], "location": [], "organization": []}') for b in budgets
    )
    result = task.run(text, LABELS)
    assert result.stats.answers == len(chunks)
    _check(result, LABELS)


def test_cli_ner_and_eval_take_the_prompt(
    small_backend: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("ieforge.extractor.load_model", lambda *a, **k: small_backend)
    text = "Nadim Ladki wrote for Reuters in Al-Ain."
    args = ["ner", text, "-l", "person,location", "--model", "smollm2-135m", "--prompt", "uniner-json-all"]
    res = runner.invoke(app, [*args, "--typing", "off", "--max-new-tokens", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["prompt"] == "uniner-json-all@1" and data["stats"]["answers"] == 1
    for e in data["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
    out = tmp_path / "eval.json"
    test = shared_data("conll2003", "test.txt")
    args = [
        "eval",
        "ner",
        "--data",
        f"conll2003={test}",
        "--model",
        "smollm2-135m",
        "--prompt",
        "uniner-json-all",
    ]
    args += ["--typing", "off", "--limit", "1", "--max-new-tokens", "2", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["prompts"] == ["uniner-json-all@1"]
    (ds,) = report["datasets"]
    assert ds["examples"] == 1 and ds["parse_stats"]["answers"] == 1
