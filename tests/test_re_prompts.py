"""Relation prompts (QA4RE and vanilla), option letters, and the parsers that read the answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st

from ieforge.data import read_semeval
from ieforge.errors import InputError
from ieforge.prompts import (
    REQuestion,
    available_prompts,
    build_re_question,
    content_free_question,
    label_choices,
    load_re_prompt,
    mark_entities,
    option_letters,
    qa4re_options,
)
from ieforge.prompts.parsers import parse_label, parse_option_letter
from ieforge.schemas import load_relation_schema
from ieforge.types import Mention

# SemEval dev example 7201 as QA4RE shows it: the instruction, the sentence with both entities in
# [brackets], the 19 options (18 relations in schema order, Other last) and the question.
PUBLISHED_7201 = """Determine which option can be inferred from the given Sentence.

Sentence: It makes the drive more comfortable by intelligently seeking out what the [passengers] inside \
the [car] prefer in terms of temperature, music, lighting etc.
Options:
A. [passengers] is the component of [car]
B. [car] is the component of [passengers]
C. [passengers] is the instrument of [car]
D. [car] is the instrument of [passengers]
E. [passengers] is the member of [car]
F. [car] is the member of [passengers]
G. [passengers] has the effect [car]
H. [car] has the effect [passengers]
I. [car] is the destination of [passengers]
J. [passengers] is the destination of [car]
K. [car] contains [passengers]
L. [passengers] contains [car]
M. [car] is the topic of [passengers]
N. [passengers] is the topic of [car]
O. [car] produces [passengers]
P. [passengers] produces [car]
Q. [passengers] origins from [car]
R. [car] origins from [passengers]
S. [passengers] has no known relations to [car]

