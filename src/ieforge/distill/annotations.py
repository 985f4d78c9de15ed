"""Teacher annotations of passages: the records ``ieforge distill annotate`` writes, the Pile-NER files
derived from ChatGPT's annotations, and the type-name normalization both go through.

One line of an annotation file is one passage with the entities a teacher found in it, each grounded to
character offsets (every occurrence of the string), its type normalized; ``negatives`` are types the
teacher was asked about and said are absent. ``complete`` tells whether the teacher was asked for
*every* entity (open-type annotation) or only about some types (the Pile-NER-derived subsets answer one
type question per line): only complete annotations prove that a type is absent from a passage, so only
they get frequency-sampled negative types when training data is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ieforge._validation import read_model_lines
from ieforge.data._common import read_jsonl
from ieforge.errors import InputError
from ieforge.grounding import find_mentions
from ieforge.prompts.parsers import parse_string_list


class AnnotatedEntity(BaseModel):
    start: int
    end: int
    text: str
    type: str


class AnnotationStats(BaseModel):
    """What happened to a passage's answer on the way to entities."""

    pairs: int = 0
    """(entity, type) pairs read from the answer"""
    ungrounded: int = 0
    """pairs whose entity string is not in the passage (dropped)"""
    bad_type: int = 0
    """pairs whose type normalizes to nothing usable (dropped)"""
    unparsed: int = 0
    """answers with no readable list of pairs"""


class PassageAnnotation(BaseModel):
    id: str
    text: str
    entities: list[AnnotatedEntity] = Field(default_factory=list)
    negatives: list[str] = Field(default_factory=list)
    """types asked about and answered as absent"""
    complete: bool = True
    """True when the teacher was asked for every entity of the passage"""
    teacher: str = ""
    prompt: str = ""
    """the prompt id (``name@version``) the teacher answered"""
    stats: AnnotationStats = Field(default_factory=AnnotationStats)
    error: str | None = None
    """why the teacher gave no answer for this passage (the passage then has no entities)"""


def strings_by_type(entities: Iterable[AnnotatedEntity]) -> dict[str, list[str]]:
    """Each type's distinct entity strings, types and strings in order of first mention."""
    out: dict[str, list[str]] = {}
    for e in sorted(entities, key=lambda e: (e.start, e.end)):
        strings = out.setdefault(e.type, [])
        if e.text not in strings:
            strings.append(e.text)
    return out


# ----- type names --------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEEP_S = ("ss", "us", "is", "ics", "news", "series", "species", "gas", "bus", "lens", "physics")
MAX_TYPE_WORDS = 5
MAX_TYPE_CHARS = 50


def normalize_type(name: str) -> str | None:
    """A teacher's type name as ieforge stores it, or None when it is no usable type.

    Lower case, words split at ``_``, ``-``, ``/`` and camelCase, quotes and brackets dropped, runs of
    spaces collapsed, a plural last word made singular (``cities`` -> ``city``, ``persons`` -> ``person``;
    ``news``, ``species``, ``-ss``/``-us``/``-is`` words stay). Empty names, names longer than
    ``MAX_TYPE_WORDS`` words or ``MAX_TYPE_CHARS`` characters, and names without letters give None.
    """
    if not isinstance(name, str):
        return None
    text = name if name.isupper() else _CAMEL.sub(" ", name)
    text = re.sub(r"[_\-/]+", " ", text).lower()
    text = re.sub(r"[\"'`()\[\]{}<>*:;.,!?]+", " ", text)
    words = text.split()
    if not words or len(words) > MAX_TYPE_WORDS or not any(c.isalpha() for c in text):
        return None
    last = words[-1]
    if len(last) > 3 and not last.endswith(_KEEP_S):
        if last.endswith("ies"):
            last = last[:-3] + "y"
        elif last.endswith(("ches", "shes", "xes", "sses")):
            last = last[:-2]
        elif last.endswith("s"):
            last = last[:-1]
    words[-1] = last
    out = " ".join(words)
    return out if len(out) <= MAX_TYPE_CHARS else None


