"""Metrics, the benchmark runner (:mod:`ieforge.evaluate.runner`) and the instruction-robustness study
(:mod:`ieforge.evaluate.robustness`)."""

from ieforge.evaluate.metrics import PRF, normalize_answer, relation_prf, span_prf, uniner_prf

__all__ = ["PRF", "normalize_answer", "relation_prf", "span_prf", "uniner_prf"]
