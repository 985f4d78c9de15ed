"""Instruction-robustness study: paraphrase prompt files, the variant list, the report and its runners."""

from __future__ import annotations

import json
import math
import re
import sys
from importlib import resources
from pathlib import Path

import pytest
from conftest import shared_data

from ieforge.data import read_instructuie_ner, read_semeval
from ieforge.data.semeval import REExample
from ieforge.evaluate.robustness import (
    TEMPLATE_FRAMING,
    MissingDependencyError,
    RobustnessReport,
    VariantResult,
    available_variants,
    prompt_variants,
    run_ner_robustness,
    run_re_robustness,
    summarize,
    template_sets_of,
)
from ieforge.prompts import (
    available_prompts,
    build_re_question,
    load_ner_prompt,
    load_re_prompt,
)
from ieforge.schemas import load_relation_schema

RE_PARAPHRASES = [f"{base}-p{k}" for base in ("qa4re", "vanilla") for k in range(1, 5)]
NER_PARAPHRASES = [f"uniner-json-p{k}" for k in range(1, 4)]
_SLOT = re.compile(r"\{([a-z_]+)\}")


def _dev(n: int) -> list[REExample]:
    return read_semeval(shared_data("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT"))[:n]


def _original(name: str) -> str:
    return name.rsplit("-p", 1)[0]


# ----- the variant list ------------------------------------------------------------------------------


def test_prompt_variants_put_the_original_first() -> None:
    assert prompt_variants("qa4re", 5) == ["qa4re", "qa4re-p1", "qa4re-p2", "qa4re-p3", "qa4re-p4"]
    assert prompt_variants("vanilla", 2) == ["vanilla", "vanilla-p1"]
    assert prompt_variants("ner", 4) == ["uniner-json", *NER_PARAPHRASES]
    assert prompt_variants("qa4re", 1) == ["qa4re"]
    # the yes/no prompt is a different reading, not a paraphrase
    assert "qa4re-verify" not in available_variants("qa4re")
    assert len(available_variants("vanilla")) == 5


@pytest.mark.parametrize(("framing", "n"), [("qa4re", 0), ("qa4re", 6), ("ner", 5), ("vanilla", -1)])
def test_prompt_variants_out_of_range(framing: str, n: int) -> None:
    with pytest.raises(ValueError, match=f"{framing} has \\d+ instruction variants"):
        prompt_variants(framing, n)  # type: ignore[arg-type]


def test_unknown_framing() -> None:
    with pytest.raises(ValueError, match="unknown framing 're'"):
        prompt_variants("re", 2)  # type: ignore[arg-type]


def test_paraphrases_are_packaged() -> None:
    assert set(RE_PARAPHRASES) <= set(available_prompts("re"))
    assert set(NER_PARAPHRASES) <= set(available_prompts("ner"))
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"prompts/**/*.yaml"' in pyproject
    assert 'plot = ["matplotlib>=3.7"]' in pyproject


# ----- the paraphrase files --------------------------------------------------------------------------


@pytest.mark.parametrize("name", RE_PARAPHRASES + NER_PARAPHRASES)
def test_paraphrase_file_says_what_it_is(name: str) -> None:
    task = "ner" if name.startswith("uniner") else "re"
    raw = (
        resources.files("ieforge.prompts").joinpath(task).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    )
    header = raw.split("\nname:", 1)[0]
    assert header.startswith("# ieforge paraphrase")
    assert "robustness" in header


@pytest.mark.parametrize("name", RE_PARAPHRASES)
def test_re_paraphrase_keeps_everything_but_the_wording(name: str) -> None:
    para, orig = load_re_prompt(name), load_re_prompt(_original(name))
    assert para.id == f"{name}@1"
    for field in ("task", "parser", "system", "entity_format", "choice_format", "assistant_prefix", "stop"):
        assert getattr(para, field) == getattr(orig, field), field
    assert set(_SLOT.findall(para.template)) == set(_SLOT.findall(orig.template))
    assert para.template.splitlines()[-1] == orig.template.splitlines()[-1]  # the answer cue
    assert para.template != orig.template


@pytest.mark.parametrize("name", RE_PARAPHRASES)
def test_re_paraphrase_renders_a_semeval_example_like_the_original(name: str) -> None:
    ex = _dev(1)[0]
    schema = load_relation_schema("semeval")
    para = build_re_question(load_re_prompt(name), schema, ex.text, ex.head, ex.tail)
    orig = build_re_question(load_re_prompt(_original(name)), schema, ex.text, ex.head, ex.tail)
    assert para.prompt == f"{name}@1"
    assert para.options == orig.options and len(para.options) == 19
    assert para.choices == orig.choices
    assert para.options[-1][1] == "Other"
    if name.startswith("qa4re"):
        marked = "what the [passengers] inside the [car] prefer"
        assert "\nA. [passengers] is the component of [car]\n" in para.text
        assert para.text.endswith("\nOption:")
    else:
        marked = "what the passengers inside the car prefer"
        assert "Head entity: passengers\nTail entity: car" in para.text
        assert "\n- Component-Whole(e1,e2)\n" in para.text and para.text.endswith("\nLabel:")
    assert f"Sentence: It makes the drive more comfortable by intelligently seeking out {marked}" in para.text
    assert "{" not in para.text


