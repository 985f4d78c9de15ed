"""Benchmark runs: score a model on NER and relation classification files, resumably.

A run reads each benchmark file in place (``NAME=PATH`` on the command line), asks the model about every
example, scores the answers and returns an :class:`EvalReport` that can be written as JSON. The report
records what is needed to trace a number back: the model, the prompt versions, the task options, each
file's sha256 and example count, per-dataset metrics with their average, the wall time, and every
prediction.

NER files are read by format:

- ``.json`` holding a list of ``{"sentence", "entities"}`` records: InstructUIE (character offsets); the
  label set is ``labels.json`` beside the file when present, else the types seen in the file;
- ``.json`` holding UniversalNER conversations: gold answer strings only (no offsets), so these can be
  scored with the ``uniner`` protocol only; each passage is asked the types its questions ask;
- column files (``.txt``, ``.tsv``, ``.conll``, ``.bio``, or any other file whose first line looks like
  ``token TAG``): :func:`~ieforge.data.read_bio`, with the built-in tag names of the dataset
  (:func:`~ieforge.data.dataset_labels`) when the given name, or else the file's folder name, is a
  known dataset (``crossner_ai``, ``conll2003``, ...); the label set is then every type of that
  dataset, else the types seen in the file;
- ``.jsonl`` in the ieforge result format (users' own data, e.g. a corrected ``ieforge ner --output``
  file): :func:`~ieforge.data.read_ner_jsonl`; the label set is the types seen in the file.

The catch-all type (``else``/``misc``) is neither asked nor scored by default, as in the UniversalNER
evaluation: its gold spans are removed. Pass ``keep_catch_all=True`` to ask and score it like any other
type.

Relation files: SemEval-2010 Task 8 text files (:func:`~ieforge.data.read_semeval`), FewRel ``.json``
(:func:`~ieforge.data.read_fewrel`, with the ``pid2name.json`` beside it when there is one), TACRED-style
``.json`` lists (:func:`~ieforge.data.read_tacred`) and ieforge-format ``.jsonl``
(:func:`~ieforge.data.read_re_jsonl`).

Resuming: with a cache directory, each example's prediction is appended to a JSONL file as soon as it is
computed, keyed by the file's sha256, the example id, the model, the prompt and the options that change
predictions. A rerun (after an interruption, or with a larger ``limit``) reads what is there and computes
only the rest; a torn last line left by a killed run is dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, Field
from rich.progress import Progress
from rich.table import Table

from ieforge._progress import progress_bar
from ieforge.data import (
    REExample,
    dataset_labels,
    read_bio,
    read_fewrel,
    read_instructuie_ner,
    read_semeval,
    read_tacred,
)
from ieforge.data._common import check_unique_ids, read_json
from ieforge.data.jsonl import read_ner_jsonl, read_re_jsonl
from ieforge.data.labels import DATASET_LABELS
from ieforge.data.uniner import read_uniner
from ieforge.errors import InputError
from ieforge.evaluate.metrics import PRF, relation_prf, span_prf, uniner_prf
from ieforge.resumable import ResultsFile
from ieforge.types import Entity, ParseStats

if TYPE_CHECKING:
    from ieforge.extractor import Extractor
    from ieforge.schemas.relations import RelationSchema
    from ieforge.tasks.relations import Method, Reading, RelationTask

Protocol = Literal["strict", "uniner"]
NERFormat = Literal["instructuie", "uniner", "bio", "jsonl"]
REFormat = Literal["semeval", "fewrel", "tacred", "jsonl"]

CATCH_ALL_TYPES = frozenset({"else", "misc", "miscellaneous"})
"""entity types treated as the catch-all (compared case-insensitively); not asked nor scored by default"""
COLUMN_SUFFIXES = (".txt", ".tsv", ".conll", ".bio")
"""file name endings read as CoNLL-style column files"""

_TAG = re.compile(r"O|[BIESLU]-\S+")
_SEMEVAL_FIRST = re.compile(r"\s*\S+\t\s*\"")


# ----- datasets ------------------------------------------------------------------------------------------


class GoldNER(BaseModel):
    """One evaluated NER example: its text, the types asked about it and its gold answers."""

    id: str
    text: str
    labels: list[str]
    """the entity types asked about this example (and scored)"""
    entities: list[Entity] | None
    """gold spans with offsets; None for UniversalNER files, which have strings only"""
    strings: dict[str, list[str]]
    """entity type -> gold strings, for every type in ``labels`` (the UniversalNER protocol's gold)"""


class NERDataset(BaseModel):
    """A NER benchmark file read into evaluation examples."""

    name: str
    path: str
    sha256: str
    format: NERFormat
    labels: list[str]
    """the entity types asked and scored, in order"""
    dropped_labels: list[str] = Field(default_factory=list)
    """catch-all types removed from the questions and the gold"""
    examples: list[GoldNER]


class REDataset(BaseModel):
    """A relation classification benchmark file."""

    name: str
    path: str
    sha256: str
    format: REFormat
    relation_names: str | None = None
    """FewRel: the pid2name.json file that named the relations"""
    examples: list[REExample]


def parse_data_spec(spec: str, *, folders: bool = False) -> tuple[str, Path]:
    """Split a ``NAME=PATH`` dataset argument; the file (or, with ``folders``, folder) must exist.
    Raises :class:`InputError`."""
    name, sep, path = spec.partition("=")
    name, path = name.strip(), path.strip()
    if not sep or not name or not path:
        raise InputError(f"--data {spec!r}: expected NAME=PATH, e.g. crossner_ai=data/crossner_ai/dev.txt")
    if not (Path(path).is_file() or (folders and Path(path).is_dir())):
        raise InputError(f"--data {spec!r}: no such file: {path}")
    return name, Path(path)


def parse_data_specs(specs: Sequence[str], *, folders: bool = False) -> list[tuple[str, Path]]:
    """Parse every ``NAME=PATH`` argument; at least one, and no name twice."""
    if not specs:
        raise InputError("give at least one dataset with --data NAME=PATH")
    parsed = [parse_data_spec(s, folders=folders) for s in specs]
    names = [n for n, _ in parsed]
    for n in names:
        if names.count(n) > 1:
            raise InputError(f"--data: the name {n!r} is given twice")
    return parsed


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def detect_ner_format(path: str | Path) -> NERFormat:
    """Which reader a NER file needs: ``instructuie``, ``uniner``, ``bio`` or ``jsonl`` (see the module
    docs)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return "jsonl"
    if path.suffix.lower() == ".json":
        data = read_json(path, "JSON file")
        first = data[0] if isinstance(data, list) and data else None
        if isinstance(first, dict) and "conversations" in first:
            return "uniner"
        if isinstance(first, dict) and "sentence" in first:
            return "instructuie"
        raise InputError(
            f"{path}: unknown NER JSON format (expected a list of InstructUIE {{sentence, entities}} "
            "records or UniversalNER conversations)"
        )
    if path.suffix.lower() in COLUMN_SUFFIXES or _looks_like_columns(path):
        return "bio"
    raise InputError(
        f"{path}: unknown NER file format (expected .json, or a token/tag column file such as "
        f"{', '.join(COLUMN_SUFFIXES)})"
    )


def load_ner_dataset(
    name: str,
    path: str | Path,
    *,
    keep_catch_all: bool = False,
    label_map: dict[str, str] | None = None,
) -> NERDataset:
    """Read a NER benchmark file, choosing the reader from the file (see the module docs).

    ``name`` names the dataset in the report and, for column files, picks the built-in tag names
    (``crossner_ai``, ``conll2003``, ...; the file's folder name is tried next); ``label_map`` adds to or
    overrides them. The catch-all type (``else``/``misc``) is left out unless ``keep_catch_all``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    fmt = detect_ner_format(path)
    labels: list[str]
    examples: list[GoldNER] = []
    if fmt == "uniner":
        passages = read_uniner(path)
        labels = _unique(kind for p in passages for kind in p.gold)
        for p in passages:
            asked = list(p.gold)
            examples.append(GoldNER(id=p.id, text=p.text, labels=asked, entities=None, strings=p.gold))
    else:
        if fmt == "jsonl":
            gold = read_ner_jsonl(path)
            labels = _unique(e.label for x in gold for e in x.entities)
        elif fmt == "instructuie":
            gold = read_instructuie_ner(path)
            listed = _labels_file(path.parent / "labels.json")
            labels = listed if listed is not None else _unique(e.label for x in gold for e in x.entities)
        else:
            known = name if name in DATASET_LABELS else path.parent.name
            if known in DATASET_LABELS:  # every type of the dataset, even those absent from this file
                mapping: dict[str, str] | None = dataset_labels(known, label_map)
                declared = list(mapping.values()) if mapping else []
            else:
                mapping, declared = label_map, []
            gold = read_bio(path, label_map=mapping)
            labels = _unique([*declared, *(e.label for x in gold for e in x.entities)])
        examples = [
            GoldNER(id=x.id, text=x.text, labels=labels, entities=x.entities, strings={}) for x in gold
        ]
    dropped = [] if keep_catch_all else [t for t in labels if t.lower() in CATCH_ALL_TYPES]
    labels = [t for t in labels if t not in dropped]
    if not labels:
        raise InputError(f"{path}: no entity types to ask about")
    for ex in examples:
        ex.labels = [t for t in ex.labels if t not in dropped]
        if ex.entities is not None:
            ex.entities = [e for e in ex.entities if e.label not in dropped]
            ex.strings = {t: [e.text for e in ex.entities if e.label == t] for t in ex.labels}
        else:
            ex.strings = {t: v for t, v in ex.strings.items() if t not in dropped}
    check_unique_ids(path, [x.id for x in examples])
    return NERDataset(
        name=name,
        path=str(path),
        sha256=file_sha256(path),
        format=fmt,
        labels=labels,
        dropped_labels=dropped,
        examples=examples,
    )


def detect_re_format(path: str | Path) -> REFormat:
    """``fewrel`` for a ``.json`` object (relation -> instances), ``tacred`` for a ``.json`` list of
    TACRED-style records, ``semeval`` for SemEval-2010 Task 8 text files, ``jsonl`` for ``.jsonl`` files
    in the ieforge format (:func:`~ieforge.data.jsonl.read_re_jsonl`)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return "jsonl"
    if path.suffix.lower() == ".json":
        try:
            with path.open("rb") as f:
                head = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        return "tacred" if head.startswith("[") else "fewrel"
    if path.suffix.lower() == ".txt" or _first_line_matches(path, _SEMEVAL_FIRST):
        return "semeval"
    raise InputError(
        f"{path}: unknown relation file format (expected a SemEval-2010 Task 8 .txt file, FewRel or "
        "TACRED .json)"
    )


def load_re_dataset(name: str, path: str | Path, *, relation_names: str | Path | None = None) -> REDataset:
    """Read a relation classification file: SemEval text, TACRED JSON or FewRel JSON (property ids named by
    ``relation_names``, by default the ``pid2name.json`` beside the file when present)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    fmt = detect_re_format(path)
    names: Path | None = None
    if fmt == "fewrel":
        beside = path.parent / "pid2name.json"
        names = Path(relation_names) if relation_names is not None else beside if beside.is_file() else None
        examples = read_fewrel(path, relation_names=names)
    elif fmt == "tacred":
        examples = read_tacred(path)
    elif fmt == "jsonl":
        examples = read_re_jsonl(path)
    else:
        examples = read_semeval(path)
    check_unique_ids(path, [x.id for x in examples])
    return REDataset(
        name=name,
        path=str(path),
        sha256=file_sha256(path),
        format=fmt,
        relation_names=str(names) if names is not None else None,
        examples=examples,
    )


def check_protocol(datasets: Sequence[NERDataset], protocol: str) -> None:
    """Fail early when a dataset cannot be scored with ``protocol`` (UniversalNER files have no offsets)."""
    if protocol not in ("strict", "uniner"):
        raise InputError(f"unknown protocol {protocol!r} (use strict or uniner)")
    if protocol == "strict":
        for d in datasets:
            if d.format == "uniner":
                raise InputError(
                    f"{d.name}: {d.path} holds answer strings without offsets; score it with the "
                    "uniner protocol (--protocol uniner)"
                )


def check_re_labels(datasets: Sequence[REDataset], schema: str | RelationSchema | None = None) -> None:
    """Fail early when a dataset's gold labels are not all in the schema it will be asked with (``schema``,
    or by default the dataset's own: ``semeval`` or ``fewrel``). Needs no model."""
    from ieforge.schemas.relations import RelationSchema, load_relation_schema

    for d in datasets:
        spec = schema if schema is not None else d.format
        loaded = spec if isinstance(spec, RelationSchema) else load_relation_schema(spec)
        unknown = sorted({x.label for x in d.examples} - set(loaded.all_labels))
        if unknown:
            hint = (
                " (FewRel property ids are named by a pid2name.json beside the file)"
                if d.format == "fewrel" and d.relation_names is None
                else ""
            )
            raise InputError(
                f"{d.name}: {len(unknown)} gold labels are not in schema '{loaded.name}': "
                f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}{hint}"
            )


# ----- results -------------------------------------------------------------------------------------------


class Scores(BaseModel):
    """Micro precision, recall and F1 with the counts they come from."""

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    @classmethod
    def of(cls, prf: PRF) -> Scores:
        return cls(precision=prf.precision, recall=prf.recall, f1=prf.f1, tp=prf.tp, fp=prf.fp, fn=prf.fn)


class NERPrediction(BaseModel):
    id: str
    entities: list[Entity]
    stats: ParseStats = Field(default_factory=ParseStats)


class REPrediction(BaseModel):
    id: str
    label: str
    gold: str
    score: float | None = None
    answered: bool = True


class DatasetResult(BaseModel):
    """One dataset's scores and predictions."""

    name: str
    path: str
    sha256: str
    format: str
    examples: int
    """examples evaluated (the first ``limit`` of the file)"""
    examples_in_file: int
    labels: list[str] = Field(default_factory=list)
    """NER: the entity types asked and scored"""
    dropped_labels: list[str] = Field(default_factory=list)
    scores: Scores
    """NER: span (strict) or string-set (uniner) micro scores; RE: micro over the positive labels"""
    f1_with_none: float | None = None
    """RE: micro-F1 with the none label counted as a label like the others"""
    top_label: str | None = None
    """RE: the most frequently predicted label"""
    top_label_share: float | None = None
    """RE: its share of the predictions (near 1 means the model answers the same for everything)"""
    unanswered: int | None = None
    """RE: answers that could not be read (counted as the none label)"""
    parse_stats: ParseStats | None = None
    """NER: what happened to the model's answers"""
    computed: int = 0
    """predictions computed in this run"""
    cached: int = 0
    """predictions taken from the cache"""
    seconds: float = 0.0
    predictions: list[NERPrediction] | list[REPrediction] = Field(default_factory=list)


class Average(BaseModel):
    """Unweighted mean over datasets (each dataset counts once, whatever its size)."""

    datasets: int
    precision: float
    recall: float
    f1: float
    f1_with_none: float | None = None


class EvalReport(BaseModel):
    """Everything a benchmark run measured, JSON-serializable (:meth:`write`, :meth:`read`)."""

    task: Literal["ner", "re"]
    model: str
    prompts: list[str]
    """name@version of every prompt used"""
    options: dict[str, Any]
    datasets: list[DatasetResult]
    average: Average
    seconds: float
    """wall time of the whole run"""
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    ieforge_version: str = Field(default_factory=lambda: _version())

    def write(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> EvalReport:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


def average(results: Sequence[DatasetResult]) -> Average:
    """Macro average of the datasets' scores (``f1_with_none`` only when every dataset has it)."""
    n = len(results)
    if not n:
        return Average(datasets=0, precision=0.0, recall=0.0, f1=0.0)
    with_none = [r.f1_with_none for r in results if r.f1_with_none is not None]
    return Average(
        datasets=n,
        precision=sum(r.scores.precision for r in results) / n,
        recall=sum(r.scores.recall for r in results) / n,
        f1=sum(r.scores.f1 for r in results) / n,
        f1_with_none=sum(with_none) / n if len(with_none) == n else None,
    )


def report_table(report: EvalReport) -> Table:
    """A rich table: one row per dataset and the average (P/R/F1 in percent; for relations also the F1 with
    the none label and the most frequent predicted label's share)."""
    relations = report.task == "re"
    table = Table(title=f"{report.task} · {report.model} · {', '.join(report.prompts)}")
    columns = ["dataset", "n", "P", "R", "F1"]
    if relations:
        columns += ["F1+none", "top share"]
    columns.append("cached")
    for col in columns:
        table.add_column(col, justify="left" if col == "dataset" else "right")

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    for r in report.datasets:
        row = [r.name, str(r.examples), pct(r.scores.precision), pct(r.scores.recall), pct(r.scores.f1)]
        if relations:
            row += [pct(r.f1_with_none), pct(r.top_label_share)]
        row.append(str(r.cached))
        table.add_row(*row)
    a = report.average
    row = [f"average ({a.datasets})", "", pct(a.precision), pct(a.recall), pct(a.f1)]
    if relations:
        row += [pct(a.f1_with_none), ""]
    row.append("")
    table.add_row(*row, style="bold")
    return table


# ----- the prediction cache ------------------------------------------------------------------------------


def cache_key(dataset_sha256: str, model: str, prompt: str, options: dict[str, Any]) -> str:
    """The key of one run configuration on one file; with the example id it names a cached prediction."""
    blob = json.dumps(
        {"dataset": dataset_sha256, "model": model, "prompt": prompt, "options": options}, sort_keys=True
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _is_cache_line(record: dict[str, Any]) -> bool:
    return isinstance(record.get("key"), str) and "id" in record and "prediction" in record


class PredictionCache:
    """Predictions of one configuration on one file, one JSONL line ``{"key", "id", "prediction"}`` each.

    ``folder=None`` caches nothing. The file is a :class:`~ieforge.resumable.ResultsFile`: :meth:`load`
    locks it (another evaluation of the same configuration fails at once), cuts a torn last line (from
    a killed run) and skips lines of another key; :meth:`writer` appends, flushes and syncs each
    prediction and releases the lock at its end.
    """

    def __init__(self, folder: str | Path | None, task: str, key: str) -> None:
        self.key = key
        self.path = Path(folder) / f"{task}-{key[:24]}.jsonl" if folder is not None else None
        self._file: ResultsFile | None = None

    def _open(self) -> ResultsFile:
        assert self.path is not None
        if self._file is None:
            self._file = ResultsFile(self.path, what="prediction cache", shape=_is_cache_line).open()
        return self._file

    def load(self) -> dict[str, dict[str, Any]]:
        """Example id -> cached prediction."""
        if self.path is None:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for _, rec in self._open().records():
            if rec["key"] == self.key and isinstance(rec["prediction"], dict):
                found[str(rec["id"])] = rec["prediction"]
        return found

    def close(self) -> None:
        """Release the cache file (:meth:`writer` does it at its end)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @contextmanager
    def writer(self) -> Iterator[Any]:
        """A function ``add(id, prediction)`` that appends one line (a no-op without a folder)."""
        if self.path is None:
            yield lambda ident, prediction: None
            return
        results = self._open()

        def add(ident: str, prediction: dict[str, Any]) -> None:
            results.append({"key": self.key, "id": ident, "prediction": prediction})

        try:
            yield add
        finally:
            self.close()


# ----- running -------------------------------------------------------------------------------------------


def evaluate_ner(
    extractor: Extractor,
    datasets: Sequence[NERDataset],
    *,
    protocol: Protocol = "strict",
    limit: int | None = None,
    cache: str | Path | None = None,
    progress: bool = True,
) -> EvalReport:
    """Run the extractor's NER over the first ``limit`` examples of every dataset, asking all the
    dataset's types, and score them.

    ``protocol="strict"``: micro P/R/F1 over exact (start, end, type) spans. ``protocol="uniner"``: the
    UniversalNER evaluation, answer strings compared as normalized sets per example and type (gold from
    the UniversalNER file, or the gold spans' strings). ``cache`` is a folder for resumable predictions.
    """
    check_protocol(datasets, protocol)
    _check_limit(limit)
    started = time.perf_counter()
    model = extractor.ner_backend.name
    prompt = extractor.ner_prompt_id
    results: list[DatasetResult] = []
    with _progress_bar(progress) as bar:
        for d in datasets:
            t0 = time.perf_counter()
            examples = d.examples[:limit]
            options = {
                "task": "ner",
                "labels": d.labels,
                "max_new_tokens": extractor.ner_max_new_tokens,
                "max_chunk_tokens": extractor.max_chunk_tokens,
                **_typing_options(extractor),
            }
            store = PredictionCache(cache, "ner", cache_key(d.sha256, model, prompt, options))
            preds = _cached(store, [x.id for x in examples], NERPrediction)
            cached = len(preds)
            pending = [x for x in examples if x.id not in preds]
            task = bar.add_task(d.name, total=len(examples), completed=cached)
            with store.writer() as add:
                for group in _same_labels(pending):
                    texts = [x.text for x in group]
                    for x, res in zip(group, extractor.ner_many(texts, group[0].labels)):
                        pred = NERPrediction(id=x.id, entities=res.entities, stats=res.stats)
                        add(x.id, pred.model_dump())
                        preds[x.id] = pred
                        bar.advance(task)
            ordered = [preds[x.id] for x in examples]
            if protocol == "strict":
                prf = span_prf([x.entities or [] for x in examples], [p.entities for p in ordered])
            else:
                prf = uniner_prf(
                    [x.strings for x in examples], [_strings(x, p) for x, p in zip(examples, ordered)]
                )
            stats = ParseStats()
            for p in ordered:
                stats.add(p.stats)
            results.append(
                DatasetResult(
                    name=d.name,
                    path=d.path,
                    sha256=d.sha256,
                    format=d.format,
                    examples=len(examples),
                    examples_in_file=len(d.examples),
                    labels=d.labels,
                    dropped_labels=d.dropped_labels,
                    scores=Scores.of(prf),
                    parse_stats=stats,
                    computed=len(pending),
                    cached=cached,
                    seconds=time.perf_counter() - t0,
                    predictions=ordered,
                )
            )
    return EvalReport(
        task="ner",
        model=model,
        prompts=[prompt],
        options={
            "protocol": protocol,
            "limit": limit,
            "max_new_tokens": extractor.ner_max_new_tokens,
            "max_chunk_tokens": extractor.max_chunk_tokens,
            "batch_size": extractor.batch_size,
            **_typing_options(extractor),
            "catch_all_dropped": sorted({t for d in datasets for t in d.dropped_labels}),
        },
        datasets=results,
        average=average(results),
        seconds=time.perf_counter() - started,
    )


def evaluate_re(
    extractor: Extractor,
    datasets: Sequence[REDataset],
    *,
    schema: str | RelationSchema | None = None,
    method: Method = "qa4re",
    reading: Reading = "letters",
    calibrate: bool = False,
    permutations: int = 1,
    limit: int | None = None,
    cache: str | Path | None = None,
    progress: bool = True,
) -> EvalReport:
    """Classify the first ``limit`` pairs of every dataset and score them.

    ``schema`` defaults to the dataset's own (``semeval`` or ``fewrel``). Scores are micro P/R/F1 over the
    positive labels (the none label is no prediction; the QA4RE convention) and ``f1_with_none``, the
    micro-F1 with the none label counted like the others; ``top_label_share`` shows a collapsed reading.
    """
    from ieforge.tasks.relations import RelationQuery

    _check_limit(limit)
    started = time.perf_counter()
    model = extractor.backend.name
    results: list[DatasetResult] = []
    prompts: list[str] = []
    schemas: list[str] = []
    variants: list[str] = []
    check_re_labels(datasets, schema)
    tasks: list[RelationTask] = []
    for d in datasets:  # every task is built before the first pair is asked
        try:
            tasks.append(
                extractor.relation_task(
                    schema if schema is not None else d.format,
                    method,
                    reading=reading,
                    calibrate=calibrate,
                    permutations=permutations,
                )
            )
        except ValueError as exc:
            raise InputError(str(exc)) from None
    with _progress_bar(progress) as bar:
        for d, task in zip(datasets, tasks):
            t0 = time.perf_counter()
            examples = d.examples[:limit]
            options = {
                "task": "re",
                "schema": task.schema.id,
                "method": task.method,
                "variant": task.variant,
                "max_new_tokens": task.max_new_tokens,
            }
            for col, value in (
                (prompts, task.prompt.id),
                (schemas, task.schema.id),
                (variants, task.variant),
            ):
                if value not in col:
                    col.append(value)
            store = PredictionCache(cache, "re", cache_key(d.sha256, model, task.prompt.id, options))
            preds = _cached(store, [x.id for x in examples], REPrediction)
            cached = len(preds)
            pending = [x for x in examples if x.id not in preds]
            bar_task = bar.add_task(d.name, total=len(examples), completed=cached)
            queries = [RelationQuery(x.text, x.head, x.tail, x.head_type, x.tail_type) for x in pending]
            with store.writer() as add:
                for x, rel in zip(pending, task.run_many(queries)):
                    pred = REPrediction(
                        id=x.id, label=rel.label, gold=x.label, score=rel.score, answered=rel.answered
                    )
                    add(x.id, pred.model_dump())
                    preds[x.id] = pred
                    bar.advance(bar_task)
            ordered = [preds[x.id] for x in examples]
            gold = [x.label for x in examples]
            labels = [p.label for p in ordered]
            none = task.schema.none_label
            top = Counter(labels).most_common(1)
            results.append(
                DatasetResult(
                    name=d.name,
                    path=d.path,
                    sha256=d.sha256,
                    format=d.format,
                    examples=len(examples),
                    examples_in_file=len(d.examples),
                    scores=Scores.of(relation_prf(gold, labels, none)),
                    f1_with_none=relation_prf(gold, labels, none, keep_none=True).f1,
                    top_label=top[0][0] if top else None,
                    top_label_share=top[0][1] / len(labels) if top else None,
                    unanswered=sum(not p.answered for p in ordered),
                    computed=len(pending),
                    cached=cached,
                    seconds=time.perf_counter() - t0,
                    predictions=ordered,
                )
            )
    return EvalReport(
        task="re",
        model=model,
        prompts=prompts,
        options={
            "schema": schemas,
            "method": method,
            "reading": reading,
            "variant": variants,
            "calibrate": calibrate,
            "permutations": permutations,
            "limit": limit,
            "batch_size": extractor.batch_size,
        },
        datasets=results,
        average=average(results),
        seconds=time.perf_counter() - started,
    )


# ----- helpers -------------------------------------------------------------------------------------------


def _typing_options(extractor: Extractor) -> dict[str, Any]:
    """Two-stage NER's settings (nothing for single-stage NER, so earlier cache keys still hold)."""
    if extractor.typing is None:
        return {}
    options: dict[str, Any] = {
        "typing": extractor.typing,
        "proposer": extractor.proposer,
        "typing_calibrate": extractor.typing_calibrate,
    }
    # (only when set, so that earlier cache keys still hold)
    if extractor.typing_threshold is not None:
        options["typing_threshold"] = extractor.typing_threshold
    if extractor.flat:
        options["flat"] = True
    if extractor.typing_prompt is not None:
        options["typing_prompt"] = extractor.typing_prompt
    return options


def _strings(gold: GoldNER, pred: NERPrediction) -> dict[str, list[str]]:
    """The predicted answer strings per type asked (the UniversalNER protocol's prediction side)."""
    return {t: [e.text for e in pred.entities if e.label == t] for t in gold.labels}


def _same_labels(examples: list[GoldNER]) -> Iterator[list[GoldNER]]:
    """Consecutive runs of examples asked the same types (one ``ner_many`` call each)."""
    group: list[GoldNER] = []
    for x in examples:
        if group and x.labels != group[0].labels:
            yield group
            group = []
        group.append(x)
    if group:
        yield group


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress]:
    with progress_bar(enabled=enabled) as bar:
        yield bar


PredictionT = TypeVar("PredictionT", bound=BaseModel)


def _cached(store: PredictionCache, ids: list[str], model: type[PredictionT]) -> dict[str, PredictionT]:
    """The cached predictions of ``ids`` that still read as ``model`` (others are computed again)."""
    known = store.load()
    preds: dict[str, PredictionT] = {}
    for i in ids:
        if i in known:
            try:
                preds[i] = model.model_validate(known[i])
            except ValueError:
                pass
    return preds


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, not {limit}")


def _unique(items: Any) -> list[str]:
    out: list[str] = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def _labels_file(path: Path) -> list[str] | None:
    """The label list of an InstructUIE ``labels.json``, or None when there is none."""
    if not path.is_file():
        return None
    data = read_json(path, "JSON file")
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise InputError(f"{path}: expected a JSON list of entity type names")
    return _unique(data)


def _first_lines(path: Path, n: int = 20) -> list[str]:
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = head.decode("utf-8-sig", errors="replace")
    return [line for line in text.split("\n") if line.strip()][:n]


def _first_line_matches(path: Path, pattern: re.Pattern[str]) -> bool:
    lines = _first_lines(path, 1)
    return bool(lines) and pattern.match(lines[0]) is not None


def _looks_like_columns(path: Path) -> bool:
    """True when the first token lines are ``token ... TAG`` with a BIO-style tag in the last column."""
    lines = [line for line in _first_lines(path) if not line.startswith("-DOCSTART-")]
    if not lines:
        return False
    for line in lines:
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 2 or not _TAG.fullmatch(fields[-1].strip()):
            return False
    return True


def _version() -> str:
    from ieforge import __version__

    return str(__version__)
