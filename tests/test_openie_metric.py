"""CaRB open IE scores: tuple matching and the corpus curve, hand-computed, and the real dev gold."""

from __future__ import annotations

import math

import pytest
from conftest import DATA

from ieforge.data import OpenIEExample, OpenIEExtraction, read_carb
from ieforge.evaluate import OpenIEScores, ScoredExtraction, carb_match, carb_scores


def _x(relation: str, *arguments: str) -> OpenIEExtraction:
    return OpenIEExtraction(relation=relation, arguments=list(arguments))


# --- one tuple against one ----------------------------------------------------------------------------


def test_identical_tuples() -> None:
    t = _x("made a final offer on", "President Bush", "the minimum wage", "Earlier this year")
    assert carb_match(t, t) == (1.0, 1.0)


def test_arguments_after_the_subject_form_one_object() -> None:
    gold = _x("made an offer on", "President Bush", "the minimum wage", "earlier this year")
    pred = _x("made offer on", "Bush", "the minimum wage earlier this year")
    # relation: made, offer, on shared = 3 (pred 3 tokens, gold 4)
    # subject: bush = 1 (pred 1, gold 2)
    # object: gold "the minimum wage earlier this year" (6) vs the same 6 -> 6
    # precision (3+1+6)/(3+1+6) = 1; recall 10/(4+2+6) = 5/6.
    # (Comparing the arguments one by one instead would give precision 7/10.)
    precision, recall = carb_match(gold, pred)
    assert precision == pytest.approx(1.0)
    assert recall == pytest.approx(5 / 6)


def test_tokens_are_lowercased_and_counted_as_multisets() -> None:
    gold = _x("saw", "the dog", "the man")
    pred = _x("Saw", "The the dog", "man")
    # relation 1/1; subject: gold [the, dog] vs [the, the, dog] -> 2 shared of 3 predicted;
    # object: [the, man] vs [man] -> 1 of 1.  Precision 4/5, recall 4/5.
    assert carb_match(gold, pred) == pytest.approx((4 / 5, 4 / 5))


def test_relation_without_shared_token_scores_zero() -> None:
    assert carb_match(_x("is", "Bush", "President"), _x("was", "Bush", "President")) == (0.0, 0.0)


def test_be_matches_a_form_of_to_be() -> None:
    # "be" shares no token with "is", but counts as one shared relation token: 3 of 3 on both sides
    assert carb_match(_x("is", "Bush", "President"), _x("be", "Bush", "President")) == (1.0, 1.0)


def test_missing_and_extra_slots() -> None:
    # the gold tuple has an object and the prediction none: no match at all
    assert carb_match(_x("ate", "John", "bread"), _x("ate", "John")) == (0.0, 0.0)
    # the prediction has an object and the gold tuple none: the object is not compared
    assert carb_match(_x("slept", "John"), _x("slept", "John", "in the park")) == (1.0, 1.0)


def test_reporting_verbs_may_swap_subject_and_object() -> None:
    gold = _x("said", "John", "it will rain")
    # read as given: relation 1 shared, subject and object 0 -> 1 of 5 predicted, 1 of 5 gold;
    # read swapped: everything matches, and the better reading is kept
    assert carb_match(gold, _x("said", "it will rain", "John")) == (1.0, 1.0)
    # other relations are read as given only: 1 shared token of 3 on each side
    assert carb_match(_x("ate", "John", "bread"), _x("ate", "bread", "John")) == pytest.approx((1 / 3, 1 / 3))


# --- corpus ----------------------------------------------------------------------------------------------


def test_hand_computed_corpus_curve() -> None:
    g1, g2, g3 = _x("ate", "John", "bread"), _x("saw", "Mary", "John"), _x("slept", "the dog")
    a = _x("ate", "John", "bread")  # vs g1 (1, 1); vs g2 (0, 0)
    b = _x("ate", "John", "bread in the park")  # vs g1: 3 shared of 6 predicted, of 3 gold -> (1/2, 1)
    c = _x("slept", "dog")  # vs g3: 2 shared of 2 predicted, of 3 gold -> (1, 2/3)
    gold = [
        OpenIEExample(id="s1", text="...", extractions=[g1, g2]),
        [g3],
        [],  # no gold tuples: its prediction is not scored
    ]
    pred = [
        [(a, 0.9), (b, 0.5)],
        [ScoredExtraction(relation=c.relation, arguments=c.arguments, confidence=0.5)],
        [(_x("is", "x", "y"), 0.9)],
    ]
    scores = carb_scores(gold, pred)
    # threshold 0.9 keeps a: recall (1 + 0 + 0)/3 = 1/3; precision: a pairs with g1 -> 1/1.  F1 1/2.
    # threshold 0.5 keeps a, b, c: recall (max(1, 1) + 0 + 2/3)/3 = 5/9; precision: sentence 1 pairs
    #   (g1, a) = 1 first, then (g2, b) = 0; sentence 2 (g3, c) = 1 -> 2 of 3 kept = 2/3.
    #   F1 = 2 (2/3)(5/9) / (2/3 + 5/9) = 20/33.
    assert [(p.threshold, p.precision, p.recall) for p in scores.curve] == [
        pytest.approx((0.5, 2 / 3, 5 / 9)),
        pytest.approx((0.9, 1.0, 1 / 3)),
    ]
    assert scores.curve[1].f1 == pytest.approx(0.5)
    assert scores.threshold == 0.5
    assert scores.f1 == pytest.approx(20 / 33)
    assert (scores.precision, scores.recall) == pytest.approx((2 / 3, 5 / 9))
    # trapezoids over (5/9, 2/3) -> (1/3, 1) -> (0, 1): (2/9)(5/6) + (1/3)(1) = 14/27
    assert scores.auc == pytest.approx(14 / 27)
    assert (scores.gold, scores.predicted, scores.ignored) == (3, 3, 1)