def ground_pairs(
    text: str, pairs: Iterable[tuple[str, str]], stats: AnnotationStats, offset: int = 0
) -> list[AnnotatedEntity]:
    """Entities for (entity string, type) pairs: every occurrence of the string in ``text`` (a piece of
    a passage that starts ``offset`` characters into it: offsets are shifted by that), the type
    normalized. Pairs whose string is not there, or whose type is unusable, are dropped and counted in
    ``stats``."""
    out: list[AnnotatedEntity] = []
    for surface, raw_type in pairs:
        stats.pairs += 1
        label = normalize_type(raw_type)
        if label is None:
            stats.bad_type += 1
            continue
        surface = surface.strip()
        mentions = find_mentions(text, surface) if surface else []
        if not mentions:
            stats.ungrounded += 1
            continue
        for s, e in mentions:
            out.append(AnnotatedEntity(start=offset + s, end=offset + e, text=text[s:e], type=label))
    return out


def dedupe_entities(entities: Iterable[AnnotatedEntity]) -> list[AnnotatedEntity]:
    """One entity per (start, end, type), in text order."""
    best: dict[tuple[int, int, str], AnnotatedEntity] = {}
    for e in entities:
        best.setdefault((e.start, e.end, e.type), e)
    return sorted(best.values(), key=lambda e: (e.start, e.end, e.type))


# ----- reading annotation files --------------------------------------------------------------------

PILE_NER_KEYS = frozenset({"tagName", "input", "output"})


def read_annotations(path: str | Path) -> list[PassageAnnotation]:
    """Read an annotation JSONL: ieforge's own (``ieforge distill annotate``) or a Pile-NER-derived file
    (SLIMER's ``{doc_question_pairID, tagName, input, instruction, output}`` lines, one type question per
    line, answered by ChatGPT), told apart by the first line. A bad line names its file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    lines = read_jsonl(path, "annotation file")
    if not lines:
        return []
    first = lines[0][1]
    if isinstance(first, dict) and set(first) >= PILE_NER_KEYS:
        return _pile_ner(path, lines)
    return read_model_lines(path, PassageAnnotation, "passage annotation")


def _pile_ner(path: Path, lines: list[tuple[int, Any]]) -> list[PassageAnnotation]:
    """Group the one-question-per-line Pile-NER records by passage."""
    passages: dict[str, PassageAnnotation] = {}
    for lineno, obj in lines:
        if not isinstance(obj, dict):
            raise InputError(f"{path}: line {lineno}: expected a JSON object, got {type(obj).__name__}")
        text, tag, answer = obj.get("input"), obj.get("tagName"), obj.get("output")
        if not isinstance(text, str) or not isinstance(tag, str) or not isinstance(answer, str):
            raise InputError(
                f"{path}: line {lineno}: a Pile-NER line needs the string fields input, tagName and output"
            )
        pair_id = str(obj.get("doc_question_pairID") or f"line{lineno}")
        doc = pair_id.split(":", 1)[0]
        ann = passages.get(doc)
        if ann is None:
            ann = passages[doc] = PassageAnnotation(
                id=f"pile-ner:{doc}", text=text, complete=False, teacher="chatgpt (Pile-NER)"
            )
        elif ann.text != text:
            raise InputError(
                f"{path}: line {lineno}: passage {doc} has a different text than on an earlier line"
            )
        parsed = parse_string_list(answer)
        if not parsed.ok:
            ann.stats.unparsed += 1
            continue
        ann.entities += ground_pairs(text, ((item.value, tag) for item in parsed.items), ann.stats)
        label = normalize_type(tag)
        if not parsed.items and label is not None and label not in ann.negatives:
            ann.negatives.append(label)
    for ann in passages.values():
        ann.entities = dedupe_entities(ann.entities)
        present = {e.type for e in ann.entities}
        ann.negatives = [t for t in ann.negatives if t not in present]
    return list(passages.values())
