"""NER with one question for every type (prompt uniner-json-all): the answer parser, the rendered
conversation and training answer, and the grounding of an answer (answers built by hand, no model)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ieforge.errors import InputError
from ieforge.grounding import Chunk
from ieforge.models.base import Generation
from ieforge.prompts import available_prompts, load_ner_prompt
from ieforge.prompts.structured import parse_type_map
from ieforge.tasks.ner import read_type_map_answer
from ieforge.types import Entity

TYPES = ["person", "location", "organization"]


# ----- the parser -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "values", "unknown"),
    [
        (
            '{"person": ["Obama"], "location": [], "organization": []}',
            {"person": ["Obama"], "location": [], "organization": []},
            [],
        ),
        # keys differing in case, spaces, underscores, plural; a single string; null; an extra key
        (
            '{" Person ": "Obama", "LOCATIONS": ["Hawaii"], "Organisation": null, "date": ["1961"]}',
            {"person": ["Obama"], "location": ["Hawaii"]},
            ["Organisation", "date"],
        ),
        # duplicates once, blanks dropped, a key written twice collects both
        (
            '{"person": ["Obama", "Obama", " ", "Biden"], "person": ["Obama", "Harris"]}',
            {"person": ["Obama", "Biden", "Harris"]},
            [],
        ),
        # cut off by the token limit: complete strings kept, the cut one dropped
        ('{"person": ["Obama", "Bid', {"person": ["Obama"]}, []),
        ('{"person": ["Obama"], "locat', {"person": ["Obama"]}, []),
        # cut off by the stop string "}" inside a string
        ('{"person": ["Obama"], "organization": ["f(x) {}', {"person": ["Obama"], "organization": []}, []),
        # objects instead of strings, numbers, code fences and prose
        (
            'Sure:\n```json\n{"person": [{"text": "Obama"}], "organization": [3M]}\n```',
            {"person": ["Obama"], "organization": ["3M"]},
            [],
        ),
        # type: strings lines
        ("person: Obama, Biden\nlocation: none", {"person": ["Obama", "Biden"], "location": []}, []),
        ("{}", {}, []),
    ],
)
def test_type_maps_in_many_shapes(raw: str, values: dict[str, list[str]], unknown: list[str]) -> None:
    parsed = parse_type_map(raw, TYPES)
    assert parsed.ok
    assert parsed.values == values
    assert parsed.unknown == unknown
    for items in parsed.items.values():
        for item in items:
            assert 0 <= item.start <= item.end <= len(raw)


@pytest.mark.parametrize("raw", [None, "", "I could not find any entities.", '["Obama"]'])
def test_answers_without_a_type_map_are_not_parsed(raw: str | None) -> None:
    parsed = parse_type_map(raw, TYPES)
    assert not parsed.ok and parsed.items == {}


def test_a_bare_list_answers_a_single_type() -> None:
    assert parse_type_map('["Obama", "Obama", "Biden"]', ["person"]).values == {"person": ["Obama", "Biden"]}


_JSONISH = st.text(alphabet="{}[]\",:' \n\\abcPERSONperson-_0123456789null", max_size=80)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(_JSONISH, st.text(max_size=80)), types=st.lists(st.text(max_size=12), max_size=4))
def test_parsing_never_raises(raw: str, types: list[str]) -> None:
    parsed = parse_type_map(raw, types)
    assert set(parsed.items) <= set(types)
    for items in parsed.items.values():
        assert len({i.value.strip() for i in items}) == len(items)
        assert all(0 <= i.start <= i.end <= len(raw) for i in items)


# ----- the prompt ---------------------------------------------------------------------------------------


def test_the_prompt_asks_once_for_every_type_in_order() -> None:
    p = load_ner_prompt("uniner-json-all")
    assert "uniner-json-all" in available_prompts("ner")
    assert (p.id, p.parser, p.asks_all, p.assistant_prefix, p.stop) == (
        "uniner-json-all@1",
        "type_map",
        True,
        "{",
        ["}"],
    )
    text = 'Obama said "{labels}" in {Hawaii}.'
    chat = p.chat_all(text, ["location", "person"])
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
    assert chat[1]["content"] == f"Text: {text}"  # braces in the text stay verbatim
    assert chat[2]["content"] == "I've read this text."
    assert 'Types: ["location", "person"].' in chat[3]["content"]
    assert "JSON object" in chat[3]["content"]
    assert p.chat(text, "person") == p.chat_all(text, ["person"])
    assert not load_ner_prompt("uniner").asks_all


@settings(max_examples=100, deadline=None)
@given(
    labels=st.lists(
        st.text(min_size=1, max_size=15).filter(lambda s: any(c.isalnum() for c in s)),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    data=st.data(),
)
def test_the_training_answer_parses_back_to_the_gold(labels: list[str], data: st.DataObject) -> None:
    p = load_ner_prompt("uniner-json-all")
    gold = {
        t: data.draw(
            st.lists(
                st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and "}" not in s),
                max_size=3,
                unique=True,
            )
        )
        for t in labels
    }
    answer = p.answer_all(labels, gold)
    assert answer.startswith(p.assistant_prefix) and answer.endswith(p.stop[0])
    assert list(json.loads(answer)) == labels  # every asked type a key, in the order asked
    parsed = parse_type_map(answer, labels)
    # keys equal up to case/spaces/hyphens/underscores are one key for the parser: compare the first
    if len({t.casefold().replace(" ", "").replace("-", "").replace("_", "") for t in labels}) == len(labels):
        assert parsed.values == {t: [s for s in gold[t] if s.casefold() not in _NO_VALUE] for t in labels}


_NO_VALUE = {"none", "null", "nil", "n/a", "na", "-", "--", "empty"}


def test_training_answer_is_compact_json_in_asked_order() -> None:
    p = load_ner_prompt("uniner-json-all")
    answer = p.answer_all(["person", "city", "date"], {"city": ["Zürich", "Zürich"], "person": ["Ada"]})
    assert answer == '{"person": ["Ada"], "city": ["Zürich"], "date": []}'
    with pytest.raises(InputError, match="type 'river', not asked"):
        p.answer_all(["person"], {"river": ["Rhine"]})
    with pytest.raises(InputError, match="one question per type"):
        load_ner_prompt("uniner").answer_all(["person"], {})
    with pytest.raises(InputError, match="one question per type"):
        load_ner_prompt("uniner-json").chat_all("x", ["person"])
    with pytest.raises(InputError, match="at least one entity type"):
        p.chat_all("x", [])


def test_a_type_map_prompt_file_needs_the_labels_placeholder(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text(
        "name: mine\nversion: 1\ntask: ner\nparser: type_map\nturns: []\nquestion: 'Find {label}.'\n"
    )
    with pytest.raises(InputError, match=r"mine\.yaml: invalid prompt file.*placeholder \{label\}"):
        load_ner_prompt(str(bad))
    bad.write_text("name: mine\nversion: 1\ntask: ner\nparser: json\nturns: []\nquestion: 'Find {label}.'\n")
    with pytest.raises(InputError, match="parser"):
        load_ner_prompt(str(bad))
    good = tmp_path / "good.yaml"
    good.write_text(
        "name: good\nversion: 2\ntask: ner\nparser: type_map\nturns: []\n"
        "question: 'Text: {text}. Answer like {\"person\": []} for {labels}.'\n"
    )
    chat = load_ner_prompt(str(good)).chat_all("Hi", ["person"])
    assert chat[-1]["content"] == 'Text: Hi. Answer like {"person": []} for ["person"].'


# ----- grounding one answer -------------------------------------------------------------------------


def _gen(prefix: str, tokens: list[str], logprobs: list[float]) -> Generation:
    spans, pos = [], len(prefix)
    for t in tokens:
        spans.append((pos, pos + len(t)))
        pos += len(t)
    return Generation(text=prefix + "".join(tokens), token_logprobs=logprobs, token_spans=spans)


def test_every_type_is_grounded_scored_and_counted() -> None:
    source = "Intro. Barack Obama flew to Paris, then Obama left Paris."
    chunk = Chunk(7, source[7:])
    g = _gen(
        "{",
        [
            '"person',
            '": ["',
            "Barack",
            " Obama",
            '", "',
            "Obama",
            '"], "',
            "city",
            '": ["',
            "Paris",
            '", "Mars"], "date',
            '": ["x"]}',
        ],
        [-0.1, -0.1, -0.2, -0.4, -0.1, -0.3, -0.1, -0.1, -0.1, -0.5, -2.0, -1.0],
    )
    into: dict[tuple[int, int, str], Entity] = {}
    stats = read_type_map_answer(g, chunk, ["person", "city"], into)
    assert (stats.answers, stats.unparsed, stats.strings, stats.ungrounded, stats.unknown) == (1, 0, 4, 1, 1)
    got = sorted((e.start, e.end, e.text, e.label) for e in into.values())
    assert all(source[s:e] == t for s, e, t, _ in got)
    assert [(t, lab) for _, _, t, lab in got] == [
        ("Barack Obama", "person"),
        ("Obama", "person"),
        ("Paris", "city"),
        ("Obama", "person"),
        ("Paris", "city"),
    ]
    barack = next(e for e in into.values() if e.text == "Barack Obama")
    assert barack.score == pytest.approx(math.exp((-0.2 - 0.4) / 2))


def test_an_unreadable_answer_counts_as_unparsed() -> None:
    into: dict[tuple[int, int, str], Entity] = {}
    stats = read_type_map_answer(Generation(text="No entities here."), Chunk(0, "Obama"), TYPES, into)
    assert stats.answers == 1 and stats.unparsed == 1 and not into