@pytest.mark.parametrize("name", NER_PARAPHRASES)
def test_ner_paraphrase_changes_only_the_question(name: str) -> None:
    para, orig = load_ner_prompt(name), load_ner_prompt("uniner-json")
    assert para.id == f"{name}@1"
    for field in ("task", "parser", "system", "turns", "assistant_prefix", "stop"):
        assert getattr(para, field) == getattr(orig, field), field
    text = "Barack Obama was born in Honolulu."
    new, old = para.chat(text, "person"), orig.chat(text, "person")
    assert new[:-1] == old[:-1]
    assert new[-1]["role"] == "user" and new[-1]["content"] != old[-1]["content"]
    assert "person" in new[-1]["content"] and "JSON" in new[-1]["content"]
    assert "{" not in new[-1]["content"]


# ----- summary statistics and the report --------------------------------------------------------------


def _result(framing: str, variant: int, f1: float, prompt: str | None = None) -> VariantResult:
    return VariantResult(
        framing=framing,
        variant=variant,
        prompt=prompt or f"{framing}{'' if variant == 0 else f'-p{variant}'}@1",
        reading="letters" if framing == "qa4re" else "generate",
        examples=10,
        tp=0,
        fp=0,
        fn=0,
        precision=f1,
        recall=f1,
        f1=f1,
        top_label="Other",
        top_label_share=0.5,
        seconds=2.0,
        items_per_second=5.0,
    )


def _report() -> RobustnessReport:
    results = [_result("vanilla", k, f1) for k, f1 in enumerate([0.2, 0.4, 0.6, 0.8])]
    results += [_result("qa4re", k, f1) for k, f1 in enumerate([0.5, 0.3])]
    return RobustnessReport(
        task="re",
        model="tiny-model",
        data="semeval@1",
        none_label="Other",
        metric="micro-F1 over the positive labels",
        example_ids=[str(i) for i in range(10)],
        results=results,
    )


def test_summary_statistics_by_hand() -> None:
    vanilla = summarize("vanilla", [_result("vanilla", k, f) for k, f in enumerate([0.2, 0.4, 0.6, 0.8])])
    # mean 0.5; squared deviations 0.09 + 0.01 + 0.01 + 0.09 = 0.2, over n = 4: variance 0.05
    assert vanilla.variants == 4
    assert vanilla.mean == pytest.approx(0.5)
    assert vanilla.std == pytest.approx(math.sqrt(0.05))
    assert (vanilla.min, vanilla.max) == (0.2, 0.8)
    assert vanilla.range == pytest.approx(0.6)
    assert (vanilla.best, vanilla.worst) == ("vanilla-p3@1", "vanilla@1")
    single = summarize("qa4re", [_result("qa4re", 0, 0.3)])
    assert (single.mean, single.std, single.min, single.max) == (0.3, 0.0, 0.3, 0.3)
    with pytest.raises(ValueError, match="no variant results"):
        summarize("qa4re", [])


def test_report_summaries_follow_the_run_order_and_survive_json() -> None:
    report = _report()
    assert report.framings == ["vanilla", "qa4re"]
    qa = report.summary("qa4re")
    assert qa.mean == pytest.approx(0.4) and qa.std == pytest.approx(0.1)
    assert report.prompts[:2] == ["vanilla@1", "vanilla-p1@1"]
    data = json.loads(report.model_dump_json())
    assert [s["framing"] for s in data["summaries"]] == ["vanilla", "qa4re"]
    assert data["std"] == "population"
    again = RobustnessReport.model_validate_json(report.model_dump_json())
    assert again == report and again.summaries == report.summaries
    with pytest.raises(KeyError, match="no results for framing 'ner'"):
        report.summary("ner")


def test_markdown_tables() -> None:
    md = _report().to_markdown()
    lines = md.splitlines()
    assert lines[0] == "Instruction robustness of `tiny-model` on 10 examples (semeval@1)."
    assert "| framing | variant | prompt | reading | F1 | P | R | top label | pairs/s |" in lines
    assert "| vanilla | 2 | `vanilla-p2@1` | generate | 60.0 | 60.0 | 60.0 | Other 50% | 5.00 |" in lines
    assert "| vanilla | 4 | 50.0 | 22.4 | 20.0 | 80.0 | `vanilla-p3@1` | `vanilla@1` |" in lines
    assert "| qa4re | 2 | 40.0 | 10.0 | 30.0 | 50.0 | `qa4re@1` | `qa4re-p1@1` |" in lines
    assert lines[-1].startswith("F1, P, R in percent: micro-F1 over the positive labels.")
    assert "population" in lines[-1]


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = _report().plot(tmp_path / "plots" / "robustness.png")
    assert out == tmp_path / "plots" / "robustness.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000


