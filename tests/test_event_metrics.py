"""Event extraction scores (trigger/argument identification and classification), hand-computed."""

from __future__ import annotations

import pytest

from ieforge.data import Argument, EventMention
from ieforge.evaluate import PRF, EventScores, event_prf
from ieforge.types import Mention


def _m(start: int, end: int, text: str = "w") -> Mention:
    return Mention(start=start, end=end, text=text)


def _ev(
    start: int,
    end: int,
    subtype: str | None,
    *args: tuple[str, int, int],
    type: str = "Attack",
) -> EventMention:
    return EventMention(
        type=type,
        subtype=subtype,
        trigger=_m(start, end),
        arguments=[Argument(role=role, span=_m(a, b)) for role, a, b in args],
    )


def test_hand_computed_corpus() -> None:
    gold = [
        [
            _ev(10, 15, "Databreach", ("Attacker", 0, 5), ("Victim", 20, 25)),
            _ev(30, 35, "Phishing", ("Attacker", 0, 5)),
        ],
        [],  # nothing to find
        [_ev(3, 7, "Ransom", ("Attacker", 0, 2))],  # nothing predicted
    ]
    pred = [
        [
            # right trigger and type; one argument right, the other with the wrong role
            _ev(10, 15, "Databreach", ("Attacker", 0, 5), ("Attacker", 20, 25)),
            # right trigger, wrong (sub)type: its argument carries the wrong event type too
            _ev(30, 35, "Ransom", ("Attacker", 0, 5)),
            # spurious trigger whose argument nevertheless equals gold (20, 25, Databreach, Victim)
            _ev(40, 45, "Databreach", ("Victim", 20, 25)),
        ],
        [_ev(1, 2, "Phishing", ("Victim", 5, 6))],
        [],
    ]
    scores = event_prf(gold, pred)
    # Trig-I, doc 0: gold {(10,15),(30,35)} vs pred {(10,15),(30,35),(40,45)} -> tp 2 fp 1;
    #   doc 1: fp 1; doc 2: fn 1.  Total tp 2 fp 2 fn 1.
    assert scores.trigger_identification == PRF(tp=2, fp=2, fn=1)
    # Trig-C, doc 0: only (10,15,Databreach) is right -> tp 1 fp 2 fn 1 (Phishing missed); doc 1 fp 1;
    #   doc 2 fn 1.  Total tp 1 fp 3 fn 2.
    assert scores.trigger_classification == PRF(tp=1, fp=3, fn=2)
    # Arg-I, doc 0: gold {(0,5,DB),(20,25,DB),(0,5,Ph)}, pred {(0,5,DB),(20,25,DB) [twice, one tuple],
    #   (0,5,Ransom)} -> tp 2 fp 1 fn 1; doc 1 fp 1; doc 2 fn 1.  Total tp 2 fp 2 fn 2.
    assert scores.argument_identification == PRF(tp=2, fp=2, fn=2)
    # Arg-C, doc 0: gold {(0,5,DB,Att),(20,25,DB,Vic),(0,5,Ph,Att)}, pred {(0,5,DB,Att),(20,25,DB,Att),
    #   (0,5,Ra,Att),(20,25,DB,Vic)} -> tp 2 fp 2 fn 1; doc 1 fp 1; doc 2 fn 1.  Total tp 2 fp 3 fn 2.
    assert scores.argument_classification == PRF(tp=2, fp=3, fn=2)
    assert scores.trigger_classification.precision == pytest.approx(1 / 4)
    assert scores.trigger_classification.recall == pytest.approx(1 / 3)
    assert scores.argument_classification.f1 == pytest.approx(2 * (2 / 5) * (2 / 4) / (2 / 5 + 2 / 4))


def test_subtype_is_the_scored_type_and_type_the_fallback() -> None:
    # CASIE style: the coarse type differs but the subtype agrees -> a match
    gold = [[_ev(0, 4, "Databreach", type="Attack")]]
    pred = [[_ev(0, 4, "Databreach", type="Something-else")]]
    assert event_prf(gold, pred).trigger_classification == PRF(tp=1)
    # no subtype on either side: the type decides
    gold = [[_ev(0, 4, None, ("Victim", 5, 9), type="life.die")]]
    pred = [[_ev(0, 4, None, ("Victim", 5, 9), type="life.injure")]]
    scores = event_prf(gold, pred)
    assert scores.trigger_identification == PRF(tp=1)
    assert scores.trigger_classification == PRF(tp=0, fp=1, fn=1)
    assert scores.argument_identification == PRF(tp=0, fp=1, fn=1)
    # a subtype on one side only: "Databreach" against the type "Attack" is a different type
    assert event_prf([[_ev(0, 4, "Databreach")]], [[_ev(0, 4, None)]]).trigger_classification == PRF(
        tp=0, fp=1, fn=1
    )


def test_arguments_do_not_need_the_trigger() -> None:
    gold = [[_ev(10, 14, "Ransom", ("Victim", 0, 3))]]
    pred = [[_ev(50, 54, "Ransom", ("Victim", 0, 3))]]  # trigger elsewhere, same type
    scores = event_prf(gold, pred)
    assert scores.trigger_identification == PRF(tp=0, fp=1, fn=1)
    assert scores.argument_identification == PRF(tp=1)
    assert scores.argument_classification == PRF(tp=1)


def test_offsets_not_text_and_documents_kept_apart() -> None:
    gold = [[EventMention(type="Ransom", trigger=_m(0, 4, "paid"))], []]
    # same offsets with another text still match; the same event in the wrong document does not
    pred = [
        [EventMention(type="Ransom", trigger=_m(0, 4, "PAID "))],
        [EventMention(type="Ransom", trigger=_m(0, 4))],
    ]
    scores = event_prf(gold, pred)
    assert scores.trigger_classification == PRF(tp=1, fp=1, fn=0)


def test_duplicates_count_once() -> None:
    event = _ev(0, 4, "Phishing", ("Attacker", 5, 9), ("Attacker", 5, 9))
    scores = event_prf([[event, event]], [[event, event, event]])
    for prf in (
        scores.trigger_identification,
        scores.trigger_classification,
        scores.argument_identification,
        scores.argument_classification,
    ):
        assert prf == PRF(tp=1)
        assert prf.f1 == 1.0
    # two events of different types on one trigger: one trigger, two classified triggers
    two = [_ev(0, 4, "Phishing"), _ev(0, 4, "Databreach")]
    scores = event_prf([two], [two[:1]])
    assert scores.trigger_identification == PRF(tp=1)
    assert scores.trigger_classification == PRF(tp=1, fn=1)


def test_empty_inputs_and_length_mismatch() -> None:
    assert event_prf([], []) == EventScores()
    assert event_prf([[], []], [[], []]) == EventScores()
    only_gold = event_prf([[_ev(0, 4, "Ransom", ("Victim", 5, 9))]], [[]])
    assert only_gold.trigger_classification == PRF(fn=1)
    assert only_gold.argument_classification == PRF(fn=1)
    assert only_gold.argument_classification.f1 == 0.0
    only_pred = event_prf([[]], [[_ev(0, 4, "Ransom", ("Victim", 5, 9))]])
    assert only_pred.trigger_identification == PRF(fp=1)
    assert only_pred.argument_identification == PRF(fp=1)
    with pytest.raises(ValueError, match="2 gold documents but 1 predicted"):
        event_prf([[], []], [[]])
