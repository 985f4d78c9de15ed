"""Reading structured answers (tuples, role maps, table rows) out of free model output, without raising.

The companions of :func:`~ieforge.prompts.parsers.parse_string_list` for tasks whose answer has more
shape than a list of strings:

* :func:`parse_tuple_list`: open information extraction tuples (``[["Obama", "was born in", "Hawaii"]]``);
* :func:`parse_role_map`: event arguments by role (``{"Attacker": ["hackers"], "Place": []}``);
* :func:`parse_type_map`: NER's one answer for every type (``{"person": ["Obama"], "city": []}``);
* :func:`parse_rows`: table rows by header (JSON, a markdown table or CSV-like lines);
* :func:`parse_entity_pairs`: a teacher's open-type entities (``[("Obama", "person"), ...]``).

All of them read JSON and its Python-style and hand-written relatives through one tolerant reader: single or
double quotes, apostrophes inside single-quoted words, unquoted keys and values, missing or trailing
commas, ``null``/``None``, numbers and booleans (kept as their source text), ``(...)`` tuples, code fences,
prose around the structure, and output cut off by the token limit (what is complete is kept). Every
recovered string is a :class:`~ieforge.prompts.parsers.ParsedString` whose offsets point into the raw
output: for a quoted string they span its source text between the quotes (escapes included, so they
slice out the value exactly when it has no escapes), for unquoted text they slice out the value exactly.
An empty value that stands for ``null`` or a missing slot has a zero-width span (``start == end``) inside
the answer. Offsets are never -1 and always lie within the raw output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ieforge.prompts.parsers import (
    _OBJECT_TEXT_KEYS,
    ParsedString,
    _read_quoted,
    _strip_fences,
    parse_string_list,
)

__all__ = [
    "ParsedRoleMap",
    "ParsedRows",
    "ParsedTuples",
    "ParsedTypeMap",
    "parse_entity_pairs",
    "parse_role_map",
    "parse_rows",
    "parse_tuple_list",
    "parse_type_map",
]


# ---------------------------------------------------------------------------------------------------------
# Results


@dataclass
class ParsedTuples:
    items: list[list[ParsedString]] = field(default_factory=list)
    """the tuples, each its parts in order: subject, relation, object, then further arguments"""
    ok: bool = False
    """True when tuples, or a list or object that could hold them (possibly empty), were found"""

    @property
    def values(self) -> list[list[str]]:
        return [[part.value for part in parts] for parts in self.items]


@dataclass
class ParsedRoleMap:
    items: dict[str, list[ParsedString]] = field(default_factory=dict)
    """the arguments of each role the answer names (canonical role names; a role given as null or [] maps
    to an empty list, a role the answer does not name is absent)"""
    ok: bool = False
    """True when an object or ``role: value`` lines were found"""
    unknown: list[str] = field(default_factory=list)
    """keys of the answer that name no role, as written (each once)"""

    @property
    def values(self) -> dict[str, list[str]]:
        return {role: [item.value for item in items] for role, items in self.items.items()}


@dataclass
class ParsedTypeMap:
    items: dict[str, list[ParsedString]] = field(default_factory=dict)
    """the strings of each requested entity type the answer names (each distinct string once, in the
    answer's order; a type given as ``[]`` or null maps to an empty list, a type not named is absent)"""
    ok: bool = False
    """True when an object, ``type: strings`` lines or (for one requested type) a list was found"""
    unknown: list[str] = field(default_factory=list)
    """keys of the answer that name no requested type, as written (each once)"""

    @property
    def values(self) -> dict[str, list[str]]:
        return {label: [item.value for item in items] for label, items in self.items.items()}


@dataclass
class ParsedRows:
    rows: list[dict[str, ParsedString]] = field(default_factory=list)
    """the rows, each mapping canonical header names to cells (a cell the answer lacks is absent)"""
    ok: bool = False
    """True when a table (JSON, markdown or delimited lines, possibly without rows) was found"""

    @property
    def values(self) -> list[dict[str, str]]:
        return [{header: cell.value for header, cell in row.items()} for row in self.rows]


# ---------------------------------------------------------------------------------------------------------
# A tolerant reader of JSON-like values, keeping offsets.

_WS = " \t\r\n"
_MAX_DEPTH = 24  # deeper nesting is not an answer: reading stops there
_NULL_TOKENS = frozenset({"null", "Null", "NULL", "None", "none"})


@dataclass
class _Scalar:
    value: str | None
    """the string (a bare token's source text); None for null"""
    start: int
    end: int
    complete: bool
    """False for a string or bare token cut off by the end of the output"""

    def parsed(self) -> ParsedString:
        if self.value is None:
            return ParsedString("", self.start, self.start)
        return ParsedString(self.value, self.start, self.end)


@dataclass
class _Seq:
    items: list[_Node]
    start: int
    closed: bool


@dataclass
class _Map:
    pairs: list[tuple[str | None, _Node]]
    """(key, value); the key is None for a value written without one (``{"a", "b"}``)"""
    start: int
    closed: bool


_Node = _Scalar | _Seq | _Map


class _Reader:
    """Reads values from ``text``; stops for good at an unterminated string or too deep nesting."""

    def __init__(self, text: str, limit: int | None = None) -> None:
        self.text = text
        # Reading ends at ``n``: what follows counts as cut off.
        self.n = len(text) if limit is None else min(limit, len(text))
        self.stopped = False

    def value(self, i: int, depth: int, stops: str) -> tuple[_Node | None, int]:
        """The value at ``text[i]`` (not whitespace) and the index after it; None for punctuation only.

        ``stops`` are the characters that end a bare (unquoted) token.
        """
        text = self.text
        ch = text[i]
        if ch in "[({":
            if depth >= _MAX_DEPTH:
                self.stopped = True
                return None, self.n
            return self.map(i, depth + 1) if ch == "{" else self.seq(i, depth + 1)
        if ch in "\"'":
            value, after, closed = _read_quoted(text, i)
            if not closed:
                self.stopped = True
            return _Scalar(value, i + 1, after - 1 if closed else after, closed), after
        j = i
        while j < self.n and text[j] not in stops:
            j += 1
        token = text[i:j].rstrip()
        if not any(c.isalnum() for c in token):
            return None, j  # "...", "*": no value
        return _Scalar(None if token in _NULL_TOKENS else token, i, i + len(token), j < self.n), j

    def seq(self, i: int, depth: int) -> tuple[_Seq, int]:
        """A list ``[...]`` or tuple ``(...)`` starting at ``text[i]``."""
        text = self.text
        closer = ")" if text[i] == "(" else "]"
        stops = "," + closer + "\n"
        node = _Seq([], i, False)
        i += 1
        while i < self.n and not self.stopped:
            ch = text[i]
            if ch in _WS or ch in ",:":
                i += 1
            elif ch == closer or ch in "]}":
                node.closed = True
                return node, i + 1
            elif ch == ")":
                i += 1  # a stray parenthesis in a [...] list
            else:
                child, i = self.value(i, depth, stops)
                if child is not None:
                    node.items.append(child)
        return node, i

    def map(self, i: int, depth: int) -> tuple[_Map, int]:
        """An object ``{...}`` starting at ``text[i]``; keys may be quoted or bare."""
        text = self.text
        node = _Map([], i, False)
        i += 1
        while i < self.n and not self.stopped:
            ch = text[i]
            if ch in _WS or ch in ",:)":
                i += 1
                continue
            if ch in "}]":
                node.closed = True
                return node, i + 1
            if ch in "[({":
                child, i = self.value(i, depth, ",}]\n")
                if child is not None:
                    node.pairs.append((None, child))
                continue
            if ch in "\"'":
                key, after, closed = _read_quoted(text, i)
                if not closed:
                    self.stopped = True
                    break
                key_node: _Scalar | None = _Scalar(key, i + 1, after - 1, True)
            else:
                after = i
                while after < self.n and text[after] not in ":,}]\n":
                    after += 1
                if after >= self.n:
                    break  # a bare key cut off by the end of the output
                key = text[i:after].strip()
                key_node = _Scalar(key, i, i + len(key), True) if any(c.isalnum() for c in key) else None
            j = after
            while j < self.n and text[j] in _WS:
                j += 1
            if j < self.n and text[j] == ":":
                j += 1
                while j < self.n and text[j] in _WS:
                    j += 1
                if j >= self.n:
                    break  # cut off after the colon
                if text[j] in ",}]":
                    node.pairs.append((key, _Scalar(None, j, j, True)))  # "key": , (no value)
                    i = j
                    continue
                child, i = self.value(j, depth, ",}]\n")
                if child is not None:
                    node.pairs.append((key, child))
            else:
                if key_node is not None and j < self.n:
                    node.pairs.append((None, key_node))  # a value without a key
                i = max(j, i + 1)
        return node, i


_BETWEEN = re.compile(r"(?:\s+|[,;]|\d{1,3}[.):]|[-*•])*")
_OPENERS = re.compile(r"[\[{]")


def _groups(text: str) -> Iterator[list[_Node]]:
    """The structures (lists and objects) of ``text`` in order, each with the structures that directly
    follow it (separated only by whitespace, commas or list markers, as in JSON lines)."""
    reader = _Reader(text)
    pos = 0
    while not reader.stopped:
        m = _OPENERS.search(text, pos)
        if m is None:
            return
        group: list[_Node] = []
        i = m.start()
        while True:
            node, end = reader.map(i, 1) if text[i] == "{" else reader.seq(i, 1)
            group.append(node)
            if reader.stopped or not node.closed:
                break
            k = _BETWEEN.match(text, end)
            nxt = k.end() if k else end
            if nxt < len(text) and text[nxt] in "[{":
                i = nxt
                continue
            break
        yield group
        pos = max(end, m.start() + 1)


def _norm_key(key: str) -> str:
    """A key compared ignoring case, spaces, hyphens and underscores."""
    return re.sub(r"[\s\-_]+", "", key).casefold()


def _canon(names: Sequence[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for name in names:
        norm = _norm_key(str(name))
        if norm:
            table.setdefault(norm, name)
    return table


_TEXT_KEYS = (*_OBJECT_TEXT_KEYS, "argument", "filler", "answer", "content")


def _pick_text(node: _Map, depth: int = 0) -> ParsedString | None:
    """The text-like field of an object (``{"text": "Obama", "type": "PER"}``), else its first string."""
    complete = [
        (_norm_key(k) if k is not None else "", v)
        for k, v in node.pairs
        if not (isinstance(v, _Scalar) and (not v.complete or v.value is None or not v.value.strip()))
    ]
    for key in _TEXT_KEYS:
        for k, v in complete:
            if k == key:
                if isinstance(v, _Scalar):
                    return v.parsed()
                if isinstance(v, _Map) and depth < _MAX_DEPTH:
                    picked = _pick_text(v, depth + 1)
                    if picked is not None:
                        return picked
    for _, v in complete:
        if isinstance(v, _Scalar):
            return v.parsed()
    return None


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for m in re.finditer(r"\n", text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def _trim(text: str, a: int, b: int, chars: str = _WS) -> tuple[int, int]:
    while a < b and text[a] in chars:
        a += 1
    while b > a and text[b - 1] in chars:
        b -= 1
    return a, b


def _split_cells(text: str, a: int, b: int, sep: str) -> list[ParsedString]:
    """The cells of ``text[a:b]`` split at ``sep``, trimmed; a cell that is one quoted string is read as
    such (so it may contain the separator)."""
    seg = text[a:b]
    pad = " " if sep == "\t" else " \t"
    cells: list[ParsedString] = []
    i = 0
    while i <= len(seg):
        j = i
        while j < len(seg) and seg[j] in pad:
            j += 1
        if j < len(seg) and seg[j] in "\"'":
            value, after, closed = _read_quoted(seg, j)
            k = after
            while k < len(seg) and seg[k] in pad:
                k += 1
            if closed and (k == len(seg) or seg[k] == sep):
                cells.append(ParsedString(value, a + j + 1, a + after - 1))
                i = k + 1
                continue
        k = seg.find(sep, i)
        if k < 0:
            k = len(seg)
        s, e = _trim(seg, i, k)
        value = seg[s:e]
        if value in _NULL_TOKENS:
            cells.append(ParsedString("", a + s, a + s))
        else:
            cells.append(ParsedString(value, a + s, a + e))
        i = k + 1
    return cells


def _pipe_cells(text: str, a: int, b: int) -> tuple[list[ParsedString], bool, bool]:
    """The cells of a ``| a | b |`` line; also whether it opened and closed with a pipe."""
    a, b = _trim(text, a, b)
    opened = a < b and text[a] == "|"
    if opened:
        a += 1
    closed = b > a and text[b - 1] == "|"
    if closed:
        b -= 1
    return _split_cells(text, a, b, "|"), opened, closed


_SEPARATOR_CELL = re.compile(r":?-+:?")


def _is_separator(cells: Sequence[ParsedString]) -> bool:
    """A markdown table's ``|---|:--:|`` line."""
    return any(c.value for c in cells) and all(
        not c.value or _SEPARATOR_CELL.fullmatch(c.value.replace(" ", "")) for c in cells
    )


# ---------------------------------------------------------------------------------------------------------
# Open IE tuples

_SUBJECT_KEYS = frozenset(
    {"subject", "subj", "sub", "arg1", "head", "headentity", "entity1", "e1", "source", "s", "h"}
)
_RELATION_KEYS = frozenset(
    {
        "relation",
        "predicate",
        "rel",
        "verb",
        "pred",
        "relationship",
        "relationtype",
        "property",
        "r",
        "p",
        "v",
    }
)
_OBJECT_KEYS = frozenset({"object", "obj", "arg2", "tail", "tailentity", "entity2", "e2", "target", "o", "t"})
_ARGS_KEYS = frozenset({"args", "arguments", "objects", "arg"})
_EXTRA_KEYS = frozenset(
    {
        "time",
        "date",
        "when",
        "place",
        "location",
        "where",
        "manner",
        "how",
        "reason",
        "why",
        "cause",
        "purpose",
        "condition",
        "instrument",
        "modifier",
        "context",
    }
)
# Column names a model may echo as a tuple (a header line): such a tuple is dropped.
_TUPLE_HEADER_WORDS = frozenset(
    k
    for k in _SUBJECT_KEYS | _RELATION_KEYS | _OBJECT_KEYS | _ARGS_KEYS | _EXTRA_KEYS
    if len(k) > 2 and not k.startswith("arg")
) | {f"arg{n}" for n in range(10)}
_ARG_NUMBER = re.compile(r"arg(\d{1,2})")


def _keep_tuple(parts: list[ParsedString]) -> bool:
    nonempty = [p.value for p in parts if p.value.strip()]
    if len(nonempty) < 2:
        return False
    return not all(_norm_key(v) in _TUPLE_HEADER_WORDS for v in nonempty)


def _flat_parts(seq: _Seq, parts: list[ParsedString], nested: bool = False) -> bool:
    """Add the parts of a tuple written as a list; False when cut off (the parts so far are complete)."""
    for item in seq.items:
        if isinstance(item, _Scalar):
            if not item.complete:
                return False
            if item.value is not None or not nested:
                parts.append(item.parsed())
        elif isinstance(item, _Seq):
            if not _flat_parts(item, parts, nested=True):
                return False
        else:
            picked = _pick_text(item)
            if picked is not None:
                parts.append(picked)
            elif not item.closed:
                return False
    return seq.closed


def _tuple_from_seq(seq: _Seq, min_parts: int = 0) -> list[ParsedString] | None:
    parts: list[ParsedString] = []
    complete = _flat_parts(seq, parts)
    if len(parts) < (min_parts if complete else max(min_parts, 3)):
        return None
    return parts if _keep_tuple(parts) else None


def _tuple_values(node: _Node) -> list[ParsedString] | None:
    """The strings of a tuple field; None when the field was cut off."""
    if isinstance(node, _Scalar):
        return [node.parsed()] if node.complete else None
    if isinstance(node, _Map):
        picked = _pick_text(node)
        return [picked] if picked is not None else ([] if node.closed else None)
    parts: list[ParsedString] = []
    _flat_parts(node, parts, nested=True)
    return parts


def _tuple_from_map(node: _Map) -> tuple[list[ParsedString] | None, bool]:
    """The tuple of an object with subject/relation/object-like keys, and whether any such key was there."""
    keys = {_norm_key(k) for k, _ in node.pairs if k is not None}
    shift = 1 if "arg0" in keys else 0  # PropBank style: ARG0 is the subject, ARG1 the object
    slots: list[ParsedString | None] = [None, None, None]
    listed: list[ParsedString] = []
    numbered: dict[int, list[ParsedString]] = {}
    named: list[ParsedString] = []
    overflow: list[ParsedString] = []
    recognised = False
    filled = 0
    for key, value in node.pairs:
        if key is None:
            continue
        k = _norm_key(key)
        number = _ARG_NUMBER.fullmatch(k)
        slot: int | None = None
        if number:
            n = int(number.group(1)) + shift
            slot = {1: 0, 2: 2}.get(n)
            if slot is None:
                values = _tuple_values(value)
                recognised = True
                if values:
                    numbered.setdefault(n, []).extend(values)
                    filled += len(values)
                continue
        elif k in _SUBJECT_KEYS:
            slot = 0
        elif k in _RELATION_KEYS:
            slot = 1
        elif k in _OBJECT_KEYS:
            slot = 2
        elif k not in _ARGS_KEYS and k not in _EXTRA_KEYS:
            continue
        recognised = True
        values = _tuple_values(value)
        if not values:
            continue
        filled += len(values)
        if slot is None:
            (listed if k in _ARGS_KEYS else named).extend(values)
        elif slots[slot] is None:
            slots[slot] = values[0]
            overflow.extend(values[1:])
        else:
            overflow.extend(values)
    if not recognised:
        return None, False
    if slots[2] is None and listed:
        slots[2] = listed.pop(0)  # {"arg1": ..., "rel": ..., "args": [object, ...]}
    extras = listed + [v for n in sorted(numbered) for v in numbered[n]] + named + overflow
    last = 3 if extras else max((i + 1 for i, s in enumerate(slots) if s is not None), default=0)
    parts = [s if s is not None else ParsedString("", node.start, node.start) for s in slots[:last]]
    parts += extras
    if not node.closed and filled < 3:
        return None, True
    return (parts if _keep_tuple(parts) else None), True


def _collect_tuples(node: _Node, out: list[list[ParsedString]]) -> None:
    """Add the tuples of a top-level structure (or an object's field) to ``out``."""
    if isinstance(node, _Map):
        parts, recognised = _tuple_from_map(node)
        if recognised:
            if parts is not None:
                out.append(parts)
            return
        for _, value in node.pairs:
            if isinstance(value, (_Seq, _Map)):
                _collect_tuples(value, out)  # {"triples": [...]}
        return
    if isinstance(node, _Scalar) or not node.items:
        return
    if isinstance(node.items[0], _Scalar):
        parts = _tuple_from_seq(node, min_parts=3)  # a single flat list is one tuple
        if parts is not None:
            out.append(parts)
        return
    for item in node.items:
        if isinstance(item, _Map):
            _collect_tuples(item, out)
        elif isinstance(item, _Seq):
            if item.items and not isinstance(item.items[0], _Scalar):
                _collect_tuples(item, out)  # one more level of lists around the tuples
            else:
                parts = _tuple_from_seq(item)
                if parts is not None:
                    out.append(parts)


_TUPLE_LINE_LEAD = re.compile(
    r"[ \t]*(?:(?:\d{1,3}[.):]|[-*•+>])[ \t]*)?(?:\*\*)?"
    r"(?:(?:tuple|triple|triplet|extraction|fact)s?[ \t]*\d*[ \t]*:[ \t]*)?",
    re.IGNORECASE,
)
_BRACKETS = {"(": ")", "<": ">", "[": "]", "{": "}"}


def _matching(text: str, a: int, b: int) -> int:
    """The index of the bracket in ``text[a:b]`` that closes the one at ``text[a]``; -1 when none does."""
    opener, closer = text[a], _BRACKETS[text[a]]
    depth = 0
    for i in range(a, b):
        if text[i] == opener:
            depth += 1
        elif text[i] == closer:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _tuples_from_lines(text: str) -> list[list[ParsedString]]:
    """Tuples written one per line: ``(a; b; c)``, ``1. (a, b, c)``, ``a | b | c``, ``a; b; c``, tabs."""
    out: list[list[ParsedString]] = []
    for ls, le in _line_spans(text):
        lead = _TUPLE_LINE_LEAD.match(text, ls, le)
        a, b = _trim(text, lead.end() if lead else ls, le)
        if a >= b:
            continue
        truncated = False
        if text[a] in _BRACKETS:
            close = _matching(text, a, b)
            if close < 0:
                truncated = le == len(text)  # the last line, cut off before the bracket closed
                a, b = a + 1, b
            else:
                a, b = a + 1, close
            inner = text[a:b]
            sep = next((s for s in (";", "|", "\t") if s in inner), ",")
            if sep == "," and text[a - 1] in "[{":
                continue  # a JSON-like list, already read as one (and found to hold no tuple)
            cells = _split_cells(text, a, b, sep)
        elif "|" in text[a:b]:
            cells, opened, closed = _pipe_cells(text, a, b)
            if _is_separator(cells):
                continue
            truncated = opened and not closed and le == len(text)
        elif text.count(";", a, b) >= 2:
            cells = _split_cells(text, a, b, ";")
        elif text.count("\t", a, b) >= 2:
            cells = _split_cells(text, a, b, "\t")
        else:
            continue
        if truncated:
            cells = cells[:-1]
            if len(cells) < 3:
                continue
        if _keep_tuple(cells):
            out.append(cells)
    return out


def parse_tuple_list(raw: str | None) -> ParsedTuples:
    """Recover open information extraction tuples from free model output. Never raises.

    Accepted, in the first list or object of the output (or consecutive ones, as in JSON lines):

    * a list of lists of strings, JSON or Python-style: ``[["Obama", "was born in", "Hawaii"], ...]``
      (also ``[("Obama", ...)]`` tuples and one more level of lists around them); a nested list inside a
      tuple adds its strings as further parts;
    * a list of objects (or one object) with subject/relation/object-like keys, ordered subject
      (``subject``, ``subj``, ``arg1``, ``head`` ...), relation (``relation``, ``predicate``, ``rel``,
      ``verb`` ...), object (``object``, ``obj``, ``arg2``, ``tail`` ...), then ``args`` items, ``arg3``,
      ``arg4`` ..., then ``time``, ``place``, ``location`` and similar fields; keys are compared ignoring
      case, spaces, hyphens and underscores; other keys are ignored. With an ``arg0`` key the PropBank
      numbering is used (``arg0`` subject, ``arg1`` object). A missing subject or relation before a
      present slot becomes an empty part; fields that are objects give their text-like field;
    * an object holding such a list (``{"triples": [...]}``);
    * a single flat list of three or more strings: one tuple.

    When no such structure yields a tuple, lines are read instead: ``(Obama; was born in; Hawaii)``,
    ``1. (Obama, was born in, Hawaii)``, ``<a, b, c>``, ``Obama | was born in | Hawaii`` (markdown table
    rows; separator lines skipped), ``a; b; c`` and tab-separated parts. Parts may be quoted.

    ``null`` parts become empty strings in their position. Tuples with fewer than two non-empty parts are
    skipped, and so are echoed header lines such as ``(subject, relation, object)``. Output cut off by the
    token limit keeps its complete tuples, and a final cut-off tuple when it has at least three complete
    parts (its incomplete last part is dropped).
    """
    result = ParsedTuples()
    if not raw:
        return result
    text = _strip_fences(raw)
    found = False
    for group in _groups(text):
        found = True
        items: list[list[ParsedString]] = []
        for node in group:
            _collect_tuples(node, items)
        if items:
            return ParsedTuples(items, True)
    lines = _tuples_from_lines(text)
    return ParsedTuples(lines, bool(lines) or found)


# ---------------------------------------------------------------------------------------------------------
# Event arguments by role

_NO_VALUE = frozenset(
    {
        "",
        "none",
        "null",
        "nil",
        "n/a",
        "na",
        "-",
        "--",
        "not mentioned",
        "not specified",
        "not applicable",
        "not given",
        "not available",
        "not found",
        "no argument",
        "empty",
    }
)
_ROLE_NAME_KEYS = ("role", "argumentrole", "rolename", "roletype", "argrole", "type", "label")
_ROLE_TEXT_KEYS = (
    "argument",
    "arguments",
    "args",
    "arg",
    *_TEXT_KEYS,
    "spans",
    "texts",
    "mentions",
    "entities",
    "values",
)


def _is_value(item: ParsedString) -> bool:
    return item.value.strip().casefold() not in _NO_VALUE


def _role_values(node: _Node, depth: int = 0) -> list[ParsedString] | None:
    """The arguments given for a role; None when its value was cut off."""
    if isinstance(node, _Scalar):
        if not node.complete:
            return None
        parsed = node.parsed()
        return [parsed] if node.value is not None and _is_value(parsed) else []
    if isinstance(node, _Map):
        picked = _pick_text(node)
        if picked is not None:
            return [picked] if _is_value(picked) else []
        return [] if node.closed else None
    out: list[ParsedString] = []
    for item in node.items:
        if isinstance(item, _Seq) and depth >= _MAX_DEPTH:
            continue
        values = _role_values(item, depth + 1)
        if values:
            out.extend(values)
    return out


@dataclass
class _Roles:
    items: dict[str, list[ParsedString]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    found: bool = False  # an object was seen

    def add(self, role: str, values: list[ParsedString]) -> None:
        self.items.setdefault(role, []).extend(values)

    def add_unknown(self, key: str) -> None:
        if key not in self.unknown:
            self.unknown.append(key)

    def merge(self, other: _Roles) -> None:
        for role, values in other.items.items():
            self.add(role, values)
        for key in other.unknown:
            self.add_unknown(key)
        self.found = self.found or other.found


def _role_object(node: _Map, canon: dict[str, str]) -> _Roles | None:
    """``{"role": "Attacker", "argument": "hackers"}``: one argument named by its role."""
    fields = {_norm_key(k): v for k, v in reversed(node.pairs) if k is not None}
    for key in _ROLE_NAME_KEYS:
        name = fields.get(key)
        if not (isinstance(name, _Scalar) and name.complete and name.value):
            continue
        texts = [fields[k] for k in _ROLE_TEXT_KEYS if k in fields and k != key]
        if not texts:
            continue
        roles = _Roles(found=True)
        role = canon.get(_norm_key(name.value))
        if role is None:
            if not any(isinstance(v, (_Seq, _Map)) for v in fields.values()):
                roles.add_unknown(name.value)
                return roles
            continue
        values = _role_values(texts[0])
        if values is not None:
            roles.add(role, values)
        return roles
    return None


def _roles_from_node(node: _Node, canon: dict[str, str], depth: int = 0) -> _Roles:
    roles = _Roles()
    if isinstance(node, _Scalar) or depth > _MAX_DEPTH:
        return roles
    if isinstance(node, _Seq):
        for item in node.items:
            if not isinstance(item, _Scalar):
                roles.merge(_roles_from_node(item, canon, depth + 1))
        return roles
    roles.found = True
    for key, value in node.pairs:
        if key is None:
            continue
        role = canon.get(_norm_key(key))
        if role is None:
            roles.add_unknown(key)
            continue
        values = _role_values(value)
        if values is not None:
            roles.add(role, values)
    if roles.items:
        return roles
    single = _role_object(node, canon)
    if single is not None:
        return single
    for _, value in node.pairs:  # {"event": ..., "arguments": {...}}
        if isinstance(value, (_Seq, _Map)):
            inner = _roles_from_node(value, canon, depth + 1)
            if inner.items:
                return inner
    return roles


_ROLE_LINE_LEAD = re.compile(r"[ \t]*(?:(?:\d{1,3}[.)]|[-*•+])[ \t]+)?")
_KEY_TRIM = _WS + "*`\"'#"
_LINE_LIST_REACH = 1000


def _line_values(text: str, a: int, b: int) -> list[ParsedString]:
    """The arguments after ``role:`` in ``text[a:b]``: a list, quoted strings or comma-separated text."""
    a, b = _trim(text, a, b, _WS + "*`")
    if a >= b:
        return []
    if text[a] == "[":
        # The list may go on over the next lines, but not for ever (one reading per line must stay cheap).
        seq, _ = _Reader(text, b + _LINE_LIST_REACH).seq(a, 1)
        return _role_values(seq) or []
    cells = _split_cells(text, a, b, ",")
    out = []
    for cell in cells:
        if cell.end == b and re.search(r"[a-z0-9]{2}\.$", cell.value):
            cell = ParsedString(cell.value[:-1], cell.start, cell.end - 1)  # "Victim: Equifax."
        if cell.value.strip() and _is_value(cell):
            out.append(cell)
    return out


def _roles_from_lines(text: str, canon: dict[str, str]) -> _Roles:
    """``Attacker: hackers; Victim: Equifax`` or one ``role: value`` per line (bullets, bold keys)."""
    roles = _Roles()
    for ls, le in _line_spans(text):
        seg_start = ls
        for m in re.finditer(r";|$", text[ls:le]):
            sa, sb = seg_start, ls + m.start()
            seg_start = ls + m.end()
            lead = _ROLE_LINE_LEAD.match(text, sa, sb)
            key_start = lead.end() if lead else sa
            first_key: str | None = None
            colon = text.find(":", key_start, sb)
            while colon >= 0:
                ka, kb = _trim(text, key_start, colon, _KEY_TRIM)
                key = text[ka:kb]
                role = canon.get(_norm_key(key))
                if role is not None:
                    roles.add(role, _line_values(text, colon + 1, sb))
                    break
                if first_key is None:
                    first_key = key
                key_start = colon + 1
                colon = text.find(":", key_start, sb)
            else:
                rest = text[key_start:sb].strip()
                if first_key and rest and len(first_key) <= 40 and len(first_key.split()) <= 3:
                    roles.add_unknown(first_key)
            if m.end() == len(text[ls:le]):
                break
    return roles


def parse_role_map(raw: str | None, roles: Sequence[str]) -> ParsedRoleMap:
    """Recover event arguments by role from free model output. Never raises.

    Accepted, in the first object of the output that names a role:

    * an object mapping roles to arguments: ``{"Attacker": ["hackers"], "Victim": "Equifax", "Place": []}``;
      keys are matched to ``roles`` ignoring case, spaces, hyphens and underscores (``"compromised data"``
      is ``Compromised-Data``), and other keys are listed in ``unknown``. A value may be a string, a list of
      strings, null, or an object (its text-like field, such as ``text`` or ``argument``, is taken);
      numbers are kept as their text. ``"None"``, ``"N/A"``, ``"-"`` and similar placeholders are no
      argument. A role written twice collects both values;
    * such an object inside a wrapper (``{"event_type": ..., "arguments": {...}}``) or a list of them;
    * a list of role objects: ``[{"role": "Attacker", "argument": "hackers"}, ...]``.

    When no object names a role, ``role: value`` lines are read: ``Attacker: hackers; Victim: Equifax`` or
    one per line, with bullets or ``**bold**`` keys; a value is a list (``["a", "b"]``), quoted strings, or
    comma-separated text. Output cut off by the token limit keeps what is complete (a role whose single
    value was cut off is left out). ``ok`` is True when an object (even without roles) or a role line was
    found.
    """
    result = ParsedRoleMap()
    if not raw:
        return result
    text = _strip_fences(raw)
    canon = _canon(roles)
    first: _Roles | None = None
    for group in _groups(text):
        found = _Roles()
        for node in group:
            found.merge(_roles_from_node(node, canon))
        if found.items:
            return ParsedRoleMap(found.items, True, found.unknown)
        if found.found and first is None:
            first = found
    lines = _roles_from_lines(text, canon)
    if lines.items:
        return ParsedRoleMap(lines.items, True, lines.unknown)
    if first is not None:
        return ParsedRoleMap({}, True, first.unknown)
    return result


# ---------------------------------------------------------------------------------------------------------
# Table rows


def _cell(node: _Node) -> ParsedString | None:
    """A table cell from a JSON value: a string, number or boolean (its text), an object's text-like field,
    or a list's strings joined with ", " (its span then covers them all); None for null or cut off."""
    if isinstance(node, _Scalar):
        return node.parsed() if node.complete and node.value is not None else None
    if isinstance(node, _Map):
        return _pick_text(node)
    values: list[ParsedString] = []
    _flat_parts(node, values, nested=True)
    values = [v for v in values if v.value.strip()]
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return ParsedString(", ".join(v.value for v in values), values[0].start, values[-1].end)


def _keep_row(row: dict[str, ParsedString]) -> bool:
    return any(cell.value.strip() for cell in row.values())


def _row_from_cells(
    cells: Sequence[ParsedString | None], columns: Sequence[str | None]
) -> dict[str, ParsedString]:
    row: dict[str, ParsedString] = {}
    for cell, header in zip(cells, columns):
        if cell is not None and header is not None and header not in row:
            row[header] = cell
    return row


def _header_columns(cells: Sequence[ParsedString], canon: dict[str, str]) -> list[str | None] | None:
    """The headers named by a header line, or None when some cell names no header."""
    if not cells:
        return None
    columns = [canon.get(_norm_key(c.value)) for c in cells]
    return columns if all(columns) else None


def _rows_from_node(
    node: _Node, canon: dict[str, str], headers: list[str], out: list[dict[str, ParsedString]]
) -> None:
    if isinstance(node, _Scalar):
        return
    if isinstance(node, _Map):
        matched = [(canon.get(_norm_key(k)), v) for k, v in node.pairs if k is not None]
        pairs = [(h, v) for h, v in matched if h is not None]
        if not pairs:
            for _, value in node.pairs:  # {"rows": [...]}
                if isinstance(value, (_Seq, _Map)):
                    _rows_from_node(value, canon, headers, out)
            return
        columnar = all(isinstance(v, _Seq) and all(isinstance(x, _Scalar) for x in v.items) for _, v in pairs)
        if columnar and (len(pairs) >= 2 or len(headers) == 1):
            # {"Name": ["A", "B"], "Year": [2019, 2020]}: one list per column
            by_column: dict[str, list[ParsedString | None]] = {}
            for header, value in pairs:
                if header not in by_column and isinstance(value, _Seq):
                    by_column[header] = [_cell(x) for x in value.items]
            for i in range(max(len(cells) for cells in by_column.values())):
                row = _row_from_cells(
                    [cells[i] if i < len(cells) else None for cells in by_column.values()], list(by_column)
                )
                if _keep_row(row):
                    out.append(row)
            return
        single = _row_from_cells([_cell(v) for _, v in pairs], [h for h, _ in pairs])
        if _keep_row(single):
            out.append(single)
        return
    if not node.items:
        return
    if all(isinstance(x, _Scalar) for x in node.items):
        cells = [_cell(x) for x in node.items]
        if len(headers) == 1:  # one string per row
            out.extend({headers[0]: c} for c in cells if c is not None and c.value.strip())
        elif len(cells) >= 2:  # one row by position (a lone "[1]" is more likely prose than a row)
            row = _row_from_cells(cells, headers)
            if _keep_row(row):
                out.append(row)
        return
    columns: list[str | None] = list(headers)
    first_list = True
    for item in node.items:
        if isinstance(item, _Map):
            _rows_from_node(item, canon, headers, out)
        elif isinstance(item, _Seq):
            if item.items and not isinstance(item.items[0], _Scalar):
                _rows_from_node(item, canon, headers, out)  # one more level of lists
                continue
            cells = [_cell(x) for x in item.items]
            if first_list:
                first_list = False
                named = _header_columns([c for c in cells if c is not None], canon)
                if named is not None and all(c is not None for c in cells):
                    columns = named  # [["Name", "Year"], ["A", 2019]]: a header row
                    continue
            row = _row_from_cells(cells, columns)
            if _keep_row(row):
                out.append(row)


def _table_rows(
    text: str, spans: list[tuple[int, int]], first: int, columns: Sequence[str | None], sep: str | None
) -> list[dict[str, ParsedString]]:
    """The rows on the lines from ``spans[first]`` on, until a blank line or a line without ``sep``."""
    rows: list[dict[str, ParsedString]] = []
    for ls, le in spans[first:]:
        a, b = _trim(text, ls, le)
        if a >= b or (sep is not None and sep not in text[a:b]):
            break
        if sep == "|":
            cells, opened, closed = _pipe_cells(text, a, b)
            if _is_separator(cells):
                continue
            if opened and not closed and le == len(text) and len(cells) > 1:
                cells = cells[:-1]  # the last row, cut off
        elif sep is None:
            cells = _split_cells(text, a, b, "\n")
        else:
            cells = _split_cells(text, a, b, sep)
        row = _row_from_cells(cells, columns)
        if _keep_row(row):
            rows.append(row)
    return rows


def _markdown_rows(
    text: str, canon: dict[str, str], headers: list[str]
) -> list[dict[str, ParsedString]] | None:
    """The rows of the first markdown table (a line of cells, then a ``|---|`` line); None without one."""
    spans = _line_spans(text)
    for index in range(len(spans) - 1):
        a, b = spans[index]
        if "|" not in text[a:b]:
            continue
        sa, sb = spans[index + 1]
        separator, _, _ = _pipe_cells(text, sa, sb)
        if "-" not in text[sa:sb] or not _is_separator(separator):
            continue
        names, _, _ = _pipe_cells(text, a, b)
        columns: list[str | None] = [canon.get(_norm_key(c.value)) for c in names]
        if not any(columns):
            columns = list(headers)  # the model renamed the columns: read them by position
        return _table_rows(text, spans, index + 2, columns, "|")
    return None


def _delimited_rows(
    text: str, canon: dict[str, str], headers: list[str]
) -> list[dict[str, ParsedString]] | None:
    """Rows after a line that names the headers (CSV, TSV, ``;`` or ``|``); None without such a line."""
    spans = _line_spans(text)
    for index, (ls, le) in enumerate(spans):
        a, b = _trim(text, ls, le)
        if a >= b:
            continue
        for sep in ("\t", "|", ",", ";"):
            if sep not in text[a:b]:
                continue
            cells = _pipe_cells(text, a, b)[0] if sep == "|" else _split_cells(text, a, b, sep)
            columns = _header_columns(cells, canon)
            if columns is not None:
                return _table_rows(text, spans, index + 1, columns, sep)
        if len(headers) == 1 and canon.get(_norm_key(text[a:b])) is not None:
            return _table_rows(text, spans, index + 1, list(headers), None)
    return None


def parse_rows(raw: str | None, headers: Sequence[str]) -> ParsedRows:
    """Recover table rows from free model output, each a mapping from header to cell. Never raises.

    Header names in the answer are matched to ``headers`` ignoring case, spaces, hyphens and underscores;
    rows use the canonical names, and cells under other names are dropped. Accepted:

    * a markdown table: a header line, a ``|---|`` separator line, then ``| a | b |`` rows (until a line
      without a pipe). Columns are mapped by header name when the header line names any header, else by
      position. A last row cut off by the token limit loses its incomplete last cell;
    * JSON or Python-style: a list of objects (one row each); a list of lists (cells aligned with
      ``headers`` by position, extra cells dropped, missing ones absent; a first list that names headers is
      a header row and maps the columns); a single object (one row); an object of lists, one per column;
      an object holding such a list (``{"rows": [...]}``); a flat list of strings (one row, or one row per
      string when there is a single header); consecutive objects (JSON lines);
    * lines after a line that names the headers, split at tabs, pipes, commas or semicolons (quoted cells
      may contain the separator), until a blank line or a line without the separator.

    Numbers and booleans become their source text (``12.5`` -> ``"12.5"``), a list cell its strings joined
    with ", " (the span covers them all), an object cell its text-like field; null is an absent cell.
    Output cut off by the token limit keeps its complete cells. Rows without a non-empty cell are dropped.
    """
    result = ParsedRows()
    if not raw:
        return result
    text = _strip_fences(raw)
    canon = _canon(headers)
    names = list(canon.values())
    if not names:
        return result
    markdown = _markdown_rows(text, canon, names)
    if markdown:
        return ParsedRows(markdown, True)
    found = markdown is not None
    for group in _groups(text):
        found = True
        rows: list[dict[str, ParsedString]] = []
        for node in group:
            _rows_from_node(node, canon, names, rows)
        if rows:
            return ParsedRows(rows, True)
    delimited = _delimited_rows(text, canon, names)
    if delimited:
        return ParsedRows(delimited, True)
    return ParsedRows([], found or delimited is not None)


# ---------------------------------------------------------------------------------------------------------
# Open-type entities: [entity, type] pairs

_ENTITY_KEYS = ("entity", "text", "name", "span", "mention", "value", "word", "phrase", "entityname")
_TYPE_KEYS = ("type", "entitytype", "label", "category", "class", "tag", "kind", "nertype")
_PAIR_LINE = re.compile(
    r"^[ \t]*(?:\d{1,3}[.):]|[-*\u2022+])?[ \t]*(?:\*\*)?[\"']?(?P<ent>[^\n:()\"']{1,200}?)[\"']?(?:\*\*)?"
    r"[ \t]*(?:\((?P<t1>[^()\n]{1,60})\)|[:\u2013\u2014-][ \t]+(?P<t2>[^\n]{1,60}?))[ \t.;,]*$",
    re.MULTILINE,
)


def _pair_from_map(node: _Map) -> list[ParsedString] | None:
    keys = {_norm_key(k): v for k, v in node.pairs if k is not None}
    ent = next((keys[k] for k in _ENTITY_KEYS if k in keys), None)
    typ = next((keys[k] for k in _TYPE_KEYS if k in keys), None)
    if isinstance(ent, _Scalar) and isinstance(typ, _Scalar) and ent.complete and typ.complete:
        return [ent.parsed(), typ.parsed()]
    return None


def _pairs_from_node(node: _Node, out: list[list[ParsedString]], depth: int = 0) -> None:
    """Objects with entity and type fields, and ``{type: [entities]}`` maps, anywhere in ``node``."""
    if depth > _MAX_DEPTH or isinstance(node, _Scalar):
        return
    if isinstance(node, _Seq):
        for item in node.items:
            _pairs_from_node(item, out, depth + 1)
        return
    pair = _pair_from_map(node)
    if pair is not None:
        out.append(pair)
        return
    for key, value in node.pairs:
        if key is None:
            continue
        label = ParsedString(key, 0, 0)
        if isinstance(value, _Scalar) and value.complete and value.value:
            out.append([value.parsed(), label])
        elif isinstance(value, _Seq) and all(isinstance(v, _Scalar) for v in value.items):
            out.extend([v.parsed(), label] for v in value.items if isinstance(v, _Scalar) and v.complete)
        else:
            _pairs_from_node(value, out, depth + 1)


def parse_entity_pairs(raw: str | None) -> ParsedTuples:
    """Recover ``[entity, type]`` pairs from a teacher's open-type NER answer. Never raises.

    Accepted: lists of pairs (JSON lists or Python tuples, as the UniversalNER prompt asks; parts past
    the second are ignored), objects with entity-like and type-like fields
    (``{"entity": "Obama", "type": "person"}``, keys compared as in :func:`parse_tuple_list`), objects
    mapping a type to its entities (``{"person": ["Obama"]}``), and, when no structure holds a pair, lines
    such as ``Obama: person``, ``1. Obama (person)`` or ``- Obama - person``. Output cut off by the token
    limit keeps its complete pairs. ``ok`` is True when a list, an object or pair lines were found.
    """
    found = parse_tuple_list(raw)
    if found.items:
        return ParsedTuples([parts[:2] for parts in found.items], True)
    if not raw:
        return ParsedTuples()
    text = _strip_fences(raw)
    items: list[list[ParsedString]] = []
    for group in _groups(text):
        for node in group:
            _pairs_from_node(node, items)
        if items:
            return ParsedTuples(items, True)
    for m in _PAIR_LINE.finditer(text):
        t = "t1" if m.group("t1") is not None else "t2"
        ent = ParsedString(m.group("ent").strip(), m.start("ent"), m.end("ent"))
        typ = ParsedString(m.group(t).strip(), m.start(t), m.end(t))
        if ent.value and typ.value:
            items.append([ent, typ])
    return ParsedTuples(items, bool(items) or found.ok)


# ---------------------------------------------------------------------------------------------------------
# NER: one answer for every requested type, {type: [strings]}


def _plural_forms(label: str) -> list[str]:
    """What a model may write for the key ``label``: its plural (``persons``, ``cities``, ``classes``)."""
    forms = [label + "s", label + "es"]
    if len(label) > 1 and label.endswith("y") and label[-2].lower() not in "aeiou":
        forms.append(label[:-1] + "ies")
    return forms


def parse_type_map(raw: str | None, types: Sequence[str]) -> ParsedTypeMap:
    """Recover the entity strings of each requested type from one answer about all of them. Never raises.

    The answer is read as :func:`parse_role_map` reads event arguments, with the requested ``types`` as
    the roles: an object ``{"person": ["Obama"], "city": []}`` (also cut off by the token limit or by a
    stop string: what is complete is kept, a string cut off is dropped), keys matched ignoring case,
    spaces, hyphens and underscores, and also in the plural (``"Persons"`` is ``person``); a value may be
    a list, a single string, null or objects with a text field; ``type: strings`` lines when there is
    no object. Keys naming no requested type are listed in ``unknown``. Each type's strings are blank-free
    and distinct (first occurrence kept). When exactly one type is requested, a bare list of strings
    answers it.
    """
    aliases: dict[str, str] = {}
    for label in types:
        aliases.setdefault(label, label)
    for label in types:
        for form in _plural_forms(label):
            aliases.setdefault(form, label)
    roles = parse_role_map(raw, list(aliases))
    items: dict[str, list[ParsedString]] = {}
    seen: dict[str, set[str]] = {}
    for alias, values in roles.items.items():
        label = aliases.get(alias, alias)
        kept = items.setdefault(label, [])
        done = seen.setdefault(label, set())
        for item in values:
            value = item.value.strip()
            if value and value not in done:
                done.add(value)
                kept.append(item)
    if roles.ok or len(types) != 1:
        return ParsedTypeMap(items, roles.ok, roles.unknown)
    listed = parse_string_list(raw)
    if not listed.ok:
        return ParsedTypeMap()
    strings: list[ParsedString] = []
    values_seen: set[str] = set()
    for item in listed.items:
        value = item.value.strip()
        if value and value not in values_seen:
            values_seen.add(value)
            strings.append(item)
    return ParsedTypeMap({types[0]: strings}, True)
