"""Corpus runs in this process: stream a JSONL file through a job, write each result as it is done.

:func:`plan_run` reads the input once to check every line (a bad line stops the run before any model
loads, naming its file and line) and looks at what the output already holds. :func:`execute` then
streams the pending records in chunks through the job and appends each output line with a flush and an
fsync, so a run killed at any moment and started again ends with every document exactly once. A
document whose processing fails (a model server that stays down, a bug) is written as the input record
plus an ``error`` field, never dropped; ``retry_errors`` gives those documents another try.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from ieforge.errors import InputError
from ieforge.runs.jobs import Fields, Job, Record
from ieforge.runs.jsonl import done_ids, drop_errors, in_shard, iter_records

if TYPE_CHECKING:
    from ieforge.extractor import Extractor

# a run stops when this many documents in a row fail (the model or its server is down)
MAX_FAILURES_IN_A_ROW = 50


@dataclass
class RunPlan:
    """A checked input file, the output it appends to and what is left to do."""

    input: Path
    output: Path
    job: Job
    shard: tuple[int, int] | None
    total: int
    """records of the input (of this shard)"""
    done: set[str]
    """ids already in the output"""
    retried: int = 0
    """error records removed from the output to be tried again"""

    @property
    def pending(self) -> int:
        """How many records this run has to process."""
        return self.total - len(self.done)

    def records(self) -> Iterator[Record]:
        """The pending records, streamed from the input in input order."""
        for _, rec in iter_records(self.input):
            if in_shard(rec["id"], self.shard) and str(rec["id"]) not in self.done:
                yield rec


def plan_run(
    input: str | Path,
    output: str | Path,
    job: Job,
    *,
    shard: tuple[int, int] | None = None,
    retry_errors: bool = False,
) -> RunPlan:
    """Check every input line against ``job`` and read which ids the output already holds."""
    input, output = Path(input), Path(output)
    retried = drop_errors(output) if retry_errors else 0
    done_all = done_ids(output)
    total = 0
    done: set[str] = set()

    def check(record: Record) -> None:
        if "error" in record:
            raise InputError("the field 'error' is kept for documents that fail; rename it")
        job.check(record)

    for _, rec in iter_records(input, check):
        if in_shard(rec["id"], shard):
            total += 1
            if str(rec["id"]) in done_all:
                done.add(str(rec["id"]))
    return RunPlan(input, output, job, shard, total, done, retried)


@dataclass
class RunSummary:
    """What a run did."""

    written: int = 0
    errors: int = 0
    seconds: float = 0.0
    messages: Counter[str] = field(default_factory=Counter)
    """error messages and how many documents each stopped"""
    stopped: str | None = None
    """why the run stopped before the end (None when it finished)"""

    def note(self, record: Record) -> None:
        self.written += 1
        if "error" in record:
            self.errors += 1
            self.messages[record["error"]] += 1


def error_line(exc: BaseException) -> str:
    """An exception as one line for an output record."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:500]


def guarded(job: Job, ex: Extractor, records: Sequence[Record]) -> Iterator[Record]:
    """Output records for ``records``, in order: each input record plus the job's fields, or plus an
    ``error`` field. When the batch fails, the documents not yet done are tried one at a time, so one
    bad document costs only itself."""
    done = 0
    try:
        for rec, fields in zip(records, job.results(ex, records)):
            done += 1
            yield _merge(rec, fields)
    except Exception:
        for rec in records[done:]:
            try:
                fields = next(iter(job.results(ex, [rec])))
            except Exception as exc:
                fields = {"error": error_line(exc)}
            yield _merge(rec, fields)


def _merge(record: Record, fields: Fields) -> Record:
    """The output line: the input record, with the task's fields (which replace same-named ones)."""
    return {**record, **fields}


def chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """Consecutive lists of at most ``size`` records."""
    it = iter(records)
    while chunk := list(islice(it, max(1, size))):
        yield chunk


def write_results(
    plan: RunPlan,
    results: Iterable[Record],
    *,
    on_written: Callable[[Record], None] | None = None,
    max_failures_in_a_row: int = MAX_FAILURES_IN_A_ROW,
) -> RunSummary:
    """Append ``results`` to the plan's output, each line flushed and synced before the next."""
    summary = RunSummary()
    start = time.perf_counter()
    in_a_row = 0
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    with plan.output.open("a", encoding="utf-8") as out:
        for rec in results:
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
            summary.note(rec)
            if on_written is not None:
                on_written(rec)
            in_a_row = in_a_row + 1 if "error" in rec else 0
            if in_a_row >= max_failures_in_a_row:
                summary.stopped = (
                    f"{in_a_row} documents failed in a row (last: {rec['error']}); "
                    "stopped. Fix the cause and rerun with --retry-errors"
                )
                break
    summary.seconds = time.perf_counter() - start
    return summary


def execute(
    plan: RunPlan,
    extractor: Extractor,
    *,
    chunk_size: int = 32,
    on_written: Callable[[Record], None] | None = None,
    max_failures_in_a_row: int = MAX_FAILURES_IN_A_ROW,
) -> RunSummary:
    """Run the plan's pending records through its job on ``extractor``, ``chunk_size`` at a time."""

    def results() -> Iterator[Record]:
        for chunk in chunks(plan.records(), chunk_size):
            yield from guarded(plan.job, extractor, chunk)

    return write_results(plan, results(), on_written=on_written, max_failures_in_a_row=max_failures_in_a_row)
