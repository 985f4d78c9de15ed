"""Corpus runs in this process: stream a JSONL file through a job, write each result as it is done.

:func:`plan_run` reads the input once to check every line (a bad line stops the run before any model
loads, naming its file and line) and looks at what the output already holds. :func:`execute` then
streams the pending records in chunks through the job and appends each output line with a flush and an
fsync, so a run killed at any moment and started again ends with every document exactly once. A
document whose processing fails (a model server that stays down, a bug) is written as the input record
plus an ``error`` field, never dropped; ``retry_errors`` gives those documents another try. So is a
document longer than ``max_chars`` characters, without reaching the model.

The output is a :class:`~ieforge.resumable.ResultsFile`: the plan locks it from :func:`plan_run` until
:func:`execute` ends (a second run on the same output fails at once), and a file that is not a run's
output, or that is the input itself, is refused before anything is written.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from ieforge.errors import InputError
from ieforge.resumable import ResultsFile, check_run_paths, is_error
from ieforge.runs.jobs import Fields, Job, Record
from ieforge.runs.jsonl import in_shard, is_run_record, iter_records

if TYPE_CHECKING:
    from ieforge.extractor import Extractor

ChunkDone = Callable[[Record, int, int], None]
"""``on_chunk(record, done, total)``: ``done`` of the ``total`` chunks of ``record``'s text are answered
(progress inside a long document; a task that does not ask per chunk never calls it)."""

# a run stops when this many documents in a row fail (the model or its server is down)
MAX_FAILURES_IN_A_ROW = 50

DEFAULT_MAX_CHARS = 100_000
"""documents with more characters become error records (``ieforge run --max-chars`` raises it)"""


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
    results: ResultsFile | None = None
    """the output, open and locked until the run ends (None: closed)"""
    max_chars: int | None = DEFAULT_MAX_CHARS
    """longer documents become error records without reaching the model (None: no limit)"""

    @property
    def pending(self) -> int:
        """How many records this run has to process."""
        return self.total - len(self.done)

    def records(self) -> Iterator[Record]:
        """The pending records, streamed from the input in input order."""
        for _, rec in iter_records(self.input):
            if in_shard(rec["id"], self.shard) and str(rec["id"]) not in self.done:
                yield rec

    def too_long(self, record: Record) -> bool:
        """Whether the record's text is over the plan's ``max_chars``."""
        text = record.get("text")
        return self.max_chars is not None and isinstance(text, str) and len(text) > self.max_chars

    def close(self) -> None:
        """Release the output (its lock); :func:`execute` does it when the run ends."""
        if self.results is not None:
            self.results.close()
            self.results = None

    def __enter__(self) -> RunPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plan_run(
    input: str | Path,
    output: str | Path,
    job: Job,
    *,
    shard: tuple[int, int] | None = None,
    retry_errors: bool = False,
    max_chars: int | None = DEFAULT_MAX_CHARS,
) -> RunPlan:
    """Check every input line against ``job``, then open and lock the output and read which ids it
    already holds. Raises :class:`InputError` for a folder given as either file, an output that is the
    input, an input with no documents, an output another run holds, or an existing output that is not a
    run's output (left unchanged). The plan holds the output's lock until :func:`execute` ends or
    :meth:`RunPlan.close`."""
    input, output = Path(input), Path(output)
    if max_chars is not None and max_chars < 1:
        raise InputError(f"max_chars must be at least 1, not {max_chars}")
    check_run_paths(input, output)

    def check(record: Record) -> None:
        if "error" in record:
            raise InputError("the field 'error' is kept for documents that fail; rename it")
        job.check(record)

    documents = 0
    mine: list[str] = []
    for _, rec in iter_records(input, check):
        documents += 1
        if in_shard(rec["id"], shard):
            mine.append(str(rec["id"]))
    if not documents:
        raise InputError(f"no documents in {input}")
    results = ResultsFile(output, shape=is_run_record, source=input).open()
    try:
        retried = results.drop(is_error) if retry_errors else 0
        done_all = results.done_ids()
    except BaseException:
        results.close()
        raise
    done = {i for i in mine if i in done_all}
    return RunPlan(input, output, job, shard, len(mine), done, retried, results, max_chars)


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


def too_long_error(chars: int, max_chars: int) -> str:
    """The error record's message for a document over the size limit."""
    return (
        f"InputError: the text has {chars:,} characters, more than the limit of {max_chars:,} per "
        "document (raise it with --max-chars)"
    )


