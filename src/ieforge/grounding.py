"""Locating answer strings in the input text, and splitting long texts into chunks and back.

Offsets are Python ``str`` indices, so ``text[start:end]`` returns exactly the grounded mention for any
Unicode text (accents, CJK, emoji).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _on_boundaries(text: str, start: int, end: int) -> bool:
    """A match must not cut a word in two: 'US' is not found inside 'USA' or 'bus'."""
    if start > 0 and _is_word(text[start]) and _is_word(text[start - 1]):
        # CJK and similar scripts have no spaces between words: accept any position there.
        return _is_unspaced(text[start]) or _is_unspaced(text[start - 1])
    if end < len(text) and _is_word(text[end - 1]) and _is_word(text[end]):
        return _is_unspaced(text[end - 1]) or _is_unspaced(text[end])
    return True


def _is_unspaced(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # hiragana, katakana
        or 0x3400 <= cp <= 0x9FFF  # CJK ideographs
        or 0xAC00 <= cp <= 0xD7AF  # hangul
        or 0x0E00 <= cp <= 0x0EFF  # thai, lao
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x2FFFF
    )


@lru_cache(maxsize=4096)
def _tolerant_pattern(needle: str) -> re.Pattern[str] | None:
    """Whitespace- and case-tolerant pattern: 'barack  obama' matches 'Barack Obama', "Obama's" matches
    "Obama 's" (tokenized corpora put spaces around punctuation)."""
    parts = re.findall(r"\w+|[^\w\s]", needle)
    if not parts:
        return None
    pieces = [re.escape(parts[0])]
    for prev, cur in zip(parts, parts[1:]):
        word_to_word = _is_word(prev[-1]) and _is_word(cur[0])
        pieces.append(r"\s+" if word_to_word else r"\s*")
        pieces.append(re.escape(cur))
    return re.compile("".join(pieces), re.IGNORECASE)


def find_mentions(text: str, needle: str) -> list[tuple[int, int]]:
    """All occurrences of ``needle`` in ``text`` as (start, end), on word boundaries.

    Exact matches first; only when there is none, a whitespace/case-tolerant search. Empty or
    whitespace-only needles are never found. Overlapping occurrences are not returned twice.
    """
    needle = needle.strip()
    if not needle or not text:
        return []
    found: list[tuple[int, int]] = []
    i = text.find(needle)
    while i >= 0:
        end = i + len(needle)
        if _on_boundaries(text, i, end):
            found.append((i, end))
            i = text.find(needle, end)
        else:
            i = text.find(needle, i + 1)
    if found:
        return found
    pattern = _tolerant_pattern(needle)
    if pattern is None:
        return []
    pos = 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            break
        if m.end() > m.start() and _on_boundaries(text, m.start(), m.end()):
            found.append((m.start(), m.end()))
            pos = m.end()
        else:
            pos = m.start() + 1
    return found


@dataclass(frozen=True)
class Chunk:
    """A piece of a longer text: ``text == source[start:start + len(text)]``."""

    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+|\n\s*\n|\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence-like spans (start, end) that cover ``text`` without gaps (whitespace stays attached)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > start:
            spans.append((start, m.end()))
            start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def chunk_text(
    text: str,
    max_tokens: int,
    count_tokens: Callable[[str], int],
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``max_tokens`` tokens on sentence boundaries.

    Consecutive chunks share ``overlap_sentences`` sentences so that a mention near a boundary is seen
    whole at least once. A single sentence longer than the budget is cut between words.
    """
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    if count_tokens(text) <= max_tokens:
        return [Chunk(0, text)]
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        if count_tokens(text[s:e]) <= max_tokens:
            units.append((s, e))
        else:
            units.extend(_split_words(text, s, e, max_tokens, count_tokens))
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and count_tokens(text[units[i][0] : units[j + 1][1]]) <= max_tokens:
            j += 1
        chunks.append(Chunk(units[i][0], text[units[i][0] : units[j][1]]))
        if j + 1 >= len(units):
            break
        i = max(i + 1, j + 1 - overlap_sentences)
    return chunks


def _split_words(
    text: str, start: int, end: int, max_tokens: int, count_tokens: Callable[[str], int]
) -> list[tuple[int, int]]:
    pieces: list[tuple[int, int]] = []
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+\s*", text[start:end])]
    cur = 0
    while cur < len(words):
        nxt = cur + 1
        while nxt < len(words) and count_tokens(text[start + words[cur][0] : start + words[nxt][1]]) <= max_tokens:
            nxt += 1
        pieces.append((start + words[cur][0], start + words[nxt - 1][1]))
        cur = nxt
    return pieces
