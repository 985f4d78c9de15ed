"""Reading lists of strings out of free model output, without ever raising.

Small models wrap answers in code fences, add prose, use single quotes, stop mid-list or return objects
instead of strings. :func:`parse_string_list` recovers every string it can and says where each came from
(character offsets in the raw output, used to score it from the token log-probabilities).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# Keys whose value is the mention when a model answers with objects instead of strings.
_OBJECT_TEXT_KEYS = ("text", "entity", "name", "span", "mention", "value", "word")


@dataclass(frozen=True)
class ParsedString:
    value: str
    start: int
    """offset of the value's first character in the raw output (-1 when unknown)"""
    end: int


@dataclass
class ParsedList:
    items: list[ParsedString] = field(default_factory=list)
    ok: bool = False
    """True when a list (possibly empty) was found in the output"""

    @property
    def values(self) -> list[str]:
        return [item.value for item in self.items]


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"', "'": "'"}


def _read_quoted(raw: str, i: int) -> tuple[str, int, bool]:
    """Read a quoted string starting at ``raw[i]`` (a quote). Returns (value, index after, closed)."""
    quote = raw[i]
    j = i + 1
    out: list[str] = []
    while j < len(raw):
        ch = raw[j]
        if ch == "\\" and j + 1 < len(raw):
            nxt = raw[j + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[j + 2 : j + 6] or ""):
                cp = int(raw[j + 2 : j + 6], 16)
                low = raw[j + 8 : j + 12] if raw[j + 6 : j + 8] == "\\u" else ""
                if 0xD800 <= cp <= 0xDBFF and re.fullmatch(r"[dD][c-fC-F][0-9a-fA-F]{2}", low):
                    # JSON writes characters outside the BMP (emoji) as a surrogate pair: "\ud83d\ude00"
                    out.append(chr(0x10000 + ((cp - 0xD800) << 10) + (int(low, 16) - 0xDC00)))
                    j += 12
                    continue
                out.append(chr(cp))
                j += 6
                continue
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            j += 2
            continue
        if ch == quote:
            # A single quote inside a word (Obama's) is an apostrophe, not the end of the string.
            if (
                quote == "'"
                and j + 1 < len(raw)
                and raw[j + 1].isalnum()
                and j > i + 1
                and raw[j - 1].isalnum()
            ):
                out.append(ch)
                j += 1
                continue
            return "".join(out), j + 1, True
        if ch == "\n" and quote == "'":
            break
        out.append(ch)
        j += 1
    return "".join(out), j, False


def _strip_fences(raw: str) -> str:
    # Keep offsets valid: blank out fence markers instead of cutting them.
    return re.sub(r"```[a-zA-Z]*", lambda m: " " * len(m.group(0)), raw)


