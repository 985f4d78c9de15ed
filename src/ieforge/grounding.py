"""Locating answer strings in the input text, and splitting long texts into chunks and back.

Offsets are Python ``str`` indices, so ``text[start:end]`` returns exactly the grounded mention for any
Unicode text (accents, CJK, emoji).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache


def _is_word(ch: str) -> bool:
    # Combining marks (the diaeresis of a decomposed "ë", Indic vowel signs) belong to the word they follow.
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


def _cuts_word(left: str, right: str) -> bool:
    """Whether a boundary between the characters ``left`` and ``right`` would cut a word in two."""
    # CJK and similar scripts have no spaces between words: accept any position there.
    return _is_word(left) and _is_word(right) and not (_is_unspaced(left) or _is_unspaced(right))


def _on_boundaries(text: str, start: int, end: int) -> bool:
    """A match must not cut a word in two: 'US' is not found inside 'USA' or 'bus'."""
    if start > 0 and _cuts_word(text[start - 1], text[start]):
        return False
    return not (end < len(text) and _cuts_word(text[end - 1], text[end]))


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
    parts = list(re.finditer(r"\w+|[^\w\s]", needle))
    if not parts:
        return None
    pieces = [re.escape(parts[0].group())]
    for prev, cur in itertools.pairwise(parts):
        # Words the needle separates by spaces need a space in the text too; anything else (punctuation, a
        # combining mark after its letter) may be written with or without spaces in between.
        spaced = cur.start() > prev.end() and _is_word(prev.group()[-1]) and _is_word(cur.group()[0])
        pieces.append(r"\s+" if spaced else r"\s*")
        pieces.append(re.escape(cur.group()))
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


# CJK full stops end a sentence even when no space follows (Japanese and Chinese put none).
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|(?<=[。！？])[」』）\"')\]]*\s*|\n\s*\n|\n")


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
        # Overlap by as many sentences as fit next to the following one: a chunk that could not reach past
        # the previous one would only repeat it.
        nxt = j + 1
        for ov in range(min(overlap_sentences, j - i), 0, -1):
            if count_tokens(text[units[j + 1 - ov][0] : units[j + 1][1]]) <= max_tokens:
                nxt = j + 1 - ov
                break
        i = nxt
    return chunks


def _split_words(
    text: str, start: int, end: int, max_tokens: int, count_tokens: Callable[[str], int]
) -> list[tuple[int, int]]:
    pieces: list[tuple[int, int]] = []
    # The first piece keeps the sentence's leading whitespace so that the pieces cover it without gaps.
    words = [(m.start(), m.end()) for m in re.finditer(r"\s*\S+\s*", text[start:end])]
    if not words:
        return [(start, end)]
    cur = 0
    while cur < len(words):
        nxt = cur + 1
        while (
            nxt < len(words)
            and count_tokens(text[start + words[cur][0] : start + words[nxt][1]]) <= max_tokens
        ):
            nxt += 1
        pieces.append((start + words[cur][0], start + words[nxt - 1][1]))
        cur = nxt
    return pieces
