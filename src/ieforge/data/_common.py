"""Small helpers the benchmark readers share: reading files with one clear error, and token offsets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeGuard

from ieforge.errors import InputError


def read_text(path: Path, what: str) -> str:
    """The file's text, UTF-8 with an optional byte-order mark; any failure is an :class:`InputError`."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read_json(path: Path, what: str) -> Any:
    """Parse a whole JSON file."""
    content = read_text(path, what)
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None


def read_jsonl(path: Path, what: str) -> list[tuple[int, Any]]:
    """Parse a JSON-lines file into (1-based line number, value) pairs; blank lines are skipped."""
    records: list[tuple[int, Any]] = []
    # split("\n"), not splitlines(): the latter also breaks inside strings at U+2028 and the like
    for number, line in enumerate(read_text(path, what).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {number}: not valid JSON: {exc.msg}") from None
    return records


def check_unique_ids(path: Path, ids: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the first example id that occurs twice in ``path``."""
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise InputError(f"{path}: example id {i!r} occurs twice")
        seen.add(i)


def token_starts(tokens: Sequence[str]) -> list[int]:
    """Character offset of each token in ``" ".join(tokens)``."""
    starts: list[int] = []
    offset = 0
    for token in tokens:
        starts.append(offset)
        offset += len(token) + 1
    return starts


def is_index(value: Any) -> TypeGuard[int]:
    """True for an int that is not a bool (JSON ``true`` would otherwise pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def string_list(value: Any) -> bool:
    """True for a non-empty list of strings."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def document_sentences(record: Any) -> tuple[str, list[list[str]]]:
    """The ``doc_key`` and the tokenized ``sentences`` of a SciERC/RAMS-style document record, checked."""
    if not isinstance(record, dict):
        raise InputError("expected a JSON object")
    key = record.get("doc_key")
    if not isinstance(key, str) or not key.strip():
        raise InputError("missing or empty 'doc_key'")
    sentences = record.get("sentences")
    if not isinstance(sentences, list) or not sentences:
        raise InputError("'sentences' must be a non-empty list of token lists")
    for k, sentence in enumerate(sentences):
        if not string_list(sentence):
            raise InputError(f"sentence {k} is not a non-empty list of token strings")
    return key, sentences
