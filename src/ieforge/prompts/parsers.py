"""Reading lists of strings out of free model output, without ever raising.

Small models wrap answers in code fences, add prose, use single quotes, stop mid-list or return objects
instead of strings. :func:`parse_string_list` recovers every string it can and says where each came from
(character offsets in the raw output, used to score it from the token log-probabilities).
"""

from __future__ import annotations

import re
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
