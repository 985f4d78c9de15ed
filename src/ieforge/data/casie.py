"""CASIE cybersecurity event annotations: one JSON file per news article.

A file looks like::

    {"sourcefile": "10001.txt", "info": {"title": ..., "date": ..., "link": ...},
     "content": "POLICE have launched an investigation after ...",
     "cyberevent": {"hopper": [
        {"index": 0, "relation": "Same", "events": [
            {"index": "E3", "type": "Attack", "subtype": "Databreach", "realis": "Actual",
             "nugget": {"startOffset": 273, "endOffset": 290, "text": "had been accessed"},
             "argument": [{"startOffset": 262, "endOffset": 271, "text": "addresses", "type": "PII",
                           "role": {"type": "Compromised-Data"}}]}]}]}}

Offsets are character offsets into ``content``, end exclusive. A hopper groups the mentions of one
real-world event; the grouping is not kept. The five subtypes (``Databreach``, ``Phishing``,
``Ransom``, ``DiscoverVulnerability``, ``PatchVulnerability``) are what papers call CASIE's event
types; the ``type`` above them is ``Attack`` or ``Vulnerability-related``.

The published annotation files do not all agree with their ``content``: in some articles the text
was stripped of the whitespace that opened the source file after the offsets were computed, so every
offset of the article is too large by that many characters, and in one article the text lost its
final character, so the last span runs past its end. :func:`read_casie` reports such articles unless
asked to repair them (``fix_offsets=True``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from ieforge.data._common import is_index, read_json
from ieforge.data.examples import Argument, EventExample, EventMention
from ieforge.errors import InputError
from ieforge.types import Mention


class _Raw(NamedTuple):
    """A span as annotated, before it is checked against the content."""

    where: str
    start: int
    end: int
    text: str


def read_casie(folder_or_file: str | Path, *, fix_offsets: bool = False) -> list[EventExample]:
    """Read CASIE annotation files into one :class:`EventExample` per article, id = the file's stem.

    ``folder_or_file`` is the ``annotation`` folder (every ``*.json`` in it, in numeric order of the
    names) or a single file. Each event keeps its ``type``, ``subtype`` and ``realis`` and its
    arguments their role and entity type, in file order.

    Every trigger and argument span must read its annotated text from the content; the first that
    does not raises :class:`InputError` naming the file, the event and the span. With
    ``fix_offsets=True`` an article is repaired instead when one shift of all its offsets makes every
    span match (the stripped leading whitespace described above), a span that runs past the end of the
    content being cut at that end when the content holds the start of its text. Articles that cannot
    be repaired that way still raise.
    """
    source = Path(folder_or_file)
    if source.is_dir():
        files = sorted(
            source.glob("*.json"),
            key=lambda p: (0, int(p.stem), p.name) if p.stem.isdigit() else (1, 0, p.name),
        )
        if not files:
            raise InputError(f"{source}: no CASIE annotation files (*.json) in this folder")
    elif source.exists():
        files = [source]
    else:
        raise InputError(f"{source}: no such CASIE annotation file or folder")
    return [_document(path, fix_offsets) for path in files]


def casie_schema(source: str | Path | Iterable[EventExample]) -> dict[str, list[str]]:
    """Event type -> the argument roles it takes in the data, both sorted by name.

    The event type is the subtype (``Databreach`` ...), or the type for an event without one.
    ``source`` is what :func:`read_casie` reads (read with ``fix_offsets=True``, since offsets do not
    matter here) or examples already read.
    """
    examples = read_casie(source, fix_offsets=True) if isinstance(source, (str, Path)) else source
    roles: dict[str, set[str]] = {}
    for example in examples:
        for event in example.events:
            kind = event.subtype or event.type
            roles.setdefault(kind, set()).update(arg.role for arg in event.arguments)
    return {kind: sorted(roles[kind]) for kind in sorted(roles)}


def _document(path: Path, fix_offsets: bool) -> EventExample:
    data = read_json(path, "CASIE annotation file")
    if not isinstance(data, dict) or not isinstance(data.get("content"), str):
        raise InputError(f"{path}: expected a JSON object with the article text in 'content'")
    content: str = data["content"]
    hoppers = _hoppers(path, data.get("cyberevent"))

    # first pass: shapes and raw spans; second: offsets checked (and maybe repaired) for the article
    parsed: list[tuple[dict[str, Any], _Raw, list[tuple[dict[str, Any], _Raw]]]] = []
    number = 0
    for h, hopper in enumerate(hoppers):
        events = hopper.get("events", [])
        if not isinstance(events, list):
            raise InputError(f"{path}: hopper {h}: 'events' must be a list")
        for event in events:
            label = f"event {event.get('index')}" if isinstance(event, dict) and event.get("index") else ""
            label = label or f"event #{number} (hopper {h})"
            number += 1
            try:
                parsed.append(_event(event, label))
            except InputError as exc:
                raise InputError(f"{path}: {label}: {exc}") from None

    spans = [raw for _, trigger, args in parsed for raw in (trigger, *(a for _, a in args))]
    shift = _shift(path, content, spans, fix_offsets)
    out: list[EventMention] = []
    for event, trigger, args in parsed:
        arguments = [
            Argument(role=arg["role"]["type"], span=_mention(content, raw, shift), type=arg.get("type"))
            for arg, raw in args
        ]
        out.append(
            EventMention(
                type=event["type"],
                subtype=event.get("subtype"),
                realis=event.get("realis"),
                trigger=_mention(content, trigger, shift),
                arguments=arguments,
            )
        )
    return EventExample(id=path.stem, text=content, events=out)


def _hoppers(path: Path, cyberevent: Any) -> list[dict[str, Any]]:
    """The hopper list; an article without ``cyberevent`` (or without hoppers) has no events."""
    if cyberevent is None:
        return []
    if not isinstance(cyberevent, dict):
        raise InputError(f"{path}: 'cyberevent' must be an object with a 'hopper' list")
    hoppers = cyberevent.get("hopper", [])
    if not isinstance(hoppers, list) or not all(isinstance(h, dict) for h in hoppers):
        raise InputError(f"{path}: 'cyberevent.hopper' must be a list of objects")
    return hoppers


def _event(event: Any, label: str) -> tuple[dict[str, Any], _Raw, list[tuple[dict[str, Any], _Raw]]]:
    """Check one event's shape; return it with its trigger and argument spans."""
    if not isinstance(event, dict):
        raise InputError("expected a JSON object")
    if not isinstance(event.get("type"), str) or not event["type"]:
        raise InputError("missing or empty 'type'")
    for key in ("subtype", "realis"):
        if event.get(key) is not None and not isinstance(event[key], str):
            raise InputError(f"'{key}' must be a string")
    trigger = _raw(event.get("nugget"), "trigger", label)
    arguments = event.get("argument", [])
    if not isinstance(arguments, list):
        raise InputError("'argument' must be a list")
    args: list[tuple[dict[str, Any], _Raw]] = []
    for j, arg in enumerate(arguments):
        what = f"argument {arg.get('index') or j}" if isinstance(arg, dict) else f"argument {j}"
        if not isinstance(arg, dict):
            raise InputError(f"{what}: expected a JSON object")
        role = arg.get("role")
        if not isinstance(role, dict) or not isinstance(role.get("type"), str) or not role["type"]:
            raise InputError(f'{what}: missing role (expected "role": {{"type": ROLE}})')
        if arg.get("type") is not None and not isinstance(arg["type"], str):
            raise InputError(f"{what}: 'type' must be a string")
        args.append((arg, _raw(arg, what, label)))
    return event, trigger, args


