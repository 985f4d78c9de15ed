"""Tests for :mod:`ieforge.prompts.parsers`: recovering string lists from messy model output."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ieforge.prompts.parsers import ParsedList, ParsedString, parse_string_list


def _check_offsets(raw: str, parsed: ParsedList) -> None:
    """Offsets are valid slices of ``raw``; without escapes in the source they slice out the value exactly."""
    for item in parsed.items:
        assert 0 <= item.start <= item.end <= len(raw), item
        if "\\" not in raw:
            assert raw[item.start : item.end] == item.value, item


# (model output, expected values, expected ok)
CASES: list[tuple[str, list[str], bool]] = [
    # plain JSON
    ('["Barack Obama", "Honolulu"]', ["Barack Obama", "Honolulu"], True),
    ('["Barack Obama"]', ["Barack Obama"], True),
    ("[]", [], True),
    ("[ ]", [], True),
    ("[\n]", [], True),
    ('[\n  "Barack Obama",\n  "Honolulu"\n]', ["Barack Obama", "Honolulu"], True),
    ('["a","b"]', ["a", "b"], True),
    ('["a", "b",]', ["a", "b"], True),
    ('["a" "b"]', ["a", "b"], True),
    ('["a", "", "  ", "b"]', ["a", "b"], True),
    ('["a]b", "c,d"]', ["a]b", "c,d"], True),
    ('["x"]]', ["x"], True),
    # code fences
    ('```json\n["Barack Obama", "Honolulu"]\n```', ["Barack Obama", "Honolulu"], True),
    ("```\n[]\n```", [], True),
    ("```python\n['Barack Obama']\n```", ["Barack Obama"], True),
    ('```json["Barack Obama"]```', ["Barack Obama"], True),
    ('```json\n"Barack Obama"\n```', ["Barack Obama"], True),
    # prose around the list
    ('Here are the entities: ["Barack Obama", "Honolulu"]', ["Barack Obama", "Honolulu"], True),
    ('["Barack Obama"]\nI hope this helps! Let me know if you need "more".', ["Barack Obama"], True),
    ('Sure.\n```json\n["A", "B"]\n```\nThese are "all" of them: ["C"]', ["A", "B"], True),
    ("Entities: ['Obama', 'Biden'] and more text with 'quotes'", ["Obama", "Biden"], True),
    ('["first"] and then ["second"]', ["first"], True),
    # single-quoted Python lists
    ("['Barack Obama', 'Honolulu']", ["Barack Obama", "Honolulu"], True),
    ("['a','b']", ["a", "b"], True),
    ("['a',\n'b']", ["a", "b"], True),
    ("['Obama', \"Bush\"]", ["Obama", "Bush"], True),
    # apostrophes inside single-quoted strings
    ("['Obama's house']", ["Obama's house"], True),
    ("['Obama's house', 'Michelle's garden']", ["Obama's house", "Michelle's garden"], True),
    ("['O'Neil', 'Hawai'i']", ["O'Neil", "Hawai'i"], True),
    ("['don't stop']", ["don't stop"], True),
    ("['it\\'s']", ["it's"], True),
    ('["Obama\'s house"]', ["Obama's house"], True),
    # truncated output (token limit)
    ('["Barack Obama", "Hono', ["Barack Obama", "Hono"], True),
    ('["Barack Obama", "Honolulu"', ["Barack Obama", "Honolulu"], True),
    ('["Barack Obama", "Honolulu",', ["Barack Obama", "Honolulu"], True),
    ('["Barack Obama", "', ["Barack Obama"], True),
    ("[", [], True),
    ("['Barack Obama', 'Hono", ["Barack Obama", "Hono"], True),
    ('```json\n["Barack Obama", "Hono', ["Barack Obama", "Hono"], True),
    # objects instead of strings
    ('[{"entity": "Obama", "type": "person"}]', ["Obama"], True),
    ('[{"type": "person", "entity": "Obama"}]', ["Obama"], True),
    ('[{"name": "Barack Obama"}, {"name": "Honolulu"}]', ["Barack Obama", "Honolulu"], True),
    ('[{"text": "Obama", "label": "PER"}, {"label": "LOC", "text": "Hawaii"}]', ["Obama", "Hawaii"], True),
    ('[{"type": "person", "mention": "Obama"}]', ["Obama"], True),
    ("[{'entity': 'Obama', 'type': 'person'}]", ["Obama"], True),
    ('[{"entity": "Obama, Barack", "type": "person"}]', ["Obama, Barack"], True),
    ('[{"entity": "", "name": "X"}]', ["X"], True),
    ('[{"foo": "bar"}]', ["bar"], True),
    ('[{"entity": {"name": "Obama"}}]', ["Obama"], True),
    ('["Obama", {"entity": "Hawaii"}, "Biden"]', ["Obama", "Hawaii", "Biden"], True),
    # truncated objects keep the mention if its field was reached
    ('[{"entity": "Obama", "type": "person"}, {"entity": "Bush"', ["Obama", "Bush"], True),
    ('[{"entity": "Obama", "type": "per', ["Obama"], True),
    ('[{"entity": "Oba', ["Oba"], True),
    ('[{"type": "person", "ent', [], True),
    # bare unquoted items
    ("[Geoffrey Hinton]", ["Geoffrey Hinton"], True),
    ("[Geoffrey Hinton, Yann LeCun]", ["Geoffrey Hinton", "Yann LeCun"], True),
    ("[Geoffrey Hinton , Yann LeCun ]", ["Geoffrey Hinton", "Yann LeCun"], True),
    ("[Obama's house]", ["Obama's house"], True),
    ('[Geoffrey Hinton, "Yann LeCun"]', ["Geoffrey Hinton", "Yann LeCun"], True),
    # numbers
    ("[1, 2.5, -3]", ["1", "2.5", "-3"], True),
    ('["1984", 2001]', ["1984", "2001"], True),
    # null / None items are dropped
    ('["A", null, None, "B"]', ["A", "B"], True),
    ("[None]", [], True),
    ("[null]", [], True),
    ("[none]", [], True),
    # escapes
    (r'["say \"hi\""]', ['say "hi"'], True),
    (r'["caf\u00e9", "\u6771\u4eac"]', ["café", "東京"], True),
    (r'["\ud83d\ude00 party"]', ["😀 party"], True),
    (r'["\uD83D\uDE00"]', ["😀"], True),
    (r'["a\nb", "tab\there"]', ["a\nb", "tab\there"], True),
    (r'["C:\\path", "a\/b"]', ["C:\\path", "a/b"], True),
    (r'["\u00"]', ["\\u00"], True),
    (r'["\q"]', ["\\q"], True),
    # nested lists ([entity, type] pairs): every string is read
    ('[["Obama", "person"], ["Hawaii", "location"]]', ["Obama", "person", "Hawaii", "location"], True),
    ('[["Obama"], "Biden"]', ["Obama", "Biden"], True),
    ("[[]]", [], True),
    ('[["Obama", "person"], ["Hawa', ["Obama", "person", "Hawa"], True),
    ('[{"entities": ["A"]}]', ["A"], True),
    # nothing usable
    ("", [], False),
    ("   ", [], False),
    ("\n\t\n", [], False),
    ("no list here", [], False),
    ("There are no entities in this text.", [], False),
    ('The answer is "Obama".', [], False),
    ('""', [], False),
    ('"   "', [], False),
    ('"Barack', [], False),
    ("```json\n```", [], False),
    # a single quoted string without a list
    ('"Barack Obama"', ["Barack Obama"], True),
    ('  "Barack Obama"  ', ["Barack Obama"], True),
    ("'Barack Obama'", ["Barack Obama"], True),
    (r'"caf\u00e9"', ["café"], True),
    # unicode
    ('["東京大学", "北京"]', ["東京大学", "北京"], True),
    ('["😀 emoji", "🇯🇵"]', ["😀 emoji", "🇯🇵"], True),
    ('["Zoë Saldaña", "François", "Zoe\u0308"]', ["Zoë Saldaña", "François", "Zoe\u0308"], True),
    ("['Москва', 'القاهرة', 'मुंबई']", ["Москва", "القاهرة", "मुंबई"], True),
    ("[東京大学, 京都]", ["東京大学", "京都"], True),
]


@pytest.mark.parametrize(("raw", "expected", "ok"), CASES)
def test_parse_string_list_table(raw: str, expected: list[str], ok: bool) -> None:
    parsed = parse_string_list(raw)
    assert parsed.values == expected
    assert parsed.ok is ok
    _check_offsets(raw, parsed)


def test_none_input() -> None:
    parsed = parse_string_list(None)
    assert parsed.ok is False
    assert parsed.items == []
    assert parsed.values == []


def test_values_property_matches_items() -> None:
    parsed = parse_string_list('["a", "b"]')
    assert parsed.items == [ParsedString("a", 2, 3), ParsedString("b", 7, 8)]
    assert parsed.values == ["a", "b"]


def test_offsets_in_code_fence_and_prose() -> None:
    raw = 'Sure!\n```json\n["Barack Obama", "Honolulu"]\n```'
    parsed = parse_string_list(raw)
    assert [raw[i.start : i.end] for i in parsed.items] == ["Barack Obama", "Honolulu"]
    assert parsed.items[0].start == raw.index("Barack")


def test_offsets_span_escaped_source_text() -> None:
    raw = r'["say \"hi\"", "caf\u00e9", "\ud83d\ude00", "end"]'
    parsed = parse_string_list(raw)
    assert parsed.values == ['say "hi"', "café", "😀", "end"]
    assert [raw[i.start : i.end] for i in parsed.items] == [
        r"say \"hi\"",
        r"caf\u00e9",
        r"\ud83d\ude00",
        "end",
    ]
    # The closing quote directly follows each value's source text.
    assert all(raw[i.end] == '"' for i in parsed.items)


def test_offsets_single_quoted_string_with_escape() -> None:
    raw = r'"caf\u00e9 au lait"'
    parsed = parse_string_list(raw)
    assert parsed.values == ["café au lait"]
    item = parsed.items[0]
    assert (item.start, item.end) == (1, len(raw) - 1)


def test_offsets_of_truncated_string_reach_end_of_output() -> None:
    raw = '["Barack Obama", "Hono'
    item = parse_string_list(raw).items[-1]
    assert (item.value, item.start, item.end) == ("Hono", raw.index("Hono"), len(raw))


def test_offsets_of_object_value_and_bare_token() -> None:
    raw = '[{"type": "person", "entity": "Obama"}]'
    (item,) = parse_string_list(raw).items
    assert raw[item.start : item.end] == "Obama"
    raw = "[Geoffrey Hinton, Yann LeCun]"
    assert [raw[i.start : i.end] for i in parse_string_list(raw).items] == ["Geoffrey Hinton", "Yann LeCun"]


def test_lone_surrogate_escapes_are_kept() -> None:
    # json.loads keeps unpaired surrogates too; the parser must not raise or merge them with neighbours.
    assert parse_string_list(r'["\ud83d x"]').values == ["\ud83d x"]
    assert parse_string_list(r'["\ude00\ud83d"]').values == ["\ude00\ud83d"]


def test_long_output() -> None:
    names = [f"Entity {i}" for i in range(2000)]
    assert parse_string_list(json.dumps(names)).values == names


# --- properties --------------------------------------------------------------------------------------------

_FRAGMENTS = [
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    ",",
    ":",
    "\\",
    "\\u",
    "\\ud83d",
    "\\ude00",
    "00e9",
    "```",
    "```json",
    "null",
    "None",
    "Obama",
    "Obama's",
    "entity",
    "東京",
    "😀",
    " ",
    "\n",
    "-",
    "1.5",
]

_messy_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list("[]{}\"',:\\u0aEd `\n -é東😀"))),
    st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join),
)


@settings(max_examples=300)
@given(_messy_text)
def test_never_raises_and_offsets_are_in_range(raw: str) -> None:
    parsed = parse_string_list(raw)
    assert isinstance(parsed.ok, bool)
    for item in parsed.items:
        assert item.value.strip()
        if item.start >= 0:
            assert 0 <= item.start <= item.end <= len(raw)
    if not raw.strip():
        assert not parsed.ok
        assert parsed.items == []


# Strings a model would return as mentions; "```" is excluded because fence markers are blanked out
# anywhere in the output (a mention never contains one).
_mentions = st.lists(st.text().filter(lambda s: s.strip() != "" and "```" not in s), max_size=8)


@given(_mentions, st.booleans(), st.sampled_from([None, 2]))
def test_json_round_trip(values: list[str], ensure_ascii: bool, indent: int | None) -> None:
    raw = json.dumps(values, ensure_ascii=ensure_ascii, indent=indent)
    parsed = parse_string_list(raw)
    assert parsed.ok
    assert parsed.values == values
    for item in parsed.items:
        # The offsets cover exactly the value's JSON source text.
        assert raw[item.start - 1] == '"' and raw[item.end] == '"'
        assert json.loads('"' + raw[item.start : item.end] + '"') == item.value


@given(_mentions)
def test_json_round_trip_inside_prose_and_fences(values: list[str]) -> None:
    raw = f"Sure! Here are the entities:\n```json\n{json.dumps(values, ensure_ascii=False)}\n```\nDone."
    parsed = parse_string_list(raw)
    assert parsed.ok
    assert parsed.values == values


# Printable strings: repr() writes other characters as \x.. escapes, which Python-style model output lacks.
_printable = st.text(
    alphabet=st.characters(categories=("L", "M", "N", "P", "S"), include_characters=" "), min_size=1
).filter(lambda s: s.strip() != "" and "```" not in s)


@given(st.lists(_printable, max_size=8))
def test_python_repr_round_trip(values: list[str]) -> None:
    assert all(v.isprintable() for v in values)
    raw = repr(values)
    parsed = parse_string_list(raw)
    assert parsed.ok
    assert parsed.values == values


_plain_words = st.text(alphabet=st.sampled_from(list("abcXYZ019 éñ東京😀")), min_size=1).filter(
    lambda s: s.strip() != ""
)


@given(st.lists(_plain_words, min_size=1, max_size=6), st.data())
def test_truncated_json_keeps_complete_strings_and_a_partial_last_one(
    values: list[str], data: st.DataObject
) -> None:
    raw = json.dumps(values, ensure_ascii=False)
    cut = data.draw(st.integers(min_value=1, max_value=len(raw)), label="cut")
    got = parse_string_list(raw[:cut]).values
    assert parse_string_list(raw[:cut]).ok
    assert len(got) <= len(values)
    if got:
        assert got[:-1] == values[: len(got) - 1]
        assert values[len(got) - 1].startswith(got[-1])
    if cut == len(raw):
        assert got == values