def guarded(
    job: Job,
    ex: Extractor,
    records: Sequence[Record],
    *,
    max_chars: int | None = None,
    on_chunk: ChunkDone | None = None,
) -> Iterator[Record]:
    """Output records for ``records``, in order: each input record plus the job's fields, or plus an
    ``error`` field. When the batch fails, the documents not yet done are tried one at a time, so one
    bad document costs only itself. A text over ``max_chars`` characters is an error record at once.
    ``on_chunk`` hears of each chunk of a record as it is answered."""
    if max_chars is not None and any(len(r["text"]) > max_chars for r in records):
        kept = [r for r in records if len(r["text"]) <= max_chars]
        within = iter(guarded(job, ex, kept, on_chunk=on_chunk))
        for rec in records:
            if len(rec["text"]) > max_chars:
                yield _merge(rec, {"error": too_long_error(len(rec["text"]), max_chars)})
            else:
                yield next(within)
        return
    done = 0
    try:
        for rec, fields in zip(records, _results(job, ex, records, on_chunk)):
            done += 1
            yield _merge(rec, fields)
    except Exception:
        for rec in records[done:]:
            try:
                fields = next(iter(_results(job, ex, [rec], on_chunk)))
            except Exception as exc:
                fields = {"error": error_line(exc)}
            yield _merge(rec, fields)


def _results(
    job: Job, ex: Extractor, records: Sequence[Record], on_chunk: ChunkDone | None
) -> Iterator[Fields]:
    """``job.results`` on ``records``, its chunk progress (a text's index in ``records``) told as the
    run's (the record itself). Without ``on_chunk`` the job is called as before progress existed, so a
    job whose ``results`` takes no ``on_chunk`` still runs."""
    if on_chunk is None:
        return job.results(ex, records)

    def told(i: int, done: int, total: int) -> None:
        on_chunk(records[i], done, total)

    return job.results(ex, records, on_chunk=told)


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
    """Append ``results`` to the plan's output, each line flushed and synced before the next; the
    output is released at the end. Documents over the size limit do not count as failures in a row
    (they say nothing about the model)."""
    summary = RunSummary()
    start = time.perf_counter()
    in_a_row = 0
    if plan.results is None:
        raise RuntimeError("this plan has run already (its output is closed); make a new plan")
    try:
        for rec in results:
            plan.results.append(rec)
            summary.note(rec)
            if on_written is not None:
                on_written(rec)
            if "error" not in rec:
                in_a_row = 0
            elif not plan.too_long(rec):
                in_a_row += 1
            if in_a_row >= max_failures_in_a_row:
                summary.stopped = (
                    f"{in_a_row} documents failed in a row (last: {rec['error']}); "
                    "stopped. Fix the cause and rerun with --retry-errors"
                )
                break
    finally:
        plan.close()
    summary.seconds = time.perf_counter() - start
    return summary


def execute(
    plan: RunPlan,
    extractor: Extractor,
    *,
    chunk_size: int = 32,
    on_written: Callable[[Record], None] | None = None,
    max_failures_in_a_row: int = MAX_FAILURES_IN_A_ROW,
    on_chunk: ChunkDone | None = None,
) -> RunSummary:
    """Run the plan's pending records through its job on ``extractor``, ``chunk_size`` at a time.
    ``on_written`` hears of each output record once it is on disk; ``on_chunk`` of each chunk of a
    document's text as it is answered (see :data:`ChunkDone`)."""

    def results() -> Iterator[Record]:
        for chunk in chunks(plan.records(), chunk_size):
            yield from guarded(plan.job, extractor, chunk, max_chars=plan.max_chars, on_chunk=on_chunk)

    return write_results(plan, results(), on_written=on_written, max_failures_in_a_row=max_failures_in_a_row)
