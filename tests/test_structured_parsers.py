"""Tests for :mod:`ieforge.prompts.structured`: tuples, role maps and table rows from messy model output."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ieforge.prompts.parsers import ParsedString
from ieforge.prompts.structured import (
    _TUPLE_HEADER_WORDS,
    ParsedRoleMap,
    ParsedRows,
    ParsedTuples,
    _norm_key,
    parse_role_map,
    parse_rows,
    parse_tuple_list,
)


def _check_items(raw: str, items: list[ParsedString], exact: bool = True) -> None:
    """Offsets lie in ``raw``; without escapes in the source they slice out the value exactly."""
    for item in items:
        assert 0 <= item.start <= item.end <= len(raw), item
        if exact and "\\" not in raw:
            assert raw[item.start : item.end] == item.value, item


def _tuple_items(parsed: ParsedTuples) -> list[ParsedString]:
    return [part for parts in parsed.items for part in parts]


def _role_items(parsed: ParsedRoleMap) -> list[ParsedString]:
    return [item for items in parsed.items.values() for item in items]


def _row_items(parsed: ParsedRows) -> list[ParsedString]:
    return [cell for row in parsed.rows for cell in row.values()]


# --- tuples ------------------------------------------------------------------------------------------------

OBAMA = ["Obama", "was born in", "Hawaii"]

TUPLE_CASES: list[tuple[str, list[list[str]], bool]] = [
    # JSON lists of lists
    ('[["Obama", "was born in", "Hawaii"]]', [OBAMA], True),
    (
        '[["Obama", "was born in", "Hawaii"], ["Obama", "is", "president"]]',
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    (
        '[\n  ["Obama", "was born in", "Hawaii"],\n  ["Obama", "is", "president"]\n]',
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    ('[["Obama","was born in","Hawaii"],]', [OBAMA], True),
    ('[["Obama" "was born in" "Hawaii"]]', [OBAMA], True),
    ('[["Obama", "was born in", "Hawaii", "in 1961"]]', [[*OBAMA, "in 1961"]], True),
    (
        '[["hacked", "Attack"], ["stole", "Databreach"]]',
        [["hacked", "Attack"], ["stole", "Databreach"]],
        True,
    ),
    ("[]", [], True),
    ("[\n]", [], True),
    ("[[]]", [], True),
    # Python style
    ("[['Obama', 'was born in', 'Hawaii']]", [OBAMA], True),
    (
        "[('Obama', 'was born in', 'Hawaii'), ('Obama', 'is', 'president')]",
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    ("[['Obama's mother', 'lived in', 'Kansas']]", [["Obama's mother", "lived in", "Kansas"]], True),
    ('[["Obama", \'was born in\', "Hawaii"]]', [OBAMA], True),
    # unquoted parts
    ("[[Obama, was born in, Hawaii]]", [OBAMA], True),
    ("[[Obama, was born in, 1961]]", [["Obama", "was born in", "1961"]], True),
    # code fences and prose
    ('```json\n[["Obama", "was born in", "Hawaii"]]\n```', [OBAMA], True),
    (
        'Here are the triples:\n```\n[["Obama", "was born in", "Hawaii"]]\n```\nHope this helps!',
        [OBAMA],
        True,
    ),
    ('Sure! [["Obama", "was born in", "Hawaii"]] These are all the [facts].', [OBAMA], True),
    # echoed header, then the answer
    ('Format [subject, relation, object]:\n[["Obama", "was born in", "Hawaii"]]', [OBAMA], True),
    ('[["subject", "relation", "object"], ["Obama", "was born in", "Hawaii"]]', [OBAMA], True),
    # one flat list is one tuple (three parts or more)
    ('["Obama", "was born in", "Hawaii"]', [OBAMA], True),
    ('["Obama", "was born in", "Hawaii", "1961"]', [[*OBAMA, "1961"]], True),
    ('["Obama", "Hawaii"]', [], True),
    # JSON lines
    (
        '["Obama", "was born in", "Hawaii"]\n["Obama", "is", "president"]',
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    (
        '1. ["Obama", "was born in", "Hawaii"]\n2. ["Obama", "is", "president"]',
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    # an extra level of lists, a nested list of arguments
    ('[[["Obama", "was born in", "Hawaii"]]]', [OBAMA], True),
    ('[["Obama", "was born in", ["Hawaii", "1961"]]]', [[*OBAMA, "1961"]], True),
    # objects
    ('[{"subject": "Obama", "relation": "was born in", "object": "Hawaii"}]', [OBAMA], True),
    ('[{"object": "Hawaii", "subject": "Obama", "predicate": "was born in"}]', [OBAMA], True),
    ('[{"Subject": "Obama", "Relation": "was born in", "Object": "Hawaii"}]', [OBAMA], True),
    ('[{"subj": "Obama", "rel": "was born in", "obj": "Hawaii"}]', [OBAMA], True),
    ('[{"head": "Obama", "relation": "born in", "tail": "Hawaii"}]', [["Obama", "born in", "Hawaii"]], True),
    ('[{"arg1": "Obama", "rel": "was born in", "arg2": "Hawaii", "arg3": "1961"}]', [[*OBAMA, "1961"]], True),
    ('[{"arg_1": "Obama", "verb": "was born in", "arg_2": "Hawaii"}]', [OBAMA], True),
    ('[{"arg1": "Obama", "rel": "was born in", "args": ["Hawaii", "in 1961"]}]', [[*OBAMA, "in 1961"]], True),
    (
        '[{"subject": "Obama", "relation": "was born in", "object": "Hawaii",'
        ' "time": "1961", "place": "US"}]',
        [[*OBAMA, "1961", "US"]],
        True,
    ),
    ('[{"ARG0": "Obama", "V": "visited", "ARG1": "Paris"}]', [["Obama", "visited", "Paris"]], True),
    ('[{"subject": "Obama", "relation": "smiled"}]', [["Obama", "smiled"]], True),
    ('[{"relation": "was born in", "object": "Hawaii"}]', [["", "was born in", "Hawaii"]], True),
    ('[{"subject": "Obama", "object": "Hawaii"}]', [["Obama", "", "Hawaii"]], True),
    ('[{"subject": {"text": "Obama"}, "relation": "was born in", "object": "Hawaii"}]', [OBAMA], True),
    (
        '[{"subject": "Obama", "relation": "was born in", "object": "Hawaii", "confidence": 0.9}]',
        [OBAMA],
        True,
    ),
    ('{"subject": "Obama", "relation": "was born in", "object": "Hawaii"}', [OBAMA], True),
    ("[{subject: Obama, relation: was born in, object: Hawaii}]", [OBAMA], True),
    ('{"triples": [["Obama", "was born in", "Hawaii"]]}', [OBAMA], True),
    (
        (
            '{"subject": "Obama", "relation": "was born in", "object": "Hawaii"}\n'
            '{"subject": "Obama", "relation": "is", "object": "president"}'
        ),
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    ('[{"foo": "bar"}]', [], True),
    # nulls keep their position
    ('[["Obama", null, "Hawaii"]]', [["Obama", "", "Hawaii"]], True),
    ('[["Obama", "smiled", None]]', [["Obama", "smiled", ""]], True),
    ('[{"subject": "Obama", "relation": "smiled", "object": null}]', [["Obama", "smiled", ""]], True),
    # fewer than two non-empty parts
    ('[["Obama"], ["Obama", ""], ["Obama", null, null], ["a", "b"]]', [["a", "b"]], True),
    # truncated output
    ('[["Obama", "was born in", "Hawaii"], ["Obama", "is", "presi', [OBAMA], True),
    (
        '[["Obama", "was born in", "Hawaii"], ["Obama", "is", "president"',
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    (
        '[["Obama", "was born in", "Hawaii"], ["Obama", "is", "president", "of',
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    ('[["Obama", "was born in", "Hawaii"], ["Obama", "is"', [OBAMA], True),
    ('[["Obama", "was born in", "Hawaii"], [', [OBAMA], True),
    ('[["Obama", "was born in", "Hawaii"]', [OBAMA], True),
    ('[["Obama", "was born in", "Haw', [], True),
    ("[[Obama, was born in, Hawaii], [Obama, is, presi", [OBAMA], True),
    (
        '[{"subject": "Obama", "relation": "was born in", "object": "Hawaii"},'
        ' {"subject": "Obama", "relation": "is"',
        [OBAMA],
        True,
    ),
    ('[{"subject": "Obama", "relation": "was born in", "object": "Hawaii", "time": "19', [OBAMA], True),
    ('```json\n[["Obama", "was born in", "Hawaii"], ["Bi', [OBAMA], True),
    ("[", [], True),
    # escapes and unicode
    (r'[["say \"hi\"", "is", "a greeting"]]', [['say "hi"', "is", "a greeting"]], True),
    (r'[["caf\u00e9", "is in", "Paris"]]', [["café", "is in", "Paris"]], True),
    ('[["東京", "は首都", "日本"]]', [["東京", "は首都", "日本"]], True),
    (
        '[["Zoë Saldaña", "was born in", "New Jersey 😀"]]',
        [["Zoë Saldaña", "was born in", "New Jersey 😀"]],
        True,
    ),
    ("[['Москва', 'является', 'столицей']]", [["Москва", "является", "столицей"]], True),
    # strings holding brackets and commas
    ('[["a]b", "c,d", "e[f"]]', [["a]b", "c,d", "e[f"]], True),
    # line formats
    ("(Obama; was born in; Hawaii)", [OBAMA], True),
    ("(Obama; was born in; Hawaii)\n(Obama; is; president)", [OBAMA, ["Obama", "is", "president"]], True),
    (
        "1. (Obama, was born in, Hawaii)\n2. (Obama, is, president)",
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    ("- (Obama, was born in, Hawaii)", [OBAMA], True),
    ('("Obama, Barack", "was born in", "Hawaii")', [["Obama, Barack", "was born in", "Hawaii"]], True),
    ("<Obama, was born in, Hawaii>", [OBAMA], True),
    ("Obama | was born in | Hawaii", [OBAMA], True),
    ("| Subject | Relation | Object |\n|---|---|---|\n| Obama | was born in | Hawaii |", [OBAMA], True),
    ("Obama; was born in; Hawaii", [OBAMA], True),
    ("Obama\twas born in\tHawaii", [OBAMA], True),
    ("Triple 1: (Obama; was born in; Hawaii)", [OBAMA], True),
    (
        "(Obama (the president); was born in; Hawaii) (confidence: 0.9)",
        [["Obama (the president)", "was born in", "Hawaii"]],
        True,
    ),
    ("Here are the facts (subject, relation, object):\n(Obama, was born in, Hawaii)", [OBAMA], True),
    ("(subject; relation; object)\n(Obama; was born in; Hawaii)", [OBAMA], True),
    ("(Obama; was born in; Hawaii)\n(Obama; is; presi", [OBAMA], True),
    (
        "(Obama; was born in; Hawaii)\n(Obama; is; president; in 2009",
        [OBAMA, ["Obama", "is", "president"]],
        True,
    ),
    ("(Obama; was born in; Hawaii\n(Obama; is; president)", [OBAMA, ["Obama", "is", "president"]], True),
    ("(Obama; null; Hawaii)", [["Obama", "", "Hawaii"]], True),
    ("(Obama)\n(Obama; )", [], False),
    # nothing usable
    ("", [], False),
    ("   ", [], False),
    ("There are no facts in this text.", [], False),
    ("Obama was born in Hawaii; he is the president.", [], False),
    ("```json\n```", [], False),
]


@pytest.mark.parametrize(("raw", "expected", "ok"), TUPLE_CASES)
def test_parse_tuple_list_table(raw: str, expected: list[list[str]], ok: bool) -> None:
    parsed = parse_tuple_list(raw)
    assert parsed.values == expected
    assert parsed.ok is ok
    _check_items(raw, _tuple_items(parsed))


def test_tuples_none_input() -> None:
    assert parse_tuple_list(None) == ParsedTuples([], False)


def test_tuple_offsets() -> None:
    raw = 'Sure!\n```json\n[["Obama", "was born in", "Hawaii"]]\n```'
    (parts,) = parse_tuple_list(raw).items
    assert [raw[p.start : p.end] for p in parts] == OBAMA
    assert parts[0].start == raw.index("Obama")
    # escapes: the span is the value's source text between the quotes
    raw = r'[["say \"hi\"", "caf\u00e9", "x"]]'
    (parts,) = parse_tuple_list(raw).items
    assert [raw[p.start : p.end] for p in parts] == [r"say \"hi\"", r"caf\u00e9", "x"]
    assert all(raw[p.start - 1] == '"' and raw[p.end] == '"' for p in parts)


def test_tuple_offsets_of_empty_parts_are_zero_width() -> None:
    raw = '[["Obama", null, "Hawaii"]]'
    (parts,) = parse_tuple_list(raw).items
    assert (parts[1].start, parts[1].end) == (raw.index("null"), raw.index("null"))
    raw = '[{"relation": "was born in", "object": "Hawaii"}]'
    (parts,) = parse_tuple_list(raw).items
    assert parts[0] == ParsedString("", 1, 1)


def test_tuple_offsets_of_line_formats() -> None:
    raw = "1. (Obama; was born in; Hawaii)\n- Obama | is | president"
    parsed = parse_tuple_list(raw)
    assert parsed.values == [OBAMA, ["Obama", "is", "president"]]
    assert parsed.items[1][0].start == raw.rindex("Obama")
    _check_items(raw, _tuple_items(parsed))


def test_many_tuples() -> None:
    tuples = [[f"s{i}", f"r{i}", f"o{i}"] for i in range(2000)]
    assert parse_tuple_list(json.dumps(tuples)).values == tuples


# --- role maps ---------------------------------------------------------------------------------------------

ROLES = ["Attacker", "Victim", "Place", "Compromised-Data", "Time"]

ROLE_CASES: list[tuple[str, dict[str, list[str]], bool, list[str]]] = [
    (
        '{"Attacker": ["hackers"], "Victim": "Equifax", "Place": []}',
        {"Attacker": ["hackers"], "Victim": ["Equifax"], "Place": []},
        True,
        [],
    ),
    ('{"Attacker": ["hackers", "spies"]}', {"Attacker": ["hackers", "spies"]}, True, []),
    ("{}", {}, True, []),
    ('{"Attacker": null, "Victim": []}', {"Attacker": [], "Victim": []}, True, []),
    # keys ignoring case, spaces, hyphens and underscores
    (
        '{"attacker": "hackers", "VICTIM": "Equifax"}',
        {"Attacker": ["hackers"], "Victim": ["Equifax"]},
        True,
        [],
    ),
    ('{"compromised data": ["SSNs"]}', {"Compromised-Data": ["SSNs"]}, True, []),
    (
        '{"Compromised_Data": ["SSNs"], "compromised-data": "names"}',
        {"Compromised-Data": ["SSNs", "names"]},
        True,
        [],
    ),
    # unknown keys
    (
        '{"Attacker": "hackers", "Weapon": "malware", "weapon": "x"}',
        {"Attacker": ["hackers"]},
        True,
        ["Weapon", "weapon"],
    ),
    ('{"Weapon": "malware"}', {}, True, ["Weapon"]),
    # placeholders are no argument
    (
        '{"Attacker": "None", "Victim": "N/A", "Place": "", "Time": "not mentioned"}',
        {"Attacker": [], "Victim": [], "Place": [], "Time": []},
        True,
        [],
    ),
    ('{"Attacker": ["hackers", null, "none", ""]}', {"Attacker": ["hackers"]}, True, []),
    # objects as values, numbers
    ('{"Attacker": {"text": "hackers", "start": 4}}', {"Attacker": ["hackers"]}, True, []),
    ('{"Attacker": [{"span": "hackers"}, {"text": "spies"}]}', {"Attacker": ["hackers", "spies"]}, True, []),
    ('{"Time": 2017, "Victim": [143]}', {"Time": ["2017"], "Victim": ["143"]}, True, []),
    # nested lists
    ('{"Attacker": [["hackers"], ["spies"]]}', {"Attacker": ["hackers", "spies"]}, True, []),
    # a repeated key collects both values
    ('{"Attacker": "hackers", "Attacker": "spies"}', {"Attacker": ["hackers", "spies"]}, True, []),
    # Python style, fences, prose
    (
        "{'Attacker': ['hackers'], 'Victim': 'Equifax's parent'}",
        {"Attacker": ["hackers"], "Victim": ["Equifax's parent"]},
        True,
        [],
    ),
    ('```json\n{"Attacker": ["hackers"]}\n```', {"Attacker": ["hackers"]}, True, []),
    (
        'Here is the answer [as JSON]:\n{"Attacker": ["hackers"]}\nLet me know!',
        {"Attacker": ["hackers"]},
        True,
        [],
    ),
    (
        "{Attacker: [hackers, spies], Victim: Equifax}",
        {"Attacker": ["hackers", "spies"], "Victim": ["Equifax"]},
        True,
        [],
    ),
    # wrappers and role objects
    ('{"event_type": "attack", "arguments": {"Attacker": "hackers"}}', {"Attacker": ["hackers"]}, True, []),
    (
        '[{"Attacker": "hackers"}, {"Victim": "Equifax"}]',
        {"Attacker": ["hackers"], "Victim": ["Equifax"]},
        True,
        [],
    ),
    (
        '[{"role": "Attacker", "argument": "hackers"}, {"role": "victim", "text": "Equifax"}]',
        {"Attacker": ["hackers"], "Victim": ["Equifax"]},
        True,
        [],
    ),
    (
        '[{"role": "Weapon", "argument": "malware"}, {"role": "Attacker", "argument": "x"}]',
        {"Attacker": ["x"]},
        True,
        ["Weapon"],
    ),
    # truncated output keeps what is complete
    ('{"Attacker": ["hackers", "spi', {"Attacker": ["hackers"]}, True, []),
    ('{"Attacker": ["hackers"], "Victim": "Equi', {"Attacker": ["hackers"]}, True, []),
    ('{"Attacker": ["hackers"], "Vic', {"Attacker": ["hackers"]}, True, []),
    ('{"Attacker": ["hackers"], "Victim": ', {"Attacker": ["hackers"]}, True, []),
    ('{"Attacker": ["hackers"]', {"Attacker": ["hackers"]}, True, []),
    ('{"Attacker": {"text": "hackers"}', {"Attacker": ["hackers"]}, True, []),
    ("{Attacker: hack", {}, True, []),
    ("{", {}, True, []),
    # escapes and unicode
    (
        r'{"Attacker": ["the \"Shadow\" group"], "Victim": "caf\u00e9"}',
        {"Attacker": ['the "Shadow" group'], "Victim": ["café"]},
        True,
        [],
    ),
    ('{"Attacker": ["黑客"], "Place": "東京 😀"}', {"Attacker": ["黑客"], "Place": ["東京 😀"]}, True, []),
    # role: value lines
    ("Attacker: hackers; Victim: Equifax", {"Attacker": ["hackers"], "Victim": ["Equifax"]}, True, []),
    (
        "Attacker: hackers\nVictim: Equifax\nPlace: None",
        {"Attacker": ["hackers"], "Victim": ["Equifax"], "Place": []},
        True,
        [],
    ),
    (
        "- **Attacker**: hackers, spies\n- Victim: Equifax.",
        {"Attacker": ["hackers", "spies"], "Victim": ["Equifax"]},
        True,
        [],
    ),
    (
        'Attacker: ["hackers", "spies"]\nVictim: "Equifax"',
        {"Attacker": ["hackers", "spies"], "Victim": ["Equifax"]},
        True,
        [],
    ),
    (
        'Attacker: [\n  "hackers",\n  "spies"\n]\nVictim: Equifax',
        {"Attacker": ["hackers", "spies"], "Victim": ["Equifax"]},
        True,
        [],
    ),
    ("The arguments are: Attacker: hackers", {"Attacker": ["hackers"]}, True, []),
    ("Time: 10:30 pm", {"Time": ["10:30 pm"]}, True, []),
    ("compromised data: SSNs", {"Compromised-Data": ["SSNs"]}, True, []),
    ("Attacker: hackers\nWeapon: malware", {"Attacker": ["hackers"]}, True, ["Weapon"]),
    (
        "1. Attacker: hackers\n2. Victim: Washington, D.C.",
        {"Attacker": ["hackers"], "Victim": ["Washington", "D.C."]},
        True,
        [],
    ),
    # nothing usable
    ("", {}, False, []),
    ("  \n ", {}, False, []),
    ("The text does not mention any arguments.", {}, False, []),
    ('["hackers", "Equifax"]', {}, False, []),
    ("Weapon: malware", {}, False, []),
]


@pytest.mark.parametrize(("raw", "expected", "ok", "unknown"), ROLE_CASES)
def test_parse_role_map_table(raw: str, expected: dict[str, list[str]], ok: bool, unknown: list[str]) -> None:
    parsed = parse_role_map(raw, ROLES)
    assert parsed.values == expected
    assert parsed.ok is ok
    assert parsed.unknown == unknown
    _check_items(raw, _role_items(parsed))


def test_role_map_none_input_and_no_roles() -> None:
    assert parse_role_map(None, ROLES) == ParsedRoleMap({}, False, [])
    parsed = parse_role_map('{"Attacker": "hackers"}', [])
    assert parsed.ok and parsed.items == {} and parsed.unknown == ["Attacker"]


def test_role_map_keys_are_canonical_role_names() -> None:
    parsed = parse_role_map('{"compromised data": "SSNs", "time": "2017"}', ["Compromised-Data", "Time"])
    assert list(parsed.items) == ["Compromised-Data", "Time"]


def test_role_map_offsets() -> None:
    raw = '```json\n{"Attacker": ["hackers"], "Victim": {"text": "Equifax"}}\n```'
    parsed = parse_role_map(raw, ROLES)
    assert parsed.items["Attacker"][0].start == raw.index("hackers")
    assert parsed.items["Victim"][0].start == raw.index("Equifax")
    raw = "- **Attacker**: hackers, spies\n- Victim: Equifax."
    parsed = parse_role_map(raw, ROLES)
    assert [raw[i.start : i.end] for i in parsed.items["Attacker"]] == ["hackers", "spies"]
    assert raw[parsed.items["Victim"][0].start : parsed.items["Victim"][0].end] == "Equifax"


# --- rows --------------------------------------------------------------------------------------------------

HEADERS = ["Name", "Year", "Venue"]
BERT = {"Name": "BERT", "Year": "2019", "Venue": "NAACL"}
GPT = {"Name": "GPT", "Year": "2018"}

ROW_CASES: list[tuple[str, list[dict[str, str]], bool]] = [
    # JSON list of objects
    ('[{"Name": "BERT", "Year": "2019", "Venue": "NAACL"}]', [BERT], True),
    ('[{"Name": "BERT", "Year": 2019, "Venue": "NAACL"}, {"name": "GPT", "YEAR": 2018}]', [BERT, GPT], True),
    ('[{"Name": "BERT", "Year": 2019, "Venue": "NAACL", "Authors": "Devlin"}]', [BERT], True),
    ('[{"Name": "BERT", "Score": 12.5}]', [{"Name": "BERT"}], True),
    (
        '[{"Name": "BERT", "Year": -1.5e3, "Venue": true}]',
        [{"Name": "BERT", "Year": "-1.5e3", "Venue": "true"}],
        True,
    ),
    ('[{"Name": "BERT", "Year": null}]', [{"Name": "BERT"}], True),
    ('[{"Name": null, "Year": null}, {"Name": "", "Year": " "}]', [], True),
    ('[{"Name": "BERT", "Venue": ["NAACL", "ACL"]}]', [{"Name": "BERT", "Venue": "NAACL, ACL"}], True),
    ('[{"Name": {"text": "BERT"}}]', [{"Name": "BERT"}], True),
    ("[]", [], True),
    ("[{}]", [], True),
    # JSON list of lists
    ('[["BERT", "2019", "NAACL"], ["GPT", 2018]]', [BERT, GPT], True),
    ('[["BERT", 2019, "NAACL", "extra"]]', [BERT], True),
    ('[["BERT", null, "NAACL"]]', [{"Name": "BERT", "Venue": "NAACL"}], True),
    ('[["Name", "Year", "Venue"], ["BERT", 2019, "NAACL"]]', [BERT], True),
    ('[["Year", "Name"], [2019, "BERT"]]', [{"Year": "2019", "Name": "BERT"}], True),
    ('[[["BERT", 2019, "NAACL"]]]', [BERT], True),
    # a single object, an object of columns, a wrapper
    ('{"Name": "BERT", "Year": 2019, "Venue": "NAACL"}', [BERT], True),
    ('{"Name": ["BERT", "GPT"], "Year": [2019, 2018]}', [{"Name": "BERT", "Year": "2019"}, GPT], True),
    ('{"rows": [{"Name": "BERT", "Year": 2019, "Venue": "NAACL"}]}', [BERT], True),
    ('{"Name": "BERT"}\n{"Name": "GPT"}', [{"Name": "BERT"}, {"Name": "GPT"}], True),
    # Python style, unquoted, fences, prose, unicode, escapes
    ("[{'Name': 'BERT', 'Year': 2019, 'Venue': 'NAACL'}]", [BERT], True),
    ("[{Name: BERT, Year: 2019, Venue: NAACL}]", [BERT], True),
    ('```json\n[{"Name": "BERT", "Year": 2019, "Venue": "NAACL"}]\n```', [BERT], True),
    ('Here is the table [1]:\n[{"Name": "BERT", "Year": 2019, "Venue": "NAACL"}]\nThanks.', [BERT], True),
    ('[{"Name": "東京大学", "Venue": "ACL 😀"}]', [{"Name": "東京大学", "Venue": "ACL 😀"}], True),
    (
        r'[{"Name": "the \"best\" model", "Venue": "caf\u00e9"}]',
        [{"Name": 'the "best" model', "Venue": "café"}],
        True,
    ),
    ('[{"Name": "a, b]}", "Year": "{2019}"}]', [{"Name": "a, b]}", "Year": "{2019}"}], True),
    # truncated output keeps the complete cells
    (
        '[{"Name": "BERT", "Year": 2019, "Venue": "NAACL"}, {"Name": "GPT", "Year": 2018, "Venue": "Ar',
        [BERT, GPT],
        True,
    ),
    ('[{"Name": "BERT", "Year": 2019, "Venue": "NAACL"}, {"Name": "GP', [BERT], True),
    (
        '[{"Name": "BERT", "Year": 2019, "Venue": "NAACL"}, {"Name": "GPT", "Year": 20',
        [BERT, {"Name": "GPT"}],
        True,
    ),
    ('[["BERT", 2019, "NAACL"], ["GPT", 2018, "Ar', [BERT, GPT], True),
    ("[{", [], True),
    # markdown tables
    (
        "| Name | Year | Venue |\n|---|---|---|\n| BERT | 2019 | NAACL |\n| GPT | 2018 | |",
        [BERT, {**GPT, "Venue": ""}],
        True,
    ),
    (
        "Here:\n\n| name | year |\n|:-----|-----:|\n| BERT | 2019 |\n\nThe end | really.",
        [{"Name": "BERT", "Year": "2019"}],
        True,
    ),
    ("| Venue | Name |\n| --- | --- |\n| NAACL | BERT |", [{"Venue": "NAACL", "Name": "BERT"}], True),
    ("| Model | Date | Conf | Extra |\n|---|---|---|---|\n| BERT | 2019 | NAACL | x |", [BERT], True),
    (
        "| Name | Authors | Year |\n|---|---|---|\n| BERT | Devlin | 2019 |",
        [{"Name": "BERT", "Year": "2019"}],
        True,
    ),
    ("Name | Year\n--- | ---\nBERT | 2019", [{"Name": "BERT", "Year": "2019"}], True),
    ("| Name | Year | Venue |\n|---|---|---|\n| BERT | 2019 | NAACL |\n| GPT | 2018 | Ar", [BERT, GPT], True),
    ("| Name | Year |\n|---|---|\n|  |  |", [], True),
    ("```markdown\n| Name | Year | Venue |\n|---|---|---|\n| BERT | 2019 | NAACL |\n```", [BERT], True),
    # delimited lines after a header line
    ("Name,Year,Venue\nBERT,2019,NAACL\nGPT,2018", [BERT, GPT], True),
    (
        'Name, Year, Venue\n"BERT, base", 2019, NAACL',
        [{"Name": "BERT, base", "Year": "2019", "Venue": "NAACL"}],
        True,
    ),
    ("Name\tYear\tVenue\nBERT\t2019\tNAACL", [BERT], True),
    ("Sure, here it is:\nname;year\nBERT;2019\n\nDone.", [{"Name": "BERT", "Year": "2019"}], True),
    ("| Name | Year |\n| BERT | 2019 |", [{"Name": "BERT", "Year": "2019"}], True),
    # nothing usable
    ("", [], False),
    ("  ", [], False),
    ("The text has no such table.", [], False),
    ("Model, Date\nBERT, 2019", [], False),
]


@pytest.mark.parametrize(("raw", "expected", "ok"), ROW_CASES)
def test_parse_rows_table(raw: str, expected: list[dict[str, str]], ok: bool) -> None:
    parsed = parse_rows(raw, HEADERS)
    assert parsed.values == expected
    assert parsed.ok is ok
    joined = any(", " in cell.value and raw.count(cell.value) == 0 for cell in _row_items(parsed))
    _check_items(raw, _row_items(parsed), exact=not joined)


def test_rows_none_input() -> None:
    assert parse_rows(None, HEADERS) == ParsedRows([], False)
    assert parse_rows('[{"Name": "BERT"}]', []) == ParsedRows([], False)


def test_rows_single_header() -> None:
    assert parse_rows('["BERT", "GPT", ""]', ["Name"]).values == [{"Name": "BERT"}, {"Name": "GPT"}]
    assert parse_rows('{"name": ["BERT", "GPT"]}', ["Name"]).values == [{"Name": "BERT"}, {"Name": "GPT"}]
    assert parse_rows("Name\nBERT\nGPT\n\nThat is all.", ["Name"]).values == [
        {"Name": "BERT"},
        {"Name": "GPT"},
    ]


def test_rows_headers_matched_like_roles() -> None:
    headers = ["Model Name", "release_year"]
    raw = '[{"model name": "BERT", "Release-Year": 2019}, {"ModelName": "GPT"}]'
    assert parse_rows(raw, headers).values == [
        {"Model Name": "BERT", "release_year": "2019"},
        {"Model Name": "GPT"},
    ]


def test_row_offsets() -> None:
    raw = '[{"Name": "BERT", "Year": 12.5, "Venue": true}]'
    (row,) = parse_rows(raw, HEADERS).rows
    assert row["Year"] == ParsedString("12.5", raw.index("12.5"), raw.index("12.5") + 4)
    assert raw[row["Venue"].start : row["Venue"].end] == "true"
    raw = "| Name | Year |\n|---|---|\n| BERT  |  2019 |"
    (row,) = parse_rows(raw, HEADERS).rows
    assert (row["Name"].start, row["Year"].start) == (raw.index("BERT"), raw.index("2019"))
    raw = '[{"Name": "BERT", "Venue": ["NAACL", "ACL"]}]'
    (row,) = parse_rows(raw, HEADERS).rows
    assert raw[row["Venue"].start : row["Venue"].end] == 'NAACL", "ACL'


# --- properties --------------------------------------------------------------------------------------------

_FRAGMENTS = [
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    '"',
    "'",
    ",",
    ":",
    ";",
    "|",
    "|---|",
    "\\",
    "\\u",
    "\\ud83d",
    "```",
    "```json",
    "null",
    "None",
    "Obama",
    "Obama's",
    "subject",
    "relation",
    "Attacker",
    "role",
    "text",
    "Name",
    "Year",
    "東京",
    "😀",
    " ",
    "\n",
    "\t",
    "-",
    "1.",
    "12.5",
]

_messy_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list("[]{}()\"',:;|\\\n\t -aEd1東😀"))),
    st.lists(st.sampled_from(_FRAGMENTS), max_size=60).map("".join),
)


def _all_items(raw: str) -> list[tuple[str, list[ParsedString]]]:
    tuples = parse_tuple_list(raw)
    roles = parse_role_map(raw, ["Attacker", "Obama", "subject", "text"])
    rows = parse_rows(raw, ["Name", "Year", "Obama"])
    assert isinstance(tuples.ok, bool) and isinstance(roles.ok, bool) and isinstance(rows.ok, bool)
    return [("tuples", _tuple_items(tuples)), ("roles", _role_items(roles)), ("rows", _row_items(rows))]


@settings(max_examples=400)
@given(_messy_text)
def test_never_raise_and_offsets_in_range(raw: str) -> None:
    for _, items in _all_items(raw):
        for item in items:
            assert 0 <= item.start <= item.end <= len(raw), item
    if not raw.strip():
        assert not parse_tuple_list(raw).ok
        assert not parse_role_map(raw, ROLES).ok
        assert not parse_rows(raw, HEADERS).ok


@settings(max_examples=200)
@given(_messy_text, st.lists(st.text(max_size=8), max_size=4))
def test_never_raise_with_any_role_or_header_names(raw: str, names: list[str]) -> None:
    parse_role_map(raw, names)
    parse_rows(raw, names)


# Strings a model would copy from a text; "```" is excluded because fence markers are blanked out anywhere.
_phrase = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "" and "```" not in s)
_plain = st.text(alphabet=st.sampled_from(list("abcXYZ019 éñ東京😀'")), min_size=1, max_size=10).filter(
    lambda s: s.strip() != ""
)


@given(
    st.lists(st.lists(_phrase, min_size=2, max_size=5), max_size=6), st.booleans(), st.sampled_from([None, 2])
)
def test_tuple_json_round_trip(tuples: list[list[str]], ensure_ascii: bool, indent: int | None) -> None:
    raw = json.dumps(tuples, ensure_ascii=ensure_ascii, indent=indent)
    parsed = parse_tuple_list(raw)
    assert parsed.ok
    # Tuples made only of column names ("subject", "time" ...) are taken for an echoed header line.
    expected = [t for t in tuples if not all(_norm_key(v) in _TUPLE_HEADER_WORDS for v in t)]
    assert parsed.values == expected
    for part in _tuple_items(parsed):
        assert raw[part.start - 1] == '"' and raw[part.end] == '"'
        assert json.loads('"' + raw[part.start : part.end] + '"') == part.value


@given(st.lists(st.lists(_plain, min_size=3, max_size=4), min_size=1, max_size=5), st.data())
def test_truncated_tuples_keep_complete_ones(tuples: list[list[str]], data: st.DataObject) -> None:
    raw = json.dumps(tuples, ensure_ascii=False)
    cut = data.draw(st.integers(min_value=1, max_value=len(raw)), label="cut")
    got = parse_tuple_list(raw[:cut]).values
    assert parse_tuple_list(raw[:cut]).ok
    assert len(got) <= len(tuples)
    for i, parts in enumerate(got):
        if i < len(got) - 1:
            assert parts == tuples[i]
        else:  # the last one may be cut off after three complete parts
            assert len(parts) >= 3 and parts == tuples[i][: len(parts)]
    if cut == len(raw):
        assert got == tuples


@given(
    st.dictionaries(st.sampled_from(ROLES), st.lists(_plain, max_size=3), max_size=5),
    st.sampled_from([None, 2]),
)
def test_role_map_json_round_trip(answer: dict[str, list[str]], indent: int | None) -> None:
    raw = json.dumps(answer, ensure_ascii=False, indent=indent)
    parsed = parse_role_map(raw, ROLES)
    assert parsed.ok
    assert parsed.values == answer
    _check_items(raw, _role_items(parsed))


@given(
    st.dictionaries(st.sampled_from(ROLES), st.lists(_plain, max_size=3), min_size=1, max_size=5), st.data()
)
def test_truncated_role_map_keeps_complete_values(answer: dict[str, list[str]], data: st.DataObject) -> None:
    raw = json.dumps(answer, ensure_ascii=False)
    cut = data.draw(st.integers(min_value=1, max_value=len(raw)), label="cut")
    parsed = parse_role_map(raw[:cut], ROLES)
    assert parsed.ok
    for role, values in parsed.values.items():
        assert values == answer[role][: len(values)]


@given(
    st.lists(st.dictionaries(st.sampled_from(HEADERS), _plain, min_size=1), max_size=5),
    st.sampled_from([None, 2]),
)
def test_rows_json_round_trip(rows: list[dict[str, str]], indent: int | None) -> None:
    raw = json.dumps(rows, ensure_ascii=False, indent=indent)
    parsed = parse_rows(raw, HEADERS)
    assert parsed.ok
    assert parsed.values == rows
    _check_items(raw, _row_items(parsed))


_cell_text = st.text(alphabet=st.sampled_from(list("abcXYZ019 éñ東京😀.-")), min_size=1, max_size=10).filter(
    lambda s: s.strip() != "" and s.strip() != "-" * len(s.strip())
)


@given(st.lists(st.lists(_cell_text, min_size=3, max_size=3), max_size=5))
def test_markdown_round_trip(cells: list[list[str]]) -> None:
    lines = ["| Name | Year | Venue |", "|---|---|---|"] + ["| " + " | ".join(row) + " |" for row in cells]
    raw = "\n".join(lines)
    parsed = parse_rows(raw, HEADERS)
    assert parsed.ok
    assert parsed.values == [dict(zip(HEADERS, (c.strip() for c in row))) for row in cells]
    _check_items(raw, _row_items(parsed))
