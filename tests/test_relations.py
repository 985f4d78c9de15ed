"""Relation task pieces that need no model: argument forms, the RE metric, letter probability mass."""

from __future__ import annotations

import math

import pytest

from ieforge.errors import InputError
from ieforge.evaluate import relation_prf
from ieforge.extractor import make_query
from ieforge.tasks._options import distinct_mass
from ieforge.tasks.relations import RelationQuery, pick_demonstrations
from ieforge.types import Mention


def test_head_and_tail_as_strings_offsets_or_markup() -> None:
    text = "Bill Gates founded Microsoft with Paul Allen."
    q = make_query(text, "Bill Gates", "Microsoft", "PERSON", "ORGANIZATION")
    assert (q.head.start, q.head.end, q.tail.start, q.tail.end) == (0, 10, 19, 28)
    assert q.head_type == "PERSON" and q.tail_type == "ORGANIZATION"
    q2 = make_query(text, (0, 10), Mention(start=19, end=28, text="Microsoft"))
    assert q2.head == q.head and q2.tail == q.tail
    q3 = make_query("The <e1>bottle</e1> was full of <e2>wine</e2>.", None, None)
    assert q3.text == "The bottle was full of wine."
    assert q3.text[q3.head.start : q3.head.end] == "bottle" and q3.text[q3.tail.start : q3.tail.end] == "wine"


@pytest.mark.parametrize(
    ("head", "tail", "message"),
    [
        ("Steve Jobs", "Microsoft", "head 'Steve Jobs' does not occur"),
        ("Bill Gates", None, "give both head and tail"),
        (None, None, "mark them in the text"),
        ((0, 99), "Microsoft", "do not fit the text"),
    ],
)
def test_bad_arguments_are_one_clear_error(head: object, tail: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        make_query("Bill Gates founded Microsoft.", head, tail)  # type: ignore[arg-type]


def test_relation_f1_excludes_the_none_label() -> None:
    gold = ["A", "A", "Other", "B", "Other"]
    pred = ["A", "Other", "B", "B", "Other"]
    prf = relation_prf(gold, pred, "Other")
    # tp: A, B ; fp: B (gold Other) ; fn: A (predicted Other)
    assert (prf.tp, prf.fp, prf.fn) == (2, 1, 1)
    assert prf.f1 == pytest.approx(2 / 3)
    with_none = relation_prf(gold, pred, "Other", keep_none=True)
    assert (with_none.tp, with_none.fp, with_none.fn) == (3, 2, 2)
    with pytest.raises(ValueError):
        relation_prf(gold, pred[:2], "Other")


def test_letter_spellings_add_up_unless_they_are_one_token() -> None:
    # as read with distinct=True: " B" is the same token as "B" here, so the backend gave it -inf
    lp = {"A": math.log(0.2), " A": math.log(0.1), "B": math.log(0.3), " B": -math.inf}
    assert distinct_mass(lp, "A") == pytest.approx(0.3)
    assert distinct_mass(lp, "B") == pytest.approx(0.3)
    # two different tokens may have equal scores (bf16 logits often tie): both count
    tie = {"C": math.log(0.25), " C": math.log(0.25)}
    assert distinct_mass(tie, "C") == pytest.approx(0.5)


def test_schema_types_become_ner_labels() -> None:
    from ieforge.extractor import entity_types_of, type_to_label
    from ieforge.schemas.relations import load_relation_schema

    types = entity_types_of(load_relation_schema("tacred"))
    assert types[0] == "PERSON" and "ORGANIZATION" in types and len(types) == len(set(types))
    assert type_to_label("STATE_OR_PROVINCE") == "state or province"
    assert entity_types_of(load_relation_schema("semeval")) == ["MISC"]


def _pool(labels: list[str]) -> list[tuple[RelationQuery, str]]:
    m = Mention(start=0, end=1, text="a")
    return [(RelationQuery(f"a {i}", m, m), label) for i, label in enumerate(labels)]


def test_demonstrations_cover_distinct_labels_first() -> None:
    pool = _pool(["x"] * 50 + ["y"] * 3 + ["z"])
    picked = pick_demonstrations(pool, 3, seed=1)
    assert sorted(label for _, label in picked) == ["x", "y", "z"]
    assert pick_demonstrations(pool, 3, seed=1) == picked  # seeded
    five = pick_demonstrations(pool, 5, seed=1)
    assert len(five) == 5 and len({q.text for q, _ in five}) == 5  # no example twice
    assert pick_demonstrations(pool, 0) == [] and pick_demonstrations([], 3) == []
    assert len(pick_demonstrations(_pool(["x", "y"]), 9)) == 2