Which option can be inferred from the given Sentence?
Option:"""


def _span(text: str, part: str) -> Mention:
    start = text.index(part)
    return Mention(start=start, end=start + len(part), text=part)


def test_packaged_prompts() -> None:
    assert {"qa4re", "vanilla"} <= set(available_prompts("re"))
    qa, vanilla = load_re_prompt("qa4re"), load_re_prompt("vanilla")
    assert (qa.id, qa.parser, qa.task) == ("qa4re@1", "option_letter", "re")
    assert (vanilla.id, vanilla.parser) == ("vanilla@1", "label")
    assert qa.template == (
        "Determine which option can be inferred from the given Sentence.\n\nSentence: {sentence}\nOptions:\n"
        "{options}\n\nWhich option can be inferred from the given Sentence?\nOption:"
    )
    with pytest.raises(InputError, match="unknown relation prompt 'nope'"):
        load_re_prompt("nope")


def test_published_qa4re_prompt_for_a_semeval_example() -> None:
    ex = read_semeval(shared_data("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT"))[0]
    assert ex.id == "7201"
    q = build_re_question(load_re_prompt("qa4re"), load_relation_schema("semeval"), ex.text, ex.head, ex.tail)
    assert q.text == PUBLISHED_7201
    assert q.prompt == "qa4re@1"
    assert q.answers == option_letters(19)
    assert q.options[0] == ("A", "Component-Whole(e1,e2)")
    assert q.options[-1] == ("S", "Other")
    assert q.label_of("I") == "Entity-Destination(e1,e2)"
    assert q.label_of("T") is None and q.label_of(None) is None
    chat = load_re_prompt("qa4re").chat(q.text)
    assert chat == [{"role": "user", "content": PUBLISHED_7201}]


def test_option_letters() -> None:
    assert option_letters(0) == [] and option_letters(-3) == []
    assert option_letters(3) == ["A", "B", "C"]
    assert option_letters(26)[-1] == "Z"
    letters = option_letters(42)  # TACRED: 41 relations + no_relation
    assert letters[26:29] == ["AA", "AB", "AC"] and letters[-1] == "AP"
    assert option_letters(53)[-2:] == ["AZ", "BA"]
    assert option_letters(702)[-1] == "ZZ" and option_letters(703)[-1] == "AAA"
    many = option_letters(2000)
    assert len(set(many)) == 2000 and all(s.isalpha() and s.isupper() for s in many)


def test_options_in_order_with_none_last() -> None:
    tacred = load_relation_schema("tacred")
    block, pairs = qa4re_options(tacred, "Ann", "Paris", "PERSON", "CITY")
    assert pairs == [
        ("A", "per:city_of_birth"),
        ("B", "per:city_of_death"),
        ("C", "per:cities_of_residence"),
        ("D", "no_relation"),
    ]
    assert block.splitlines() == [
        "A. Ann was born in the city Paris",
        "B. Ann died in the city Paris",
        "C. Ann lives in the city Paris",
        "D. Ann has no known relations to Paris",
    ]
    # no constraint for the pair: only "no relation" is left
    assert qa4re_options(tacred, "Ann", "x", "PERSON", "URL") == (
        "A. Ann has no known relations to x",
        [("A", "no_relation")],
    )
    # no types: every label, letters past Z, the none option last
    block, pairs = qa4re_options(tacred, "s", "o")
    assert len(pairs) == 42 and pairs[-1] == ("AP", "no_relation")
    assert [label for _, label in pairs[:-1]] == tacred.labels
    assert block.splitlines()[0] == "A. s is also known as o"  # org:alternate_names
    assert block.splitlines()[26] == "AA. s died in the country o"  # per:country_of_death
    assert block.splitlines()[-1] == "AP. s has no known relations to o"


def test_label_with_two_templates_gets_two_options() -> None:
    retacred = load_relation_schema("retacred")
    _, pairs = qa4re_options(retacred, "He", "Obama", "PERSON", "PERSON")
    assert [label for _, label in pairs] == [
        "per:identity",
        "per:identity",
        "per:children",
        "per:spouse",
        "per:siblings",
        "per:other_family",
        "per:parents",
        "no_relation",
    ]


def test_vanilla_prompt_lists_labels_none_last() -> None:
    text = "Bill Gates founded Microsoft in 1975."
    q = build_re_question(
        load_re_prompt("vanilla"),
        load_relation_schema("tacred"),
        text,
        _span(text, "Microsoft"),
        _span(text, "Bill Gates"),
        "ORGANIZATION",
        "PERSON",
    )
    assert q.prompt == "vanilla@1"
    assert q.options == [
        (label, label)
        for label in [*load_relation_schema("tacred").allowed_labels("ORGANIZATION", "PERSON"), "no_relation"]
    ]
    assert "Sentence: Bill Gates founded Microsoft in 1975.\n" in q.text
    assert "Head entity: Microsoft\nTail entity: Bill Gates\n" in q.text
    assert "- org:top_members/employees\n- org:founded_by\n- org:shareholders\n- no_relation\n" in q.text
    assert q.text.endswith("Label:")
    block, pairs = label_choices(load_relation_schema("semeval"))
    assert len(pairs) == 19 and block.splitlines()[-1] == "- Other"


def test_braces_in_the_sentence_and_entities_stay_verbatim() -> None:
    text = "The {options} of f{x} depend on {obj}."
    q = build_re_question(
        load_re_prompt("qa4re"),
        load_relation_schema("semeval"),
        text,
        _span(text, "{options}"),
        _span(text, "{obj}"),
    )
    assert "Sentence: The [{options}] of f{x} depend on [{obj}].\n" in q.text
    assert "A. [{options}] is the component of [{obj}]\n" in q.text
    assert q.text.count("Options:\n") == 1


def test_mark_entities() -> None:
    text = "Zoë visited Köln 🚀 today"
    head, tail = _span(text, "Zoë"), _span(text, "Köln 🚀")
    assert mark_entities(text, head, tail, "[{entity}]") == "[Zoë] visited [Köln 🚀] today"
    assert mark_entities(text, tail, head, "<<{entity}>>") == "<<Zoë>> visited <<Köln 🚀>> today"
    assert mark_entities(text, head, tail) == text
    assert mark_entities("ab", _span("ab", "a"), _span("ab", "b"), "[{entity}]") == "[a][b]"
    nested = "New York City"
    assert mark_entities(nested, _span(nested, "New York City"), _span(nested, "York"), "[{entity}]") == (
        "[New [York] City]"
    )
    with pytest.raises(InputError, match="head entity 'Zoe' is not at 0:3"):
        mark_entities(text, Mention(start=0, end=3, text="Zoe"), tail)
    with pytest.raises(InputError, match="tail entity"):
        mark_entities(text, head, Mention(start=20, end=40, text="x"))


def test_prompt_file_errors_name_the_field(tmp_path: Path) -> None:
    good = (
        "name: mine\nversion: 1\ntask: re\nparser: option_letter\n"
        'template: "Sentence: {sentence}\\n{options}"\nchoice_format: "{letter}. {text}"\n'
    )
    path = tmp_path / "mine.yaml"
    path.write_text(good)
    assert load_re_prompt(str(path)).id == "mine@1"
    cases = [
        (good.replace("{options}", "{labels}"), "template: unknown placeholder {labels}"),
        (good.replace("\\n{options}", ""), "template: needs the placeholder {options}"),
        (good.replace("{letter}. ", ""), "choice_format: needs the placeholder {letter}"),
        (good.replace("parser: option_letter", "parser: json"), "parser:"),
        (good.replace("task: re", "task: ner"), "task: a relation prompt has task 're'"),
        (good.replace("version: 1", "version: first"), "version:"),
        (good + 'entity_format: "[x]"\n', "entity_format: needs the placeholder {entity}"),
        (good + "template: [\n", "line "),
    ]
    for n, (content, expected) in enumerate(cases):
        bad = tmp_path / f"bad{n}.yaml"
        bad.write_text(content)
        with pytest.raises(InputError) as info:
            load_re_prompt(str(bad))
        assert str(info.value).startswith(f"{bad}: "), str(info.value)
        assert expected in str(info.value) and "\n" not in str(info.value)


# ---- answers

LETTERS = option_letters(19)  # SemEval: A..S
TACRED_LETTERS = option_letters(42)  # A..Z, AA..AP

# (model output, letters offered, expected letter)
LETTER_CASES: list[tuple[str, list[str], str | None]] = [
    ("B", LETTERS, "B"),
    (" B.", LETTERS, "B"),
    ("b", LETTERS, "B"),
    ("(B)", LETTERS, "B"),
    ("[C]", LETTERS, "C"),
    ("**D**", LETTERS, "D"),
    ("'E'", LETTERS, "E"),
    ("Option: B", LETTERS, "B"),
    ("Option B", LETTERS, "B"),
    ("option: (c)", LETTERS, "C"),
    ("The answer is B. Because the car contains passengers.", LETTERS, "B"),
    ("The correct option is (D).", LETTERS, "D"),
    ("Answer: F", LETTERS, "F"),
    ("the answer is b because the sentence says so", LETTERS, "B"),
    ("B. [car] is the component of [passengers]", LETTERS, "B"),
    ("C) [car] contains [passengers]", LETTERS, "C"),
    ("\n\n  G\n", LETTERS, "G"),
    ("I think C.", LETTERS, "C"),
    ("I", LETTERS, "I"),
    ("I.", LETTERS, "I"),
    ("Option: I", LETTERS, "I"),
    ("A", LETTERS, "A"),
    ("A. [x] is the component of [y]", LETTERS, "A"),
    ("A person is the member of a crowd.", LETTERS, None),
    ("the answer is a person", LETTERS, None),
    ("AB.", TACRED_LETTERS, "AB"),
    ("AB", TACRED_LETTERS, "AB"),
    ("Option: AP", TACRED_LETTERS, "AP"),
    ("AB.", LETTERS, None),  # only 19 options
    ("Z", LETTERS, None),
    ("T", LETTERS, None),
    ("Option: T", LETTERS, None),
    # an echoed prompt followed by the answer: the listed options are not the answer
    (
        "Options:\nA. x\nB. y\n\nWhich option can be inferred from the given Sentence?\nOption: C",
        LETTERS,
        "C",
    ),
    ("None of the options.", LETTERS, None),
    ("", LETTERS, None),
    ("   ", LETTERS, None),
    ("???", LETTERS, None),
    ("B", [], None),
]


@pytest.mark.parametrize(("raw", "letters", "expected"), LETTER_CASES)
def test_parse_option_letter(raw: str, letters: list[str], expected: str | None) -> None:
    assert parse_option_letter(raw, letters) == expected


def test_parse_option_letter_falls_back_to_the_option_text() -> None:
    texts = [
        "[a] is the component of [b]",
        "[b] is the component of [a]",
        "[a] has no known relations to [b]",
    ]
    letters = option_letters(3)
    assert parse_option_letter("[b] is the component of [a]", letters, texts) == "B"
    assert parse_option_letter("so: [a] has no known relations to [b]", letters, texts) == "C"
    assert parse_option_letter("nothing useful", letters, texts) is None
    assert parse_option_letter(None, letters, texts) is None


LABELS = ["per:title", "org:members", "org:member_of", "per:other_family", "no_relation"]
SEMEVAL = load_relation_schema("semeval").all_labels

LABEL_CASES: list[tuple[str, list[str], str | None]] = [
    ("per:title", LABELS, "per:title"),
    ("  PER:TITLE  ", LABELS, "per:title"),
    ('"org:members".', LABELS, "org:members"),
    ("`org:member_of`", LABELS, "org:member_of"),
    ("- no_relation", LABELS, "no_relation"),
    ("Label: org:member_of", LABELS, "org:member_of"),
    ("Relation: per:other_family", LABELS, "per:other_family"),
    ("The relation is org:members.", LABELS, "org:members"),
    ("org:member_of, not org:members", LABELS, "org:member_of"),  # longest first
    ("either per:title or org:members", LABELS, "org:members"),  # longest wins over earliest
    ("no relation", LABELS, "no_relation"),
    ("per other family", LABELS, "per:other_family"),
    ("org:membership", LABELS, None),  # not a label inside a longer word
    ("I don't know.", LABELS, None),
    ("", LABELS, None),
    ("Cause-Effect(e2,e1)", SEMEVAL, "Cause-Effect(e2,e1)"),
    ("cause-effect (e2, e1)", SEMEVAL, "Cause-Effect(e2,e1)"),
    ("Other", SEMEVAL, "Other"),
    ("other.", SEMEVAL, "Other"),
    ("Component-Whole", SEMEVAL, None),  # the direction is part of the label
    ("Answer: Entity-Origin(e1,e2) because ...", SEMEVAL, "Entity-Origin(e1,e2)"),
    ("per:title", [], None),
]


@pytest.mark.parametrize(("raw", "labels", "expected"), LABEL_CASES)
def test_parse_label(raw: str, labels: list[str], expected: str | None) -> None:
    assert parse_label(raw, labels) == expected


_PIECES = [
    *"ABCIZabci ()[]*.,:-_\n\t\"'`{}<>🚀é東",
    "Option: ",
    "Options:",
    "answer is ",
    "AB",
    "AP",
    "I think ",
]
_messy = st.lists(st.sampled_from(_PIECES), max_size=25).map("".join) | st.text(max_size=60)


@settings(max_examples=500, deadline=None)
@given(_messy, st.integers(0, 60), st.booleans())
def test_letter_parser_never_raises(raw: str, n: int, with_texts: bool) -> None:
    letters = option_letters(n)
    texts = [f"option {k}" for k in range(n)] if with_texts else None
    got = parse_option_letter(raw, letters, texts)
    assert got is None or got in letters


@settings(max_examples=500, deadline=None)
@given(_messy, st.lists(st.text(max_size=12), max_size=8))
def test_label_parser_never_raises(raw: str, labels: list[str]) -> None:
    got = parse_label(raw, labels)
    assert got is None or got in labels
    for label in labels:
        if label.strip() and label.lower() == label.lower().strip():
            assert parse_label(label, labels) is not None


def test_question_model_round_trip() -> None:
    q = REQuestion(prompt="qa4re@1", text="x", options=[("A", "per:title"), ("B", "no_relation")])
    assert REQuestion.model_validate_json(q.model_dump_json()) == q
    assert q.label_of(parse_option_letter("Option: B", q.answers)) == "no_relation"


def test_content_free_question_keeps_the_options_and_drops_the_content() -> None:
    prompt, schema = load_re_prompt("qa4re"), load_relation_schema("tacred")
    real = build_re_question(
        prompt,
        schema,
        "Bill Gates founded Microsoft.",
        Mention(start=19, end=28, text="Microsoft"),
        Mention(start=0, end=10, text="Bill Gates"),
        "ORGANIZATION",
        "PERSON",
    )
    blank = content_free_question(prompt, schema, "ORGANIZATION", "PERSON")
    assert blank.options == real.options
    assert "Sentence: N/A\n" in blank.text
    assert "Bill" not in blank.text and "Microsoft" not in blank.text
    assert "[N/A] was founded by [N/A]" in blank.text


def test_solved_questions_become_earlier_turns() -> None:
    prompt = load_re_prompt("qa4re")
    chat = prompt.chat("Q3", [("Q1", "A"), ("Q2", "C")])
    assert [(m["role"], m["content"]) for m in chat] == [
        ("user", "Q1"),
        ("assistant", "A"),
        ("user", "Q2"),
        ("assistant", "C"),
        ("user", "Q3"),
    ]


def test_rotated_questions_keep_the_none_option_last() -> None:
    tacred = load_relation_schema("tacred")
    prompt = load_re_prompt("qa4re")
    text = "Ann was born in Paris."
    head, tail = Mention(start=0, end=3, text="Ann"), Mention(start=16, end=21, text="Paris")
    labels = [
        [
            label
            for _, label in build_re_question(
                prompt, tacred, text, head, tail, "PERSON", "CITY", rotation=r
            ).options
        ]
        for r in range(4)
    ]
    assert labels[0] == ["per:city_of_birth", "per:city_of_death", "per:cities_of_residence", "no_relation"]
    assert labels[1] == ["per:city_of_death", "per:cities_of_residence", "per:city_of_birth", "no_relation"]
    assert labels[3] == labels[0]  # three relations: a rotation by three is the identity
    rotated = build_re_question(prompt, tacred, text, head, tail, "PERSON", "CITY", rotation=2)
    assert "A. [Ann] lives in the city [Paris]" in rotated.text
    assert rotated.choices[0] == "[Ann] lives in the city [Paris]"
    # only the none option: nothing to rotate
    lone = build_re_question(prompt, tacred, text, head, tail, "PERSON", "URL", rotation=5)
    assert lone.options == [("A", "no_relation")]
    # the vanilla label list and the content-free question rotate the same way
    _, pairs = label_choices(tacred, "PERSON", "CITY", rotation=1)
    assert [label for label, _ in pairs] == labels[1]
    free = content_free_question(prompt, tacred, "PERSON", "CITY", rotation=1)
    assert [label for _, label in free.options] == labels[1]