def test_plot_without_matplotlib_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'ieforge\[plot\]'"):
        _report().plot(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# ----- the runners, on the real model ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reading": "verify"}, "cannot use the 'verify' reading"),
        ({"reading": {"vanilla": "letters"}}, "the vanilla framing cannot use the 'letters' reading"),
        ({"reading": {"ner": "letters"}}, "reading given for framing 'ner'"),
        ({"reading": "guess"}, "unknown reading 'guess'"),
        ({"framings": ["qa"]}, "unknown relation framing 'qa'"),
        ({"framings": []}, "no framings"),
        ({"variants": 9}, "has 5 instruction variants"),
        ({"schema": "tacred"}, "gold label 'Cause-Effect\\(e1,e2\\)' is not in schema 'tacred@1'"),
        (
            {"template_sets": ["tacred"]},
            "template set 'tacred@1' does not have the labels of schema 'semeval@1'",
        ),
    ],
)
@pytest.mark.model
def test_re_runner_checks_before_the_model_runs(
    small_backend, kwargs: dict[str, object], message: str
) -> None:  # type: ignore[no-untyped-def]
    args: dict[str, object] = {"schema": "semeval", "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        run_re_robustness(small_backend, _dev(3), **args)  # type: ignore[arg-type]


@pytest.mark.model
def test_ner_robustness_with_a_real_model(small_backend) -> None:  # type: ignore[no-untyped-def]
    examples = read_instructuie_ner(shared_data("conll2003", "instructuie_format", "test.json"))[:1]
    # "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT ." gold: CHINA person, JAPAN location
    report = run_ner_robustness(
        small_backend, examples, ["location", "person"], variants=2, max_new_tokens=16, progress=False
    )
    assert report.task == "ner" and report.labels == ["location", "person"]
    assert report.prompts == ["uniner-json@1", "uniner-json-p1@1"]
    for r in report.results:
        assert r.tp + r.fn == 2  # both gold entities are of asked types
        assert 0.0 <= r.f1 <= 1.0 and r.parse is not None and r.parse.answers == 2
    assert "texts/s" in report.to_markdown()
    with pytest.raises(ValueError, match="at least one entity label"):
        run_ner_robustness(small_backend, examples, [" "], progress=False)


def test_builtin_template_sets() -> None:
    assert template_sets_of("semeval") == ["semeval-t2", "semeval-t3"]
    assert template_sets_of("tacred") == []
    assert template_sets_of("semeval-t2") == []


# ----- the real model -----------------------------------------------------------------------------------


@pytest.mark.model
def test_re_robustness_with_a_real_model(small_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    examples = _dev(3)
    # 14 new tokens hold the longest SemEval label (13 SmolLM2 tokens); the model tends to ramble past it
    report = run_re_robustness(
        small_backend, examples, schema="semeval", variants=2, max_new_tokens=14, progress=False
    )
    assert report.model == small_backend.name
    assert report.prompts == ["vanilla@1", "vanilla-p1@1", "qa4re@1", "qa4re-p1@1"]
    labels = set(load_relation_schema("semeval").all_labels)
    for r in report.results:
        assert r.examples == 3 and len(r.predictions) == 3 and set(r.predictions) <= labels
        assert 0.0 <= r.f1 <= 1.0 and r.items_per_second > 0
        assert r.tp + r.fn == 1  # one of the three gold labels is a relation, two are Other
    assert [r.reading for r in report.results] == ["generate", "generate", "letters", "letters"]
    for s in report.summaries:
        assert s.variants == 2 and s.min <= s.mean <= s.max and s.std == pytest.approx((s.max - s.min) / 2)
    assert RobustnessReport.model_validate_json(report.model_dump_json()) == report
    assert "| qa4re | 1 | `qa4re-p1@1` | letters |" in report.to_markdown()


@pytest.mark.model
def test_template_sets_with_a_real_model(small_backend) -> None:  # type: ignore[no-untyped-def]
    examples = _dev(3)
    report = run_re_robustness(
        small_backend,
        examples,
        schema="semeval",
        framings=["qa4re"],
        variants=1,
        template_sets=["semeval-t2"],
        progress=False,
    )
    assert report.framings == ["qa4re", TEMPLATE_FRAMING]
    qa, published, alt = report.results
    # variant 0 of the template framing is the qa4re run itself, reused rather than run twice
    assert published.predictions == qa.predictions and published.templates == "semeval@1"
    assert (alt.variant, alt.templates, alt.prompt) == (1, "semeval-t2@1", "qa4re@1")
    assert alt.examples == 3 and alt.tp + alt.fn == 1
    summary = report.summary(TEMPLATE_FRAMING)
    assert summary.variants == 2 and {summary.best, summary.worst} <= {
        "qa4re@1 / semeval@1",
        "qa4re@1 / semeval-t2@1",
    }
    assert "| qa4re-templates | 1 | `qa4re@1 / semeval-t2@1` | letters |" in report.to_markdown()
    assert RobustnessReport.model_validate_json(report.model_dump_json()) == report
