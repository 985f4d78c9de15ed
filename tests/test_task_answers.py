"""Reading event, open IE and table answers into grounded results (answers built by hand, no model)."""

from __future__ import annotations

import math

import pytest

from ieforge.data.examples import OpenIEExample, OpenIEExtraction
from ieforge.errors import InputError
from ieforge.evaluate.events import event_prf, predicted_mentions
from ieforge.evaluate.openie import carb_scores, predicted_extractions
from ieforge.grounding import Chunk
from ieforge.models.base import Generation
from ieforge.prompts import ChatPrompt, load_chat_prompt
from ieforge.prompts.parsers import ParsedString
from ieforge.prompts.structured import parse_rows, parse_tuple_list
from ieforge.tasks._answers import distinct_items, nearest, phrase_in_chunk, sentence_around, span_score
from ieforge.tasks.events import read_arguments
from ieforge.tasks.ondemand import clean_headers, read_row
from ieforge.tasks.openie import read_triple
from ieforge.types import Event, EventArgument, Mention, OpenTriple, ParseStats, Phrase, TableResult, TableRow


def gen(text: str, logprob: float = -0.5) -> Generation:
    """An answer whose every character is one token with the same log-probability."""
    return Generation(
        text=text, token_logprobs=[logprob] * len(text), token_spans=[(i, i + 1) for i in range(len(text))]
    )


# ----- shared grounding helpers --------------------------------------------------------------------------


def test_nearest_prefers_the_occurrence_closest_to_the_anchor() -> None:
    assert nearest([(0, 3), (20, 23), (40, 43)], (30, 35)) == (40, 43)
    assert nearest([(0, 3), (20, 23), (40, 43)], (24, 30)) == (20, 23)
    assert nearest([(5, 8), (20, 23)], None) == (5, 8)


def test_phrase_in_chunk_uses_document_offsets_and_the_texts_spelling() -> None:
    source = "Intro. Barack  Obama met Michelle Obama in Chicago."
    chunk = Chunk(7, source[7:])
    p = phrase_in_chunk(chunk, "barack obama")
    assert (p.start, p.end, p.text) == (7, 20, "Barack  Obama")
    assert source[p.start : p.end] == p.text
    missing = phrase_in_chunk(chunk, " Paris ")
    assert missing == Phrase(text="Paris") and not missing.grounded


def test_sentence_around_returns_the_triggers_sentence() -> None:
    text = "Hackers struck on Monday. The bank lost data. Police said nothing."
    chunk = Chunk(0, text)
    start = text.index("lost")
    assert sentence_around(chunk, start, start + 4) == "The bank lost data."


def test_distinct_items_drops_blanks_and_repeats() -> None:
    items = [
        ParsedString("a", 0, 1),
        ParsedString(" ", 2, 3),
        ParsedString("a", 4, 5),
        ParsedString("b", 6, 7),
    ]
    assert [i.value for i in distinct_items(items)] == ["a", "b"]


def test_span_score_averages_the_tokens_of_the_whole_tuple() -> None:
    g = Generation(text='["a", "b"]', token_logprobs=[-1.0, -3.0], token_spans=[(0, 4), (4, 10)])
    parts = [ParsedString("a", 2, 3), ParsedString("b", 7, 8)]
    assert span_score(g, parts) == pytest.approx(math.exp(-2.0))


# ----- events -------------------------------------------------------------------------------------------

TEXT = (
    "Hackers breached the servers of Acme Corp in March. Acme Corp said the attack exposed the emails of "
    "2,000 customers. The hackers demanded a ransom."
)


def test_arguments_are_grounded_near_the_trigger_in_role_order() -> None:
    chunk = Chunk(0, TEXT)
    trigger = (TEXT.index("breached"), TEXT.index("breached") + len("breached"))
    raw = (
        '{"Victim": ["Acme Corp"], "attacker": "Hackers", "Compromised data": ["emails", "the moon"],'
        ' "Weather": ["rain"], "Time": []}'
    )
    stats = ParseStats()
    args = read_arguments(gen(raw), chunk, trigger, ["Attacker", "Victim", "Compromised-Data", "Time"], stats)
    assert [(a.role, a.text) for a in args] == [
        ("Attacker", "Hackers"),
        ("Victim", "Acme Corp"),
        ("Compromised-Data", "emails"),
    ]
    for a in args:
        assert TEXT[a.start : a.end] == a.text
        assert a.score == pytest.approx(math.exp(-0.5))
    # "Acme Corp" occurs twice: the one next to "breached" is taken, not the later one
    assert args[1].start == TEXT.index("Acme Corp")
    # "Hackers" (capital H) is found at the start although "hackers" also occurs later
    assert args[0].start == 0
    assert stats.answers == 1 and stats.strings == 4 and stats.ungrounded == 1 and stats.unknown == 1


