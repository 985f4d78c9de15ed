"""Metrics and benchmark helpers."""

from ieforge.evaluate.metrics import PRF, span_prf

__all__ = ["PRF", "span_prf"]
