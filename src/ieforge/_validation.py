"""Turning a pydantic validation error into the one-line message an :class:`InputError` carries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def describe_validation_error(exc: ValidationError) -> str:
    """``field.path: what is wrong`` for the first error, plus how many more there are. Always one line."""
    errors = exc.errors()
    if not errors:
        return "invalid"
    err = errors[0]
    loc = ".".join(str(part) for part in err["loc"])
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    text = f"{loc}: {msg}" if loc else msg
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return " ".join(text.split())


def read_model_lines(
    path: str | Path, model: type[ModelT], what: str, *, skip: Callable[[Any], bool] | None = None
) -> list[ModelT]:
    """Every line of a JSONL file validated as ``model``; ``skip`` leaves records out before validation.
    A line that is not JSON or not a ``model`` stops the read with file, line number and problem."""
    from ieforge.data._common import read_jsonl
    from ieforge.errors import InputError

    out = []
    for number, record in read_jsonl(Path(path), what):
        if skip is not None and skip(record):
            continue
        try:
            out.append(model.model_validate(record))
        except ValidationError as exc:
            raise InputError(
                f"{path}: line {number}: not a {what} ({describe_validation_error(exc)})"
            ) from None
    return out
