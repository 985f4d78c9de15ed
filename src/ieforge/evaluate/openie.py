"""Open IE scores in the CaRB protocol (Bhardwaj, Aggarwal and Mausam, EMNLP 2019).

CaRB compares tuples word by word and ranks predictions by their confidence. This module follows the
default scorer released with the benchmark (``carb.py`` with its default matcher), so that the numbers
can be set next to published CaRB results; the code is our own.

**Tokens.** A phrase is lower-cased and split on whitespace, nothing more. CaRB's sentences and gold
tuples are already tokenized the Penn Treebank way (``$ 4.25``, ``Bush 's``, ``-LRB-``), so predictions
should be tokenized like the sentence they come from, for instance by copying its words: a prediction
that writes ``$4.25`` does not match the gold tokens ``$`` and ``4.25``. (CaRB's matcher compares words
case-sensitively; lower-casing only forgives a prediction that changes capitalization.)

**Tuple against tuple** (:func:`carb_match`). Both tuples are first made binary: every argument after
the subject is joined, in order, into one object phrase. The slots are then compared position by
position: relation with relation, subject with subject, object with object. In each slot the number of
shared tokens is counted as a multiset (a gold token is matched at most once). Precision is the shared
tokens over the predicted tokens, recall the shared tokens over the gold tokens, both summed over the
slots. As in CaRB:

* a pair whose relations share no token scores (0, 0), and so does a pair where the gold tuple has an
  object (or a subject) and the prediction has none;
* a predicted slot that the gold tuple does not have (an object, when the gold tuple has only a
  subject) is not compared and does not count against precision;
* a predicted relation word ``be`` that is left unmatched counts as one more shared token when the gold
  relation has a form of *to be* (``is``, ``was``, ``been`` ...);
* when the gold relation is a reporting verb (a token among ``said``, ``told``, ``added``, ``adds``,
  ``says``), the prediction is also read with subject and object swapped, and the reading with the
  higher precision (then recall) is kept. CaRB looks for these verbs as substrings of the relation;
  here they must be whole tokens.

**Corpus.** Gold and predicted sentences are paired by position. Every distinct confidence among the
predictions is a threshold; at a threshold, the predictions with at least that confidence are kept.

* Recall: every gold tuple takes the best recall any kept prediction of its sentence reaches with it
  (one prediction may serve several gold tuples); the sum over all gold tuples is divided by their
  number.
* Precision: within a sentence, kept predictions and gold tuples are paired one to one, greedily: the
  pair with the highest precision first (ties to the earlier gold tuple, then the earlier prediction),
  until one side runs out. The precisions of the pairs are summed over the corpus and divided by the
  number of kept predictions, so a prediction left without a gold tuple counts as 0. A threshold that
  keeps no scored prediction has precision 1.
* Sentences without gold tuples are not scored: their predictions count nowhere (CaRB's scorer only
  visits sentences that have gold tuples). :attr:`OpenIEScores.ignored` says how many there were.

The reported point is the threshold with the best F1 (the lowest such threshold on ties), and the AUC
is the area under the precision-recall curve, by the trapezoid rule, over the thresholds' points plus
the point (recall 0, precision 1). CaRB rounds its results to three decimals; they are not rounded
here.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise

from pydantic import BaseModel, Field

from ieforge.data.examples import OpenIEExample, OpenIEExtraction
from ieforge.types import OpenTriple

_BE_FORMS = frozenset({"be", "is", "am", "are", "was", "were", "been", "being"})
_REPORTING = frozenset({"said", "told", "added", "adds", "says"})
_ZERO = Fraction(0)


class ScoredExtraction(OpenIEExtraction):
    """A predicted open IE tuple with the system's confidence in it."""

    confidence: float


class PRPoint(BaseModel):
    """One point of the precision-recall curve: the scores of the predictions kept at a threshold."""

    threshold: float
    precision: float
    recall: float
    f1: float


