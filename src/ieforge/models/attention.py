"""Attention for one new token per row, the decoding step, on a CPU.

torch's CPU ``scaled_dot_product_attention`` is built for long queries: asked for one query per row it
still runs its blocked kernel, which costs about 8 ms per layer for 128 rows of a 100-token cache where
two batched matrix products take under 1 ms (SmolLM2-135M, bf16, 2 threads; ``benchmarks/README.md``,
"Throughput"). Decoding a wide batch (the questions of several texts) spent most of each step there.

:func:`install` registers ``ieforge_cpu`` with transformers' attention and mask interfaces and switches a
model that uses ``sdpa`` to it: single-token queries go through :func:`single_query_attention`; every
other call (prompts, scoring trees) is handed to transformers' own ``sdpa`` function unchanged.
"""

from __future__ import annotations

from typing import Any

NAME = "ieforge_cpu"

# features of some architectures that only the library's own kernels implement
_DELEGATED_KWARGS = ("softcap", "s_aux", "sinks", "position_bias")


def single_query_attention(query: Any, key: Any, value: Any, mask: Any, scaling: float) -> Any:
    """Attention of [batch, heads, 1, dim] queries over [batch, kv_heads, length, dim] keys and values,
    the query heads of a group sharing their key/value head without copying it. ``mask`` is None, a
    boolean mask (True = attend) or an additive float mask, broadcastable to [batch, 1, 1, length].
    Softmax in float32; returns [batch, 1, heads, dim] like transformers' attention functions."""
    import torch

    batch, heads, _, dim = query.shape
    kv_heads, length = key.shape[1], key.shape[2]
    group = heads // kv_heads
    # 3-D views for bmm, which takes the cache's strides as they are (a trimmed cache is a view of a
    # wider one)
    grouped = query.reshape(batch * kv_heads, group, dim)
    keys = key.flatten(0, 1)
    scores = torch.bmm(grouped, keys.transpose(1, 2)).float().view(batch, kv_heads, group, length) * scaling
    if mask is not None:
        m = mask.reshape(mask.shape[0], 1, 1, length)
        scores = scores.masked_fill(~m, float("-inf")) if m.dtype == torch.bool else scores + m.float()
    weights = torch.softmax(scores, dim=-1).to(value.dtype).view(batch * kv_heads, group, length)
    out = torch.bmm(weights, value.flatten(0, 1))  # [batch * kv_heads, group, dim]
    return out.view(batch, 1, heads, value.shape[-1])


def ieforge_cpu_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """transformers' attention-function signature: one-token queries here, everything else to sdpa."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plain = dropout == 0.0 and not any(kwargs.get(k) is not None for k in _DELEGATED_KWARGS)
    if query.shape[2] != 1 or not plain or query.shape[1] % key.shape[1]:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return single_query_attention(query, key, value, attention_mask, scale), None


def install(model: Any) -> bool:
    """Switch ``model`` (a transformers model that uses ``sdpa``) to :data:`NAME`; True if it did."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, ieforge_cpu_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)
    config._attn_implementation = NAME
    return True
