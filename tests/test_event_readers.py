"""CASIE and RAMS event readers: small fixtures for every error path, and the real files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_data

from ieforge.data import (
    EventExample,
    casie_schema,
    plain_role,
    rams_roles,
    read_casie,
    read_rams,
)
from ieforge.errors import InputError
from ieforge.types import Mention


def _write(tmp_path: Path, content: str | bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _all_spans(ex: EventExample) -> list[Mention]:
    return [m for ev in ex.events for m in (ev.trigger, *(a.span for a in ev.arguments))]


def _grounded(ex: EventExample) -> bool:
    return all(ex.text[m.start : m.end] == m.text for m in _all_spans(ex))


# --- CASIE --------------------------------------------------------------------------------------------

CONTENT = "Hackers stole the records of 3,000 patients. The hospital refused to pay the ransom."


def _span(text: str, start: int | None = None, shift: int = 0, **extra: Any) -> dict[str, Any]:
    at = CONTENT.index(text) if start is None else start
    return {"startOffset": at + shift, "endOffset": at + len(text) + shift, "text": text, **extra}


def _casie(shift: int = 0, content: str = CONTENT, **event_changes: Any) -> dict[str, Any]:
    breach = {
        "index": "E1",
        "type": "Attack",
        "subtype": "Databreach",
        "realis": "Actual",
        "nugget": _span("stole", shift=shift, index="T1"),
        "argument": [
            _span("Hackers", shift=shift, type="Person", role={"type": "Attacker"}),
            _span(
                "the records of 3,000 patients", shift=shift, type="PII", role={"type": "Compromised-Data"}
            ),
        ],
    }
    breach.update(event_changes)
    breach = {k: v for k, v in breach.items() if v is not None}
    ransom = {
        "index": "E2",
        "type": "Attack",
        "subtype": "Ransom",
        "nugget": _span("pay", shift=shift),
        "argument": [_span("The hospital", shift=shift, type="Organization", role={"type": "Victim"})],
    }
    return {
        "sourcefile": "7.txt",
        "info": {"title": "t"},
        "content": content,
        "cyberevent": {"hopper": [{"index": 0, "events": [breach]}, {"index": 1, "events": [ransom]}]},
    }


def _casie_file(tmp_path: Path, data: Any, name: str = "7.json") -> Path:
    return _write(tmp_path, json.dumps(data), name)


def test_casie_events_and_arguments(tmp_path: Path) -> None:
    (doc,) = read_casie(_casie_file(tmp_path, _casie()))
    assert doc.id == "7" and doc.text == CONTENT
    breach, ransom = doc.events
    assert (breach.type, breach.subtype, breach.realis) == ("Attack", "Databreach", "Actual")
    assert breach.trigger == Mention(start=8, end=13, text="stole")
    assert [(a.role, a.type, a.span.text) for a in breach.arguments] == [
        ("Attacker", "Person", "Hackers"),
        ("Compromised-Data", "PII", "the records of 3,000 patients"),
    ]
    assert (ransom.subtype, ransom.realis, ransom.trigger.text) == ("Ransom", None, "pay")
    assert _grounded(doc)


def test_casie_folder_in_numeric_order(tmp_path: Path) -> None:
    for name in ("10.json", "2.json", "extra.json"):
        _casie_file(tmp_path, _casie(), name)
    _write(tmp_path, "not an annotation", "README.md")
    assert [d.id for d in read_casie(tmp_path)] == ["2", "10", "extra"]


def test_casie_article_without_events(tmp_path: Path) -> None:
    data = _casie()
    del data["cyberevent"]
    (doc,) = read_casie(_casie_file(tmp_path, data))
    assert doc.events == []
    data["cyberevent"] = {}
    assert read_casie(_casie_file(tmp_path, data))[0].events == []


def test_casie_event_without_arguments(tmp_path: Path) -> None:
    data = _casie(argument=None)
    assert read_casie(_casie_file(tmp_path, data))[0].events[0].arguments == []


def test_casie_offset_mismatch_names_file_and_event(tmp_path: Path) -> None:
    data = _casie()
    data["cyberevent"]["hopper"][0]["events"][0]["argument"][0]["startOffset"] = 1
    path = _casie_file(tmp_path, data)
    with pytest.raises(InputError) as info:
        read_casie(path)
    message = str(info.value)
    assert message.startswith(
        f"{path}: event E1: argument 0 at 1:7 reads 'ackers' in the content, not 'Hackers'"
    )
    assert "fix_offsets=True" in message
    # one wrong span among right ones is not a shift of the whole article: it cannot be repaired
    with pytest.raises(InputError, match="no single shift of the article's offsets repairs it"):
        read_casie(path, fix_offsets=True)


def test_casie_shifted_article_is_repaired_on_request(tmp_path: Path) -> None:
    # offsets computed before two characters of leading whitespace were stripped from the content
    path = _casie_file(tmp_path, _casie(shift=2))
    with pytest.raises(
        InputError, match=r"event E1: trigger at 10:15 reads 'ole t' in the content, not 'stole'"
    ):
        read_casie(path)
    (doc,) = read_casie(path, fix_offsets=True)
    assert doc.events[0].trigger == Mention(start=8, end=13, text="stole")
    assert _grounded(doc) and len(_all_spans(doc)) == 5


def test_casie_span_past_the_end_is_cut_on_request(tmp_path: Path) -> None:
    data = _casie()
    last = data["cyberevent"]["hopper"][1]["events"][0]
    last["argument"].append(_span("the ransom.", start=CONTENT.index("the ransom"), role={"type": "Price"}))
    data["content"] = CONTENT[:-1]  # the content lost its final full stop
    path = _casie_file(tmp_path, data)
    with pytest.raises(
        InputError, match=r"event E2: argument 1 at 73:84 ends at 84, past the end of the 83-"
    ):
        read_casie(path)
    (doc,) = read_casie(path, fix_offsets=True)
    assert doc.events[1].arguments[1].span == Mention(start=73, end=83, text="the ransom")
    assert _grounded(doc)


def test_casie_span_past_the_end_without_its_text_is_not_repaired(tmp_path: Path) -> None:
    data = _casie()
    data["cyberevent"]["hopper"][1]["events"][0]["argument"].append(
        {"startOffset": 80, "endOffset": 90, "text": "xxxxxxxxxx", "role": {"type": "Price"}}
    )
    with pytest.raises(InputError, match=r"past the end .* no single shift"):
        read_casie(_casie_file(tmp_path, data), fix_offsets=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1], "expected a JSON object with the article text in 'content'"),
        ({"content": 3}, "expected a JSON object with the article text in 'content'"),
        ({"content": "x", "cyberevent": []}, "'cyberevent' must be an object with a 'hopper' list"),
        ({"content": "x", "cyberevent": {"hopper": {}}}, "'cyberevent.hopper' must be a list of objects"),
        ({"content": "x", "cyberevent": {"hopper": [3]}}, "'cyberevent.hopper' must be a list of objects"),
        ({"content": "x", "cyberevent": {"hopper": [{"events": 3}]}}, "hopper 0: 'events' must be a list"),
        (
            {"content": "x", "cyberevent": {"hopper": [{"events": [3]}]}},
            "event #0 (hopper 0): expected a JSON",
        ),
        (_casie(type=None), "event E1: missing or empty 'type'"),
        (_casie(subtype=5), "event E1: 'subtype' must be a string"),
        (_casie(realis=["Actual"]), "event E1: 'realis' must be a string"),
        (_casie(nugget=None), "event E1: trigger: expected an object with startOffset"),
        (_casie(nugget={"startOffset": "8", "endOffset": 13, "text": "stole"}), "integer startOffset"),
        (_casie(nugget={"startOffset": 8, "endOffset": 13}), "a string text"),
        (_casie(nugget={"startOffset": 8, "endOffset": 8, "text": ""}), "offsets 8:8 do not make"),
        (_casie(argument={"a": 1}), "event E1: 'argument' must be a list"),
        (_casie(argument=[3]), "event E1: argument 0: expected a JSON object"),
        (_casie(argument=[_span("Hackers")]), "event E1: argument 0: missing role"),
        (_casie(argument=[_span("Hackers", role={"type": ""})]), "argument 0: missing role"),
        (_casie(argument=[_span("Hackers", index="T9", role={"type": "A"}, type=1)]), "argument T9: 'type'"),
        (_casie(argument=[_span("Hackers", role={"type": "A"}, startOffset=-1)]), "offsets -1:7"),
    ],
)
def test_casie_errors(tmp_path: Path, data: Any, message: str) -> None:
    path = _casie_file(tmp_path, data)
    with pytest.raises(InputError) as info:
        read_casie(path)
    assert message in str(info.value) and str(info.value).startswith(f"{path}: ")


def test_casie_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such CASIE annotation file or folder"):
        read_casie(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no CASIE annotation files \(\*\.json\)"):
        read_casie(tmp_path / "empty")
    with pytest.raises(InputError, match="line 1: not valid JSON"):
        read_casie(_write(tmp_path, "{", "1.json"))


def test_casie_schema_from_examples_and_files(tmp_path: Path) -> None:
    _casie_file(tmp_path, _casie(shift=1))  # schema reading does not stop at shifted offsets
    expected = {"Databreach": ["Attacker", "Compromised-Data"], "Ransom": ["Victim"]}
    assert casie_schema(tmp_path) == expected
    assert casie_schema(read_casie(tmp_path, fix_offsets=True)) == expected
    no_subtype = _casie(subtype=None)
    assert "Attack" in casie_schema(_casie_file(tmp_path, no_subtype, "8.json"))


# --- RAMS ---------------------------------------------------------------------------------------------

RAMS_DOC: dict[str, Any] = {
    "doc_key": "nw_RC0001",
    "sentences": [["Rebels", "attacked", "the", "town", "."], ["Two", "soldiers", "died", "there", "."]],
    "evt_triggers": [[7, 7, [["life.die.n/a", 1.0]]]],
    "ent_spans": [[0, 0, [["evt089arg01killer", 1.0]]], [5, 6, [["evt089arg01victim", 1.0]]]],
    "gold_evt_links": [
        [[7, 7], [5, 6], "evt089arg01victim"],
        [[7, 7], [0, 0], "evt089arg01killer"],
        [[7, 7], [2, 3], "evt089arg02place"],
    ],
    "split": "dev",
}


def _rams(**changes: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(RAMS_DOC))
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def _rams_file(tmp_path: Path, records: list[Any], name: str = "dev.jsonlines") -> Path:
    return _write(tmp_path, "".join(json.dumps(r) + "\n" for r in records), name)


def test_rams_document(tmp_path: Path) -> None:
    (doc,) = read_rams(_rams_file(tmp_path, [RAMS_DOC]))
    assert doc.id == "nw_RC0001"
    assert doc.text == "Rebels attacked the town . Two soldiers died there ."
    (event,) = doc.events
    assert event.type == "life.die.n/a" and event.trigger == Mention(start=40, end=44, text="died")
    assert [(a.role, a.span.text, a.type) for a in event.arguments] == [
        ("victim", "Two soldiers", None),
        ("killer", "Rebels", None),
        ("place", "the town", None),
    ]
    assert _grounded(doc)


def test_rams_raw_roles_several_triggers_and_no_links(tmp_path: Path) -> None:
    record = _rams(evt_triggers=[[1, 1, [["conflict.attack.n/a", 1.0]]], [7, 7, [["life.die.n/a", 1.0]]]])
    (doc,) = read_rams(_rams_file(tmp_path, [record]), raw_roles=True)
    attack, die = doc.events
    assert attack.trigger.text == "attacked" and attack.arguments == []
    assert [a.role for a in die.arguments] == ["evt089arg01victim", "evt089arg01killer", "evt089arg02place"]
    (bare,) = read_rams(_rams_file(tmp_path, [_rams(gold_evt_links=None)]))
    assert bare.events[0].arguments == []


def test_plain_role() -> None:
    assert plain_role("evt089arg02place") == "place"
    assert plain_role("evt123arg10territoryorfacility") == "territoryorfacility"
    assert plain_role("victim") == "victim"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([1], "expected a JSON object"),
        (_rams(doc_key=None), "missing or empty 'doc_key'"),
        (_rams(sentences=[]), "'sentences' must be a non-empty list"),
        (_rams(sentences=[["a"], ["b", 2]]), "sentence 1 is not a non-empty list of token strings"),
        (_rams(evt_triggers={"a": 1}), "'evt_triggers' must be a list"),
        (_rams(evt_triggers=[[7, 7]]), "trigger 0 is [7, 7], not [start, end, [[type, score], ...]]"),
        (_rams(evt_triggers=[[7, 7, []]]), "trigger 0 is [7, 7, []]"),
        (_rams(evt_triggers=[[7, 7, [[3, 1.0]]]]), "trigger 0: event type 3 is not a non-empty string"),
        (
            _rams(evt_triggers=[[7, 10, [["x", 1.0]]]]),
            "trigger 0 tokens 7..10 are not a span of the document's 10",
        ),
        (_rams(evt_triggers=[[7, [7], [["x", 1.0]]]]), "trigger 0 has non-integer token indices"),
        (_rams(evt_triggers=[[7, 7, [["x", 1]]], [7, 7, [["y", 1]]]]), "trigger 1: tokens 7..7 are already"),
        (_rams(gold_evt_links=3), "'gold_evt_links' must be a list"),
        (
            _rams(gold_evt_links=[[[7, 7], "evt089arg01victim"]]),
            "link 0 is [[7, 7], 'evt089arg01victim'], not",
        ),
        (_rams(gold_evt_links=[[[7, 7], [5, 6], ""]]), "link 0: role '' is not a non-empty string"),
        (
            _rams(gold_evt_links=[[[8, 8], [5, 6], "r"]]),
            "link 0: trigger tokens 8..8 are not among 'evt_triggers'",
        ),
        (_rams(gold_evt_links=[[[7, 7], [9, 12], "r"]]), "link 0 argument tokens 9..12 are not a span"),
    ],
)
def test_rams_errors(tmp_path: Path, record: Any, message: str) -> None:
    path = _rams_file(tmp_path, [RAMS_DOC, record])
    with pytest.raises(InputError) as info:
        read_rams(path)
    assert message in str(info.value) and str(info.value).startswith(f"{path}: line 2")


def test_rams_file_errors(tmp_path: Path) -> None:
    path = _rams_file(tmp_path, [_rams(doc_key="nw_X", evt_triggers=[[70, 70, [["x", 1.0]]]])])
    with pytest.raises(InputError, match=r"line 1 \(doc nw_X\): trigger 0 tokens 70\.\.70"):
        read_rams(path)
    with pytest.raises(InputError, match="line 2: not valid JSON"):
        read_rams(_write(tmp_path, json.dumps(RAMS_DOC) + "\n{\n", "broken.jsonlines"))
    with pytest.raises(InputError, match="cannot read RAMS file"):
        read_rams(tmp_path / "missing.jsonlines")


def test_rams_roles_from_meta(tmp_path: Path) -> None:
    meta = [["life.die.n/a", ["evt089arg01victim", "evt089arg02place"]], ["other.x", []]]
    path = _write(tmp_path, json.dumps(meta), "meta.json")
    assert rams_roles(path) == {"life.die.n/a": ["victim", "place"], "other.x": []}
    assert rams_roles(path, raw_roles=True)["life.die.n/a"] == ["evt089arg01victim", "evt089arg02place"]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"life.die.n/a": []}, "expected a JSON list of [event type, [role, ...]]"),
        ([["life.die.n/a"]], "entry 0: expected [event type, [role, ...]]"),
        ([["a", ["r"]], ["b", "r"]], "entry 1: expected"),
        ([["a", ["r", 1]]], "entry 0: expected"),
        ([["a", ["r"]], ["a", ["s"]]], "entry 1: event type 'a' is listed twice"),
    ],
)
def test_rams_roles_errors(tmp_path: Path, meta: Any, message: str) -> None:
    path = _write(tmp_path, json.dumps(meta), "meta.json")
    with pytest.raises(InputError) as info:
        rams_roles(path)
    assert message in str(info.value) and str(path) in str(info.value)


# --- the real files -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def casie_real() -> list[EventExample]:
    return read_casie(shared_data("casie", "annotation"), fix_offsets=True)


def test_real_casie_counts(casie_real: list[EventExample]) -> None:
    assert len(casie_real) == 1000
    events = [ev for doc in casie_real for ev in doc.events]
    assert len(events) == 8485
    assert sum(len(ev.arguments) for ev in events) == 22701
    assert Counter(ev.subtype for ev in events) == {
        "DiscoverVulnerability": 2132,
        "Databreach": 1786,
        "Ransom": 1585,
        "Phishing": 1564,
        "PatchVulnerability": 1418,
    }
    assert all(_grounded(doc) for doc in casie_real)
    schema = casie_schema(casie_real)
    assert sorted(schema) == [
        "Databreach",
        "DiscoverVulnerability",
        "PatchVulnerability",
        "Phishing",
        "Ransom",
    ]
    assert "Compromised-Data" in schema["Databreach"] and "CVE" in schema["PatchVulnerability"]


def test_real_casie_offset_problems(casie_real: list[EventExample]) -> None:
    """The published offsets disagree with the content in 33 articles; say exactly how."""
    folder = shared_data("casie", "annotation")
    with pytest.raises(InputError, match=r"63\.json: event E\d+: .* reads '.*' in the content, not"):
        read_casie(folder)
    shifts: Counter[int] = Counter()
    for doc in casie_real:
        raw = json.loads((folder / f"{doc.id}.json").read_text(encoding="utf-8"))
        nuggets = [ev["nugget"] for hopper in raw["cyberevent"]["hopper"] for ev in hopper["events"]]
        if nuggets and doc.events[0].trigger.start != nuggets[0]["startOffset"]:
            shifts[doc.events[0].trigger.start - nuggets[0]["startOffset"]] += 1
    # 32 articles lost leading whitespace (1, 2 or 12 characters) after the offsets were computed
    assert shifts == {-1: 30, -2: 1, -12: 1}
    # and article 464 lost its final "." so its last trigger ("been leaked.") is cut to "been leaked"
    (doc464,) = (doc for doc in casie_real if doc.id == "464")
    assert doc464.text.endswith("has been leaked")
    assert any(
        ev.trigger.text == "been leaked" and ev.trigger.end == len(doc464.text) for ev in doc464.events
    )
    with pytest.raises(
        InputError, match=r"464\.json: event E10: trigger at 2429:2441 ends at 2441, past the end"
    ):
        read_casie(folder / "464.json")
    strict_failures = []
    for path in folder.glob("*.json"):
        try:
            read_casie(path)
        except InputError:
            strict_failures.append(path.stem)
    assert len(strict_failures) == 33


def test_real_rams() -> None:
    docs = read_rams(shared_data("rams", "dev.jsonlines"))
    roles = rams_roles(shared_data("rams", "meta.json"))
    assert len(docs) == 924 and len(roles) == 139
    assert all(len(doc.events) == 1 for doc in docs)
    assert sum(len(ev.arguments) for doc in docs for ev in doc.events) == 2188
    assert all(_grounded(doc) for doc in docs)
    for doc in docs:
        for ev in doc.events:
            assert ev.type in roles
            assert all(arg.role in roles[ev.type] for arg in ev.arguments)
