"""Tests for :mod:`ieforge.grounding`: finding mentions in the input text and chunking long texts."""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Any

import pytest
from chunk_reference import reference_chunks
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ieforge.grounding import Chunk, chunk_text, find_mentions, fold, sentence_spans


def count_words(s: str) -> int:
    return len(s.split())


def _squash(s: str) -> str:
    # equal modulo case, spaces and Unicode normalization (NFC/NFD, fullwidth forms, ligatures)
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)).casefold()


def _assert_valid_spans(text: str, needle: str, spans: list[tuple[int, int]]) -> None:
    """The offset rule: exact matches slice out the needle (modulo Unicode normalization); tolerant ones
    equal it modulo case and spaces too.

    Tolerant matches are only used when there is no exact one, and spans never overlap.
    """
    needle = needle.strip()
    exact = [
        unicodedata.normalize("NFKC", text[s:e]) == unicodedata.normalize("NFKC", needle) for s, e in spans
    ]
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


# --- Unicode normalization (issue 23, item 4) ---------------------------------------------------------------

_FORMS = ("NFC", "NFD", "NFKC", "NFKD")


def _nf(form: str, s: str) -> str:
    return unicodedata.normalize(form, s)  # type: ignore[arg-type]


def test_nfd_text_nfc_answer_issue_case() -> None:
    """The issue's drill: a decomposed text, the model answering in composed form."""
    text = unicodedata.normalize("NFD", "Änne Müller lives in Zürich.")
    for needle, surface in [("Änne Müller", "Änne Müller"), ("Zürich", "Zürich"), ("ZÜRICH", "Zürich")]:
        spans = find_mentions(text, needle)
        assert [text[s:e] for s, e in spans] == [unicodedata.normalize("NFD", surface)]
    # and the other way round
    text = "Änne Müller lives in Zürich."
    assert find_mentions(text, unicodedata.normalize("NFD", "Zürich")) == [(21, 27)]


def test_compatibility_forms() -> None:
    text = "The ﬁnance office of Ｔｏｋｙｏ Gas hired Dr.\u00a0Smith; 𝐁𝐨𝐥𝐝 type."
    assert mentions(text, "finance office") == ["ﬁnance office"]
    assert mentions(text, "Tokyo Gas") == ["Ｔｏｋｙｏ Gas"]
    assert mentions(text, "tokyo gas") == ["Ｔｏｋｙｏ Gas"]
    assert mentions(text, "Dr. Smith") == ["Dr.\u00a0Smith"]
    assert mentions(text, "Bold") == ["𝐁𝐨𝐥𝐝"]
    # half of a ligature is not a word of its own
    assert find_mentions("the ﬁ ligature", "f") == []
    assert find_mentions("ﬁnance", "fi") == []


def test_forms_that_change_meaning_are_kept_apart() -> None:
    assert find_mentions("x² and x2", "x2") == [(7, 9)]
    assert find_mentions("cut it ½ way", "1/2") == []
    assert find_mentions("① first", "1") == []


def test_both_spellings_in_one_text() -> None:
    nfd = unicodedata.normalize("NFD", "Zürich")
    text = f"Zürich and {nfd}"
    both = [(0, 6), (11, 11 + len(nfd))]
    assert find_mentions(text, "Zürich") == both
    assert find_mentions(text, nfd) == both
    assert find_mentions("Dr. Smith met Dr.\u00a0Smith", "Dr. Smith") == [(0, 9), (14, 23)]
    # case-insensitive matches only when no spelling matches exactly
    assert find_mentions(f"ZÜRICH and {nfd}", "Zürich") == [(11, 11 + len(nfd))]
    assert find_mentions(f"ZÜRICH and {nfd}", "zürich") == [(0, 6), (11, 11 + len(nfd))]


def test_hangul_jamo_and_syllables() -> None:
    text = unicodedata.normalize("NFD", "서울대학교에 갔다")
    assert mentions(text, "서울") == [unicodedata.normalize("NFD", "서울")]
    assert mentions("서울대학교에 갔다", unicodedata.normalize("NFD", "서울")) == ["서울"]


def test_fold() -> None:
    assert fold("Ａｎｎｅ\u00a0ﬁ") == "Anne fi"
    assert fold("é") == "e\u0301"
    assert fold("x²½") == "x²½"
    # combining marks in canonical order, whatever order the text had them in
    assert fold("q\u0307\u0323") == fold("q\u0323\u0307")


_NORM_WORDS = [
    "Änne",
    "Müller",
    "Zürich",
    "École",
    "naïve",
    "Saldaña",
    "Straße",
    "ﬁnance",
    "ﬂow",
    "Ｔｏｋｙｏ",
    "Ｇａｓ",
    "Ångström",
    "Ωmega",
    "Việt",
    "Nguyễn",
    "서울",
    "대학교",
    "東京",
    "Москва",
    "Ελλάδα",
    "Obama",
    "US",
    "bus",
    "42",
    "-",
]
_NORM_SEPARATORS = [" ", " ", "\u00a0", "  ", "\n", ", ", ". ", "; "]


@st.composite
def _normalized_case(draw: st.DrawFn) -> tuple[str, str, int, int]:
    """A text in one normalization form and one of its phrases (whole words) in another, with the
    phrase's offsets in the text."""
    text_form, needle_form = draw(st.sampled_from(_FORMS)), draw(st.sampled_from(_FORMS))
    words = draw(st.lists(st.sampled_from(_NORM_WORDS), min_size=1, max_size=12))
    seps = draw(st.lists(st.sampled_from(_NORM_SEPARATORS), min_size=len(words), max_size=len(words)))
    i = draw(st.integers(0, len(words) - 1))
    j = draw(st.integers(i, min(len(words) - 1, i + 2)))
    parts: list[str] = []
    start = end = 0
    for k, (w, sep) in enumerate(zip(words, seps)):
        if k == i:
            start = len("".join(parts))
        parts.append(_nf(text_form, w))
        if k == j:
            end = len("".join(parts))
        parts.append(_nf(text_form, sep))
    text = "".join(parts)
    assume(_nf(text_form, text) == text)
    raw = "".join(w + sep for w, sep in zip(words[i : j + 1], seps[i : j + 1]))
    return text, _nf(needle_form, raw.strip()), start, end


