"""Metrics and benchmark helpers."""

from ieforge.evaluate.metrics import PRF, relation_prf, span_prf

__all__ = ["PRF", "relation_prf", "span_prf"]
