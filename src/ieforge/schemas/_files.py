"""Reading schema files: a built-in schema by name, or the user's YAML/JSON file, with one-line errors."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ieforge._validation import describe_validation_error
from ieforge.errors import InputError

SchemaT = TypeVar("SchemaT", bound=BaseModel)


def available(folder: str) -> list[str]:
    """Names of the built-in schemas in ``schemas/<folder>/``."""
    files = resources.files("ieforge.schemas").joinpath(folder)
    return sorted(p.name[: -len(".yaml")] for p in files.iterdir() if p.name.endswith(".yaml"))


def load_schema(
    name_or_path: str | Path,
    folder: str,
    kind: str,
    model: type[SchemaT],
    *,
    name_user_files: bool = False,
) -> SchemaT:
    """A built-in ``kind`` schema of ``schemas/<folder>/`` by name, or a YAML/JSON file.

    With ``name_user_files``, a user file without ``name``/``version`` is named after the file (version 1).
    Unknown names, unreadable files, bad YAML/JSON and invalid fields raise one :class:`InputError` line.
    """
    path = Path(name_or_path)
    if path.is_file():
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read {kind} schema: {exc}") from None
        data = _data(raw, str(path), kind, json_file=path.suffix.lower() == ".json")
        if name_user_files:
            data = {"name": path.stem, "version": 1, **data}
        return _validate(data, str(path), kind, model)
    name = str(name_or_path)
    if name in available(folder):
        return _builtin(name, folder, kind, model)
    if path.suffix or "/" in name or "\\" in name:
        raise InputError(f"{name}: no such {kind} schema file")
    raise InputError(f"unknown {kind} schema '{name}' (available: {', '.join(available(folder))})")


@lru_cache(maxsize=64)
def _builtin(name: str, folder: str, kind: str, model: type[SchemaT]) -> SchemaT:
    source = f"schemas/{folder}/{name}.yaml"
    raw = resources.files("ieforge.schemas").joinpath(folder).joinpath(f"{name}.yaml").read_text("utf-8")
    return _validate(_data(raw, source, kind, json_file=False), source, kind, model)


def _data(raw: str, source: str, kind: str, *, json_file: bool) -> dict[str, Any]:
    try:
        data = json.loads(raw) if json_file else yaml.safe_load(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise InputError(f"{source}: {where}not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        article = "an" if kind[0] in "aeiou" else "a"
        raise InputError(
            f"{source}: {article} {kind} schema must be a mapping of fields, not {type(data).__name__}"
        )
    return data


def _validate(data: dict[str, Any], source: str, kind: str, model: type[SchemaT]) -> SchemaT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: invalid {kind} schema: {describe_validation_error(exc)}") from None