def parse_string_list(raw: str | None) -> ParsedList:
    """Recover the strings of the first list in ``raw``.

    Handles JSON and Python-style lists, code fences, surrounding prose, truncation (a list cut off by the
    token limit keeps its complete strings and a final unterminated one), nested objects (their text-like
    field is taken), and bare numbers. Never raises.
    """
    result = ParsedList()
    if not raw:
        return result
    text = _strip_fences(raw)
    start = text.find("[")
    if start < 0:
        # A single quoted string is an answer too: "Barack Obama"
        m = re.match(r'\s*(["\'])', text)
        if m:
            value, after, closed = _read_quoted(text, m.start(1))
            if closed and value.strip():
                result.ok = True
                result.items.append(ParsedString(value, m.start(1) + 1, after - 1))
        return result
    result.ok = True
    i = start + 1
    depth_obj = 0
    depth_list = 0  # nested lists inside the outer one
    current_key: str | None = None
    obj_candidates: list[tuple[str, ParsedString]] = []
    expecting_value = False
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            value, nxt, closed = _read_quoted(text, i)
            # The offsets span the value's source text (escapes included), without the closing quote.
            item = ParsedString(value, i + 1, nxt - 1 if closed else nxt)
            if depth_obj == 0:
                if value.strip():
                    result.items.append(item)
            else:
                # inside an object: decide whether this is a key or a value
                j = nxt
                while j < len(text) and text[j] in " \t\r\n":
                    j += 1
                if not expecting_value and j < len(text) and text[j] == ":":
                    current_key = value.lower()
                elif value.strip():
                    obj_candidates.append((current_key or "", item))
                    current_key = None
                expecting_value = False
            if not closed:
                break
            i = nxt
            continue
        if ch == "{":
            depth_obj += 1
            obj_candidates = [] if depth_obj == 1 else obj_candidates
            expecting_value = False  # a nested object starts with a key
        elif ch == "}":
            depth_obj = max(0, depth_obj - 1)
            if depth_obj == 0:
                picked = _pick_object_value(obj_candidates)
                if picked is not None:
                    result.items.append(picked)
                obj_candidates = []
        elif ch == ":" and depth_obj:
            expecting_value = True
        elif ch == "," and depth_obj:
            expecting_value = False
            current_key = None
        elif ch == "]" and depth_obj == 0:
            if depth_list == 0:
                break
            depth_list -= 1
        elif ch == "[" and depth_obj == 0:
            depth_list += 1  # nested lists ([entity, type] pairs): their strings are read like top-level ones
        elif depth_obj == 0 and (ch.isalnum() or ch == "-"):
            # bare token (number or unquoted word): read until a delimiter
            m = re.match(r"[^,\]\n]+", text[i:])
            if m:
                token = m.group(0).rstrip()
                if token and token not in {"None", "null", "none"}:
                    result.items.append(ParsedString(token, i, i + len(token)))
                i += len(m.group(0))
                continue
        i += 1
    if depth_obj:
        # An object cut off by the token limit: keep its mention if its text field was reached.
        picked = _pick_object_value([c for c in obj_candidates if c[0] in _OBJECT_TEXT_KEYS])
        if picked is not None:
            result.items.append(picked)
    return result


def _pick_object_value(cands: list[tuple[str, ParsedString]]) -> ParsedString | None:
    for key in _OBJECT_TEXT_KEYS:
        for k, item in cands:
            if k == key:
                return item
    return cands[0][1] if cands else None


# ---------------------------------------------------------------------------------------------------------
# Relation answers: an option letter (QA4RE) or a label name (vanilla RE).

