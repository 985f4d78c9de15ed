"""Grounded zero-shot NER end to end with a real model on real CoNLL-2003 sentences."""

from __future__ import annotations

import pytest

from ieforge import Extractor
from ieforge.models import Backend
from ieforge.tasks.ner import NERTask

pytestmark = pytest.mark.model

LABELS = ["person", "location", "organization"]


def _check_grounded(text: str, entities: list) -> None:  # type: ignore[type-arg]
    keys = set()
    for e in entities:
        assert text[e.start : e.end] == e.text
        assert e.score is None or 0.0 <= e.score <= 1.0
        key = (e.start, e.end, e.label)
        assert key not in keys
        keys.add(key)


def test_extracts_grounded_entities_from_real_sentences(small_backend: Backend, conll_test: list) -> None:  # type: ignore[type-arg]
    ex = Extractor(small_backend, max_new_tokens=32)
    sample = conll_test[:12]
    results = list(ex.ner_many([r["sentence"] for r in sample], LABELS))
    assert len(results) == len(sample)
    hits = 0
    for rec, res in zip(sample, results):
        assert res.stats.answers == len(LABELS)
        assert res.prompt == "uniner-json@1" and res.model == "smollm2-135m"
        assert {e.label for e in res.entities} <= set(LABELS)
        _check_grounded(rec["sentence"], res.entities)
        gold = {g["name"] for g in rec["entities"]}
        hits += sum(e.text in gold for e in res.entities)
    # a 135M model is weak, but it does find some of the gold mentions
    assert hits >= 1


def test_entities_api_matches_ner(small_backend: Backend) -> None:
    ex = Extractor(small_backend, max_new_tokens=32)
    text = "Nadim Ladki wrote the story for Reuters in Al-Ain, United Arab Emirates."
    ents = ex.entities(text, LABELS)
    _check_grounded(text, ents)
    assert ents == ex.ner(text, LABELS).entities


def test_long_text_is_chunked_and_offsets_merge_back(small_backend: Backend, conll_test: list) -> None:  # type: ignore[type-arg]
    sentences = [r["sentence"] for r in conll_test[3:11]]
    text = " ".join(sentences)
    task = NERTask(small_backend, max_chunk_tokens=60, max_new_tokens=32)
    chunks = task.chunks(text)
    assert len(chunks) >= 3
    for c in chunks:
        assert text[c.start : c.end] == c.text
    result = task.run(text, ["location"])
    assert result.stats.answers == len(chunks)
    _check_grounded(text, result.entities)
    # offsets past the first chunk prove the merge shifted them back into the whole text
    assert any(e.start >= chunks[0].end for e in result.entities) or not result.entities


def test_non_ascii_text_offsets(small_backend: Backend) -> None:
    text = "Zoë Saldaña a visité Zürich et 東京 avec François Hollande 🎉."
    res = Extractor(small_backend, max_new_tokens=32).ner(text, ["person", "city"])
    _check_grounded(text, res.entities)
