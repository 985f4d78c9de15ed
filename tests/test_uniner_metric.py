"""UniversalNER string-set metric and its SQuAD-style answer normalization."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA

from ieforge.data import dataset_labels, read_bio, read_uniner
from ieforge.evaluate import PRF, normalize_answer, uniner_prf


def _real(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared benchmark data not found: {path}")
    return path


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Beatles", "beatles"),
        ("  A  Tale of Two\tCities! ", "tale of two cities"),
        ("an apple", "apple"),
        ("Theory of the Leisure Class", "theory of leisure class"),
        ("U.S.A.", "usa"),
        ("Rock 'n' roll", "rock n roll"),
        ("Guns N' Roses", "guns n roses"),
        ("C++", "c"),
        ("AN", ""),
        ("Köln – Bonn", "köln – bonn"),
        ("", ""),
    ],
)
def test_normalize_answer(raw: str, normalized: str) -> None:
    assert normalize_answer(raw) == normalized


def test_hand_computed_micro_counts() -> None:
    gold = [
        {"person": ["Barack Obama", "Obama"], "location": []},
        {"organization": ["the UN", "UN"]},
    ]
    pred = [
        # person: {barack obama, obama} vs {barack obama, obama, michelle} -> tp 2, fp 1
        # location: nothing gold, one predicted -> fp 1
        {"person": ["barack obama", "Obama.", "Michelle"], "location": ["Hawaii"]},
        # organization: the two gold strings normalize to one, "un"; nothing predicted -> fn 1
        # misc was not asked in the gold, but the predicted string still counts -> fp 1
        {"misc": ["x"]},
    ]
    result = uniner_prf(gold, pred)
    assert (result.tp, result.fp, result.fn) == (2, 3, 1)
    assert result.precision == pytest.approx(2 / 5)
    assert result.recall == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(0.5)


def test_repeated_strings_count_once() -> None:
    gold = [{"song": ["Yesterday", "Yesterday", "Help!"]}]
    pred = [{"song": ["yesterday", "YESTERDAY", "Yesterday ", "Let It Be", "let it be"]}]
    assert uniner_prf(gold, pred) == PRF(tp=1, fp=1, fn=1)


def test_types_are_compared_separately() -> None:
    gold = [{"band": ["Queen"], "person": []}]
    pred = [{"band": [], "person": ["Queen"]}]
    assert uniner_prf(gold, pred) == PRF(tp=0, fp=1, fn=1)


def test_perfect_empty_and_mismatched_inputs() -> None:
    gold = [{"city": ["Paris", "the Hague"]}, {"city": []}]
    assert uniner_prf(gold, gold) == PRF(tp=2, fp=0, fn=0)
    assert uniner_prf(gold, gold).f1 == 1.0
    nothing = uniner_prf([{"city": []}], [{}])
    assert nothing == PRF() and nothing.f1 == 0.0
    assert uniner_prf([], []) == PRF()
    with pytest.raises(ValueError, match="2 gold examples but 1 predicted"):
        uniner_prf(gold, gold[:1])


def test_real_gold_against_the_column_file() -> None:
    """Scoring the CrossNER AI column file's entities as predictions against the UniversalNER gold.

    Both come from the same annotation; the UniversalNER copy lacks four sentence-final entities of the
    asked types, which the column file has, so those are the only disagreements.
    """
    gold = read_uniner(_real("crossner_ai", "uniner_format_test.json"))
    sentences = read_bio(_real("crossner_ai", "test.txt"), label_map=dataset_labels("crossner_ai"))
    pred = [
        {kind: [e.text for e in s.entities if e.label == kind] for kind in ex.gold}
        for ex, s in zip(gold, sentences)
    ]
    assert uniner_prf([ex.gold for ex in gold], pred) == PRF(tp=1603, fp=4, fn=0)
    distinct = sum(len({normalize_answer(s) for s in v}) for ex in gold for v in ex.gold.values())
    assert uniner_prf([ex.gold for ex in gold], [ex.gold for ex in gold]) == PRF(tp=distinct)
