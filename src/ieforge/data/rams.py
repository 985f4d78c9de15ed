"""RAMS (Roles Across Multiple Sentences) event argument files, JSON lines, one document per line::

    {"doc_key": "nw_RC00e90a02...",
     "sentences": [["Three", "specific", "points", ...], ...],
     "evt_triggers": [[40, 40, [["life.die.n/a", 1.0]]]],
     "ent_spans": [[28, 28, [["evt089arg02place", 1.0]]], ...],
     "gold_evt_links": [[[40, 40], [28, 28], "evt089arg02place"], ...], ...}

Token indices count over the whole document (all sentences) and are inclusive at both ends. A link
joins a trigger span to an argument span with a role. Role names carry the id of the event type and
the argument slot (``evt089arg02place``); the plain role is the part after the slot (``place``).
The ontology in ``meta.json`` is a list of ``[event type, [role, ...]]``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ieforge.data._common import (
    document_sentences,
    is_index,
    read_json,
    read_jsonl,
    token_starts,
)
from ieforge.data.examples import Argument, EventExample, EventMention
from ieforge.errors import InputError
from ieforge.types import Mention

_ROLE = re.compile(r"evt\d+arg\d+(.+)")


def plain_role(role: str) -> str:
    """``evt089arg02place`` -> ``place``; a name without the ``evtNNNargNN`` prefix is returned as is."""
    m = _ROLE.fullmatch(role)
    return m.group(1) if m else role


def read_rams(path: str | Path, *, raw_roles: bool = False) -> list[EventExample]:
    """Read a RAMS file into one :class:`EventExample` per document, id = ``doc_key``.

    The text is all the document's tokens joined by single spaces (sentence ends included), so a
    span may cross a sentence boundary. Each trigger becomes an event typed by its first listed type,
    and each gold link an argument of the event with the same trigger span. Roles are plain
    (``place``) unless ``raw_roles`` keeps them as written. A malformed line, an index outside the
    document or a link whose trigger is not among the triggers raises :class:`InputError` naming the
    file, the line and the document.
    """
    path = Path(path)
    out: list[EventExample] = []
    for number, record in read_jsonl(path, "RAMS file"):
        where = f"{path}: line {number}"
        if isinstance(record, dict) and isinstance(record.get("doc_key"), str):
            where += f" (doc {record['doc_key']})"
        try:
            out.append(_document(record, raw_roles))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    return out


def rams_roles(meta_path: str | Path, *, raw_roles: bool = False) -> dict[str, list[str]]:
    """Event type -> its roles in ontology order, read from RAMS's ``meta.json``.

    Roles are plain (``place``) unless ``raw_roles`` keeps them as written (``evt089arg02place``).
    """
    path = Path(meta_path)
    entries = read_json(path, "RAMS ontology")
    if not isinstance(entries, list):
        raise InputError(f"{path}: expected a JSON list of [event type, [role, ...]]")
    roles: dict[str, list[str]] = {}
    for n, entry in enumerate(entries):
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not isinstance(entry[1], list)
            or not all(isinstance(r, str) for r in entry[1])
        ):
            raise InputError(f"{path}: entry {n}: expected [event type, [role, ...]], got {entry!r}")
        if entry[0] in roles:
            raise InputError(f"{path}: entry {n}: event type {entry[0]!r} is listed twice")
        roles[entry[0]] = [r if raw_roles else plain_role(r) for r in entry[1]]
    return roles


def _document(record: Any, raw_roles: bool) -> EventExample:
    key, sentences = document_sentences(record)
    tokens = [token for sentence in sentences for token in sentence]
    text = " ".join(tokens)
    starts = token_starts(tokens)

    def mention(lo: Any, hi: Any, what: str) -> Mention:
        if not is_index(lo) or not is_index(hi):
            raise InputError(f"{what} has non-integer token indices")
        if not 0 <= lo <= hi < len(tokens):
            raise InputError(
                f"{what} tokens {lo}..{hi} are not a span of the document's {len(tokens)} tokens "
                "(indices are inclusive and start at 0)"
            )
        start, end = starts[lo], starts[hi] + len(tokens[hi])
        return Mention(start=start, end=end, text=text[start:end])

    triggers = record.get("evt_triggers")
    if not isinstance(triggers, list):
        raise InputError("'evt_triggers' must be a list of [start, end, [[type, score], ...]]")
    events: dict[tuple[int, int], EventMention] = {}
    for j, trigger in enumerate(triggers):
        try:
            lo, hi, types = trigger
            kind = types[0][0]
        except (TypeError, ValueError, IndexError, KeyError):
            raise InputError(f"trigger {j} is {trigger!r}, not [start, end, [[type, score], ...]]") from None
        if not isinstance(kind, str) or not kind:
            raise InputError(f"trigger {j}: event type {kind!r} is not a non-empty string")
        span = mention(lo, hi, f"trigger {j}")
        if (lo, hi) in events:
            raise InputError(f"trigger {j}: tokens {lo}..{hi} are already another trigger")
        events[(lo, hi)] = EventMention(type=kind, trigger=span)

    links = record.get("gold_evt_links", [])
    if not isinstance(links, list):
        raise InputError("'gold_evt_links' must be a list of [[start, end], [start, end], role]")
    for j, link in enumerate(links):
        try:
            (t_lo, t_hi), (a_lo, a_hi), role = link
        except (TypeError, ValueError):
            raise InputError(
                f"link {j} is {link!r}, not [[trigger start, end], [argument start, end], role]"
            ) from None
        if not isinstance(role, str) or not role:
            raise InputError(f"link {j}: role {role!r} is not a non-empty string")
        event = events.get((t_lo, t_hi)) if is_index(t_lo) and is_index(t_hi) else None
        if event is None:
            raise InputError(f"link {j}: trigger tokens {t_lo}..{t_hi} are not among 'evt_triggers'")
        event.arguments.append(
            Argument(
                role=role if raw_roles else plain_role(role),
                span=mention(a_lo, a_hi, f"link {j} argument"),
            )
        )
    return EventExample(id=key, text=text, events=list(events.values()))
