"""Two-stage NER's typing stage without a model: prompts, options, calibration, argument checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.errors import InputError
from ieforge.grounding import Chunk
from ieforge.prompts import available_prompts, load_typing_prompt
from ieforge.tasks._options import calibrate_binary, yes_probability
from ieforge.tasks.entity_typing import Candidate, EntityTyper, _article

runner = CliRunner()


class _Tokens:
    """Only what the constructors touch: nothing is generated or scored here."""

    name = "none"
    context_length = 2048

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_typing_prompts_are_packaged_and_versioned() -> None:
    assert {"propose-all", "typing-mc", "typing-verify", "typing-cloze"} <= set(available_prompts("typing"))
    mc = load_typing_prompt("typing-mc")
    chat = mc.chat(
        text="Ada Lovelace wrote notes.", span="Ada Lovelace", options="A. person\nB. none of these"
    )
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
    assert chat[1]["content"] == "Text: Ada Lovelace wrote notes."
    assert '"Ada Lovelace"' in chat[3]["content"] and "B. none of these" in chat[3]["content"]
    verify = load_typing_prompt("typing-verify")
    assert (
        verify.chat(text="t", span="s", type="city")[3]["content"]
        == 'In the text, is "s" a city? Answer Yes or No.'
    )
    # the question prefix (system + text turns) is the same for every typing prompt and the UniversalNER one
    from ieforge.prompts import load_ner_prompt

    uniner = load_ner_prompt("uniner").chat("Ada Lovelace wrote notes.", "person")
    assert chat[:3] == uniner[:3]


def test_cloze_prompt_needs_its_statements(tmp_path: Path) -> None:
    bad = tmp_path / "cloze.yaml"
    bad.write_text(
        "name: c\nversion: 1\ntask: typing\nparser: cloze\nquestion: 'What is {span}?'\n"
        "turns: [{role: user, content: 'Text: {text}'}]\nstatement: '{span} is {kind}.'\n"
        "none_statement: 'no'\n"
    )
    with pytest.raises(InputError, match=r"cloze\.yaml: invalid prompt file: .*unknown placeholder \{kind\}"):
        load_typing_prompt(str(bad))
    bad.write_text(
        "name: c\nversion: 1\ntask: typing\nparser: cloze\nquestion: 'What is {span}?'\n"
        "turns: [{role: user, content: 'Text: {text}'}]\n"
    )
    with pytest.raises(InputError, match="needs 'statement' and 'none_statement'"):
        load_typing_prompt(str(bad))
    bad.write_text(
        "name: c\nversion: 1\ntask: typing\nparser: cloze\nquestion: 'Complete:'\n"
        "turns: [{role: user, content: 'Text: {text}'}]\nstatement: 'It is a {type}.'\n"
        "none_statement: 'no'\n"
    )
    with pytest.raises(InputError, match=r"the question or the statement must hold the placeholder \{span\}"):
        load_typing_prompt(str(bad))


def test_cloze_question_once_per_text() -> None:
    """typing-cloze-text names no span in its question: every candidate of a text gets the same chat, so
    the backend computes the question once and only the statements differ."""
    shared = load_typing_prompt("typing-cloze-text")
    text = "Ada met Charles."
    assert shared.chat(text=text, span="Ada") == shared.chat(text=text, span="Charles")
    per_span = load_typing_prompt("typing-cloze")
    assert per_span.chat(text="t", span="Ada") != per_span.chat(text="t", span="Charles")
    assert shared.statement == per_span.statement and shared.none_statement == per_span.none_statement
    typer = EntityTyper(_Tokens(), reading="cloze", prompt="typing-cloze-text")  # type: ignore[arg-type]
    assert typer.prompt.id == "typing-cloze-text@1"


def test_mc_question_needs_span_and_options(tmp_path: Path) -> None:
    bad = tmp_path / "mc.yaml"
    bad.write_text(
        "name: m\nversion: 1\ntask: typing\nparser: option_letter\nquestion: 'Type of {span}?'\n"
        "turns: [{role: user, content: 'Text: {text}'}]\n"
    )
    with pytest.raises(InputError, match=r"needs the placeholder \{options\}"):
        load_typing_prompt(str(bad))


def test_options_put_none_last_with_descriptions() -> None:
    typer_ = EntityTyper(_Tokens(), reading="mc", descriptions={"city": "a town or city"})  # type: ignore[arg-type]
    block, pairs = typer_._options(["person", "city"])
    assert block == "A. person\nB. city (a town or city)\nC. none of these"
    assert pairs == [("A", "person"), ("B", "city"), ("C", "")]
    with pytest.raises(ValueError, match="at most 25 types"):
        typer_._options([f"t{i}" for i in range(26)])


def test_reading_and_prompt_must_match() -> None:
    with pytest.raises(ValueError, match="unknown typing reading 'vote'"):
        EntityTyper(_Tokens(), reading="vote")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a 'yes_no' typing prompt, not 'typing-mc@1'"):
        EntityTyper(_Tokens(), reading="verify", prompt="typing-mc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        EntityTyper(_Tokens(), reading="verify", threshold=1.5)  # type: ignore[arg-type]


def test_proposer_all_needs_a_typing_reading() -> None:
    from ieforge.tasks.ner import NERTask

    with pytest.raises(ValueError, match="proposer 'all' needs a typing reading"):
        NERTask(_Tokens(), proposer="all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown proposer 'some'"):
        NERTask(_Tokens(), proposer="some", typing="mc")  # type: ignore[arg-type]
    task = NERTask(_Tokens(), prompt="uniner", typing="cloze", typing_calibrate=True)  # type: ignore[arg-type]
    assert task.prompt_id == "uniner@1+typing-cloze@1+calibrated"
    task = NERTask(_Tokens(), typing="mc", proposer="all")  # type: ignore[arg-type]
    assert task.prompt_id == "propose-all@1+typing-mc@1"
    # a threshold other than the reading's default, and flat NER, are part of the recorded id
    task = NERTask(_Tokens(), typing="cloze", typing_calibrate=True, typing_threshold=0.5, flat=True)  # type: ignore[arg-type]
    assert task.prompt_id == "uniner-json@1+typing-cloze@1+calibrated+threshold0.5+flat"
    assert NERTask(_Tokens(), typing="verify", typing_threshold=0.5).prompt_id.endswith("verify@1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="flat needs a typing reading"):
        NERTask(_Tokens(), flat=True)  # type: ignore[arg-type]


def test_threshold_turns_an_unsure_type_into_none() -> None:
    typer = EntityTyper(_Tokens(), reading="cloze", threshold=0.5)  # type: ignore[arg-type]
    sure = typer._best({"person": 0.7, "city": 0.2, "": 0.1})
    unsure = typer._best({"person": 0.4, "city": 0.35, "": 0.25})
    assert (sure.label, sure.score) == ("person", 0.7)
    assert (unsure.label, unsure.score) == (None, 0.4)
    assert EntityTyper(_Tokens(), reading="cloze")._best({"person": 0.4, "": 0.35}).label == "person"  # type: ignore[arg-type]
    assert EntityTyper(_Tokens(), reading="verify").threshold == 0.5  # type: ignore[arg-type]


def test_flat_keeps_the_most_probable_of_overlapping_spans() -> None:
    from ieforge.tasks.ner import flatten_entities
    from ieforge.types import Entity

    text = "the naive Bayes classifier and Ada"

    def ent(s: str, label: str, score: float) -> Entity:
        start = text.index(s)
        return Entity(start=start, end=start + len(s), text=s, label=label, score=score)

    wide, narrow = ent("naive Bayes classifier", "algorithm", 0.6), ent("Bayes classifier", "algorithm", 0.8)
    inner = ent("Bayes", "person", 0.5)
    apart = ent("Ada", "person", 0.3)
    kept = flatten_entities([wide, narrow, inner, apart])
    assert kept == [narrow, apart]
    # touching spans do not overlap; a tie goes to the earlier, then the longer span
    a, b = ent("naive", "x", 0.5), ent("Bayes", "x", 0.5)
    assert flatten_entities([b, a]) == [a, b]
    assert flatten_entities([ent("naive Bayes", "x", 0.5), a]) == [ent("naive Bayes", "x", 0.5)]


def test_candidate_text_is_its_chunk_slice() -> None:
    chunk = Chunk(start=10, text="Ada Lovelace met Charles Babbage")
    c = Candidate(chunk, 17, 32)
    assert c.text == "Charles Babbage"


@pytest.mark.parametrize(
    ("p", "prior", "expected"),
    [(0.5, 0.5, 0.5), (0.9, 0.9, 0.5), (0.6, 0.3, 0.6 / 0.3 / (0.6 / 0.3 + 0.4 / 0.7)), (0.2, 0.0, 1.0)],
)
def test_binary_calibration(p: float, prior: float, expected: float) -> None:
    assert calibrate_binary(p, prior) == pytest.approx(expected, abs=1e-5)


def test_yes_probability_counts_every_spelling() -> None:
    import math

    row = {"Yes": math.log(0.3), "yes": float("-inf"), " Yes": math.log(0.1), " yes": float("-inf")}
    row |= {"No": math.log(0.2), "no": float("-inf"), " No": float("-inf"), " no": float("-inf")}
    p, mass = yes_probability(row)
    assert p == pytest.approx(0.4 / 0.6) and mass == pytest.approx(0.6)
    nothing = dict.fromkeys(row, float("-inf"))
    assert yes_probability(nothing) == (0.5, 0.0)


def test_article() -> None:
    assert _article("organisation") == "an" and _article("person") == "a" and _article("") == "a"


def test_cli_checks_typing_options_before_loading_a_model() -> None:
    res = runner.invoke(app, ["ner", "Ada Lovelace", "--labels", "person", "--typing", "vote"])
    assert res.exit_code != 0 and "--typing is one of mc, verify, cloze or off, not 'vote'" in res.output
    res = runner.invoke(app, ["ner", "Ada Lovelace", "--labels", "person", "--proposer", "all"])
    assert res.exit_code != 0 and "--proposer all needs --typing" in res.output
    res = runner.invoke(app, ["ner", "Ada", "--labels", "person", "--typing", "off", "--flat"])
    assert res.exit_code != 0 and "flat needs two-stage NER" in res.output
    res = runner.invoke(app, ["ner", "Ada", "--labels", "person", "--typing-threshold", "2"])
    assert res.exit_code != 0 and "--typing-threshold" in res.output
