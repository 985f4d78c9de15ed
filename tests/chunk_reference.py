"""The old chunker, kept as the plain statement of the chunking rules: sentences packed into chunks of at
most ``max_tokens`` tokens (a longer sentence cut between words), ``overlap_sentences`` repeated at each
boundary. Quadratic: it counts the growing chunk again for every sentence it adds."""

from __future__ import annotations

import re
from collections.abc import Callable

from ieforge.grounding import Chunk, sentence_spans


def reference_chunks(
    text: str, max_tokens: int, count_tokens: Callable[[str], int], overlap_sentences: int = 1
) -> list[Chunk]:
    """The chunker before the linear one (ieforge 6ed5a53, re-counting the growing chunk): the oracle of
    the chunking rules in tests/test_grounding.py, and what benchmarks/chunking.py times."""
    if count_tokens(text) <= max_tokens:
        return [Chunk(0, text)]
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        if count_tokens(text[s:e]) <= max_tokens:
            units.append((s, e))
            continue
        words = [(s + m.start(), s + m.end()) for m in re.finditer(r"\s*\S+\s*", text[s:e])] or [(s, e)]
        cur = 0
        while cur < len(words):
            nxt = cur + 1
            while nxt < len(words) and count_tokens(text[words[cur][0] : words[nxt][1]]) <= max_tokens:
                nxt += 1
            units.append((words[cur][0], words[nxt - 1][1]))
            cur = nxt
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and count_tokens(text[units[i][0] : units[j + 1][1]]) <= max_tokens:
            j += 1
        chunks.append(Chunk(units[i][0], text[units[i][0] : units[j][1]]))
        if j + 1 >= len(units):
            break
        nxt = j + 1
        for ov in range(min(overlap_sentences, j - i), 0, -1):
            if count_tokens(text[units[j + 1 - ov][0] : units[j + 1][1]]) <= max_tokens:
                nxt = j + 1 - ov
                break
        i = nxt
    return chunks
