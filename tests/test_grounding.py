"""Tests for :mod:`ieforge.grounding`: finding mentions in the input text and chunking long texts."""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ieforge.grounding import Chunk, chunk_text, find_mentions, sentence_spans


def count_words(s: str) -> int:
    return len(s.split())


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s).casefold()


def _assert_valid_spans(text: str, needle: str, spans: list[tuple[int, int]]) -> None:
    """The offset rule: exact matches slice out the needle; tolerant ones equal it modulo case and spaces.

    Tolerant matches are only used when there is no exact one, and spans never overlap.
    """
    needle = needle.strip()
    exact = [text[s:e] == needle for s, e in spans]
    assert all(exact) or not any(exact), spans
    for s, e in spans:
        assert 0 <= s < e <= len(text)
        assert text[s:e] == needle or _squash(text[s:e]) == _squash(needle), (text[s:e], needle)
    assert spans == sorted(spans)
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert e1 <= s2


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


def _is_cjk(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))


def _cuts_word(text: str, pos: int) -> bool:
    """Independent oracle: a boundary at ``pos`` cuts a (space-separated) word in two."""
    if pos <= 0 or pos >= len(text):
        return False
    left, right = text[pos - 1], text[pos]
    return _is_word_char(left) and _is_word_char(right) and not (_is_cjk(left) or _is_cjk(right))


def mentions(text: str, needle: str) -> list[str]:
    spans = find_mentions(text, needle)
    _assert_valid_spans(text, needle, spans)
    return [text[s:e] for s, e in spans]


# --- find_mentions ------------------------------------------------------------------------------------------


def test_repeated_mentions_are_all_found() -> None:
    text = "Obama met Obama. Later, Obama left; Obama!"
    spans = find_mentions(text, "Obama")
    assert spans == [(m.start(), m.end()) for m in re.finditer("Obama", text)]
    assert len(spans) == 4


def test_exact_matches_come_first_case_variants_ignored_then() -> None:
    text = "Obama met obama."
    assert find_mentions(text, "Obama") == [(0, 5)]
    assert find_mentions(text, "obama") == [(10, 15)]
    assert find_mentions(text, "OBAMA") == [(0, 5), (10, 15)]


@pytest.mark.parametrize(
    ("text", "needle", "expected"),
    [
        ("The US and the USA.", "US", [(4, 6)]),
        ("Take the bus to the US.", "US", [(20, 22)]),
        ("USA", "US", []),
        ("bus", "us", []),
        ("US-based firms", "US", [(0, 2)]),
        ("(US)", "US", [(1, 3)]),
        ("the US's army", "US", [(4, 6)]),
        ("in the US.", "US", [(7, 9)]),
        ("snake_case_US", "US", []),
        ("US2", "US", []),
        ("New Yorker", "New York", []),
        ("Obama's speech", "Obama", [(0, 5)]),
        ("C++ and C", "C++", [(0, 3)]),
        ("U.S. army and U.S.A.", "U.S.", [(0, 4), (14, 18)]),
    ],
)
def test_word_boundaries(text: str, needle: str, expected: list[tuple[int, int]]) -> None:
    assert find_mentions(text, needle) == expected
    _assert_valid_spans(text, needle, expected)


def test_case_and_whitespace_tolerance() -> None:
    assert mentions("Barack Obama was born in Honolulu.", "barack  obama") == ["Barack Obama"]
    assert mentions("Barack\n  Obama was born.", "Barack Obama") == ["Barack\n  Obama"]
    assert mentions("Barack Obama", " Barack Obama ") == ["Barack Obama"]
    assert mentions("BARACK OBAMA spoke", "Barack Obama") == ["BARACK OBAMA"]
    # words separated in the needle need a separation in the text too
    assert mentions("BarackObama", "barack obama") == []