@pytest.mark.parametrize("raw", ["", "I cannot answer that.", None])
def test_unreadable_argument_answers_are_counted_not_raised(raw: str | None) -> None:
    stats = ParseStats()
    out = read_arguments(gen(raw or ""), Chunk(0, TEXT), (0, 7), ["Attacker"], stats)
    assert out == [] and stats.unparsed == 1 and stats.answers == 1


def test_predicted_events_score_against_gold_in_the_metric_shape() -> None:
    from ieforge.data.examples import Argument, EventMention

    trig = Mention(start=8, end=16, text="breached")
    victim = Mention(start=32, end=41, text="Acme Corp")
    gold = [
        EventMention(
            type="Attack",
            subtype="Databreach",
            trigger=trig,
            arguments=[Argument(role="Victim", span=victim)],
        )
    ]
    pred = [
        Event(
            type="Databreach",
            trigger=trig,
            arguments=[EventArgument(role="Attacker", start=32, end=41, text="Acme Corp")],
        )
    ]
    scores = event_prf([gold], [predicted_mentions(pred)])
    assert scores.trigger_classification.f1 == 1.0
    assert scores.argument_identification.f1 == 1.0
    assert scores.argument_classification.f1 == 0.0


# ----- open IE ------------------------------------------------------------------------------------------

SENT = "In 2010 , Smith moved to Boston , and Smith later taught at Harvard in Boston ."


def test_triple_parts_are_grounded_around_the_relation() -> None:
    chunk = Chunk(0, SENT)
    (parts,) = parse_tuple_list('[["Smith", "taught at", "Harvard", "in Boston"]]').items
    stats = ParseStats()
    t = read_triple(chunk, parts, stats)
    assert t is not None
    # the second "Smith" and the second "Boston" are the ones next to "taught at"
    assert t.subject.start == SENT.rindex("Smith")
    assert t.relation.start == SENT.index("taught at")
    assert t.object.text == "Harvard"
    assert [p.start for p in t.extra] == [SENT.index("in Boston")]
    assert stats.strings == 4 and stats.ungrounded == 0


def test_rephrased_parts_are_kept_without_offsets() -> None:
    stats = ParseStats()
    (parts,) = parse_tuple_list('[["Smith", "is a teacher at", "Harvard"]]').items
    t = read_triple(Chunk(0, SENT), parts, stats)
    assert t is not None
    assert t.relation == Phrase(text="is a teacher at")
    # with no grounded relation the subject anchors the object
    assert t.subject.start == SENT.index("Smith") and t.object.start == SENT.index("Harvard")
    assert stats.ungrounded == 1


def test_tuples_without_subject_or_relation_are_skipped() -> None:
    assert read_triple(Chunk(0, SENT), [ParsedString("Smith", 0, 5)], ParseStats()) is None
    assert (
        read_triple(Chunk(0, SENT), [ParsedString("", 0, 0), ParsedString("moved", 0, 5)], ParseStats())
        is None
    )


def test_triples_become_carb_extractions_and_score() -> None:
    triples = [
        OpenTriple(
            subject=Phrase(text="Smith", start=10, end=15),
            relation=Phrase(text="moved to", start=16, end=24),
            object=Phrase(text="Boston", start=25, end=31),
            extra=[Phrase(text="In 2010", start=0, end=7)],
            score=0.8,
        ),
        OpenTriple(subject=Phrase(text="Smith"), relation=Phrase(text="left"), object=Phrase(text="")),
    ]
    ext = predicted_extractions(triples)
    assert ext[0].arguments == ["Smith", "Boston", "In 2010"] and ext[0].confidence == 0.8
    assert ext[1].arguments == ["Smith"] and ext[1].confidence == 1.0
    gold = OpenIEExample(
        id="s",
        text=SENT,
        extractions=[OpenIEExtraction(relation="moved to", arguments=["Smith", "Boston", "In 2010"])],
    )
    scores = carb_scores([gold], [ext[:1]])
    assert scores.f1 == pytest.approx(1.0)


# ----- tables -------------------------------------------------------------------------------------------

SHOP = "The iPhone 15 costs $799. The iPad Air costs $599, and the iPhone 15 Pro costs $999."


def test_row_cells_are_grounded_next_to_the_first_cell() -> None:
    (cells,) = parse_rows('[{"product": "iPad Air", "price": "$599"}]', ["product", "price"]).rows
    stats = ParseStats()
    row = read_row(Chunk(0, SHOP), ["product", "price"], cells, stats)
    assert row is not None
    assert row.cells["price"].start == SHOP.index("$599")
    assert SHOP[row.cells["product"].start : row.cells["product"].end] == "iPad Air"  # type: ignore[index]


