"""UniversalNER evaluation files: a JSON list of conversations, one or more entity-type questions each.

A record looks like::

    {"id": "CrossNER_AI_0",
     "conversations": [
        {"from": "human", "value": "Text: Typical generative model approaches include ..."},
        {"from": "gpt", "value": "I've read this text."},
        {"from": "human", "value": "What describes organization in the text?"},
        {"from": "gpt", "value": "[]"}]}

The answer is a JSON list of the strings of that type in the text (``[]`` when there are none). The
published test files ask one question per record and put the questions about one passage in
consecutive records; a record may also carry several question/answer pairs after the text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ieforge.errors import InputError

_TEXT_PREFIX = "Text: "
_QUESTION = re.compile(r"What describes (.+) in the text\?")


class UniNERExample(BaseModel):
    """One passage with the gold answer strings for every entity type asked about it."""

    id: str
    """id of the first record of the passage in the source file"""
    text: str
    gold: dict[str, list[str]]
    """entity type -> gold strings in file order; an empty list when the type was asked but is absent"""


def read_uniner(path: str | Path) -> list[UniNERExample]:
    """Read a UniversalNER-format file, gathering consecutive records about the same text into one passage.

    A record whose text differs from the previous one, or that asks again about a type the current
    passage already has, starts a new passage; so a sentence that occurs twice in the test set stays
    two passages. Anything that is not the documented structure (a missing key, a turn from the wrong
    side, a question not of the form "What describes TYPE in the text?", an answer that is not a JSON
    list of strings) raises :class:`InputError` naming the file and the record index.
    """
    path = Path(path)
    try:
        records = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read UniversalNER file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a JSON list of records, found {type(records).__name__}")

    out: list[UniNERExample] = []
    for index, record in enumerate(records):
        try:
            ident, text, answers = _record(record)
        except InputError as exc:
            raise InputError(f"{path}: record {index}: {exc}") from None
        current = out[-1] if out else None
        if current is None or current.text != text or not current.gold.keys().isdisjoint(answers):
            out.append(UniNERExample(id=ident, text=text, gold=answers))
        else:
            current.gold.update(answers)
    return out


def _record(record: Any) -> tuple[str, str, dict[str, list[str]]]:
    """Check one record's structure; return its id, its text and its answers per entity type."""
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object, found {type(record).__name__}")
    ident = record.get("id")
    if not isinstance(ident, str) or not ident:
        raise InputError('missing or empty "id"')
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise InputError('missing "conversations" list')
    if len(turns) < 4 or len(turns) % 2:
        raise InputError(
            f"expected the text, its acknowledgement and question/answer pairs (an even number of at "
            f"least 4 turns), found {len(turns)} turns"
        )
    values: list[str] = []
    for n, turn in enumerate(turns):
        speaker = "human" if n % 2 == 0 else "gpt"
        if (
            not isinstance(turn, dict)
            or turn.get("from") != speaker
            or not isinstance(turn.get("value"), str)
        ):
            raise InputError(f'turn {n}: expected {{"from": "{speaker}", "value": <string>}}')
        values.append(turn["value"])
    if not values[0].startswith(_TEXT_PREFIX):
        raise InputError(f"turn 0: the text does not start with {_TEXT_PREFIX!r}")
    text = values[0][len(_TEXT_PREFIX) :]

    answers: dict[str, list[str]] = {}
    for n in range(2, len(values), 2):
        match = _QUESTION.fullmatch(values[n].strip())
        if match is None:
            raise InputError(f'turn {n}: not a "What describes TYPE in the text?" question: {values[n]!r}')
        kind = match.group(1)
        if kind in answers:
            raise InputError(f"turn {n}: type {kind!r} is asked twice")
        try:
            answer = json.loads(values[n + 1])
        except json.JSONDecodeError:
            answer = None
        if not isinstance(answer, list) or not all(isinstance(s, str) for s in answer):
            raise InputError(f"turn {n + 1}: the answer is not a JSON list of strings: {values[n + 1]!r}")
        answers[kind] = answer
    return ident, text, answers
