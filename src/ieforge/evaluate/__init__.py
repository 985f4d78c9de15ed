"""Metrics, the benchmark runner (:mod:`ieforge.evaluate.runner`) and the instruction-robustness study
(:mod:`ieforge.evaluate.robustness`).

Besides the span, relation and UniversalNER scores of :mod:`ieforge.evaluate.metrics`, there are
event extraction scores in the ACE/TextEE convention (:mod:`ieforge.evaluate.events`), open IE scores
in the CaRB protocol (:mod:`ieforge.evaluate.openie`) and cell-level scores for on-demand tables
(:mod:`ieforge.evaluate.tables`)."""

from ieforge.evaluate.events import EventScores, event_prf
from ieforge.evaluate.metrics import PRF, normalize_answer, relation_prf, span_prf, uniner_prf
from ieforge.evaluate.openie import OpenIEScores, PRPoint, ScoredExtraction, carb_match, carb_scores
from ieforge.evaluate.tables import table_cell_prf

__all__ = [
    "PRF",
    "EventScores",
    "OpenIEScores",
    "PRPoint",
    "ScoredExtraction",
    "carb_match",
    "carb_scores",
    "event_prf",
    "normalize_answer",
    "relation_prf",
    "span_prf",
    "table_cell_prf",
    "uniner_prf",
]
