"""TACRED-style relation classification JSON (TACRED, TACREV and Re-TACRED share the layout).

A file is one JSON list of records like::

    {"id": "61b3a5c8c9a882dcfcd2", "token": ["Tom", "Thabane", "resigned", ...],
     "relation": "per:title", "subj_start": 0, "subj_end": 1, "subj_type": "PERSON",
     "obj_start": 8, "obj_end": 8, "obj_type": "TITLE", ...}

Token indices are inclusive at both ends. Other keys (``stanford_pos``, ``stanford_deprel`` ...) are
ignored. The tokens are kept exactly as written, PTB escapes such as ``-LRB-`` included, because the
published results were measured on that text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ieforge.data._common import is_index, read_json, token_starts
from ieforge.data.semeval import REExample
from ieforge.errors import InputError
from ieforge.types import Mention


def read_tacred(path: str | Path) -> list[REExample]:
    """Read a TACRED-style file into examples whose head is the subject and tail the object.

    The text is the tokens joined by single spaces and the mentions are character offsets into it;
    ``head_type``/``tail_type`` carry ``subj_type``/``obj_type``. A record that is not of the documented
    shape (a missing key, an index outside the tokens, a start after its end, a repeated id) raises
    :class:`InputError` naming the file, the record index and its id.
    """
    path = Path(path)
    records = read_json(path, "TACRED file")
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a JSON list of TACRED records")
    out: list[REExample] = []
    seen: dict[str, int] = {}
    for n, record in enumerate(records):
        where = f"{path}: record {n}"
        if isinstance(record, dict) and isinstance(record.get("id"), (str, int)):
            where += f" (id {record['id']})"
        try:
            example = _example(record)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        if example.id in seen:
            raise InputError(f"{where}: duplicate id (first at record {seen[example.id]})")
        seen[example.id] = n
        out.append(example)
    return out


def _example(record: Any) -> REExample:
    if not isinstance(record, dict):
        raise InputError("expected a JSON object")
    ident = record.get("id")
    if not isinstance(ident, (str, int)) or isinstance(ident, bool) or not str(ident).strip():
        raise InputError("missing or empty 'id'")
    tokens = record.get("token")
    if not isinstance(tokens, list) or not tokens:
        raise InputError("'token' must be a non-empty list of strings")
    for i, token in enumerate(tokens):
        if not isinstance(token, str) or not token:
            raise InputError(f"token {i} is {token!r}, not a non-empty string")
    label = record.get("relation")
    if not isinstance(label, str) or not label.strip():
        raise InputError("missing or empty 'relation'")
    text = " ".join(tokens)
    starts = token_starts(tokens)
    spans: list[Mention] = []
    types: list[str | None] = []
    for role in ("subj", "obj"):
        first, last = record.get(f"{role}_start"), record.get(f"{role}_end")
        if not is_index(first) or not is_index(last):
            raise InputError(f"'{role}_start' and '{role}_end' must be integer token indices")
        if not 0 <= first <= last < len(tokens):
            raise InputError(
                f"{role} tokens {first}..{last} are not a span of the {len(tokens)} tokens "
                "(indices are inclusive and start at 0)"
            )
        kind = record.get(f"{role}_type")
        if kind is not None and not isinstance(kind, str):
            raise InputError(f"'{role}_type' must be a string")
        start, end = starts[first], starts[last] + len(tokens[last])
        spans.append(Mention(start=start, end=end, text=text[start:end]))
        types.append(kind)
    return REExample(
        id=str(ident),
        text=text,
        head=spans[0],
        tail=spans[1],
        label=label,
        head_type=types[0],
        tail_type=types[1],
    )