def test_recall_lets_one_prediction_serve_several_gold_tuples() -> None:
    g1, g2 = _x("ate", "John", "bread"), _x("ate", "John", "the bread")
    a = _x("ate", "John", "bread")  # vs g1 (1, 1); vs g2: 3 shared of 3 predicted, of 4 gold -> (1, 3/4)
    scores = carb_scores([[g1, g2]], [[(a, 1.0)]])
    # recall (1 + 3/4)/2 = 7/8: a counts for both; precision: a is paired once, with g1 -> 1
    assert (scores.precision, scores.recall) == pytest.approx((1.0, 7 / 8))


def test_precision_pairs_predictions_one_to_one() -> None:
    g = _x("ate", "John", "bread")
    scores = carb_scores([[g]], [[(g, 1.0), (g, 1.0)]])
    # recall 1, but only one copy gets the gold tuple: precision (1 + 0)/2
    assert (scores.precision, scores.recall) == pytest.approx((0.5, 1.0))
    assert scores.f1 == pytest.approx(2 / 3)


def test_best_f1_on_ties_takes_the_lowest_threshold() -> None:
    g = _x("ate", "John", "bread")
    # the prediction at 0.2 is another sentence's and so changes nothing: two points with the same F1
    scores = carb_scores([[g], []], [[(g, 0.7)], [(g, 0.2)]])
    assert [p.f1 for p in scores.curve] == [1.0, 1.0]
    assert scores.threshold == 0.2
    assert scores.auc == pytest.approx(1.0)


def test_inputs_of_either_form_give_the_same_scores() -> None:
    gold = [[_x("ate", "John", "bread")], [_x("slept", "the dog")]]
    as_pairs = [[(_x("ate", "John", "bread in the park"), 0.4)], [(_x("slept", "dog"), 0.8)]]
    as_models = [
        [ScoredExtraction(relation=x.relation, arguments=x.arguments, confidence=c) for x, c in sentence]
        for sentence in as_pairs
    ]
    examples = [OpenIEExample(id=str(i), text="", extractions=g) for i, g in enumerate(gold)]
    assert carb_scores(gold, as_pairs) == carb_scores(examples, as_models)


def test_empty_inputs() -> None:
    g = _x("ate", "John", "bread")
    assert carb_scores([], []) == OpenIEScores()
    nothing = carb_scores([[g]], [[]])
    assert nothing.curve == [] and nothing.threshold is None
    assert (nothing.auc, nothing.f1, nothing.precision, nothing.recall) == (0.0, 0.0, 0.0, 0.0)
    assert (nothing.gold, nothing.predicted) == (1, 0)
    # no gold tuple anywhere: nothing is scored; a threshold keeping no scored prediction has precision 1
    no_gold = carb_scores([[]], [[(g, 0.5)]])
    assert (no_gold.f1, no_gold.recall, no_gold.precision, no_gold.auc) == (0.0, 0.0, 1.0, 0.0)
    assert (no_gold.gold, no_gold.predicted, no_gold.ignored) == (0, 0, 1)


def test_bad_inputs() -> None:
    g = _x("ate", "John", "bread")
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        carb_scores([[g], [g]], [[(g, 1.0)]])
    with pytest.raises(ValueError, match="finite"):
        carb_scores([[g]], [[(g, math.nan)]])
    with pytest.raises(TypeError, match="ScoredExtraction"):
        carb_scores([[g]], [[g]])  # type: ignore[list-item]


# --- the real CaRB dev gold -------------------------------------------------------------------------------


def _carb_dev() -> list[OpenIEExample]:
    sentences, gold = DATA / "carb" / "dev.txt", DATA / "carb" / "gold" / "dev.tsv"
    if not (sentences.exists() and gold.exists()):
        pytest.skip(f"shared benchmark data not found: {DATA / 'carb'}")
    return read_carb(sentences, gold)


def test_carb_dev_gold_against_itself() -> None:
    examples = _carb_dev()
    full = carb_scores(examples, [[(x, 1.0) for x in ex.extractions] for ex in examples])
    assert full.f1 == 1.0 and full.precision == 1.0 and full.recall == 1.0
    assert full.auc == pytest.approx(1.0)
    assert full.gold == sum(len(ex.extractions) for ex in examples) == 2548

    half = carb_scores(examples, [[(x, 1.0) for x in ex.extractions[::2]] for ex in examples])
    assert half.predicted < full.predicted
    assert half.recall < full.recall
    assert half.precision == pytest.approx(full.precision)
