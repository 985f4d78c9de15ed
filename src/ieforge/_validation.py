"""Turning a pydantic validation error into the one-line message an :class:`InputError` carries."""

from __future__ import annotations

from pydantic import ValidationError


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
