"""The CPU decoding paths of the transformers backend on small tensors: single-query attention against
torch's own scaled_dot_product_attention, and joining two key/value caches of different lengths."""

from __future__ import annotations

import pytest
import torch
from transformers.cache_utils import DynamicCache

from ieforge.models.attention import single_query_attention
from ieforge.models.kv_cache import can_join, join_rows, trim_left


def _reference(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask, enable_gqa=True)
    return out.transpose(1, 2)


@pytest.mark.parametrize("kind", ["none", "bool", "float"])
@pytest.mark.parametrize("heads,kv_heads", [(4, 4), (6, 2), (9, 3)])
def test_single_query_attention_matches_sdpa(kind: str, heads: int, kv_heads: int) -> None:
    gen = torch.Generator().manual_seed(heads * 10 + kv_heads)
    batch, length, dim = 5, 17, 8
    query = torch.randn(batch, heads, 1, dim, generator=gen)
    key = torch.randn(batch, kv_heads, length, dim, generator=gen)
    value = torch.randn(batch, kv_heads, length, dim, generator=gen)
    mask: torch.Tensor | None = None
    if kind != "none":
        allowed = torch.rand(batch, 1, 1, length, generator=gen) > 0.3
        allowed[..., -1] = True  # every row sees at least its own token
        mask = allowed if kind == "bool" else torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))
    ours = single_query_attention(query, key, value, mask, dim**-0.5)
    assert ours.shape == (batch, 1, heads, dim)
    assert torch.allclose(ours, _reference(query, key, value, mask), atol=1e-5)


def test_single_query_attention_reads_strided_keys() -> None:
    """A view of a longer buffer gives the same result as a contiguous copy."""
    gen = torch.Generator().manual_seed(0)
    buffer = torch.randn(3, 2, 30, 8, generator=gen)
    key, value = buffer[:, :, :11], buffer[:, :, 5:16]
    query = torch.randn(3, 4, 1, 8, generator=gen)
    strided = single_query_attention(query, key, value, None, 0.35)
    dense = single_query_attention(query, key.contiguous(), value.contiguous(), None, 0.35)
    assert torch.allclose(strided, dense)


def _cache(rows: int, length: int, layers: int = 2, fill: float = 1.0) -> DynamicCache:
    cache = DynamicCache()
    for layer in range(layers):
        states = torch.full((rows, 2, length, 4), fill)
        cache.update(states, states + 1, layer)
    return cache


def test_join_rows_left_pads_the_shorter_cache() -> None:
    first, second = _cache(2, 5, fill=1.0), _cache(3, 8, fill=7.0)
    assert can_join(first) and can_join(second)
    joined = join_rows(first, second)
    assert joined is first
    for layer in joined.layers:
        assert layer.keys.shape == (5, 2, 8, 4)
        assert torch.all(layer.keys[:2, :, :3] == 0) and torch.all(layer.keys[:2, :, 3:] == 1.0)
        assert torch.all(layer.keys[2:] == 7.0) and torch.all(layer.values[2:] == 8.0)
    assert joined.get_seq_length() == 8


def test_caches_that_cannot_take_rows() -> None:
    assert not can_join(object())
    assert not can_join(DynamicCache())  # no layer filled yet
    assert join_rows(_cache(1, 3, layers=2), _cache(1, 3, layers=3)) is None


def test_trim_left_drops_leading_columns() -> None:
    cache = _cache(2, 6)
    for layer in cache.layers:
        layer.keys[:, :, 2:] = 5.0
    assert trim_left(cache, 2)
    for layer in cache.layers:
        assert layer.keys.shape == (2, 2, 4, 4) and torch.all(layer.keys == 5.0)
    assert cache.get_seq_length() == 4
    assert not trim_left(object(), 1)
