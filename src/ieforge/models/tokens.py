"""Turning generated token ids into a :class:`Generation`: shared by the backends that decode locally."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

from ieforge.models.base import Generation


def stop_end(text: str, stop: Sequence[str]) -> int | None:
    """End offset of the earliest stop string in ``text`` (None if there is none)."""
    ends = [(text.find(s), text.find(s) + len(s)) for s in stop if s and s in text]
    return min(ends)[1] if ends else None


def assemble_generation(
    ids: Sequence[int],
    logprobs: Sequence[float],
    prefix: str,
    stop: Sequence[str],
    decode: Callable[[list[int]], str],
    end_ids: Collection[int],
) -> Generation:
    """The answer text (``prefix`` + decoded tokens up to an end-of-turn token or the first stop string,
    which is kept) with each token's character span and log-probability."""
    finished = False
    kept: list[int] = []
    kept_lp: list[float] = []
    for tok, lp in zip(ids, logprobs):
        if tok in end_ids:
            finished = True
            break
        kept.append(tok)
        kept_lp.append(lp)
    spans: list[tuple[int, int]] = []
    prev = ""
    for k in range(len(kept)):
        cur = decode(kept[: k + 1])
        start = min(len(prev), len(cur))
        # a token that completes a multi-byte character rewrites the previous replacement char
        while start > 0 and prev[:start] != cur[:start]:
            start -= 1
        spans.append((len(prefix) + start, len(prefix) + len(cur)))
        prev = cur
        cut = stop_end(cur, stop)
        if cut is not None:
            # the answer ends with the stop string; later tokens (if any) are not part of it
            prev = cur[:cut]
            finished = True
            kept_lp = kept_lp[: k + 1]
            spans[-1] = (spans[-1][0], len(prefix) + len(prev))
            break
    return Generation(text=prefix + prev, token_logprobs=kept_lp, token_spans=spans, finished=finished)


def option_first_tokens(
    options: Sequence[str], tokenize: Callable[[str], list[int]], *, distinct: bool
) -> tuple[list[int], set[int]]:
    """Each option's first token id, and (with ``distinct``) the options whose first token an earlier
    option already has (they score ``-inf``, so that probabilities summed over options count a token once)."""
    first_ids = []
    for opt in options:
        toks = tokenize(opt)
        if not toks:
            raise ValueError(f"option {opt!r} has no tokens")
        first_ids.append(toks[0])
    repeated = {k for k, tid in enumerate(first_ids) if tid in first_ids[:k]} if distinct else set()
    return first_ids, repeated


def option_scores(
    logprobs: Any, options: Sequence[str], first_ids: Sequence[int], repeated: Collection[int]
) -> dict[str, float]:
    """option -> the log-probability of its first token, read from ``logprobs`` (indexed by token id:
    a vocabulary row of a tensor or an array), ``-inf`` for repeats."""
    return {
        opt: -math.inf if k in repeated else float(logprobs[tid])
        for k, (opt, tid) in enumerate(zip(options, first_ids))
    }


def token_limits(max_new_tokens: int | Sequence[int], n: int) -> list[int]:
    """One new-token limit per prompt: ``max_new_tokens`` for each, or the given one per prompt."""
    if isinstance(max_new_tokens, int):
        return [max(0, max_new_tokens)] * n
    limits = [max(0, int(x)) for x in max_new_tokens]
    if len(limits) != n:
        raise ValueError(f"{len(limits)} token limits for {n} prompts")
    return limits