def test_row_with_computed_cell_and_blank_row() -> None:
    stats = ParseStats()
    (cells,) = parse_rows('[{"product": "iPhone 15", "price": "799 dollars"}]', ["product", "price"]).rows
    row = read_row(Chunk(0, SHOP), ["product", "price"], cells, stats)
    assert row is not None and not row.cells["price"].grounded and stats.ungrounded == 1
    assert read_row(Chunk(0, SHOP), ["product"], {"product": ParsedString(" ", 0, 1)}, ParseStats()) is None


def test_table_result_records_and_csv() -> None:
    res = TableResult(
        text=SHOP,
        instruction="List the products and their prices.",
        headers=["product", "price"],
        rows=[
            TableRow(cells={"product": Phrase(text="iPad Air", start=30, end=38)}),
            TableRow(cells={"product": Phrase(text='Pro, "max"'), "price": Phrase(text="$999")}),
        ],
    )
    assert res.records() == [{"product": "iPad Air", "price": ""}, {"product": 'Pro, "max"', "price": "$999"}]
    assert res.to_csv() == 'product,price\niPad Air,\n"Pro, ""max""",$999\n'


def test_clean_headers() -> None:
    assert clean_headers([" product", "Price", "", "price", "product "]) == ["product", "Price"]
    with pytest.raises(InputError):
        clean_headers([" ", ""])


# ----- prompts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "name"),
    [
        ("events", "triggers"),
        ("events", "triggers-joint"),
        ("events", "arguments"),
        ("openie", "triples"),
        ("table", "rows"),
    ],
)
def test_packaged_prompts_load_and_render(task: str, name: str) -> None:
    p = load_chat_prompt(task, name)
    values = {
        "text": "TEXT{x}",
        "event": "Attack",
        "types": "- Attack",
        "trigger": "hit",
        "sentence": "S.",
        "roles": "- Victim",
        "instruction": "List.",
        "headers": '["a"]',
    }
    chat = p.chat(**values)
    assert any("TEXT{x}" in m["content"] for m in chat)  # inserted text keeps its braces
    assert not any("{" + k + "}" in m["content"] for m in chat for k in values)
    assert p.id == f"{name}@1"


def _prompt(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "x",
        "version": 1,
        "task": "table",
        "parser": "rows",
        "turns": [{"role": "user", "content": "Text: {text}"}],
        "question": "{instruction} {headers}",
    }
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"question": "{instruction} {headers} {label}"}, "unknown placeholder {label}"),
        ({"question": "{headers}"}, "needs the placeholder {instruction}"),
        ({"parser": "role_map"}, "no 'role_map' prompts for task 'table'"),
        ({"turns": [], "question": "{instruction} {headers}"}, "placeholder {text}"),
    ],
)
def test_bad_chat_prompts_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        ChatPrompt.model_validate(_prompt(**fields))


def test_prompt_file_for_another_task_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(_prompt()))
    assert load_chat_prompt("table", str(path)).id == "x@1"
    with pytest.raises(InputError, match="for task 'table', not 'openie'"):
        load_chat_prompt("openie", str(path))
    assert (
        load_chat_prompt("table", str(path)).chat(text="T", instruction="I", headers="H")[-1]["content"]
        == "I H"
    )


def test_joint_answers_name_types_loosely() -> None:
    from ieforge.schemas.events import load_event_schema
    from ieforge.tasks.events import type_named

    rams = load_event_schema("rams")
    assert type_named(rams, "life.die.n/a") == "life.die.n/a"
    assert type_named(rams, "Life.Die") == "life.die.n/a"  # the general type of several life.die.*
    assert type_named(rams, "life / die") == "life.die.n/a"  # its description
    assert type_named(rams, "conflict.attack.stabbing") == "conflict.attack.stabbing"
    assert type_named(rams, "conflict") is None  # many conflict.* types and no conflict.n/a
    assert type_named(rams, "") is None and type_named(rams, "weather") is None
    casie = load_event_schema("casie")
    assert type_named(casie, "data breach") == "Databreach"
    assert type_named(casie, "Patch") == "PatchVulnerability"


def test_task_prompt_checks_task_and_parser() -> None:
    from ieforge.tasks._answers import task_prompt

    assert task_prompt("triples", "openie", ["tuple_list"]).id == "triples@1"
    with pytest.raises(
        ValueError, match="events/string_list prompt; this needs task events with parser role_map"
    ):
        task_prompt(load_chat_prompt("events", "triggers"), "events", ["role_map"])
