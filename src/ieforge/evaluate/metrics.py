"""Precision / recall / F1 over sets of predictions."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel

from ieforge.types import Span


class PRF(BaseModel):
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __iadd__(self, other: PRF) -> PRF:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self


def span_prf(gold: Sequence[Iterable[Span]], pred: Sequence[Iterable[Span]]) -> PRF:
    """Strict micro P/R/F1: a prediction counts when (start, end, label) equals a gold span's."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold documents but {len(pred)} predicted")
    total = PRF()
    for g, p in zip(gold, pred):
        gs = {(s.start, s.end, s.label) for s in g}
        ps = {(s.start, s.end, s.label) for s in p}
        total += PRF(tp=len(gs & ps), fp=len(ps - gs), fn=len(gs - ps))
    return total


_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalize_answer(s: str) -> str:
    """Normalize an answer string the SQuAD way, as the UniversalNER evaluation does.

    Lower-case, delete ASCII punctuation, delete the articles "a", "an" and "the" as whole words, then
    collapse runs of whitespace into single spaces and trim the ends.
    """
    s = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def uniner_prf(
    gold: Sequence[Mapping[str, Iterable[str]]], pred: Sequence[Mapping[str, Iterable[str]]]
) -> PRF:
    """Micro P/R/F1 of the UniversalNER protocol: answer strings compared as sets, per example and type.

    ``gold[i]`` and ``pred[i]`` map each entity type asked about example ``i`` to its answer strings
    (``UniNERExample.gold`` is the gold side). For every type in either map, both lists are normalized
    with :func:`normalize_answer` and reduced to sets, so a string repeated in a list counts once and
    no offsets are involved; the sets' intersection is true positives, the rest of the prediction false
    positives and the rest of the gold false negatives. A type missing from one side counts as an empty
    answer there, and a string that normalizes to nothing (such as "The") is kept as the empty string.
    The counts are summed over all examples and types.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold examples but {len(pred)} predicted")
    total = PRF()
    for g, p in zip(gold, pred):
        for kind in g.keys() | p.keys():
            gs = {normalize_answer(s) for s in g.get(kind, ())}
            ps = {normalize_answer(s) for s in p.get(kind, ())}
            total += PRF(tp=len(gs & ps), fp=len(ps - gs), fn=len(gs - ps))
    return total


def relation_prf(
    gold: Sequence[str], pred: Sequence[str], none_label: str, *, keep_none: bool = False
) -> PRF:
    """Micro P/R/F1 of relation labels over the positive labels (the QA4RE/TACRED convention).

    A prediction of the none label is no prediction; a gold none label is nothing to find. With
    ``keep_none`` the none label counts like any other label (that variant is plain accuracy-like F1).
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predicted")
    total = PRF()
    for g, p in zip(gold, pred):
        g_pos = keep_none or g != none_label
        p_pos = keep_none or p != none_label
        if p_pos and p == g:
            total.tp += 1
        else:
            total.fp += int(p_pos)
            total.fn += int(g_pos)
    return total