def _raw(span: Any, what: str, label: str) -> _Raw:
    if not isinstance(span, dict):
        raise InputError(f"{what}: expected an object with startOffset, endOffset and text")
    start, end, text = span.get("startOffset"), span.get("endOffset"), span.get("text")
    if not is_index(start) or not is_index(end) or not isinstance(text, str):
        raise InputError(f"{what}: expected integer startOffset/endOffset and a string text")
    if not 0 <= start < end:
        raise InputError(f"{what}: offsets {start}:{end} do not make a non-empty span")
    return _Raw(f"{label}: {what}", start, end, text)


def _fits(content: str, raw: _Raw, shift: int, clip: bool) -> bool:
    start, end = raw.start + shift, raw.end + shift
    if start < 0:
        return False
    if content[start:end] == raw.text:
        return True
    # the content lost its last characters: accept a span that runs past the end if it begins right
    return clip and start < len(content) < end and raw.text.startswith(content[start:])


def _shift(path: Path, content: str, spans: list[_Raw], fix_offsets: bool) -> int:
    """How far to move every offset of the article: 0 when all spans match as annotated."""
    bad = next((raw for raw in spans if not _fits(content, raw, 0, clip=False)), None)
    if bad is None:
        return 0
    if fix_offsets:
        candidates = {0}
        at = content.find(bad.text)
        while at >= 0:
            candidates.add(at - bad.start)
            at = content.find(bad.text, at + 1)
        for shift in sorted(candidates, key=lambda k: (abs(k), k)):
            if all(_fits(content, raw, shift, clip=True) for raw in spans):
                return shift
    if bad.end > len(content):
        problem = f"ends at {bad.end}, past the end of the {len(content)}-character content"
    else:
        problem = f"reads {content[bad.start : bad.end]!r} in the content, not {bad.text!r}"
    hint = (
        "and no single shift of the article's offsets repairs it"
        if fix_offsets
        else "(fix_offsets=True repairs articles whose offsets are all shifted)"
    )
    raise InputError(f"{path}: {bad.where} at {bad.start}:{bad.end} {problem} {hint}")


def _mention(content: str, raw: _Raw, shift: int) -> Mention:
    start, end = raw.start + shift, min(raw.end + shift, len(content))
    return Mention(start=start, end=end, text=content[start:end])
