"""WebNLG relational triple files in the CasRel/PRGC layout (also used for NYT in those repositories).

A file is one JSON list of sentences with the facts they state::

    [{"text": "Peter Stöger is manager of 1 . FC Köln which has 50000 members ...",
      "triple_list": [["1 . FC Köln", "manager", "Peter Stöger"], ...]}]

Each triple is ``[subject, relation, object]``. The subject and object are plain strings; in this
"exact match" version of the data they are meant to be copied from the text, and the reader looks
them up to give each a character span.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ieforge.data._common import read_json
from ieforge.data.examples import Triple, TripleExample
from ieforge.errors import InputError
from ieforge.types import Mention


def find_mention(text: str, needle: str) -> Mention | None:
    """Where ``needle`` occurs in ``text``, preferring an occurrence that is a whole word sequence.

    The first occurrence whose neighbours are not letters or digits wins (so ``"2014"`` is found in
    ``"the 2014 season"`` rather than inside ``"201415"``); failing that, the first occurrence at all;
    None when the string does not occur verbatim (or is empty).
    """
    if not needle:
        return None
    first: int | None = None
    at = text.find(needle)
    while at >= 0:
        if first is None:
            first = at
        end = at + len(needle)
        before_ok = at == 0 or not text[at - 1].isalnum() or not needle[0].isalnum()
        after_ok = end == len(text) or not text[end].isalnum() or not needle[-1].isalnum()
        if before_ok and after_ok:
            return Mention(start=at, end=end, text=needle)
        at = text.find(needle, at + 1)
    if first is None:
        return None
    return Mention(start=first, end=first + len(needle), text=needle)


def read_webnlg(path: str | Path) -> list[TripleExample]:
    """Read a WebNLG (CasRel format) file into one :class:`TripleExample` per sentence, ids ``STEM-INDEX``.

    Subject and object spans are found with :func:`find_mention`; a span is None when its string is not
    in the text verbatim. A record that is not ``{"text": str, "triple_list": [[s, r, o], ...]}`` with
    non-empty strings raises :class:`InputError` naming the file and the record index.
    """
    path = Path(path)
    records = read_json(path, "WebNLG file")
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a JSON list of {{text, triple_list}} records")
    out: list[TripleExample] = []
    for n, record in enumerate(records):
        try:
            out.append(_example(f"{path.stem}-{n}", record))
        except InputError as exc:
            raise InputError(f"{path}: record {n}: {exc}") from None
    return out


def _example(ident: str, record: Any) -> TripleExample:
    if not isinstance(record, dict):
        raise InputError("expected a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError("missing or empty 'text'")
    triples = record.get("triple_list")
    if not isinstance(triples, list):
        raise InputError("'triple_list' must be a list of [subject, relation, object]")
    out: list[Triple] = []
    for j, triple in enumerate(triples):
        if (
            not isinstance(triple, list)
            or len(triple) != 3
            or not all(isinstance(part, str) and part.strip() for part in triple)
        ):
            raise InputError(f"triple {j} is {triple!r}, not [subject, relation, object] (non-empty strings)")
        subject, relation, obj = triple
        out.append(
            Triple(
                subject=subject,
                relation=relation,
                object=obj,
                subject_span=find_mention(text, subject),
                object_span=find_mention(text, obj),
            )
        )
    return TripleExample(id=ident, text=text, triples=out)
