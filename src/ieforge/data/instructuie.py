"""InstructUIE (IE_INSTRUCTIONS) NER JSON: ``[{"sentence": str, "entities": [{"name", "type", "pos"}]}]``."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from ieforge.errors import InputError
from ieforge.types import Entity


class NERExample(BaseModel):
    id: str
    text: str
    entities: list[Entity]


def read_instructuie_ner(path: str | Path) -> list[NERExample]:
    """Read one split; every gold span is checked against its sentence (a mismatch names the record)."""
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read InstructUIE JSON: {exc}") from None
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a JSON list of records")
    out: list[NERExample] = []
    for n, rec in enumerate(records):
        try:
            text = rec["sentence"]
            ents = []
            for ent in rec.get("entities", []):
                start, end = int(ent["pos"][0]), int(ent["pos"][1])
                if text[start:end] != ent["name"]:
                    raise ValueError(f"span {start}:{end} is {text[start:end]!r}, not {ent['name']!r}")
                ents.append(Entity(start=start, end=end, text=ent["name"], label=ent["type"]))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(f"{path}: record {n}: {exc}") from None
        out.append(NERExample(id=f"{path.stem}-{n}", text=text, entities=ents))
    return out
