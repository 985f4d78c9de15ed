"""Turning generated token ids into a :class:`Generation`: shared by the backends that decode locally."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

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
