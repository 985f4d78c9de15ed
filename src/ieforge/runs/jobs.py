"""What a corpus run does with each record, one job per task.

A job checks a record before any model loads (so a bad line fails the run at once, naming its file and
line), runs a list of records on an :class:`~ieforge.extractor.Extractor` in batches, and gives the
fields each output line adds to its input record. Jobs are small frozen dataclasses: a Ray worker
receives one pickled and rebuilds the same work on its own model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ieforge.errors import InputError

if TYPE_CHECKING:
    from ieforge.extractor import Extractor
    from ieforge.tasks._answers import ChunkProgress
    from ieforge.tasks.relations import RelationQuery, RelationTask
    from ieforge.types import NERResult, Relation, TableResult

Record = dict[str, Any]
Fields = dict[str, Any]

TASKS = ("ner", "re", "events", "openie", "table")


def provenance(result: NERResult | Any) -> Fields:
    """The fields every result line carries besides the task's output: parse statistics, model, prompt."""
    return {"stats": result.stats.model_dump(), "model": result.model, "prompt": result.prompt}


@dataclass(frozen=True)
class Job:
    """One task's work on records. Subclasses set ``task`` and implement :meth:`results`."""

    task: ClassVar[str] = ""

    def check(self, record: Record) -> None:
        """Raise :class:`InputError` (without file or line: the reader adds them) if ``record`` cannot be
        run. The reader has already checked that it is an object with a string ``text``."""

    def results(
        self, ex: Extractor, records: Sequence[Record], on_chunk: ChunkProgress | None = None
    ) -> Iterator[Fields]:
        """The output fields of each record, in order (lazily: each as soon as it is known).
        ``on_chunk(record index, done, total)`` hears of each chunk of a record's text as it is answered,
        where the task asks per chunk (relations do not)."""
        raise NotImplementedError


@dataclass(frozen=True)
class NERJob(Job):
    """Entities of ``labels`` in each record's text: adds ``entities``, ``stats``, ``model``, ``prompt``."""

    task: ClassVar[str] = "ner"
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.labels:
            raise InputError("ner needs entity types (--labels person,location)")

    def results(
        self, ex: Extractor, records: Sequence[Record], on_chunk: ChunkProgress | None = None
    ) -> Iterator[Fields]:
        for res in ex.ner_many([r["text"] for r in records], list(self.labels), on_chunk=on_chunk):
            yield {"entities": [e.model_dump() for e in res.entities], **provenance(res)}


@dataclass(frozen=True)
class RelationJob(Job):
    """Relations. A record with ``head`` and ``tail`` (strings found in the text or ``[start, end]``
    offsets, optional ``head_type``/``tail_type``), or with ``<e1>``/``<e2>`` marks in its text, gets the
    ``relation`` between them; any other record gets every ``relations`` end-to-end extraction finds
    (NER for the schema's entity types, then each allowed pair). ``demonstrations`` are solved pairs
    shown before each question (given pairs only)."""

    task: ClassVar[str] = "re"
    schema: str = "semeval"
    method: str = "qa4re"
    reading: str = "letters"
    calibrate: bool = False
    permutations: int = 1
    demonstrations: tuple[tuple[RelationQuery, str], ...] = ()

    def __post_init__(self) -> None:
        from ieforge.tasks.relations import check_relation_options

        check_relation_options(self.method, self.reading, self.permutations)  # before any model loads

    def check(self, record: Record) -> None:
        if _is_pair(record):
            record_query(record)
        elif self.demonstrations:
            raise InputError("solved examples (--demos) work with a given head and tail, not end-to-end")

    def task_on(self, ex: Extractor) -> RelationTask:
        """The relation task these options describe, on ``ex``'s model."""
        return ex.relation_task(
            self.schema,
            self.method,  # type: ignore[arg-type]
            reading=self.reading,  # type: ignore[arg-type]
            calibrate=self.calibrate,
            demonstrations=self.demonstrations,
            permutations=self.permutations,
        )

    def extract(self, ex: Extractor, text: str) -> list[Relation]:
        """End-to-end extraction on one text."""
        return ex.extract_relations(
            text,
            schema=self.schema,
            method=self.method,  # type: ignore[arg-type]
            reading=self.reading,  # type: ignore[arg-type]
            calibrate=self.calibrate,
            permutations=self.permutations,
        )

    def results(
        self, ex: Extractor, records: Sequence[Record], on_chunk: ChunkProgress | None = None
    ) -> Iterator[Fields]:
        pairs = [record_query(r) for r in records if _is_pair(r)]
        by_pair = iter(self.task_on(ex).run_many(pairs)) if pairs else iter(())
        for rec in records:
            if _is_pair(rec):
                yield {"relation": next(by_pair).model_dump()}
            else:
                yield {"relations": [r.model_dump() for r in self.extract(ex, rec["text"])]}


