"""SciERC entity and relation files, in the DyGIE++/PURE JSON-lines layout, one abstract per line::

    {"doc_key": "X96-1059",
     "sentences": [["English", "is", "shown", ...], [...]],
     "ner": [[[0, 0, "Material"], [10, 10, "OtherScientificTerm"]], [...]],
     "relations": [[[17, 20, 23, 23, "USED-FOR"]], [...]],
     "clusters": [[[17, 20], [23, 23]]]}

``ner`` and ``relations`` hold one list per sentence. Token indices count from the start of the
document, not of the sentence, and both ends are inclusive. A relation is ``[head start, head end,
tail start, tail end, label]`` and never crosses a sentence boundary. Coreference ``clusters`` are not
read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ieforge.data._common import document_sentences, is_index, read_jsonl, token_starts
from ieforge.data.examples import DocumentExample, RelationMention
from ieforge.errors import InputError
from ieforge.types import Entity, Mention


def read_scierc(path: str | Path) -> list[DocumentExample]:
    """Read a SciERC file into one :class:`DocumentExample` per sentence, ids ``DOC_KEY-SENTENCE``.

    The text of an example is the sentence's tokens joined by single spaces, and entity and relation
    offsets index that text. A document without ``ner`` or ``relations`` has none of them; anything
    else that does not fit the layout (per-sentence lists of the wrong length, a span outside its
    sentence, a malformed entry) raises :class:`InputError` naming the file, the line and the
    document key.
    """
    path = Path(path)
    out: list[DocumentExample] = []
    for number, record in read_jsonl(path, "SciERC file"):
        where = f"{path}: line {number}"
        if isinstance(record, dict) and isinstance(record.get("doc_key"), str):
            where += f" (doc {record['doc_key']})"
        try:
            out.extend(_document(record))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    return out


def _document(record: Any) -> list[DocumentExample]:
    key, sentences = document_sentences(record)
    per_sentence: dict[str, list[Any]] = {}
    for field in ("ner", "relations"):
        value = record.get(field, [[] for _ in sentences])
        if not isinstance(value, list) or len(value) != len(sentences):
            raise InputError(f"'{field}' must hold one list per sentence ({len(sentences)} lists)")
        per_sentence[field] = value

    examples: list[DocumentExample] = []
    first = 0  # document-level index of the sentence's first token
    for k, tokens in enumerate(sentences):
        try:
            entities, relations = _sentence(
                tokens, first, per_sentence["ner"][k], per_sentence["relations"][k]
            )
        except InputError as exc:
            raise InputError(f"sentence {k}: {exc}") from None
        examples.append(
            DocumentExample(id=f"{key}-{k}", text=" ".join(tokens), entities=entities, relations=relations)
        )
        first += len(tokens)
    return examples


def _sentence(
    tokens: list[str], first: int, ner: Any, relations: Any
) -> tuple[list[Entity], list[RelationMention]]:
    """Entities and relations of one sentence whose first token has document index ``first``."""
    text = " ".join(tokens)
    starts = token_starts(tokens)

    def mention(lo: Any, hi: Any, what: str) -> Mention:
        if not is_index(lo) or not is_index(hi):
            raise InputError(f"{what} has non-integer token indices")
        if not first <= lo <= hi < first + len(tokens):
            raise InputError(
                f"{what} tokens {lo}..{hi} are outside the sentence's tokens "
                f"{first}..{first + len(tokens) - 1} (indices count from the start of the document)"
            )
        start, end = starts[lo - first], starts[hi - first] + len(tokens[hi - first])
        return Mention(start=start, end=end, text=text[start:end])

    if not isinstance(ner, list):
        raise InputError("'ner' entry must be a list of [start, end, type]")
    entities: list[Entity] = []
    for j, entry in enumerate(ner):
        if not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[2], str):
            raise InputError(f"entity {j} is {entry!r}, not [start, end, type]")
        span = mention(entry[0], entry[1], f"entity {j}")
        entities.append(Entity(start=span.start, end=span.end, text=span.text, label=entry[2]))

    if not isinstance(relations, list):
        raise InputError("'relations' entry must be a list of relations")
    out: list[RelationMention] = []
    for j, entry in enumerate(relations):
        if not isinstance(entry, list) or len(entry) != 5 or not isinstance(entry[4], str):
            raise InputError(
                f"relation {j} is {entry!r}, not [head start, head end, tail start, tail end, label]"
            )
        head = mention(entry[0], entry[1], f"relation {j} head")
        tail = mention(entry[2], entry[3], f"relation {j} tail")
        out.append(RelationMention(head=head, tail=tail, label=entry[4]))
    return entities, out
