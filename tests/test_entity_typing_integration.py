"""Two-stage NER with the real SmolLM2 on real CoNLL-2003 and CrossNER sentences: every reading's
probabilities are the backend's own numbers, decisions follow them, spans stay grounded, and batching
texts together changes nothing (float32)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import shared_data

from ieforge import Extractor
from ieforge.grounding import Chunk
from ieforge.models import Backend, load_model
from ieforge.tasks._options import distinct_mass, letter_forms, yes_probability
from ieforge.tasks.entity_typing import NONE, Candidate, EntityTyper
from ieforge.tasks.ner import NERTask

pytestmark = pytest.mark.model

LABELS = ["person", "location", "organization"]


@pytest.fixture(scope="module")
def fp32(model_home: Path) -> Iterator[Backend]:
    yield load_model("smollm2-135m", dtype="fp32")


@pytest.fixture(scope="module")
def sentences(conll_test: list) -> list[str]:  # type: ignore[type-arg]
    return [r["sentence"] for r in conll_test[:4]]


def _candidates(text: str, strings: list[str]) -> list[Candidate]:
    chunk = Chunk(0, text)
    return [Candidate(chunk, text.index(s), text.index(s) + len(s)) for s in strings]


TEXT = "Nadim Ladki wrote the story for Reuters in Al-Ain, United Arab Emirates."
SPANS = ["Nadim Ladki", "Reuters", "Al-Ain", "United Arab Emirates", "story"]


def test_mc_probabilities_are_the_letter_probabilities(fp32: Backend) -> None:
    typer = EntityTyper(fp32, reading="mc")
    decisions = typer.decide(_candidates(TEXT, SPANS), LABELS)
    block, pairs = typer._options(LABELS)
    for span, decision in zip(SPANS, decisions):
        chat = typer.prompt.chat(text=TEXT, span=span, options=block)
        row = fp32.next_token_logprobs(
            [chat], letter_forms([x for x, _ in pairs]), assistant_prefix="Answer:", distinct=True
        )[0]
        raw = {label: distinct_mass(row, letter) for letter, label in pairs}
        total = sum(raw.values())
        for label, p in raw.items():
            assert decision.probabilities[label] == pytest.approx(p / total, abs=1e-4)
        best = max(raw, key=lambda k: raw[k])
        assert decision.label == (best or None)
        assert math.isclose(sum(decision.probabilities.values()), 1.0, abs_tol=1e-6)


def test_verify_and_cloze_read_the_backend(fp32: Backend) -> None:
    verify = EntityTyper(fp32, reading="verify", threshold=0.0)
    cloze = EntityTyper(fp32, reading="cloze")
    cands = _candidates(TEXT, SPANS[:2])
    for cand, v, c in zip(cands, verify.decide(cands, LABELS), cloze.decide(cands, LABELS)):
        for label in LABELS:
            chat = verify.prompt.chat(text=TEXT, span=cand.text, type=label)
            row = fp32.next_token_logprobs(
                [chat], ["Yes", "yes", " Yes", " yes", "No", "no", " No", " no"], distinct=True
            )[0]
            assert v.probabilities[label] == pytest.approx(yes_probability(row)[0], abs=1e-4)
        assert v.label == max(LABELS, key=lambda x: v.probabilities[x])  # threshold 0: always a type
        statements = cloze._statements(cand.text, LABELS)
        assert statements[0] == f'"{cand.text}" is a person.' and statements[-1].endswith(
            "not a named entity."
        )
        scores = fp32.score_continuations([cloze.prompt.chat(text=TEXT, span=cand.text)], statements)[0]
        top = max(scores)
        expected = [math.exp(s - top) for s in scores]
        for key, e in zip([*LABELS, NONE], expected):
            assert c.probabilities[key] == pytest.approx(e / sum(expected), abs=1e-4)


def test_two_stage_ner_is_grounded_and_accounts_for_every_candidate(
    small_backend: Backend, sentences: list[str]
) -> None:
    for typing, calibrate in (("mc", True), ("verify", True), ("cloze", False)):
        ex = Extractor(small_backend, max_new_tokens=32, typing=typing, typing_calibrate=calibrate)  # type: ignore[arg-type]
        single = Extractor(small_backend, max_new_tokens=32)
        for text, res, one in zip(
            sentences, ex.ner_many(sentences, LABELS), single.ner_many(sentences, LABELS)
        ):
            assert res.prompt.startswith("uniner-json@1+typing-") and res.stats.answers == len(LABELS)
            assert {e.label for e in res.entities} <= set(LABELS)
            spans = {(e.start, e.end) for e in res.entities}
            assert len(spans) == len(res.entities)  # one type per span
            for e in res.entities:
                assert text[e.start : e.end] == e.text and 0.0 <= (e.score or 0.0) <= 1.0
            # every candidate is typed or counted as rejected; candidates are the spans stage 1 found
            proposed = {(e.start, e.end) for e in one.entities}
            assert spans <= proposed
            assert len(spans) + res.stats.rejected == len(proposed)


def test_threshold_and_flat_only_remove_typed_spans(small_backend: Backend, sentences: list[str]) -> None:
    """With a threshold and flat NER, the entities are those of the plain cloze run whose typing score
    reaches the threshold, with overlaps resolved to the most probable; the rest count as rejected."""
    from ieforge.tasks.ner import flatten_entities

    cloze = {"max_new_tokens": 32, "typing": "cloze", "typing_calibrate": True}
    plain = Extractor(small_backend, **cloze)  # type: ignore[arg-type]
    strict = Extractor(small_backend, **cloze, typing_threshold=0.4, flat=True)  # type: ignore[arg-type]
    for a, b in zip(plain.ner_many(sentences, LABELS), strict.ner_many(sentences, LABELS)):
        assert b.prompt == "uniner-json@1+typing-cloze@1+calibrated+threshold0.4+flat"
        expected = flatten_entities([e for e in a.entities if (e.score or 0.0) >= 0.4])
        key = sorted((e.start, e.end, e.label) for e in expected)
        assert sorted((e.start, e.end, e.label) for e in b.entities) == key
        for x, y in itertools.combinations(b.entities, 2):
            assert x.end <= y.start or y.end <= x.start
        assert len(b.entities) + b.stats.rejected == len(a.entities) + a.stats.rejected


def test_texts_batched_together_type_as_alone(fp32: Backend) -> None:
    rows = json.loads(shared_data("crossner_ai", "instructuie_format", "test.json").read_text())
    texts = [r["sentence"] for r in rows[:3]]
    labels = ["algorithm", "person", "university"]
    task = NERTask(fp32, max_new_tokens=24, typing="mc", typing_calibrate=True)
    together = list(task.run_many(texts, labels))
    alone = [task.run(t, labels) for t in texts]
    for a, b in zip(together, alone):
        assert [(e.start, e.end, e.label) for e in a.entities] == [
            (e.start, e.end, e.label) for e in b.entities
        ]
        for x, y in zip(a.entities, b.entities):
            assert x.score == pytest.approx(y.score, abs=1e-4)
    assert len(task.typer._priors) == 1  # type: ignore[union-attr]  # the content-free prior is read once


def test_one_proposal_question_per_chunk(small_backend: Backend, sentences: list[str]) -> None:
    text = " ".join(sentences)
    task = NERTask(small_backend, max_new_tokens=48, typing="mc", proposer="all", max_chunk_tokens=60)
    chunks = task.chunks(text)
    assert len(chunks) >= 2
    res = task.run(text, LABELS)
    assert res.stats.answers == len(chunks) and res.prompt == "propose-all@1+typing-mc@1"
    for e in res.entities:
        assert text[e.start : e.end] == e.text and e.label in LABELS


def test_repeated_string_gets_one_decision(small_backend: Backend) -> None:
    text = "Paris is big. I love Paris."
    typer = EntityTyper(small_backend, reading="mc")
    a, b = typer.decide([*_candidates(text, ["Paris"]), Candidate(Chunk(0, text), 21, 26)], LABELS)
    assert a == b