def test_tokenized_text_with_spaces_around_punctuation() -> None:
    text = "Obama 's house is in Washington , D.C . ."
    assert mentions(text, "Obama's") == ["Obama 's"]
    assert mentions(text, "Obama's house") == ["Obama 's house"]
    assert mentions(text, "Washington, D.C.") == ["Washington , D.C ."]
    # and the other way round: a tokenized needle in untokenized text
    assert mentions("Obama's house", "Obama 's") == ["Obama's"]


def test_overlapping_labels_new_york() -> None:
    text = "I moved from New York City to New York state."
    city = find_mentions(text, "New York City")
    state = find_mentions(text, "New York")
    assert city == [(13, 26)]
    assert text[13:26] == "New York City"
    assert state == [(13, 21), (30, 38)]
    assert all(text[s:e] == "New York" for s, e in state)


def test_overlapping_occurrences_are_not_returned_twice() -> None:
    assert find_mentions("a a a", "a a") == [(0, 3)]


@pytest.mark.parametrize("needle", ["", " ", "   ", "\n\t"])
def test_empty_or_whitespace_needle(needle: str) -> None:
    assert find_mentions("some text with  spaces", needle) == []


def test_empty_text() -> None:
    assert find_mentions("", "Obama") == []


def test_punctuation_only_needle() -> None:
    assert mentions("Wait - what?", "-") == ["-"]
    assert mentions("Hello, world", "!") == []


def test_accents() -> None:
    text = "Zoë Saldaña starred with Zoe Saldana's double. ZOË SALDAÑA!"
    assert find_mentions(text, "Zoë Saldaña") == [(0, 11)]
    assert mentions(text, "zoë  saldaña") == ["Zoë Saldaña", "ZOË SALDAÑA"]
    assert mentions(text, "Zoe Saldana") == ["Zoe Saldana"]
    assert mentions("François Hollande", "François") == ["François"]
    assert mentions("Françoise", "François") == []


def test_cjk_without_spaces() -> None:
    text = "私は東京大学の学生です。東京大学は東京にあります。"
    spans = find_mentions(text, "東京大学")
    assert spans == [(2, 6), (12, 16)]
    assert all(text[s:e] == "東京大学" for s, e in spans)
    assert find_mentions(text, "東京") == [(2, 4), (12, 14), (17, 19)]
    assert mentions("北京大学在北京。", "北京") == ["北京", "北京"]
    assert mentions("서울대학교에 갔다", "서울") == ["서울"]


def test_latin_next_to_cjk() -> None:
    assert mentions("我在Google工作", "Google") == ["Google"]
    # the CJK side of the match must not excuse cutting a Latin word on the other side
    assert find_mentions("東京USA", "US") == []
    assert find_mentions("USA東京", "SA") == []
    assert find_mentions("東京US", "US") == [(2, 4)]


def test_emoji_before_and_after_mention() -> None:
    text = "😀Obama 🇺🇸 Obama😀 and 👍🏽 Obama"
    spans = find_mentions(text, "Obama")
    assert len(spans) == 3
    assert all(text[s:e] == "Obama" for s, e in spans)
    assert spans[0] == (1, 6)
    assert mentions("🎉 Zoë 🎉", "zoë") == ["Zoë"]


def test_combining_characters() -> None:
    decomposed = "Zoe\u0308 Salda\u0303na met Zoe."  # Zoë Saldãna with combining marks
    # the mark belongs to the word: "Zoe" is not found inside "Zoë"
    assert find_mentions(decomposed, "Zoe") == [(len(decomposed) - 4, len(decomposed) - 1)]
    assert mentions(decomposed, "Zoe\u0308") == ["Zoe\u0308"]
    assert mentions(decomposed, "zoe\u0308 salda\u0303na") == ["Zoe\u0308 Salda\u0303na"]
    assert find_mentions("Salda\u0303na", "Salda") == []
    # Indic vowel signs are combining marks too
    assert find_mentions("मुंबई", "म") == []
    assert mentions("मुंबई में", "मुंबई") == ["मुंबई"]


