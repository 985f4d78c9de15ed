"""FewRel relation classification files (``train_wiki.json``, ``val_wiki.json``, ``val_pubmed.json``).

A file is one JSON object: relation id -> list of instances, each
``{"tokens": [...], "h": [name, entity id, [[token index, ...], ...]], "t": [...]}``. The head (``h``)
is the relation's subject and the tail (``t``) its object. The text is the tokens joined by single
spaces; a mention spans its first listed occurrence, from its first to its last token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ieforge.data.semeval import REExample
from ieforge.errors import InputError
from ieforge.types import Mention


def read_fewrel(path: str | Path, *, per_relation: int | None = None) -> list[REExample]:
    """Read a FewRel file into examples with ids ``RELATION-INDEX``, relations in file order.

    ``per_relation`` keeps the first N instances of each relation (a balanced slice). A file that is not
    FewRel JSON stops the read with an :class:`InputError` naming the file and the bad instance.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read FewRel file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of relation -> instances")
    out: list[REExample] = []
    for relation, instances in data.items():
        if not isinstance(instances, list):
            raise InputError(f"{path}: relation {relation}: expected a list of instances")
        for i, inst in enumerate(instances[:per_relation]):
            try:
                out.append(_example(relation, i, inst))
            except InputError as exc:
                raise InputError(f"{path}: relation {relation}, instance {i}: {exc}") from None
    return out


def _example(relation: str, index: int, inst: Any) -> REExample:
    if not isinstance(inst, dict) or not isinstance(inst.get("tokens"), list) or not inst["tokens"]:
        raise InputError("expected an object with a non-empty 'tokens' list")
    tokens = [str(t) for t in inst["tokens"]]
    starts: list[int] = []
    pos = 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    text = " ".join(tokens)
    spans: list[Mention] = []
    for key in ("h", "t"):
        ent: Any = inst.get(key)
        try:
            positions = [int(k) for k in ent[2][0]]
        except (TypeError, IndexError, ValueError, KeyError):
            raise InputError(f"'{key}' must be [name, id, [[token index, ...], ...]]") from None
        if not positions or min(positions) < 0 or max(positions) >= len(tokens):
            raise InputError(f"'{key}' token indices {positions} are outside the {len(tokens)} tokens")
        first, last = min(positions), max(positions)
        start, end = starts[first], starts[last] + len(tokens[last])
        spans.append(Mention(start=start, end=end, text=text[start:end]))
    return REExample(id=f"{relation}-{index}", text=text, head=spans[0], tail=spans[1], label=relation)
