"""Locating answer strings in the input text, and splitting long texts into chunks and back.

Offsets are Python ``str`` indices, so ``text[start:end]`` returns exactly the grounded mention for any
Unicode text (accents, CJK, emoji).
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache


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
        or 0xAC00 <= cp <= 0xD7FF  # hangul syllables, jamo extended-B
        or 0x1100 <= cp <= 0x11FF  # hangul jamo (decomposed syllables)
        or 0x3130 <= cp <= 0x318F  # hangul compatibility jamo
        or 0xA960 <= cp <= 0xA97F  # hangul jamo extended-A
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

    Exact matches first, equal under Unicode normalization (see :func:`fold`: NFC and NFD spellings,
    fullwidth letters, ligatures, no-break spaces); only when there is none, a whitespace/case-tolerant
    search. Offsets are always in ``text`` as given, so ``text[start:end]`` is the text's own spelling
    of the mention. Empty or whitespace-only needles are never found. Overlapping occurrences are not
    returned twice.
    """
    needle = needle.strip()
    if not needle or not text:
        return []
    if not (text.isascii() and needle.isascii()):
        index, folded = _fold_index(text), fold(needle).strip()
        if folded and (index.text != text or folded != needle):
            return (
                index.to_text(_exact(index.text, folded))
                or index.to_text(_tolerant(index.text, folded))
                or _tolerant(text, needle)
            )
    return _exact(text, needle) or _tolerant(text, needle)