def test_other_scripts() -> None:
    assert mentions("Я живу в Москве и люблю МОСКВУ.", "москву") == ["МОСКВУ"]
    assert mentions("Я живу в Москве.", "Москв") == []
    assert mentions("Ο Σωκράτης είπε", "σωκράτης") == ["Σωκράτης"]
    assert mentions("ذهبت إلى القاهرة أمس", "القاهرة") == ["القاهرة"]


# --- sentence_spans ---------------------------------------------------------------------------------------


def _assert_cover(text: str, spans: list[tuple[int, int]]) -> None:
    assert all(s < e for s, e in spans)
    if text:
        assert spans[0][0] == 0
        assert spans[-1][1] == len(text)
    else:
        assert spans == []
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert e1 == s2


def test_sentence_spans_split_and_cover() -> None:
    text = 'Hello world. How are you?  Fine! "Quoted." (Aside.) Next\nline\n\nNew paragraph'
    spans = sentence_spans(text)
    _assert_cover(text, spans)
    assert [text[s:e] for s, e in spans] == [
        "Hello world. ",
        "How are you?  ",
        "Fine! ",
        '"Quoted." ',
        "(Aside.) ",
        "Next\n",
        "line\n\n",
        "New paragraph",
    ]


def test_sentence_spans_edge_cases() -> None:
    assert sentence_spans("") == []
    assert sentence_spans("one sentence") == [(0, 12)]
    assert sentence_spans("  ") == [(0, 2)]
    assert sentence_spans("3.14 is pi.") == [(0, 11)]
    _assert_cover("\n\n\nA.\n", sentence_spans("\n\n\nA.\n"))


def test_sentence_spans_cjk_full_stops_without_spaces() -> None:
    text = "私は学生です。東京に住んでいます！本当？はい。"
    spans = sentence_spans(text)
    _assert_cover(text, spans)
    assert [text[s:e] for s, e in spans] == ["私は学生です。", "東京に住んでいます！", "本当？", "はい。"]
    text = "「はい。」と言った。次の文。"
    assert [text[s:e] for s, e in sentence_spans(text)] == ["「はい。」", "と言った。", "次の文。"]


# --- chunk_text ------------------------------------------------------------------------------------------


def _assert_chunks(text: str, chunks: list[Chunk], max_tokens: int | None = None) -> None:
    """Slicing rule, in-order coverage without gaps, progress, and the token budget."""
    assert chunks
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert c.end == c.start + len(c.text)
        if max_tokens is not None:
            assert count_words(c.text) <= max_tokens
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    for a, b in itertools.pairwise(chunks):
        assert a.start < b.start <= a.end  # in order, no gap
        assert b.end > a.end  # every chunk brings new text


_SENTENCES = [
    "Barack Obama was born in Honolulu.",
    "He studied at Columbia University and Harvard Law School.",
    "In 2008 he was elected president.",
    "Michelle Obama grew up in Chicago.",
    "They have two daughters.",
    "The family lived in the White House for eight years.",
    "Later they moved to Washington.",
    "Obama wrote several books about his life and his politics.",
]


def _long_text(n: int = 40) -> str:
    return " ".join(_SENTENCES[i % len(_SENTENCES)] for i in range(n))


def test_short_text_is_one_chunk() -> None:
    text = "Barack Obama was born in Honolulu. He was president."
    assert chunk_text(text, 100, count_words) == [Chunk(0, text)]
    assert chunk_text(text, count_words(text), count_words) == [Chunk(0, text)]
    assert chunk_text("", 5, count_words) == [Chunk(0, "")]


