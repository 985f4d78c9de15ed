"""Corpus runs: JSONL in, JSONL out, resumable.

Input lines are JSON objects with a ``text`` field and an optional ``id`` (the line number when absent).
Output lines are the input records plus the task's fields, appended and flushed one by one; rerunning
the same command skips records whose id is already in the output, so an interrupted run resumes without
losing or duplicating anything. ``shard=(i, n)`` processes only the records whose id hashes to shard ``i``
of ``n`` (a stable hash: n machines split one input with no coordinator).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ieforge.errors import InputError

Record = dict[str, Any]


def iter_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream ``(line number, object)`` of a JSONL file; blank lines are skipped, and a line that is
    not UTF-8, not JSON or not an object stops the reading with an error naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{path}:{lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{lineno}: invalid JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def iter_records(
    path: str | Path, check: Callable[[Record], None] | None = None
) -> Iterator[tuple[int, Record]]:
    """Stream ``(line number, record)`` of a JSONL input file, validating each line as it goes.

    A record is an object with a string ``text`` and an ``id`` (the line number when absent, never
    repeated). ``check(record)`` may raise :class:`InputError` for task-specific problems; every error
    names the file and line. Only the ids seen so far are kept in memory.
    """
    seen: set[str] = set()
    for lineno, rec in iter_objects(path):
        if not isinstance(rec.get("text"), str):
            raise InputError(f"{path}:{lineno}: missing or non-string field 'text'")
        rec.setdefault("id", lineno)
        key = str(rec["id"])
        if key in seen:
            raise InputError(f"{path}:{lineno}: duplicate id {rec['id']!r}")
        seen.add(key)
        if check is not None:
            try:
                check(rec)
            except InputError as exc:
                raise InputError(f"{path}:{lineno}: {exc}") from None
        yield lineno, rec


def read_records(path: str | Path) -> list[Record]:
    """Read and validate every input line before any work starts (errors name file and line)."""
    return [rec for _, rec in iter_records(path)]


def done_ids(path: str | Path) -> set[str]:
    """Ids already written to an output file. A torn last line (a killed run) is cut off first."""
    path = Path(path)
    if not path.is_file():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as f:
            f.truncate(cut)
        data = data[:cut]
    ids: set[str] = set()
    for lineno, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ids.add(str(json.loads(line)["id"]))
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path}:{lineno}: existing output line is not a result record") from None
    return ids


def drop_errors(path: str | Path) -> int:
    """Remove the error records (lines with an ``error`` field) from an output file, so that a rerun
    tries those documents again. The file is replaced atomically. Returns how many were removed."""
    path = Path(path)
    if not path.is_file():
        return 0
    done_ids(path)  # cuts a torn last line first
    kept: list[str] = []
    dropped = 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip() and "error" in json.loads(line):
                dropped += 1
            else:
                kept.append(line)
    if dropped:
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.writelines(kept)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return dropped


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (0 <= i < n) as ``(i, n)``; None stays None."""
    if spec is None:
        return None
    i, sep, n = spec.partition("/")
    try:
        shard = (int(i), int(n))
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise InputError(f"--shard: '{spec}' is not I/N with 0 <= I < N (e.g. 0/4)")
    return shard


def in_shard(record_id: object, shard: tuple[int, int] | None) -> bool:
    """Whether the record with this id belongs to ``shard`` (every record does when it is None)."""
    if shard is None:
        return True
    digest = hashlib.sha256(str(record_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shard[1] == shard[0]


def run_jsonl(
    input_path: str | Path,
    output_path: str | Path,
    process: Callable[[list[Record]], Iterable[Record]],
    *,
    on_start: Callable[[int, int], None] | None = None,
    shard: tuple[int, int] | None = None,
) -> int:
    """Run ``process`` over the records not yet in ``output_path`` and append its results in order.

    ``process`` receives the pending records and yields one output record per input record.
    ``on_start(pending, already_done)`` is called once before processing. Returns the number written.
    With ``shard`` only that shard's records count (pending and done alike).
    """
    records = [r for r in read_records(input_path) if in_shard(r["id"], shard)]
    done = done_ids(output_path)
    pending = [r for r in records if str(r["id"]) not in done]
    if on_start is not None:
        on_start(len(pending), len(records) - len(pending))
    written = 0
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    with Path(output_path).open("a", encoding="utf-8") as out:
        for rec in _checked(process(pending), pending):
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
            written += 1
    return written


def _checked(results: Iterable[Record], pending: list[Record]) -> Iterator[Record]:
    for rec, src in zip(results, pending):
        if str(rec.get("id")) != str(src["id"]):
            raise RuntimeError(f"result for id {rec.get('id')!r} arrived in place of {src['id']!r}")
        yield rec
