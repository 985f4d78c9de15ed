"""FewRel relation classification files (``train_wiki.json``, ``val_wiki.json``, ``val_pubmed.json``).

A file is one JSON object: relation id -> list of instances, each
``{"tokens": [...], "h": [name, entity id, [[token index, ...], ...]], "t": [...]}``. The head (``h``)
is the relation's subject and the tail (``t``) its object. The text is the tokens joined by single
spaces; a mention spans its first listed occurrence, from its first to its last token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ieforge.data._common import read_json
from ieforge.data.semeval import REExample
from ieforge.errors import InputError
from ieforge.types import Mention


def read_fewrel(
    path: str | Path,
    *,
    per_relation: int | None = None,
    relation_names: str | Path | dict[str, str] | None = None,
) -> list[REExample]:
    """Read a FewRel file into examples with ids ``RELATION-INDEX``, relations in file order.

    ``per_relation`` keeps the first N instances of each relation (a balanced slice). ``relation_names``
    (FewRel's ``pid2name.json``, or a dict) turns the property ids into their names, the labels of the
    built-in ``fewrel`` schema. A file that is not FewRel JSON stops the read with an
    :class:`InputError` naming the file and the bad instance.
    """
    path = Path(path)
    data = read_json(path, "FewRel file")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of relation -> instances")
    names = _names(relation_names) if relation_names is not None else {}
    out: list[REExample] = []
    for relation, instances in data.items():
        if not isinstance(instances, list):
            raise InputError(f"{path}: relation {relation}: expected a list of instances")
        if names and relation not in names:
            raise InputError(f"{path}: relation {relation} has no name in the relation names given")
        for i, inst in enumerate(instances[:per_relation]):
            try:
                out.append(_example(relation, names[relation] if names else relation, i, inst))
            except InputError as exc:
                raise InputError(f"{path}: relation {relation}, instance {i}: {exc}") from None
    return out


def _names(source: str | Path | dict[str, str]) -> dict[str, str]:
    """Property id -> name, from a dict or a ``pid2name.json`` file (id -> [name, description])."""
    if isinstance(source, dict):
        return dict(source)
    path = Path(source)
    raw = read_json(path, "relation names")
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a JSON object of property id -> [name, description]")
    names: dict[str, str] = {}
    for pid, value in raw.items():
        name = value[0] if isinstance(value, list) and value else value
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{path}: property {pid}: expected [name, description]")
        names[pid] = name
    return names


def _example(relation: str, label: str, index: int, inst: Any) -> REExample:
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
    return REExample(id=f"{relation}-{index}", text=text, head=spans[0], tail=spans[1], label=label)