@pytest.mark.parametrize("max_tokens", [0, -1])
def test_non_positive_budget_is_rejected(max_tokens: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("a b c", max_tokens, count_words)


@pytest.mark.parametrize("max_tokens", [12, 20, 25, 40])
def test_long_text_chunks_respect_budget_and_cover(max_tokens: int) -> None:
    text = _long_text()
    chunks = chunk_text(text, max_tokens, count_words)
    assert len(chunks) > 1
    _assert_chunks(text, chunks, max_tokens)


@pytest.mark.parametrize("max_tokens", [20, 25, 40])
def test_consecutive_chunks_overlap_by_one_sentence(max_tokens: int) -> None:
    # every sentence has at most 10 words, so a sentence always fits next to the following one
    text = _long_text()
    sentences = sentence_spans(text)
    starts = {s for s, _ in sentences}
    chunks = chunk_text(text, max_tokens, count_words)
    assert len(chunks) > 2
    for a, b in itertools.pairwise(chunks):
        assert b.start in starts and a.end in {e for _, e in sentences}
        # the overlap is exactly the last sentence of ``a``
        assert (b.start, a.end) in sentences


def test_overlap_sentences_zero_and_two() -> None:
    text = _long_text()
    sentences = sentence_spans(text)
    chunks = chunk_text(text, 25, count_words, overlap_sentences=0)
    _assert_chunks(text, chunks, 25)
    for a, b in itertools.pairwise(chunks):
        assert b.start == a.end
    chunks = chunk_text(text, 30, count_words, overlap_sentences=2)
    _assert_chunks(text, chunks, 30)
    for a, b in itertools.pairwise(chunks):
        overlap = [sp for sp in sentences if b.start <= sp[0] and sp[1] <= a.end]
        assert len(overlap) == 2


def test_no_chunk_merely_repeats_the_overlap() -> None:
    # sentences of 2, 2 and 5 words with a budget of 5: the third cannot share a chunk with the second,
    # so it starts a chunk of its own instead of a chunk holding only the (already seen) second sentence.
    text = "One two. Three four. Five six seven eight nine."
    chunks = chunk_text(text, 5, count_words)
    assert [c.text for c in chunks] == ["One two. Three four. ", "Five six seven eight nine."]
    _assert_chunks(text, chunks, 5)


def test_sentence_longer_than_budget_is_cut_between_words() -> None:
    words = [f"word{i}" for i in range(23)]
    text = " ".join(words)
    chunks = chunk_text(text, 5, count_words)
    _assert_chunks(text, chunks, 5)
    for c in chunks:
        assert not _cuts_word(text, c.start) and not _cuts_word(text, c.end)
    # every word appears whole in some chunk
    assert all(any(w in c.text.split() for c in chunks) for w in words)


def test_long_sentence_between_short_ones() -> None:
    text = "Short one. " + " ".join(f"w{i}" for i in range(30)) + ". Another short one."
    chunks = chunk_text(text, 8, count_words)
    _assert_chunks(text, chunks, 8)
    for c in chunks:
        assert not _cuts_word(text, c.start) and not _cuts_word(text, c.end)


def test_leading_whitespace_before_long_sentence_is_covered() -> None:
    text = "Intro.\n   " + " ".join(f"w{i}" for i in range(12))
    chunks = chunk_text(text, 4, count_words)
    _assert_chunks(text, chunks, 4)
    text = "   " + " ".join(f"w{i}" for i in range(12))
    chunks = chunk_text(text, 4, count_words)
    _assert_chunks(text, chunks, 4)


def test_chunks_with_character_budget_on_japanese() -> None:
    text = "私は東京大学の学生です。" * 3 + "毎日電車で通っています。" * 3
    chunks = chunk_text(text, 30, len)
    _assert_chunks(text, chunks)
    assert all(len(c.text) <= 30 for c in chunks)
    assert len(chunks) > 1


def test_mentions_found_in_chunks_map_back_to_text() -> None:
    text = _long_text(20)
    expected = find_mentions(text, "Obama")
    found: set[tuple[int, int]] = set()
    for c in chunk_text(text, 15, count_words):
        for s, e in find_mentions(c.text, "Obama"):
            assert text[c.start + s : c.start + e] == "Obama"
            found.add((c.start + s, c.start + e))
    assert sorted(found) == expected


# --- properties -------------------------------------------------------------------------------------------

_WORDS = [
    "Obama",
    "obama",
    "OBAMA",
    "Barack",
    "US",
    "USA",
    "us",
    "bus",
    "New",
    "York",
    "City",
    "Zoë",
    "ZOË",
    "Saldaña",
    "Zoe\u0308",
    "e\u0301cole",
    "École",
    "naïve",
    "Straße",
    "Москва",
    "東京",
    "大学",
    "東京大学",
    "です",
    "😀",
    "🇯🇵",
    "'s",
    "Obama's",
    "-",
    ",",
    ".",
    "C++",
    "a",
    "A",
    "42",
]
_SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", ", ", ". ", "! ", "。", "\t", ""]


@st.composite
def _text_with_needle(draw: st.DrawFn) -> tuple[str, str, int, int]:
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=25))
    seps = draw(st.lists(st.sampled_from(_SEPARATORS), min_size=len(words) - 1, max_size=len(words) - 1))
    lead = draw(st.sampled_from(["", " ", "😀", "\n"]))
    parts = [lead]
    offsets = []
    for i, w in enumerate(words):
        offsets.append((len("".join(parts)), len("".join(parts)) + len(w)))
        parts.append(w)
        if i < len(seps):
            parts.append(seps[i])
    text = "".join(parts)
    i = draw(st.integers(0, len(words) - 1))
    j = draw(st.integers(i, min(len(words) - 1, i + 3)))
    start, end = offsets[i][0], offsets[j][1]
    return text, text[start:end], start, end