class OpenIEScores(BaseModel):
    """CaRB results: the best-F1 point, the area under the curve and the curve itself."""

    auc: float = 0.0
    """area under the precision-recall curve (0 without predictions)"""
    f1: float = 0.0
    """best F1 over the thresholds"""
    precision: float = 0.0
    """precision at the best-F1 threshold"""
    recall: float = 0.0
    """recall at the best-F1 threshold"""
    threshold: float | None = None
    """confidence threshold where the best F1 is reached (None without predictions)"""
    curve: list[PRPoint] = Field(default_factory=list)
    """one point per distinct confidence, in increasing order of threshold (so non-increasing recall)"""
    gold: int = 0
    """gold tuples scored"""
    predicted: int = 0
    """predictions scored (those of sentences that have gold tuples)"""
    ignored: int = 0
    """predictions of sentences without gold tuples, which are not scored"""


def _tokens(phrase: str) -> list[str]:
    return phrase.lower().split()


def _binary(arguments: Sequence[str]) -> list[str]:
    if len(arguments) < 2:
        return list(arguments)
    return [arguments[0], " ".join(arguments[1:])]


def _shared(gold: list[str], pred: list[str]) -> int:
    return sum((Counter(gold) & Counter(pred)).values())


def _slots_match(
    gold_relation: list[str], gold_args: list[list[str]], pred_relation: list[str], pred_args: list[list[str]]
) -> tuple[Fraction, Fraction]:
    shared = _shared(gold_relation, pred_relation)
    left = Counter(pred_relation) - Counter(gold_relation)
    if left["be"] and _BE_FORMS.intersection(gold_relation):
        shared += 1
    if shared == 0:
        return _ZERO, _ZERO
    hits, pred_total, gold_total = shared, len(pred_relation), len(gold_relation)
    for i, gold_arg in enumerate(gold_args):
        gold_total += len(gold_arg)
        if i >= len(pred_args):
            return _ZERO, _ZERO  # binary tuples: a missing subject or object
        pred_total += len(pred_args[i])
        hits += _shared(gold_arg, pred_args[i])
    precision = Fraction(hits, pred_total) if pred_total else _ZERO
    recall = Fraction(hits, gold_total) if gold_total else _ZERO
    return precision, recall


def carb_match(gold: OpenIEExtraction, pred: OpenIEExtraction) -> tuple[float, float]:
    """Token-level (precision, recall) of one predicted tuple against one gold tuple, as CaRB counts them.

    See the module docstring for the slots, the tokens and CaRB's special cases.
    """
    precision, recall = _match(gold, pred)
    return float(precision), float(recall)


def _match(gold: OpenIEExtraction, pred: OpenIEExtraction) -> tuple[Fraction, Fraction]:
    # Exact fractions, so that sums over a corpus and the AUC carry no rounding drift.
    gold_relation = _tokens(gold.relation)
    gold_args = [_tokens(a) for a in _binary(gold.arguments)]
    pred_relation = _tokens(pred.relation)
    pred_args = [_tokens(a) for a in _binary(pred.arguments)]
    best = _slots_match(gold_relation, gold_args, pred_relation, pred_args)
    if len(pred_args) >= 2 and _REPORTING.intersection(gold_relation):
        swapped = _slots_match(gold_relation, gold_args, pred_relation, [pred_args[1], pred_args[0]])
        best = max(best, swapped)
    return best


def _scored(item: object) -> tuple[OpenIEExtraction, float]:
    if isinstance(item, ScoredExtraction):
        extraction, confidence = item, item.confidence
    elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], OpenIEExtraction):
        extraction, confidence = item
    else:
        raise TypeError(
            f"a prediction must be a ScoredExtraction or an (OpenIEExtraction, confidence) pair, got {item!r}"
        )
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"confidence must be a finite number, got {confidence!r}")
    return extraction, value


def _greedy_precision(pairs: list[tuple[Fraction, int, int]], kept: set[int], n_gold: int) -> Fraction:
    """Sum of precisions of a one-to-one pairing, best pair first; ``pairs`` sorted best first."""
    want = min(n_gold, len(kept))
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    total = _ZERO
    for precision, i, j in pairs:
        if len(used_gold) == want:
            break
        if j in kept and i not in used_gold and j not in used_pred:
            used_gold.add(i)
            used_pred.add(j)
            total += precision
    return total