def _is_pair(record: Record) -> bool:
    text = record["text"]
    return record.get("head") is not None or record.get("tail") is not None or "<e1>" in text


def record_query(record: Record) -> RelationQuery:
    """The pair a record names: ``head``/``tail`` as strings or ``[start, end]``, or ``<e1>``/``<e2>``
    marks in its text; optional ``head_type``/``tail_type``."""
    from ieforge.extractor import make_query

    def arg(value: Any) -> Any:
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
            return (value[0], value[1])
        return value

    for key in ("head_type", "tail_type"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise InputError(f"'{key}' must be a string")
    return make_query(
        record["text"],
        arg(record.get("head")),
        arg(record.get("tail")),
        record.get("head_type"),
        record.get("tail_type"),
    )


@dataclass(frozen=True)
class EventJob(Job):
    """Events of a schema's types: adds ``events``, ``schema``, ``stats``, ``model``, ``prompt``."""

    task: ClassVar[str] = "events"
    schema: str = "casie"
    detection: str = "auto"

    def __post_init__(self) -> None:
        if self.detection not in ("auto", "per-type", "joint"):
            raise InputError(f"--detection is auto, per-type or joint, not '{self.detection}'")

    def results(
        self, ex: Extractor, records: Sequence[Record], on_chunk: ChunkProgress | None = None
    ) -> Iterator[Fields]:
        task = ex.event_task(self.schema, detection=self.detection)  # type: ignore[arg-type]
        for res in task.run_many([r["text"] for r in records], on_chunk=on_chunk):
            yield {
                "events": [e.model_dump() for e in res.events],
                "schema": res.schema_name,
                **provenance(res),
            }


@dataclass(frozen=True)
class OpenIEJob(Job):
    """Open IE: adds ``triples``, ``stats``, ``model``, ``prompt``."""

    task: ClassVar[str] = "openie"

    def results(
        self, ex: Extractor, records: Sequence[Record], on_chunk: ChunkProgress | None = None
    ) -> Iterator[Fields]:
        for res in ex.triples_many([r["text"] for r in records], on_chunk=on_chunk):
            yield {"triples": [t.model_dump() for t in res.triples], **provenance(res)}


@dataclass(frozen=True)
class TableJob(Job):
    """On-demand tables: a record may carry its own ``instruction`` and ``headers``; adds ``table``,
    ``records`` (rows as plain objects), ``stats``, ``model``, ``prompt``."""

    task: ClassVar[str] = "table"
    instruction: str = ""
    headers: tuple[str, ...] = field(default_factory=tuple)

    def check(self, record: Record) -> None:
        self._instruction(record)
        self._headers(record)

    def _instruction(self, record: Record) -> str:
        value = record.get("instruction") or self.instruction
        if not isinstance(value, str) or not value.strip():
            raise InputError("no 'instruction' in the record and no default given (--instruction)")
        return value

    def _headers(self, record: Record) -> list[str]:
        value = record.get("headers", list(self.headers))
        if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
            raise InputError("'headers' must be a list of strings")
        if not value:
            raise InputError("no 'headers' in the record and no default given (--headers)")
        return value

    def results(
        self, ex: Extractor, records: Sequence[Record], on_chunk: ChunkProgress | None = None
    ) -> Iterator[Fields]:
        for res in ex.tables_many(
            [r["text"] for r in records],
            instruction=[self._instruction(r) for r in records],
            headers=[self._headers(r) for r in records],
            on_chunk=on_chunk,
        ):
            yield _table_fields(res)


def _table_fields(res: TableResult) -> Fields:
    return {
        "table": {"headers": res.headers, "rows": [r.model_dump() for r in res.rows]},
        "records": res.records(),
        **provenance(res),
    }


def make_job(
    task: str,
    *,
    labels: Sequence[str] = (),
    schema: str | None = None,
    method: str = "qa4re",
    reading: str = "letters",
    calibrate: bool = False,
    permutations: int = 1,
    detection: str = "auto",
    instruction: str = "",
    headers: Sequence[str] = (),
) -> Job:
    """The job for ``task`` (one of :data:`TASKS`) with the options that task reads."""
    if task == "ner":
        return NERJob(labels=tuple(labels))
    if task == "re":
        return RelationJob(
            schema=schema or "semeval",
            method=method,
            reading=reading,
            calibrate=calibrate,
            permutations=permutations,
        )
    if task == "events":
        return EventJob(schema=schema or "casie", detection=detection)
    if task == "openie":
        return OpenIEJob()
    if task == "table":
        return TableJob(instruction=instruction, headers=tuple(headers))
    raise InputError(f"unknown task '{task}': choose one of {', '.join(TASKS)}")