@settings(max_examples=300)
@given(_text_with_needle())
def test_find_mentions_property(case: tuple[str, str, int, int]) -> None:
    text, needle, start, end = case
    assume(needle.strip() == needle)
    spans = find_mentions(text, needle)
    _assert_valid_spans(text, needle, spans)
    for s, e in spans:
        assert not _cuts_word(text, s) and not _cuts_word(text, e), (text, s, e)
    if not _cuts_word(text, start) and not _cuts_word(text, end):
        # the needle's own occurrence is found (or overlaps an earlier occurrence that was)
        assert (start, end) in spans or any(s < end and start < e for s, e in spans)


@settings(max_examples=300)
@given(_text_with_needle(), st.sampled_from([str.lower, str.upper, lambda s: re.sub(r"\s+", "  ", s)]))
def test_find_mentions_tolerant_property(case: tuple[str, str, int, int], transform: object) -> None:
    text, needle, _, _ = case
    assert callable(transform)
    spans = find_mentions(text, transform(needle))
    _assert_valid_spans(text, transform(needle), spans)
    for s, e in spans:
        assert not _cuts_word(text, s) and not _cuts_word(text, e), (text, s, e)


@given(st.text())
def test_find_mentions_never_raises_on_arbitrary_text(text: str) -> None:
    for needle in (text[: len(text) // 2], text[len(text) // 3 :], "a", "."):
        _assert_valid_spans(text, needle, find_mentions(text, needle))


_chunkable_text = st.one_of(
    st.lists(st.sampled_from(_WORDS + _SEPARATORS + _SEPARATORS), max_size=120).map("".join),
    st.text(alphabet=st.sampled_from(list("ab ,.!?\n\t東。😀\u0301")), max_size=200),
)


@settings(max_examples=200)
@given(_chunkable_text, st.integers(1, 15), st.integers(0, 3))
def test_chunk_text_property(text: str, max_tokens: int, overlap: int) -> None:
    chunks = chunk_text(text, max_tokens, count_words, overlap_sentences=overlap)
    _assert_chunks(text, chunks, max_tokens)
    for c in chunks:
        assert not _cuts_word(text, c.start) and not _cuts_word(text, c.end)


@given(_chunkable_text)
def test_sentence_spans_property(text: str) -> None:
    _assert_cover(text, sentence_spans(text))
