"""Property tests: whatever a model answers, reading it never raises and every span it yields is grounded.

The parsers themselves are fuzzed in test_parsers.py, test_structured_parsers.py and test_re_prompts.py;
here the whole reading of an answer is: parse, then ground in a chunk of a longer document. Answers mix
pieces copied from the text (so grounding has something to find) with noise, in the shapes models use.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ieforge.grounding import Chunk
from ieforge.models.base import Generation
from ieforge.prompts.structured import parse_entity_pairs, parse_rows, parse_tuple_list
from ieforge.tasks.events import read_arguments
from ieforge.tasks.ner import read_answer
from ieforge.tasks.ondemand import read_row
from ieforge.tasks.openie import read_triple
from ieforge.types import Entity, ParseStats, Phrase

_ALPHABET = st.sampled_from(list("abcXYZ 019.,;:-'\"[]{}()\\\n\téñ東京😀\u0301\u00a0İ"))
_texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=_ALPHABET, max_size=80),
    st.lists(
        st.sampled_from(["Acme", "Corp", "ACME", "東京", "$5", "İstanbul", "café", "e\u0301", "a.b"]),
        max_size=12,
    ).map(" ".join),
)
_noise = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "null", "N/A", "```", "\\u00e9", "İ"]))


@st.composite
def _document(draw: st.DrawFn) -> tuple[str, Chunk]:
    """A document and one chunk of it (the readers return document offsets)."""
    before = draw(st.text(max_size=10))
    body = draw(_texts)
    after = draw(st.text(max_size=10))
    return before + body + after, Chunk(len(before), body)


@st.composite
def _pieces(draw: st.DrawFn, text: str, n: int = 6) -> list[str]:
    """Strings a model might answer with: runs of the text's words (grounding finds mentions at word
    boundaries), any substring, a case change, or noise."""
    words = text.split()
    out: list[str] = []
    for _ in range(draw(st.integers(0, n))):
        kind = draw(st.sampled_from(["words", "words", "words", "substring", "noise"]))
        if kind == "words" and words:
            i = draw(st.integers(0, len(words) - 1))
            piece = " ".join(words[i : draw(st.integers(i + 1, min(len(words), i + 4)))])
            out.append(draw(st.sampled_from([piece, piece, piece.upper(), f" {piece} "])))
        elif kind == "substring" and text:
            a = draw(st.integers(0, len(text) - 1))
            out.append(text[a : draw(st.integers(a + 1, min(len(text), a + 20)))])
        else:
            out.append(draw(_noise))
    return out


def _answer(data: st.DataObject, value: object) -> str:
    """Mostly the value rendered as a model would answer; sometimes any text at all."""
    return _render(data.draw, value) if data.draw(st.integers(0, 4)) else data.draw(_texts)


def _generation(text: str) -> Generation:
    return Generation(
        text=text, token_logprobs=[-0.5] * len(text), token_spans=[(i, i + 1) for i in range(len(text))]
    )


def _render(draw: st.DrawFn, value: object) -> str:
    """The answer as JSON, as a Python literal, cut off, or wrapped in prose and a fence."""
    raw = json.dumps(value, ensure_ascii=draw(st.booleans()))
    form = draw(st.sampled_from(["json", "python", "cut", "prose"]))
    if form == "python":
        return repr(value)
    if form == "cut":
        return raw[: draw(st.integers(0, len(raw)))]
    if form == "prose":
        return f"Here you go:\n```json\n{raw}\n```\n{draw(_noise)}"
    return raw


def _assert_grounded(document: str, start: int, end: int, text: str) -> None:
    assert 0 <= start <= end <= len(document)
    assert document[start:end] == text


def _assert_phrase(document: str, chunk: Chunk, p: Phrase) -> None:
    if p.start is None:
        assert p.end is None
        return
    assert p.end is not None
    assert chunk.start <= p.start <= p.end <= chunk.end
    _assert_grounded(document, p.start, p.end, p.text)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_entity_answers_yield_grounded_entities(data: st.DataObject) -> None:
    document, chunk = data.draw(_document())
    strings = data.draw(_pieces(chunk.text))
    raw = _answer(data, strings)
    found: dict[tuple[int, int, str], Entity] = {}
    stats = read_answer(_generation(raw), chunk, "thing", found)
    assert stats.answers == 1 and stats.unparsed in (0, 1)
    assert stats.ungrounded <= stats.strings
    for (start, end, label), e in found.items():
        assert (e.start, e.end, e.label) == (start, end, label) == (e.start, e.end, "thing")
        assert e.end > e.start and chunk.start <= e.start and e.end <= chunk.end
        _assert_grounded(document, e.start, e.end, e.text)
        assert e.score is None or 0.0 <= e.score <= 1.0


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_argument_answers_yield_grounded_arguments_of_known_roles(data: st.DataObject) -> None:
    document, chunk = data.draw(_document())
    roles = ["Attacker", "Victim", "Time"]
    answer = {
        data.draw(st.sampled_from([*roles, "victim", "Place", ""])): data.draw(
            st.one_of(_pieces(chunk.text, 3), st.sampled_from([None, "", []]))
        )
        for _ in range(data.draw(st.integers(0, 4)))
    }
    raw = _answer(data, answer)
    t0 = data.draw(st.integers(chunk.start, chunk.end))
    trigger = (t0, data.draw(st.integers(t0, chunk.end)))
    stats = ParseStats()
    args = read_arguments(_generation(raw), chunk, trigger, roles, stats)
    assert stats.answers == 1
    for a in args:
        assert a.role in roles
        assert a.end > a.start and chunk.start <= a.start and a.end <= chunk.end
        _assert_grounded(document, a.start, a.end, a.text)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_triple_answers_yield_grounded_phrases(data: st.DataObject) -> None:
    document, chunk = data.draw(_document())
    tuples = [data.draw(_pieces(chunk.text, 5)) for _ in range(data.draw(st.integers(0, 4)))]
    raw = _answer(data, tuples)
    stats = ParseStats()
    for parts in parse_tuple_list(raw).items:
        triple = read_triple(chunk, parts, stats)
        if triple is None:
            continue
        assert triple.subject.text and triple.relation.text
        for p in (triple.subject, triple.relation, triple.object, *triple.extra):
            _assert_phrase(document, chunk, p)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_row_answers_yield_grounded_cells_under_the_asked_headers(data: st.DataObject) -> None:
    document, chunk = data.draw(_document())
    headers = ["product", "price", "Year"]
    rows = [
        {
            data.draw(st.sampled_from([*headers, "PRICE", "colour"])): " ".join(
                data.draw(_pieces(chunk.text, 1))
            )
            for _ in range(data.draw(st.integers(0, 3)))
        }
        for _ in range(data.draw(st.integers(0, 3)))
    ]
    raw = _answer(data, rows)
    stats = ParseStats()
    for cells in parse_rows(raw, headers).rows:
        row = read_row(chunk, headers, cells, stats)
        if row is None:
            continue
        assert set(row.cells) <= set(headers)
        for p in row.cells.values():
            assert p.text.strip()
            _assert_phrase(document, chunk, p)


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_teacher_answers_of_any_text_read_as_pairs_within_the_answer(raw: str) -> None:
    parsed = parse_entity_pairs(raw)
    assert isinstance(parsed.ok, bool)
    for pair in parsed.items:
        assert len(pair) == 2
        for part in pair:
            assert 0 <= part.start <= part.end <= len(raw)
    if not raw.strip():
        assert not parsed.ok and not parsed.items
