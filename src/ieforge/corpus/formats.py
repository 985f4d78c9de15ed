"""How corpus answers are written and read back.

Every corpus example keeps its gold as a list of string tuples (an entity is ``(text, type)``, a
relation ``(label,)``, an event trigger ``(trigger, type)``, an argument ``(role, text)``, a table cell
``(header, value)``) and the *style* its answer is written in:

- ``compact``: ``[Answer]: EU: organization; German: else`` (``[Answer]: NA`` when there is nothing);
- ``json``: a JSON list of objects, e.g. ``[{"text": "EU", "type": "organization"}]``;
- ``explain``: one sentence that explains the answer, then the compact answer on its own line;
- ``list``: the UniversalNER answer, a JSON list of strings (one entity type per question);
- ``types``: the answer to one question for every entity type, a JSON object mapping each asked type to
  the list of its strings (``uniner-json-all``); its gold tuples are ``(type, text)``;
- ``letter``: an option letter (QA4RE relation questions, entity-typing questions);
- ``label``: one label written out, as the vanilla relation question asks;
- ``rows``: an on-demand table, a JSON list of row objects.

:func:`read_answer` turns any answer text back into tuples without raising, and :func:`answer_f1`
scores it against the gold: the score the preference-pair step ranks samples by.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Literal

from ieforge.prompts.parsers import parse_string_list

Style = Literal["compact", "json", "explain", "list", "types", "letter", "label", "rows"]

ANSWER_PREFIX: dict[str, str] = {"list": "[", "types": "{", "rows": "["}
"""styles whose answers the task writes the first characters of itself (the prompts'
``assistant_prefix``): the model continues after them, so training and sampling must too"""
ANSWER_CUE = "[Answer]:"
NONE_ANSWER = "NA"
_SPACE = re.compile(r"\s+")
_LETTER = re.compile(r"\b([A-Z])\b")


def json_keys(arity: int, kind: str) -> tuple[str, ...]:
    """The object keys of a JSON answer: ``(text, type)`` for entities and triggers, ``(role, text)``
    for arguments, ``(relation,)`` for relations."""
    if arity == 1:
        return ("relation",)
    return ("role", "text") if kind == "eae" else ("text", "type")


def compact(gold: Sequence[Sequence[str]]) -> str:
    """``[Answer]: a: b; c: d`` (``[Answer]: NA`` for no tuples)."""
    if not gold:
        return f"{ANSWER_CUE} {NONE_ANSWER}"
    return f"{ANSWER_CUE} " + "; ".join(": ".join(t) for t in gold)


def as_json(gold: Sequence[Sequence[str]], keys: Sequence[str]) -> str:
    if len(keys) == 1 and len(gold) == 1:
        return json.dumps({keys[0]: gold[0][0]}, ensure_ascii=False)
    return json.dumps([dict(zip(keys, t)) for t in gold], ensure_ascii=False)


def explained(gold: Sequence[Sequence[str]], kind: str) -> str:
    """A one-sentence explanation built from the gold, then the compact answer."""
    if not gold:
        why = "The text mentions nothing that matches the requested types."
    elif kind == "re":
        why = f"Read in context, the sentence expresses the relation {gold[0][0]} between the two entities."
    elif kind == "eae":
        parts = [f'"{text}" is the {role}' for role, text in gold]
        why = "In this event, " + ", ".join(parts) + "."
    else:
        parts = [f'"{a}" is a {b}' for a, b in gold]
        why = "The text mentions " + ", ".join(parts) + "."
    return f"Explanation: {why}\n{compact(gold)}"


def normalize(value: str) -> str:
    return _SPACE.sub(" ", value).strip().strip("\"'").strip().lower()


def read_answer(style: str, text: str, arity: int) -> set[tuple[str, ...]]:
    """The tuples an answer states, normalized (lower case, single spaces). Never raises; an answer
    that cannot be read gives the empty set."""
    try:
        return {tuple(normalize(v) for v in t) for t in _read(style, text, arity)}
    except (ValueError, TypeError, AttributeError, IndexError, RecursionError):
        return set()


def _read(style: str, text: str, arity: int) -> list[tuple[str, ...]]:
    if style in ("compact", "explain"):
        at = text.rfind(ANSWER_CUE)
        body = text[at + len(ANSWER_CUE) :] if at >= 0 else text
        body = body.strip()
        if not body or body.upper().rstrip(".") == NONE_ANSWER:
            return []
        if arity == 1:
            return [(body.splitlines()[0].strip().rstrip("."),)]
        out: list[tuple[str, ...]] = []
        for part in body.split(";"):
            if ":" in part:
                a, b = part.rsplit(":", 1)
                if a.strip() and b.strip():
                    out.append((a.strip(), b.strip()))
        return out
    if style == "json":
        data = json.loads(_json_part(text))
        if isinstance(data, dict):
            data = [data]
        rows = [list(d.values())[:arity] for d in data if isinstance(d, dict)]
        return [tuple(str(v) for v in r) for r in rows if len(r) == arity]
    if style == "list":
        return [(s,) for s in parse_string_list(text).values]
    if style == "types":
        data = json.loads(_json_part(text))
        if not isinstance(data, dict):
            return []
        pairs: list[tuple[str, ...]] = []
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            pairs += [(str(key), str(v)) for v in values if v is not None and str(v).strip()]
        return pairs
    if style == "letter":
        m = _LETTER.search(text.strip()[:12])
        return [(m.group(1),)] if m else []
    if style == "label":
        lines = text.strip().splitlines()
        return [(lines[0].strip().rstrip("."),)] if lines and lines[0].strip() else []
    if style == "rows":
        data = json.loads(_json_part(text))
        rows = data if isinstance(data, list) else [data]
        cells: list[tuple[str, ...]] = []
        for row in rows:
            if isinstance(row, dict):
                cells += [(str(h), str(v)) for h, v in row.items() if str(v).strip()]
        return cells
    raise ValueError(f"unknown answer style '{style}'")


def _json_part(text: str) -> str:
    starts = [i for i in (text.find("["), text.find("{")) if i >= 0]
    if not starts:
        raise ValueError("no JSON")
    start = min(starts)
    end = max(text.rfind("]"), text.rfind("}"))
    return text[start : end + 1]


def answer_f1(style: str, answer: str, gold: Sequence[Sequence[str]]) -> float:
    """F1 of the tuples ``answer`` states against ``gold`` (1.0 when both are empty)."""
    arity = len(gold[0]) if gold else (1 if style in ("list", "letter", "label") else 2)
    if style in ("list", "letter", "label"):
        arity = 1
    pred = read_answer(style, answer, arity)
    want = {tuple(normalize(v) for v in t) for t in gold}
    if not pred and not want:
        return 1.0
    hit = len(pred & want)
    if hit == 0:
        return 0.0
    p, r = hit / len(pred), hit / len(want)
    return 2 * p * r / (p + r)
