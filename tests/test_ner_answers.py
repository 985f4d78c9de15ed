"""Reading model answers into grounded entities (no model needed: answers are built by hand)."""

from __future__ import annotations

import math

import pytest

from ieforge.grounding import Chunk
from ieforge.models.base import Generation
from ieforge.tasks.ner import _clean_labels, read_answer
from ieforge.types import Entity


def gen(text: str, token_texts: list[str], logprobs: list[float], prefix: str = "") -> Generation:
    spans, pos = [], len(prefix)
    for t in token_texts:
        spans.append((pos, pos + len(t)))
        pos += len(t)
    assert prefix + "".join(token_texts) == text
    return Generation(text=text, token_logprobs=logprobs, token_spans=spans)


def test_strings_are_grounded_scored_and_counted() -> None:
    chunk = Chunk(0, "Barack Obama met Obama's wife in Honolulu.")
    g = gen(
        '["Barack Obama", "Mars"]',
        ["Barack", " Obama", '", "', "Mars", '"]'],
        [-0.1, -0.3, -1.0, -2.0, -0.5],
        '["',
    )
    into: dict[tuple[int, int, str], Entity] = {}
    stats = read_answer(g, chunk, "person", into)
    assert stats.answers == 1 and stats.strings == 2 and stats.ungrounded == 1 and stats.unparsed == 0
    (ent,) = into.values()
    assert (ent.start, ent.end, ent.text, ent.label) == (0, 12, "Barack Obama", "person")
    # the score is the mean over the tokens that overlap the value, not over the whole answer
    assert ent.score == pytest.approx(math.exp((-0.1 - 0.3) / 2))


def test_every_occurrence_is_returned_with_chunk_offsets() -> None:
    source = "Intro sentence. Paris is big. I love Paris."
    chunk = Chunk(16, source[16:])
    g = Generation(text='["Paris"]', token_logprobs=[-0.2], token_spans=[(2, 7)])
    into: dict[tuple[int, int, str], Entity] = {}
    read_answer(g, chunk, "city", into)
    spans = sorted((e.start, e.end) for e in into.values())
    assert spans == [(16, 21), (37, 42)]
    assert all(source[s:e] == "Paris" for s, e in spans)


def test_prose_answer_counts_as_unparsed() -> None:
    into: dict[tuple[int, int, str], Entity] = {}
    stats = read_answer(
        Generation(text="The person is Barack Obama."), Chunk(0, "Barack Obama"), "person", into
    )
    assert stats.unparsed == 1 and not into


def test_best_score_wins_across_chunks() -> None:
    into: dict[tuple[int, int, str], Entity] = {}
    text = "Obama spoke."
    read_answer(
        Generation(text='["Obama"]', token_logprobs=[-2.0], token_spans=[(2, 7)]), Chunk(0, text), "p", into
    )
    read_answer(
        Generation(text='["Obama"]', token_logprobs=[-0.1], token_spans=[(2, 7)]), Chunk(0, text), "p", into
    )
    assert len(into) == 1
    assert next(iter(into.values())).score == pytest.approx(math.exp(-0.1))


def test_labels_are_cleaned_and_required() -> None:
    assert _clean_labels([" person", "person", "", "location "]) == ["person", "location"]
    with pytest.raises(ValueError):
        _clean_labels([" ", ""])
