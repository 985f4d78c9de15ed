"""Users' own gold data as JSON lines, in the shape ieforge writes its results.

NER: one object per line, ``{"id": ..., "text": ..., "entities": [{"start", "end", "label"[, "text"]}]}``
- exactly what ``ieforge ner --output`` writes, so a corrected output file is a gold file. ``text`` of
an entity, when given, must equal ``text[start:end]``.

Relation classification: ``{"id", "text", "label", "head", "tail"[, "head_type", "tail_type"]}`` (the
``ieforge re --input`` record plus its gold ``label``), or an ``ieforge re --output`` line whose
``"relation"`` object holds ``label``, ``head``, ``tail`` and the types. ``head``/``tail`` are
``{"start", "end"[, "text"]}`` offsets, or a string, located at its first whole-word occurrence.

``id`` is optional (the line number is used). Every line is checked before anything is returned: a bad
line raises :class:`~ieforge.errors.InputError` naming the file, the line and the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ieforge.data._common import check_unique_ids, is_index, read_jsonl
from ieforge.data.instructuie import NERExample
from ieforge.data.semeval import REExample
from ieforge.data.webnlg import find_mention
from ieforge.errors import InputError
from ieforge.types import Entity, Mention

ExampleT = TypeVar("ExampleT", NERExample, REExample)


def read_ner_jsonl(path: str | Path) -> list[NERExample]:
    """Read gold NER examples from a JSONL file in the ieforge result format (see the module docs)."""
    return _read(Path(path), _ner_example)


def read_re_jsonl(path: str | Path) -> list[REExample]:
    """Read gold relation examples from a JSONL file in the ieforge format (see the module docs)."""
    return _read(Path(path), _re_example)


def _read(path: Path, example: Callable[[str, dict[str, Any]], ExampleT]) -> list[ExampleT]:
    """Every line made into an example by ``example(id, record)``; its errors get the file and line."""
    examples: list[ExampleT] = []
    for lineno, record in _records(path):
        try:
            examples.append(example(str(record.get("id", lineno)), record))
        except InputError as exc:
            raise InputError(f"{path}: line {lineno}: {exc}") from None
    check_unique_ids(path, [e.id for e in examples])
    return examples


def _ner_example(id_: str, record: dict[str, Any]) -> NERExample:
    text = _text(record)
    entities = record.get("entities")
    if not isinstance(entities, list):
        raise InputError("missing 'entities' list")
    return NERExample(id=id_, text=text, entities=[_entity(text, e, k) for k, e in enumerate(entities)])


def _re_example(id_: str, record: dict[str, Any]) -> REExample:
    text = _text(record)
    fields = record.get("relation", record)
    if not isinstance(fields, dict):
        raise InputError("'relation' must be an object")
    label = fields.get("label")
    if not isinstance(label, str) or not label.strip():
        raise InputError("missing gold 'label' string")
    head = _argument(text, fields.get("head"), "head")
    tail = _argument(text, fields.get("tail"), "tail")
    types = [fields.get("head_type"), fields.get("tail_type")]
    for name, value in zip(("head_type", "tail_type"), types):
        if value is not None and not isinstance(value, str):
            raise InputError(f"'{name}' must be a string")
    return REExample(
        id=id_, text=text, head=head, tail=tail, label=label, head_type=types[0], tail_type=types[1]
    )


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    records = read_jsonl(path, "JSONL file")
    for lineno, record in records:
        if not isinstance(record, dict):
            raise InputError(f"{path}: line {lineno}: expected a JSON object, got {type(record).__name__}")
    if not records:
        raise InputError(f"{path}: no records")
    return records


def _text(record: dict[str, Any]) -> str:
    text = record.get("text")
    if not isinstance(text, str) or not text:
        raise InputError("missing or empty 'text' string")
    return text


def _span(text: str, value: Any, what: str) -> tuple[int, int]:
    start, end = value.get("start"), value.get("end")
    if not (is_index(start) and is_index(end) and 0 <= start < end <= len(text)):
        raise InputError(f"{what}: 'start'/'end' must be offsets with 0 <= start < end <= {len(text)}")
    given = value.get("text")
    if given is not None and given != text[start:end]:
        raise InputError(f"{what}: 'text' is {given!r} but text[{start}:{end}] is {text[start:end]!r}")
    return start, end


def _entity(text: str, value: Any, k: int) -> Entity:
    if not isinstance(value, dict):
        raise InputError(f"entity {k}: expected an object with start, end and label")
    label = value.get("label")
    if not isinstance(label, str) or not label.strip():
        raise InputError(f"entity {k}: missing 'label' string")
    start, end = _span(text, value, f"entity {k}")
    return Entity(start=start, end=end, text=text[start:end], label=label)


def _argument(text: str, value: Any, what: str) -> Mention:
    if isinstance(value, str):
        found = find_mention(text, value)
        if found is None:
            raise InputError(f"{what} {value!r} does not occur in the text")
        return found
    if isinstance(value, dict):
        start, end = _span(text, value, what)
        return Mention(start=start, end=end, text=text[start:end])
    raise InputError(f"missing '{what}' (a string or {{start, end}} offsets)")