@settings(max_examples=300)
@given(_normalized_case())
def test_find_mentions_across_normalization_forms(case: tuple[str, str, int, int]) -> None:
    text, needle, start, end = case
    spans = find_mentions(text, needle)
    _assert_valid_spans(text, needle, spans)
    assert (start, end) in spans or any(s < end and start < e for s, e in spans), (text, needle, spans)
    for s, e in spans:
        assert _squash(text[s:e]) == _squash(needle)


@settings(max_examples=100)
@given(_normalized_case(), st.sampled_from([str.lower, str.upper]))
def test_find_mentions_across_forms_and_case(case: tuple[str, str, int, int], transform: object) -> None:
    text, needle, _, _ = case
    assert callable(transform)
    # "ß".upper() is "SS", which no normalization turns back into "ß"
    assume("ß" not in needle)
    spans = find_mentions(text, transform(needle))
    assert spans
    for s, e in spans:
        assert 0 <= s < e <= len(text)
        assert not _cuts_word(text, s) and not _cuts_word(text, e)


def test_nfd_text_through_the_ner_answer_path() -> None:
    """The NER answer reader, fed the model's NFC answer for an NFD text, grounds both entities with
    offsets into the text as given."""
    from ieforge.models.base import Generation
    from ieforge.tasks.ner import read_answer
    from ieforge.types import Entity

    text = unicodedata.normalize("NFD", "Änne Müller lives in Zürich.")
    found: dict[tuple[int, int, str], Entity] = {}
    stats = read_answer(Generation(text='["Änne Müller"]'), Chunk(0, text), "person", found)
    stats.add(read_answer(Generation(text='["Zürich"]'), Chunk(0, text), "location", found))
    assert stats.ungrounded == 0
    entities = sorted(found.values(), key=lambda e: e.start)
    assert [(e.label, e.text) for e in entities] == [
        ("person", unicodedata.normalize("NFD", "Änne Müller")),
        ("location", unicodedata.normalize("NFD", "Zürich")),
    ]
    assert all(text[e.start : e.end] == e.text for e in entities)


# --- chunking in linear time (issue 23, item 5) -------------------------------------------------------------


def _word_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


class _CountingWords:
    """``count_words`` that adds up the characters it was asked to count."""

    def __init__(self) -> None:
        self.characters = 0

    def __call__(self, s: str) -> int:
        self.characters += len(s)
        return count_words(s)


@settings(max_examples=200)
@given(_chunkable_text, st.integers(1, 15), st.integers(0, 3))
def test_chunks_are_those_of_the_reference_chunker(text: str, max_tokens: int, overlap: int) -> None:
    expected = reference_chunks(text, max_tokens, count_words, overlap)
    assert chunk_text(text, max_tokens, count_words, overlap_sentences=overlap) == expected
    assert chunk_text(text, max_tokens, count_words, overlap, token_spans=_word_spans) == expected


@pytest.mark.parametrize("run_on", [False, True])
def test_chunking_counts_each_character_a_few_times(run_on: bool) -> None:
    """Linear work: the counting function sees each character a bounded number of times, where the old
    chunker re-counted the growing chunk (about budget / 2 times each character)."""
    text = _long_text(2000)
    if run_on:  # no sentence ends at all: the chunks are cut between words
        text = re.sub(r"[.!?]", "", text)
    for spans in (None, _word_spans):
        counter = _CountingWords()
        chunks = chunk_text(text, 200, counter, token_spans=spans)
        assert chunks == reference_chunks(text, 200, count_words)
        assert counter.characters <= 12 * len(text), counter.characters / len(text)
    counter = _CountingWords()
    reference_chunks(text, 200, counter)
    assert counter.characters > 15 * len(text)  # what the bound above rules out


def test_a_wrong_estimate_still_gives_exact_chunks() -> None:
    """Offsets that say every character is a token (far too many) or, for sentences within the budget,
    that nothing is one: the counts settle each chunk anyway."""
    text = _long_text(60)
    expected = reference_chunks(text, 30, count_words)

    def chars(t: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i in range(len(t))]

    assert chunk_text(text, 30, count_words, token_spans=chars) == expected
    assert chunk_text(text, 30, count_words, token_spans=lambda t: []) == expected
    assert chunk_text(text, 30, count_words, token_spans=lambda t: None) == expected


@pytest.mark.model
def test_chunks_with_the_small_models_tokenizer(small_backend: Any) -> None:
    """The tasks' chunker on a real tokenizer: the offsets of one tokenization, then a count per chunk;
    the same chunks as the old chunker, each within the budget, with or without offsets."""
    text = ("Änne Müller lives in Zürich. " + _long_text(120) + "\n\n") * 3
    count = small_backend.count_tokens
    chunks = chunk_text(text, 300, count, token_spans=small_backend.token_spans)
    assert len(chunks) > 3
    _assert_chunks(text, chunks)
    assert all(count(c.text) <= 300 for c in chunks)
    assert chunks == reference_chunks(text, 300, count)
    assert chunk_text(text, 300, count) == chunks  # a backend without offsets: counted blocks instead
