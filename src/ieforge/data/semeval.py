"""SemEval-2010 Task 8 relation classification files, and the ``<e1>..</e1>`` entity markup they use.

A record is four lines::

    7201<TAB>"It makes the drive ... the <e1>passengers</e1> inside the <e2>car</e2> prefer ..."
    Other
    Comment: Content-Container is excluded because people should not be considered contents.
    <blank line>

The label is ``Other`` or ``Relation(e1,e2)`` / ``Relation(e2,e1)``: the order in the parentheses says
which marked nominal is the relation's first argument.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from ieforge.errors import InputError
from ieforge.types import Mention

_TAG = re.compile(r"</?e[12]>")
_LABEL = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*\((?:e1,e2|e2,e1)\)")
_SENTENCE = re.compile(r"([^\t]+)\t(.*)")


class REExample(BaseModel):
    """One sentence with two marked entities and the relation label between them (head = e1, tail = e2)."""

    id: str
    text: str
    head: Mention
    tail: Mention
    label: str
    head_type: str | None = None
    """entity type of the head, for datasets that have them (TACRED); None for SemEval"""
    tail_type: str | None = None
    comment: str = ""


def parse_entity_markup(marked: str) -> tuple[str, Mention, Mention]:
    """Remove ``<e1>..</e1>`` and ``<e2>..</e2>`` from ``marked``; return (text, e1 span, e2 span).

    Offsets index the returned text (Python str indices, so any Unicode works). Whitespace just inside
    a tag is left in the text but not in the span. Each tag must occur exactly once, opening before
    closing, around a non-empty entity; otherwise :class:`InputError` says which tag is wrong.
    """
    pieces: list[str] = []
    opened: dict[str, int] = {}
    closed: dict[str, int] = {}
    length = 0
    last = 0
    for m in _TAG.finditer(marked):
        pieces.append(marked[last : m.start()])
        length += m.start() - last
        last = m.end()
        tag = m.group(0)
        name = tag.strip("</>")
        if tag.startswith("</"):
            if name in closed:
                raise InputError(f"entity markup: {tag} occurs twice")
            if name not in opened:
                raise InputError(f"entity markup: {tag} comes before <{name}>")
            closed[name] = length
        else:
            if name in opened:
                raise InputError(f"entity markup: {tag} occurs twice")
            opened[name] = length
    pieces.append(marked[last:])
    text = "".join(pieces)
    spans: list[Mention] = []
    for name in ("e1", "e2"):
        if name not in opened:
            raise InputError(f"entity markup: <{name}> is missing")
        if name not in closed:
            raise InputError(f"entity markup: </{name}> is missing")
        start, end = opened[name], closed[name]
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            raise InputError(f"entity markup: <{name}> marks no text")
        spans.append(Mention(start=start, end=end, text=text[start:end]))
    return text, spans[0], spans[1]


def read_semeval(path: str | Path) -> list[REExample]:
    """Read a SemEval-2010 Task 8 file (``TRAIN_FILE.TXT``, ``TEST_FILE_FULL.TXT`` or a slice of one).

    LF and CRLF line endings and a UTF-8 byte-order mark are accepted; blank lines between records may be
    repeated and the comment line may be left out. Anything else that does not fit the format stops the
    read with an :class:`InputError` naming the file and line.
    """
    path = Path(path)
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read SemEval file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    # Split on "\n" only: str.splitlines would also break at characters such as U+2028 inside a sentence.
    lines = [line[:-1] if line.endswith("\r") else line for line in content.split("\n")]
    out: list[REExample] = []
    first_line: dict[str, int] = {}
    i = 0

    def fail(lineno: int, message: str) -> InputError:
        return InputError(f"{path}: line {lineno}: {message}")

    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        start = i + 1  # 1-based number of the sentence line
        m = _SENTENCE.fullmatch(lines[i])
        if m is None:
            raise fail(start, "expected 'id<TAB>\"sentence\"' to start a record")
        ex_id, marked = m.group(1).strip(), m.group(2).strip()
        if not ex_id:
            raise fail(start, "empty id")
        if ex_id in first_line:
            raise fail(start, f"duplicate id '{ex_id}' (first at line {first_line[ex_id]})")
        if len(marked) >= 2 and marked[0] == marked[-1] == '"':
            marked = marked[1:-1]
        try:
            text, head, tail = parse_entity_markup(marked)
        except InputError as exc:
            raise fail(start, str(exc)) from None
        if i + 1 >= len(lines) or not lines[i + 1].strip():
            raise fail(start, f"record '{ex_id}' is truncated: no relation label line after it")
        label = lines[i + 1].strip()
        if label != "Other" and not _LABEL.fullmatch(label):
            raise fail(
                i + 2, f"bad relation label {label!r} (expected 'Other' or like 'Cause-Effect(e1,e2)')"
            )
        i += 2
        comment = ""
        if i < len(lines) and lines[i].strip():
            if not lines[i].startswith("Comment"):
                raise fail(i + 1, f"expected a 'Comment:' line or a blank line after record '{ex_id}'")
            comment = lines[i][len("Comment") :].lstrip(":").strip()
            i += 1
        if i < len(lines) and lines[i].strip():
            raise fail(i + 1, f"expected a blank line after record '{ex_id}'")
        first_line[ex_id] = start
        out.append(REExample(id=ex_id, text=text, head=head, tail=tail, label=label, comment=comment))
    return out
