"""Precision / recall / F1 over sets of predictions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
