"""Joining the key/value caches of two batches, for continuous decoding.

When most answers of a batch have ended, the transformers backend prefills the next batch and decodes
its rows together with the ones still running. Their caches have different lengths; the rows of the
shorter are left-padded (the attention mask hides the padding) and the two are stacked along the batch.
As rows end, :func:`trim_left` drops the leading columns no remaining row attends to, so the cache stays
as wide as its longest live row, not as long as the call has been decoding.
"""

from __future__ import annotations

from typing import Any


def _plain_layers(cache: Any) -> list[Any] | None:
    """The cache's layers if every one is a plain, filled ``DynamicLayer`` (full attention, whole
    keys and values), else None: sliding-window and quantized layers keep other state."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if not layers:
        return None
    for layer in layers:
        if type(layer) is not DynamicLayer or not layer.is_initialized or layer.keys is None:
            return None
        if layer.keys.dim() != 4:
            return None
    return list(layers)


def can_join(cache: Any) -> bool:
    """Whether :func:`join_rows` can append rows to ``cache``."""
    return _plain_layers(cache) is not None


def _left_pad(states: Any, width: int) -> Any:
    import torch

    return torch.nn.functional.pad(states, (0, 0, width - states.shape[-2], 0))


def join_rows(first: Any, second: Any) -> Any:
    """``first`` (modified and returned) with ``second``'s rows appended, both left-padded with zeros
    to the longer of the two caches; None when either cache has layers other than plain ones."""
    import torch

    a, b = _plain_layers(first), _plain_layers(second)
    if a is None or b is None or len(a) != len(b):
        return None
    for x, y in zip(a, b):
        width = max(x.keys.shape[-2], y.keys.shape[-2])
        x.keys = torch.cat([_left_pad(x.keys, width), _left_pad(y.keys, width)])
        x.values = torch.cat([_left_pad(x.values, width), _left_pad(y.values, width)])
    return first


def trim_left(cache: Any, columns: int) -> bool:
    """Drop the first ``columns`` positions of every layer of ``cache`` (padding no row attends to);
    False, and nothing changed, when the cache has layers other than plain ones."""
    layers = _plain_layers(cache)
    if layers is None:
        return False
    for layer in layers:
        layer.keys = layer.keys[..., columns:, :]
        layer.values = layer.values[..., columns:, :]
    return True
