"""Corpus runs: JSONL in, JSONL out, resumable.

Input lines are JSON objects with a ``text`` field and an optional ``id`` (the line number when absent).
Output lines are the input records plus the task's fields, appended and flushed one by one; rerunning
the same command skips records whose id is already in the output, so an interrupted run resumes without
losing or duplicating anything. ``shard=(i, n)`` processes only the records whose id hashes to shard ``i``
of ``n`` (a stable hash: n machines split one input with no coordinator). The output side (locking, the
ownership check, torn lines, appending) is :mod:`ieforge.resumable`'s; ``done_ids`` and ``drop_errors``
here are its functions for a run's output lines.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ieforge import resumable
from ieforge.errors import InputError
from ieforge.resumable import ResultsFile

Record = dict[str, Any]


def iter_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream ``(line number, object)`` of a JSONL file; blank lines are skipped, and a line that is
    not UTF-8, not JSON or not an object stops the reading with an error naming the file and line."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as f:  # binary lines end at b"\n" only: U+2028 and the like stay inside texts
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


def is_run_record(record: Record) -> bool:
    """The shape of a corpus run's output line: the input record (a string ``text`` and an ``id``) plus
    the task's fields."""
    return "id" in record and isinstance(record.get("text"), str)


def done_ids(path: str | Path) -> set[str]:
    """Ids already written to a run's output file. A torn last line (a killed run) is cut off first; a
    file that is not a run's output is refused and left unchanged (see :mod:`ieforge.resumable`)."""
    return resumable.done_ids(path, shape=is_run_record)


def drop_errors(path: str | Path) -> int:
    """Remove the error records (lines with an ``error`` field) from a run's output file, so that a
    rerun tries those documents again. The file is replaced atomically. Returns how many were removed."""
    return resumable.drop_errors(path, shape=is_run_record)


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
    output: str | Path | ResultsFile,
    process: Callable[[list[Record]], Iterable[Record]],
    *,
    on_start: Callable[[int, int], None] | None = None,
    shard: tuple[int, int] | None = None,
) -> int:
    """Run ``process`` over the records not yet in ``output`` and append its results in order.

    ``process`` receives the pending records and yields one output record per input record.
    ``on_start(pending, already_done)`` is called once before processing. Returns the number written.
    With ``shard`` only that shard's records count (pending and done alike). ``output`` is a path
    (locked for the call) or a :class:`~ieforge.resumable.ResultsFile` the caller holds open.
    """
    records = [r for r in read_records(input_path) if in_shard(r["id"], shard)]
    if isinstance(output, ResultsFile):
        return _run_into(output, records, process, on_start)
    with ResultsFile(output, shape=is_run_record, source=input_path) as results:
        return _run_into(results, records, process, on_start)


def _run_into(
    results: ResultsFile,
    records: list[Record],
    process: Callable[[list[Record]], Iterable[Record]],
    on_start: Callable[[int, int], None] | None,
) -> int:
    done = results.done_ids()
    pending = [r for r in records if str(r["id"]) not in done]
    if on_start is not None:
        on_start(len(pending), len(records) - len(pending))
    written = 0
    for rec in _checked(process(pending), pending):
        results.append(rec)
        written += 1
    return written


def _checked(results: Iterable[Record], pending: list[Record]) -> Iterator[Record]:
    for rec, src in zip(results, pending):
        if str(rec.get("id")) != str(src["id"]):
            raise RuntimeError(f"result for id {rec.get('id')!r} arrived in place of {src['id']!r}")
        yield rec
