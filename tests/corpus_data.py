"""Helpers for the corpus tests: the small real excerpts in tests/data, laid out as the readers expect."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent / "data"


def excerpt(name: str) -> Path:
    return HERE / name


def fewrel_file(folder: Path) -> Path:
    """The FewRel excerpt (instances 100..107 of three val_wiki relations) at those same positions of a
    val_wiki-shaped file: the 100 instances before them (the evaluation slice the corpus never trains
    on) are filled with copies of the excerpt. pid2name.json sits beside it."""
    data = json.loads(excerpt("fewrel_val_wiki_excerpt.json").read_text(encoding="utf-8"))
    padded = {rel: (items * 13)[:100] + items for rel, items in data.items()}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "val_wiki.json"
    path.write_text(json.dumps(padded, ensure_ascii=False), encoding="utf-8")
    shutil.copy(excerpt("pid2name.json"), folder / "pid2name.json")
    return path