# "Option: B", "the answer is (C)", "correct choice would be AB": a cue word (singular, so an echoed
# "Options:" list is not read as an answer), then the letter.
_CUE = re.compile(
    r"\b(?:option|answer|choice)\b(?:\s+(?:is|would\s+be|should\s+be|must\s+be|will\s+be))?"
    r"\s*[:=\-]?\s*[\(\[\"'*]*([A-Za-z]{1,3})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_LEADING = re.compile(r"[\s\(\[\"'*]*([A-Za-z]{1,3})\s*[\.\):\]]")
_TOKEN = re.compile(r"(?<![A-Za-z0-9'])([A-Z]{1,3})(?![A-Za-z0-9'])")
_LETTERS_ONLY = re.compile(r"[^A-Za-z]*([A-Za-z]{1,3})[^A-Za-z]*")


def _reads_as_word(token: str, after: str) -> bool:
    """True for "I think", "A person", "a cat": the letter starts prose rather than naming an option."""
    return token.upper() in {"I", "A"} and re.match(r"[ \t]+[A-Za-z]", after) is not None


def parse_option_letter(
    raw: str | None, letters: Sequence[str], texts: Sequence[str] | None = None
) -> str | None:
    """The option letter chosen in free model output, or None when no valid one can be found.

    Reads "B", " B.", "(B)", "**b**", "Option: B", "The answer is B. ...", "B) [x] was born in [y]" and
    letters after Z such as "AB.". Only letters in ``letters`` are returned; "I" and "A" used as words
    ("I think", "A person") are not taken for options. When no letter is found and ``texts`` (the option
    sentences, aligned with ``letters``) is given, the longest option sentence quoted in the output counts.
    Never raises.
    """
    if not raw or not letters:
        return None
    valid = {str(letter).upper(): letter for letter in letters}
    text = raw.strip()
    # 1. the whole answer is one letter, perhaps in punctuation or markdown: "B", "(b).", "**AB**"
    m = _LETTERS_ONLY.fullmatch(text)
    if m and m.group(1).upper() in valid:
        return valid[m.group(1).upper()]
    # 2. a cue word, then the letter: "Option: B", "the answer is (c)."
    for m in _CUE.finditer(text):
        token = m.group(1)
        if (
            token.upper() in valid
            and (token.isupper() or len(token) == 1)
            and not _reads_as_word(token, text[m.end() :])
        ):
            return valid[token.upper()]
    # 3. the answer opens with a letter and a delimiter: "B. [x] was born in [y]", "(C) ...", "AB: ..."
    m = _LEADING.match(text)
    if m and m.group(1).upper() in valid and (m.group(1).isupper() or len(m.group(1)) == 1):
        return valid[m.group(1).upper()]
    # 4. the first free-standing capital letter(s) that name an option: "I think C is right."
    for m in _TOKEN.finditer(text):
        if m.group(1) in valid and not _reads_as_word(m.group(1), text[m.end() :]):
            return valid[m.group(1)]
    # 5. the option sentence itself instead of its letter
    if texts:
        lowered = text.lower()
        best: tuple[int, int] | None = None  # (-length, index)
        for index, option in enumerate(texts[: len(letters)]):
            needle = str(option).strip().lower()
            if needle and needle in lowered and (best is None or -len(needle) < best[0]):
                best = (-len(needle), index)
        if best is not None:
            return letters[best[1]]
    return None


_TRIM = " \t\r\n\"'`*.,;:!-[]"
_LEAD_IN = re.compile(r"^\s*(?:the\s+)?(?:label|relation(?:ship)?|answer)(?:\s+is)?\s*:\s*", re.IGNORECASE)


def _norm_label(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def _longest_mention(haystack: str, table: dict[str, str]) -> str | None:
    """The label whose key occurs in ``haystack`` (not inside a longer word): longest key, then earliest."""
    best: tuple[int, int, str] | None = None  # (-len(key), position, label)
    for key, label in table.items():
        m = re.search(r"(?<![0-9a-z_])" + re.escape(key) + r"(?![0-9a-z_])", haystack)
        if m and (best is None or (-len(key), m.start()) < best[:2]):
            best = (-len(key), m.start(), label)
    return best[2] if best else None


def parse_label(raw: str | None, labels: Sequence[str]) -> str | None:
    """The relation label named in free model output, or None. Never raises.

    First the whole answer (without quotes, punctuation, a "- " bullet or a "Label:"/"Relation:"/"Answer:"
    lead-in) equal to a label, ignoring case; then the longest label mentioned anywhere (ignoring case;
    the earliest of equally long ones); then both steps again with punctuation and underscores read as
    spaces ("per title" for ``per:title``, "no relation" for ``no_relation``).
    """
    if not raw or not labels:
        return None
    text = _LEAD_IN.sub("", re.sub(r"```[A-Za-z]*", " ", raw).strip(), count=1).strip()
    exact: dict[str, str] = {}
    normed: dict[str, str] = {}
    for label in labels:
        exact.setdefault(str(label).lower(), label)
        if _norm_label(str(label)):
            normed.setdefault(_norm_label(str(label)), label)
    for answer in (text.lower(), text.lower().strip(_TRIM)):
        if answer and answer in exact:
            return exact[answer]
    found = _longest_mention(text.lower(), {key: label for key, label in exact.items() if key})
    if found is not None:
        return found
    if _norm_label(text) in normed:
        return normed[_norm_label(text)]
    return _longest_mention(_norm_label(text), normed)