def _exact(text: str, needle: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    i = text.find(needle)
    while i >= 0:
        end = i + len(needle)
        if _on_boundaries(text, i, end):
            found.append((i, end))
            i = text.find(needle, end)
        else:
            i = text.find(needle, i + 1)
    return found


def _tolerant(text: str, needle: str) -> list[tuple[int, int]]:
    pattern = _tolerant_pattern(needle)
    if pattern is None:
        return []
    found: list[tuple[int, int]] = []
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


# --- Unicode normalization --------------------------------------------------------------------------------

# Compatibility mappings that keep what a mention says: fullwidth and halfwidth forms, ligatures ("ﬁ") and
# other plain <compat> forms, no-break spaces, font variants (mathematical letters), Arabic presentation
# forms and small forms. Superscripts, subscripts, fractions, circled and squared forms keep their own
# spelling: "x²" is not "x2", nor "½" "1/2".
_SAFE_COMPAT = frozenset(
    {"wide", "narrow", "compat", "noBreak", "font", "initial", "medial", "final", "isolated", "small"}
)


@cache
def _fold_char(ch: str) -> str:
    """``ch`` canonically decomposed (NFD), with its safe compatibility mapping applied."""
    nfd = unicodedata.normalize("NFD", ch)
    if nfd != ch:
        return "".join(_fold_char(c) for c in nfd)
    decomposition = unicodedata.decomposition(ch)
    if decomposition.startswith("<"):
        tag, _, codes = decomposition[1:].partition(">")
        mapped = "".join(chr(int(code, 16)) for code in codes.split())
        # a spacing accent ("¨" is <compat> SPACE + COMBINING DIAERESIS) stays what it is
        if tag in _SAFE_COMPAT and (tag == "noBreak" or " " not in mapped):
            return "".join(_fold_char(c) for c in mapped)
    return ch


@dataclass(frozen=True)
class _FoldIndex:
    """A text in folded form, and where each folded character comes from in the text as given."""

    text: str
    source: tuple[int, ...]
    """folded position -> position in the original text"""
    first: tuple[int, ...]
    """original position -> its first folded position (one more entry: the folded length)"""
    last: tuple[int, ...]
    """original position -> its last folded position (-1 for a character that folds to nothing)"""
    original: str

    def to_text(self, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Spans of the folded text as spans of the original one; a span that does not cover whole
        original characters (half of a ligature) is dropped."""
        out: list[tuple[int, int]] = []
        for p, q in spans:
            inside = self.source[p:q]
            start, end = min(inside), max(inside) + 1
            if all(p <= self.first[i] and self.last[i] < q for i in range(start, end)) and _on_boundaries(
                self.original, start, end
            ):
                out.append((start, end))
        return out


def fold(text: str) -> str:
    """``text`` in the form :func:`find_mentions` compares under Unicode normalization: canonical
    decomposition (NFD), plus the compatibility mappings that keep a word's meaning (fullwidth and
    halfwidth forms, ligatures, no-break spaces, font variants, Arabic presentation forms)."""
    return _fold_index(text).text


@lru_cache(maxsize=64)
def _fold_index(text: str) -> _FoldIndex:
    chars: list[str] = []
    source: list[int] = []
    for i, ch in enumerate(text):
        folded = ch if ch.isascii() else _fold_char(ch)
        chars.extend(folded)
        source.extend([i] * len(folded))
    # canonical ordering: the combining marks after a base character sorted by combining class (stable)
    k = 0
    while k < len(chars):
        if unicodedata.combining(chars[k]) == 0:
            k += 1
            continue
        m = k
        while m < len(chars) and unicodedata.combining(chars[m]) != 0:
            m += 1
        if m - k > 1:
            run = sorted(zip(chars[k:m], source[k:m]), key=lambda cs: unicodedata.combining(cs[0]))
            chars[k:m] = [c for c, _ in run]
            source[k:m] = [s for _, s in run]
        k = m
    first = [len(chars)] * (len(text) + 1)
    last = [-1] * len(text)
    for pos, i in enumerate(source):
        first[i] = min(first[i], pos)
        last[i] = max(last[i], pos)
    for i in range(len(text) - 1, -1, -1):  # a character that folds to nothing starts where the next does
        first[i] = min(first[i], first[i + 1])
    return _FoldIndex("".join(chars), tuple(source), tuple(first), tuple(last), text)


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


TokenSpans = Callable[[str], Sequence[tuple[int, int]] | None]
"""A tokenizer's view of a text: each token's (start, end) character offsets in it (None: it cannot
tell)."""


def chunk_text(
    text: str,
    max_tokens: int,
    count_tokens: Callable[[str], int],
    overlap_sentences: int = 1,
    *,
    token_spans: TokenSpans | None = None,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``max_tokens`` tokens on sentence boundaries.

    Consecutive chunks share ``overlap_sentences`` sentences so that a mention near a boundary is seen
    whole at least once. A single sentence longer than the budget is cut between words.

    Each chunk holds as many sentences as fit, as ``count_tokens`` counts them. The time is linear in
    the length of the text: the text is measured once (with ``token_spans``, the offsets of one
    tokenization of the whole text; without, ``count_tokens`` of blocks of about ``max_tokens``
    characters), that measure says where each chunk should end, and a few ``count_tokens`` calls on the
    chunk itself settle it.
    """
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    found = token_spans(text) if token_spans is not None and text else None
    offsets = list(found) if found is not None else None
    if (offsets is None or len(offsets) <= 2 * max_tokens) and count_tokens(text) <= max_tokens:
        return [Chunk(0, text)]
    exact = offsets is not None
    if offsets is None:
        offsets = _block_offsets(text, count_tokens, max(64, max_tokens))
    measure = _Measure(text, count_tokens, offsets, exact=exact)
    units: list[tuple[int, int]] = []
    uncounted: set[tuple[int, int]] = set()  # sentences taken whole on their estimate alone
    for s, e in sentence_spans(text):
        if measure.fits(s, e, max_tokens):
            units.append((s, e))
            if (s, e) not in measure.counted:
                uncounted.add((s, e))
        else:
            units.extend(_split_words(text, s, e, max_tokens, measure))
    estimate = measure.over(units)
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j = _grow(units, i, max_tokens, measure, estimate)
        if j == i and units[i] in uncounted and measure.count(*units[i]) > max_tokens:
            # a sentence alone over the budget that its estimate put within it: cut it between words
            s, e = units[i]
            units[i : i + 1] = _split_words(text, s, e, max_tokens, measure)
            continue
        chunks.append(Chunk(units[i][0], text[units[i][0] : units[j][1]]))
        if j + 1 >= len(units):
            break
        # Overlap by as many sentences as fit next to the following one: a chunk that could not reach past
        # the previous one would only repeat it.
        nxt = j + 1
        for ov in range(min(overlap_sentences, j - i), 0, -1):
            if measure.count(units[j + 1 - ov][0], units[j + 1][1]) <= max_tokens:
                nxt = j + 1 - ov
                break
        i = nxt
    return chunks


def _block_offsets(text: str, count_tokens: Callable[[str], int], size: int) -> list[tuple[int, int]]:
    """Stand-in token offsets for a tokenizer that gives none: the text in blocks of ``size`` characters,
    each block counted once and its tokens spread evenly over its characters."""
    offsets: list[tuple[int, int]] = []
    for start in range(0, len(text), size):
        end = min(len(text), start + size)
        n = count_tokens(text[start:end])
        offsets.extend(
            (start + (end - start) * k // n, start + (end - start) * (k + 1) // n) for k in range(n)
        )
    return offsets


_OFFSET_SLACK = 4
"""tokens an estimate from a tokenizer's offsets may miss the count of a piece by (measured on SmolLM2's
tokenizer: at most 1, where a piece's first or last token merges differently when tokenized alone)"""


class _Measure:
    """Token counts of pieces of one text: exact ones (``count_tokens``, remembered) and estimates.

    An estimate counts the tokens that overlap the piece, by the offsets of one tokenization of the whole
    text (``exact``) or by stand-in offsets from counted blocks (see :func:`_block_offsets`).
    """

    def __init__(
        self, text: str, count_tokens: Callable[[str], int], offsets: list[tuple[int, int]], *, exact: bool
    ) -> None:
        self.text = text
        self.count_tokens = count_tokens
        self.counted: dict[tuple[int, int], int] = {}
        self._starts = sorted(s for s, _ in offsets)
        self._ends = sorted(e for _, e in offsets)
        self._exact = exact
        self._trusted = True

    @property
    def slack(self) -> int | None:
        """How far an estimate may miss the count (None: estimates do not tell), with a tokenizer's
        offsets that have matched its counts so far."""
        return _OFFSET_SLACK if self._exact and self._trusted else None

    def count(self, start: int, end: int) -> int:
        """Tokens of ``text[start:end]`` as ``count_tokens`` counts them."""
        key = (start, end)
        n = self.counted.get(key)
        if n is None:
            n = self.counted[key] = self.count_tokens(self.text[start:end])
            if self._exact and self._trusted and abs(n - self.estimate(start, end)) > _OFFSET_SLACK:
                self._trusted = False  # offsets from another tokenizer: count everything from now on
        return n

    def estimate(self, start: int, end: int) -> int:
        """Estimated tokens of ``text[start:end]``: those that start before ``end``, less those that end
        before ``start``."""
        return bisect.bisect_left(self._starts, end) - bisect.bisect_right(self._ends, start)

    def fits(self, start: int, end: int, max_tokens: int) -> bool:
        """Whether ``text[start:end]`` is within ``max_tokens``: counted, unless its estimate is half the
        budget or less, or twice the budget or more."""
        guess = self.estimate(start, end)
        if self._trusted and guess <= max_tokens // 2:
            return True
        if self._trusted and guess >= 2 * max_tokens:
            return False
        return self.count(start, end) <= max_tokens

    def over(self, pieces: Sequence[tuple[int, int]]) -> Callable[[int, int], int]:
        """Tokens of ``pieces[i]`` to ``pieces[j]`` (consecutive pieces of the text): the count when it was
        taken, else the estimate."""

        def tokens(i: int, j: int) -> int:
            span = (pieces[i][0], pieces[j][1])
            known = self.counted.get(span)
            return known if known is not None else self.estimate(*span)

        return tokens


def _grow(
    pieces: Sequence[tuple[int, int]],
    first: int,
    max_tokens: int,
    measure: _Measure,
    estimate: Callable[[int, int], int],
) -> int:
    """The last piece of the run that starts at ``pieces[first]`` and grows while the next piece fits."""
    guess = first
    while guess + 1 < len(pieces) and estimate(first, guess + 1) <= max_tokens:
        guess += 1
    start = pieces[first][0]

    def fits(k: int) -> bool:
        return measure.count(start, pieces[k][1]) <= max_tokens

    # A run whose estimate is over the budget by more than estimates miss by need not be counted, so a
    # chunk usually costs one count of itself.
    slack = measure.slack
    clearly_over = guess + 1 >= len(pieces) or (
        slack is not None and estimate(first, guess + 1) > max_tokens + slack
    )
    if clearly_over and (guess == first or fits(guess)):
        return guess
    return _last_fitting(first, len(pieces), fits, guess)


def _last_fitting(first: int, n: int, fits: Callable[[int], bool], guess: int) -> int:
    """The last ``j`` of the run ``first..j`` that grows while the next item still fits (``fits(j)``: the
    run ``first..j`` is within the budget; ``first`` alone is always taken).

    Asks ``fits`` near ``guess`` and then gallops and bisects, so a good guess costs two calls and a bad
    one a few more; this assumes that a run which does not fit does not fit grown either.
    """
    guess = min(max(guess, first), n - 1)
    if guess == first or fits(guess):
        lo, step = guess, 1
        while lo + step < n and fits(lo + step):
            lo += step
            step *= 2
        hi = min(lo + step, n)  # does not fit, or past the end
    else:
        hi, step = guess, 1
        while hi - step > first and not fits(hi - step):
            hi -= step
            step *= 2
        lo = max(hi - step, first)  # fits, or is the first item
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _split_words(
    text: str, start: int, end: int, max_tokens: int, measure: _Measure
) -> list[tuple[int, int]]:
    pieces: list[tuple[int, int]] = []
    # The first piece keeps the sentence's leading whitespace so that the pieces cover it without gaps.
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\s*\S+\s*", text[start:end])]
    if not words:
        return [(start, end)]
    estimate = measure.over(words)
    cur = 0
    while cur < len(words):
        last = _grow(words, cur, max_tokens, measure, estimate)
        pieces.append((words[cur][0], words[last][1]))
        cur = last + 1
    return pieces
