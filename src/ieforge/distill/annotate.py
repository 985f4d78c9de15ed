"""A teacher model annotates passages with open-type entities (UniversalNER's data construction).

The teacher reads each passage and lists every entity with a type it chooses itself; the published
prompt (``uniner-teacher``) asks for ``("entity", "type")`` tuples, ieforge's ``open-json`` variant for
a JSON list of pairs started by the task. Answers are read without raising
(:func:`~ieforge.prompts.structured.parse_entity_pairs`), every entity string is grounded to all its
occurrences in the passage (strings that are not there are dropped and counted), and type names are
normalized (:func:`~ieforge.distill.annotations.normalize_type`). Passages longer than the teacher's
context are split on sentence boundaries and their answers merged.

:func:`annotate_file` writes one line per passage as soon as its batch is answered, so a run killed at
any point resumes where it stopped without losing or duplicating passages; ``shard`` splits a passage
file between machines. A passage whose generation fails is written with its ``error`` and the run goes
on. The output file follows :mod:`ieforge.resumable` (locked while annotating; a file that is not an
annotation file is refused and left unchanged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ieforge.distill.annotations import AnnotationStats, PassageAnnotation, dedupe_entities, ground_pairs
from ieforge.grounding import Chunk, chunk_text
from ieforge.models.base import Backend, Chat, Generation
from ieforge.prompts import ChatPrompt, load_chat_prompt
from ieforge.prompts.structured import parse_entity_pairs
from ieforge.resumable import ResultsFile, is_error
from ieforge.runs.jsonl import Record, is_run_record, run_jsonl
from ieforge.tasks._answers import chunk_budget

log = logging.getLogger(__name__)

DEFAULT_TEACHER_PROMPT = "uniner-teacher"


class Teacher:
    """Open-type entity annotation of passages by one model under one prompt."""

    def __init__(
        self,
        backend: Backend,
        *,
        prompt: str | ChatPrompt = DEFAULT_TEACHER_PROMPT,
        max_new_tokens: int = 384,
        batch_size: int = 8,
        max_chunk_tokens: int | None = None,
    ) -> None:
        self.backend = backend
        self.prompt = prompt if isinstance(prompt, ChatPrompt) else load_chat_prompt("annotate", prompt)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        skeleton = self.prompt.chat(text="")
        self.max_chunk_tokens = chunk_budget(backend, skeleton, max_new_tokens, max_chunk_tokens)

    def annotate(self, texts: Sequence[str], ids: Sequence[str] | None = None) -> list[PassageAnnotation]:
        """Annotate ``texts`` (ids default to their positions)."""
        ids = list(ids) if ids is not None else [str(i) for i in range(len(texts))]
        return list(self.annotate_iter(list(zip(ids, texts))))

    def annotate_iter(self, passages: Sequence[tuple[str, str]]) -> Iterator[PassageAnnotation]:
        """Annotations of ``(id, text)`` passages in order, ``batch_size`` passages per generation batch."""
        for b in range(0, len(passages), self.batch_size):
            group = passages[b : b + self.batch_size]
            chunks = [chunk_text(text, self.max_chunk_tokens, self.backend.count_tokens) for _, text in group]
            chats = [self.prompt.chat(text=c.text) for cs in chunks for c in cs]
            gens, errors = self._generate(chats)
            k = 0
            for (pid, text), cs in zip(group, chunks):
                mine = list(zip(cs, gens[k : k + len(cs)], errors[k : k + len(cs)]))
                k += len(cs)
                yield self._collect(pid, text, mine)

    def _generate(self, chats: list[Chat]) -> tuple[list[Generation | None], list[str | None]]:
        """Answers for ``chats``; when the batch fails, each chat alone, so one bad passage costs only
        itself."""
        try:
            return list(self._run(chats)), [None] * len(chats)
        except Exception as exc:
            if len(chats) == 1:
                return [None], [f"{type(exc).__name__}: {exc}"]
            log.warning("a teacher batch failed (%s); answering its passages one by one", exc)
        gens: list[Generation | None] = []
        errors: list[str | None] = []
        for chat in chats:
            g, e = self._generate([chat])
            gens += g
            errors += e
        return gens, errors

    def _run(self, chats: list[Chat]) -> list[Generation]:
        return self.backend.generate(
            chats,
            max_new_tokens=self.max_new_tokens,
            assistant_prefix=self.prompt.assistant_prefix,
            stop=self.prompt.stop,
            batch_size=self.batch_size,
        )

    def _collect(
        self, pid: str, text: str, answers: list[tuple[Chunk, Generation | None, str | None]]
    ) -> PassageAnnotation:
        stats = AnnotationStats()
        entities = []
        failures = [e for _, _, e in answers if e is not None]
        for chunk, gen, _ in answers:
            if gen is None:
                continue
            parsed = parse_entity_pairs(gen.text)
            if not parsed.ok:
                stats.unparsed += 1
                continue
            pairs = [(parts[0].value, parts[1].value) for parts in parsed.items if len(parts) >= 2]
            entities += ground_pairs(chunk.text, pairs, stats, offset=chunk.start)
        return PassageAnnotation(
            id=pid,
            text=text,
            entities=dedupe_entities(entities),
            complete=not failures,
            teacher=self.backend.name,
            prompt=self.prompt.id,
            stats=stats,
            error=failures[0] if failures else None,
        )


def annotate_file(
    teacher: Teacher,
    passages: str | Path,
    out: str | Path,
    *,
    shard: tuple[int, int] | None = None,
    retry_errors: bool = False,
    on_start: Callable[[int, int], None] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Annotate a passage JSONL (``{"id", "text"}`` lines) into ``out``, appending and resuming (a
    :class:`~ieforge.resumable.ResultsFile`: locked for the call, refused when it is not an annotation
    file).

    With ``retry_errors`` the passages written with an ``error`` by an earlier run are taken out of
    ``out`` first and annotated again. Returns counts: passages written now and found done, entities,
    dropped strings, unparsed answers, passages with errors and passages retried."""
    counts = {
        "written": 0,
        "already_done": 0,
        "entities": 0,
        "pairs": 0,
        "ungrounded": 0,
        "bad_type": 0,
        "unparsed": 0,
        "errors": 0,
        "retried": 0,
    }

    def started(pending: int, done: int) -> None:
        counts["already_done"] = done
        if on_start is not None:
            on_start(pending, done)

    def process(records: list[Record]) -> Iterator[Record]:
        for ann in teacher.annotate_iter([(str(r["id"]), r["text"]) for r in records]):
            counts["entities"] += len(ann.entities)
            for key in ("pairs", "ungrounded", "bad_type", "unparsed"):
                counts[key] += getattr(ann.stats, key)
            if ann.error is not None:
                counts["errors"] += 1
                log.warning("passage %s: %s", ann.id, ann.error)
            if on_done is not None:
                on_done(1)
            yield ann.model_dump()

    with ResultsFile(out, what="passage annotation", shape=is_run_record, source=passages) as results:
        if retry_errors:
            counts["retried"] = results.drop(is_error)
        counts["written"] = run_jsonl(passages, results, process, on_start=started, shard=shard)
    return counts