def carb_scores(
    gold: Sequence[OpenIEExample | Sequence[OpenIEExtraction]],
    pred: Sequence[Sequence[ScoredExtraction | tuple[OpenIEExtraction, float]]],
) -> OpenIEScores:
    """Score predicted open IE tuples against gold tuples with the CaRB protocol.

    ``gold[i]`` is sentence ``i``: an :class:`OpenIEExample` (as :func:`ieforge.data.read_carb` returns)
    or the list of its gold tuples. ``pred[i]`` holds the predictions for the same sentence, each a
    :class:`ScoredExtraction` or an ``(OpenIEExtraction, confidence)`` pair. Sentences are paired by
    position, not by id; sequences of different lengths raise :class:`ValueError`, as does a confidence
    that is not a finite number. The module docstring describes the matching, the curve and the AUC.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    sentences = [
        (list(g.extractions if isinstance(g, OpenIEExample) else g), [_scored(x) for x in p])
        for g, p in zip(gold, pred)
    ]
    thresholds = sorted({confidence for _, preds in sentences for _, confidence in preds})
    n = len(thresholds)
    # Each sentence adds a step function of the threshold; difference arrays sum them in one pass.
    d_precision = [_ZERO] * (n + 1)
    d_kept = [0] * (n + 1)
    d_recall = [_ZERO] * (n + 1)
    scores = OpenIEScores()
    for golds, preds in sentences:
        if not golds:
            scores.ignored += len(preds)
            continue
        scores.gold += len(golds)
        scores.predicted += len(preds)
        if not preds:
            continue
        matches = [[_match(g, extraction) for extraction, _ in preds] for g in golds]
        pairs = sorted(
            ((matches[i][j][0], i, j) for i in range(len(golds)) for j in range(len(preds))),
            key=lambda t: (-t[0], t[1], t[2]),
        )
        start = 0
        for level in sorted({confidence for _, confidence in preds}):
            end = bisect_left(thresholds, level) + 1  # thresholds[start:end] keep what `level` keeps
            kept = {j for j, (_, confidence) in enumerate(preds) if confidence >= level}
            recall = sum((max(row[j][1] for j in kept) for row in matches), _ZERO)
            precision = _greedy_precision(pairs, kept, len(golds))
            for diff, value in ((d_precision, precision), (d_recall, recall)):
                diff[start] += value
                diff[end] -= value
            d_kept[start] += len(kept)
            d_kept[end] -= len(kept)
            start = end

    precision_sum = recall_sum = _ZERO
    kept_count = 0
    points: list[tuple[Fraction, Fraction]] = []  # exact (recall, precision)
    f1s: list[Fraction] = []
    for k, threshold in enumerate(thresholds):
        precision_sum += d_precision[k]
        recall_sum += d_recall[k]
        kept_count += d_kept[k]
        p = precision_sum / kept_count if kept_count else Fraction(1)
        r = recall_sum / scores.gold if scores.gold else _ZERO
        f1 = 2 * p * r / (p + r) if p + r else _ZERO
        points.append((r, p))
        f1s.append(f1)
        scores.curve.append(PRPoint(threshold=threshold, precision=float(p), recall=float(r), f1=float(f1)))
    if not scores.curve:
        return scores

    best = scores.curve[f1s.index(max(f1s))]  # the first (lowest threshold) of equal F1s
    scores.f1, scores.precision, scores.recall = best.f1, best.precision, best.recall
    scores.threshold = best.threshold
    points.append((_ZERO, Fraction(1)))
    auc = sum(((r0 - r1) * (p0 + p1) / 2 for (r0, p0), (r1, p1) in pairwise(points)), _ZERO)
    scores.auc = float(auc)
    return scores


def predicted_extractions(triples: Sequence[OpenTriple]) -> list[ScoredExtraction]:
    """Open IE triples as scored CaRB extractions (relation; subject, object, further arguments). A triple
    without a score gets confidence 1; an empty object is left out of the arguments."""
    out: list[ScoredExtraction] = []
    for t in triples:
        arguments = [t.subject.text] + [p.text for p in (t.object, *t.extra) if p.text]
        out.append(
            ScoredExtraction(
                relation=t.relation.text, arguments=arguments, confidence=1.0 if t.score is None else t.score
            )
        )
    return out
