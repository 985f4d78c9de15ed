"""`ieforge eval` end to end with the real SmolLM2-135M on real benchmark files (a few examples each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shared_data
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.evaluate import relation_prf, span_prf
from ieforge.evaluate.runner import EvalReport, evaluate_ner, evaluate_re, load_ner_dataset, load_re_dataset
from ieforge.extractor import Extractor
from ieforge.models import Backend

pytestmark = pytest.mark.model

runner = CliRunner()


@pytest.fixture
def use_small_model(small_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The CLI gets the session's already loaded SmolLM2 instead of loading it again."""
    monkeypatch.setattr("ieforge.extractor.load_model", lambda *a, **k: small_backend)
    return small_backend


def test_eval_ner_cli_reports_and_resumes_from_its_cache(use_small_model: Backend, tmp_path: Path) -> None:
    dev = shared_data("crossner_ai", "dev.txt")
    cache, out = tmp_path / "cache", tmp_path / "result.json"
    args = [
        "eval",
        "ner",
        "--data",
        f"crossner_ai={dev}",
        "--model",
        "smollm2-135m",
        "--limit",
        "2",
        "--max-new-tokens",
        "8",
        "--cache",
        str(cache),
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "crossner_ai" in res.stdout and "average" in res.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["task"] == "ner" and data["model"] == "smollm2-135m" and data["prompts"] == ["uniner-json@1"]
    assert data["options"]["limit"] == 2 and data["options"]["max_new_tokens"] == 8
    (ds,) = data["datasets"]
    assert ds["path"] == str(dev) and ds["examples"] == 2 and ds["examples_in_file"] == 350
    import hashlib

    assert ds["sha256"] == hashlib.sha256(dev.read_bytes()).hexdigest()
    assert len(ds["labels"]) == 13 and "else" not in ds["labels"] and "program language" in ds["labels"]
    assert (ds["computed"], ds["cached"]) == (2, 0)
    assert ds["parse_stats"]["answers"] == 2 * 13
    assert [p["id"] for p in ds["predictions"]] == ["dev-0", "dev-1"]
    texts = [x.text for x in load_ner_dataset("crossner_ai", dev).examples[:2]]
    for text, pred in zip(texts, ds["predictions"]):
        for e in pred["entities"]:
            assert text[e["start"] : e["end"]] == e["text"] and e["label"] in ds["labels"]
    assert 0.0 <= ds["scores"]["f1"] <= 1.0 and data["average"]["f1"] == ds["scores"]["f1"]
    (cache_file,) = cache.iterdir()
    lines = cache_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2

    # the same run again: everything comes from the cache, nothing is written or computed
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    again = EvalReport.read(out)
    assert (again.datasets[0].computed, again.datasets[0].cached) == (0, 2)
    assert cache_file.read_text(encoding="utf-8").splitlines() == lines
    assert again.datasets[0].predictions == EvalReport.model_validate(data).datasets[0].predictions


def test_uniner_protocol_on_the_universalner_test_file(small_backend: Backend) -> None:
    d = load_ner_dataset("crossner_ai", shared_data("crossner_ai", "uniner_format_test.json"))
    report = evaluate_ner(
        Extractor(small_backend, max_new_tokens=6), [d], protocol="uniner", limit=1, progress=False
    )
    r = report.datasets[0]
    assert r.format == "uniner" and r.examples == 1 and r.parse_stats is not None
    assert r.parse_stats.answers == len(d.examples[0].labels) == 13
    # the gold of the first passage: three algorithm strings
    assert r.scores.tp + r.scores.fn == 3


def test_eval_re_cli_on_semeval_dev(use_small_model: Backend, tmp_path: Path) -> None:
    dev = shared_data("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT")
    out = tmp_path / "re.json"
    res = runner.invoke(
        app,
        [
            "eval",
            "re",
            "--data",
            f"semeval={dev}",
            "--schema",
            "semeval",
            "--method",
            "qa4re",
            "--limit",
            "4",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "semeval" in res.stdout and "F1+none" in res.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["task"] == "re" and data["prompts"] == ["qa4re@1"] and data["options"]["method"] == "qa4re"
    (ds,) = data["datasets"]
    assert ds["examples"] == 4 and ds["examples_in_file"] == 800 and ds["format"] == "semeval"
    assert [p["id"] for p in ds["predictions"]] == ["7201", "7202", "7203", "7204"]
    assert all(p["score"] is not None and 0.0 <= p["score"] <= 1.0 for p in ds["predictions"])
    assert 0.0 <= ds["f1_with_none"] <= 1.0 and 0.25 <= ds["top_label_share"] <= 1.0
    labels = [p["label"] for p in ds["predictions"]]
    assert ds["top_label_share"] == max(labels.count(x) for x in labels) / 4


class Interrupted(Exception):
    pass


class InterruptedAfter:
    """The real backend, cut off (like a killed run) when asked to generate for the ``n+1``-th time."""

    def __init__(self, backend: Backend, n: int) -> None:
        self.backend, self.left, self.calls = backend, n, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.backend, name)

    def generate(self, *args: object, **kw: object) -> object:
        self.calls += 1
        if self.left <= 0:
            raise Interrupted
        self.left -= 1
        return self.backend.generate(*args, **kw)  # type: ignore[arg-type]


def test_interrupted_ner_run_resumes_without_loss_or_duplicates(
    small_backend: Backend, tmp_path: Path
) -> None:
    d = load_ner_dataset("conll2003", shared_data("conll2003", "test.txt"))
    d.examples = d.examples[:3]
    cache = tmp_path / "cache"
    # a batch smaller than a text's questions: one text's questions go out in one generation call
    cut = InterruptedAfter(small_backend, 1)
    with pytest.raises(Interrupted):
        evaluate_ner(Extractor(cut, max_new_tokens=6, batch_size=1), [d], cache=cache, progress=False)  # type: ignore[arg-type]
    (cache_file,) = cache.iterdir()
    assert len(cache_file.read_text(encoding="utf-8").splitlines()) == 1
    with cache_file.open("a", encoding="utf-8") as f:
        f.write('{"key": "torn')  # the killed run's last line, half written
    counting = InterruptedAfter(small_backend, 99)
    report = evaluate_ner(
        Extractor(counting, max_new_tokens=6, batch_size=1),  # type: ignore[arg-type]
        [d],
        cache=cache,
        progress=False,
    )
    r = report.datasets[0]
    assert (r.cached, r.computed, r.examples) == (1, 2, 3) and counting.calls == 2
    lines = cache_file.read_text(encoding="utf-8").splitlines()
    ids = [json.loads(x)["id"] for x in lines]
    assert sorted(ids) == sorted(x.id for x in d.examples)  # the torn line is gone, nothing twice
    assert [p.id for p in r.predictions] == [x.id for x in d.examples]
    # the report's scores are the strict span metric of its own predictions
    prf = span_prf([x.entities or [] for x in d.examples], [p.entities for p in r.predictions])
    assert (r.scores.tp, r.scores.fp, r.scores.fn) == (prf.tp, prf.fp, prf.fn)
    assert EvalReport.model_validate_json(report.model_dump_json()) == report


def test_relation_run_extends_its_cache(small_backend: Backend, tmp_path: Path) -> None:
    d = load_re_dataset("semeval", shared_data("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT"))
    first = evaluate_re(Extractor(small_backend), [d], limit=2, cache=tmp_path, progress=False)
    more = evaluate_re(Extractor(small_backend), [d], limit=3, cache=tmp_path, progress=False)
    r = more.datasets[0]
    assert (r.cached, r.computed, r.examples) == (2, 1, 3)
    assert r.predictions[:2] == first.datasets[0].predictions
    gold = [x.label for x in d.examples[:3]]
    prf = relation_prf(gold, [p.label for p in r.predictions], "Other")
    assert (r.scores.tp, r.scores.fp, r.scores.fn) == (prf.tp, prf.fp, prf.fn)


def test_robustness_cli_table_report_and_plot(use_small_model: Backend, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    dev = shared_data("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT")
    out, png = tmp_path / "rob.json", tmp_path / "rob.png"
    args = ["robustness", "re", "--data", f"semeval={dev}", "--framings", "qa4re", "--variants", "2"]
    res = runner.invoke(app, [*args, "--limit", "3", "--out", str(out), "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "`qa4re@1`" in res.stdout and "`qa4re-p1@1`" in res.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["model"] == "smollm2-135m" and data["example_ids"] == ["7201", "7202", "7203"]
    # --template-sets auto: the published option sentences and the built-in alternatives semeval-t2, -t3
    assert [(r["framing"], r["prompt"], r["templates"]) for r in data["results"]] == [
        ("qa4re", "qa4re@1", None),
        ("qa4re", "qa4re-p1@1", None),
        ("qa4re-templates", "qa4re@1", "semeval@1"),
        ("qa4re-templates", "qa4re@1", "semeval-t2@1"),
        ("qa4re-templates", "qa4re@1", "semeval-t3@1"),
    ]
    assert "`qa4re@1 / semeval-t3@1`" in res.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(app, ["robustness", "re", "--data", f"semeval={dev}", "--variants", "9"])
    assert bad.exit_code == 2 and "instruction variants" in bad.output
    bad = runner.invoke(app, [*args, "--template-sets", "tacred"])
    assert bad.exit_code == 2 and "template set 'tacred@1' does not have the labels" in bad.output
    bad = runner.invoke(app, [*args, "--reading", "vanilla"])
    assert bad.exit_code == 2 and "unknown reading 'vanilla'" in bad.output
    bad = runner.invoke(app, [*args, "--reading", "qa4re:letters,x=y"])
    assert bad.exit_code == 2 and "'qa4re:letters' is not FRAMING=READING" in bad.output


def test_robustness_cli_reading_per_framing(use_small_model: Backend, tmp_path: Path) -> None:
    dev = shared_data("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT")
    out = tmp_path / "rob.json"
    args = ["robustness", "re", "--data", f"semeval={dev}", "--framings", "vanilla", "--variants", "1"]
    args += ["--reading", "vanilla=score", "--template-sets", "none", "--limit", "2", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    (only,) = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert (only["framing"], only["prompt"], only["reading"]) == ("vanilla", "vanilla@1", "score")
    assert only["unanswered"] == 0  # a scored reading always picks a label


def test_eval_ner_on_users_own_jsonl(use_small_model: Backend, tmp_path: Path) -> None:
    from ieforge.data import dataset_labels, read_bio

    sentences = read_bio(shared_data("conll2003", "test.txt"), label_map=dataset_labels("conll2003"))[1:3]
    gold = tmp_path / "mine.jsonl"
    lines = [
        {"id": s.id, "text": s.text, "entities": [e.model_dump() for e in s.entities]} for s in sentences
    ]
    gold.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    out = tmp_path / "r.json"
    args = ["eval", "ner", "--data", f"mine={gold}", "--max-new-tokens", "8", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    (ds,) = EvalReport.model_validate_json(out.read_text(encoding="utf-8")).datasets
    assert ds.format == "jsonl" and ds.examples == 2
    n_gold = sum(len(s.entities) for s in sentences)
    assert n_gold > 0 and ds.scores.tp + ds.scores.fn == n_gold
    expect = span_prf([s.entities for s in sentences], [p.entities for p in ds.predictions])  # type: ignore[union-attr]
    assert (ds.scores.tp, ds.scores.fp) == (expect.tp, expect.fp)
