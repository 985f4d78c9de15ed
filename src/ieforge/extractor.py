"""The library's front door: :class:`Extractor` holds a model and runs IE tasks on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from ieforge.errors import InputError
from ieforge.grounding import find_mentions
from ieforge.models import DEFAULT_MODEL, DEFAULT_NER_MODEL, Backend, load_model, model_defaults
from ieforge.models.catalogue import ModelDefaults
from ieforge.schemas.events import EventSchema, load_event_schema
from ieforge.schemas.relations import RelationSchema
from ieforge.tasks._answers import ChunkProgress
from ieforge.tasks.entity_typing import TypingReading
from ieforge.tasks.events import ARGUMENT_TOKENS, TRIGGER_TOKENS, Detection, EventTask
from ieforge.tasks.ner import DEFAULT_BATCH_SIZE as NER_BATCH_SIZE
from ieforge.tasks.ner import DEFAULT_MAX_NEW_TOKENS, DEFAULT_PROMPT, NERTask, Proposer
from ieforge.tasks.ondemand import DEFAULT_MAX_NEW_TOKENS as TABLE_TOKENS
from ieforge.tasks.ondemand import TableTask, clean_headers
from ieforge.tasks.openie import DEFAULT_MAX_NEW_TOKENS as OPENIE_TOKENS
from ieforge.tasks.openie import OpenIETask
from ieforge.tasks.relations import Method, Reading, RelationQuery, RelationTask, check_relation_options
from ieforge.types import (
    Entity,
    Event,
    EventResult,
    Mention,
    NERResult,
    OpenTriple,
    Relation,
    TableResult,
    TriplesResult,
)

# questions (or pairs, texts) run together by the tasks other than NER
TASK_BATCH_SIZE = 16

Argument = str | tuple[int, int] | Mention | None


class Extractor:
    """Information extraction with one language model.

    >>> ex = Extractor()  # doctest: +SKIP
    >>> ex.entities("Barack Obama was born in Honolulu.", labels=["person", "location"])  # doctest: +SKIP
    [Entity(start=0, end=12, text='Barack Obama', label='person', score=0.97), ...]

    ``model`` is a catalogue name (``ieforge models``), a GGUF file, a model directory, a hub id, or an
    already loaded :class:`~ieforge.models.Backend`; ``openai:NAME`` is model NAME on the OpenAI-compatible
    server at ``base_url``. Loading happens on first use. Without a model, every task runs on the
    default model (Qwen2.5-Coder-0.5B-Instruct), NER in two stages as its catalogue entry records.
    ``max_new_tokens`` bounds every answer; left as None, each task uses its own default (entities and
    event triggers 64, event arguments 160, open IE and tables 256 tokens). ``batch_size`` is the number
    of questions run together; left as None, entity questions go 64 at a time (the questions about several
    texts share a batch) and the other tasks' 16.

    ``typing`` (``mc``, ``verify`` or ``cloze``) makes NER two-stage: the answers only propose spans and
    each span's type is decided by scoring; ``proposer`` (``types`` or ``all``), ``typing_calibrate``,
    ``typing_threshold``, ``flat`` and ``typing_prompt`` (a typing prompt of the reading) tune it (see
    :class:`~ieforge.tasks.ner.NERTask`);
    ``typing="off"`` is single-stage NER. Left as None, ``prompt`` and the typing options are what the
    model records (its catalogue entry, or a shipped or trained adapter's ``ieforge-defaults.json``),
    else ``uniner-json`` and single-stage NER.
    """

    def __init__(
        self,
        model: str | Backend | None = None,
        *,
        prompt: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | None = None,
        max_new_tokens: int | None = None,
        max_chunk_tokens: int | None = None,
        base_url: str | None = None,
        typing: TypingReading | Literal["off"] | None = None,
        proposer: Proposer = "types",
        typing_calibrate: bool | None = None,
        typing_threshold: float | None = None,
        flat: bool | None = None,
        typing_prompt: str | None = None,
    ) -> None:
        self._model_spec = model
        self.base_url = base_url
        self._backend: Backend | None = model if isinstance(model, Backend) else None
        # a model may record the prompt it was trained with and the typing it was measured best with
        recommended = model_defaults(model.name if isinstance(model, Backend) else model or DEFAULT_NER_MODEL)
        self.prompt = prompt or recommended.ner_prompt or DEFAULT_PROMPT
        chosen = typing if typing is not None else recommended.typing
        self.typing: TypingReading | None = None if chosen in (None, "off") else chosen  # type: ignore[assignment]
        if chosen != recommended.typing:  # the recorded typing options belong to the recorded reading
            recommended = ModelDefaults(ner_prompt=recommended.ner_prompt)
        self.typing_calibrate = (
            typing_calibrate if typing_calibrate is not None else recommended.typing_calibrate
        )
        self.typing_threshold = (
            typing_threshold if typing_threshold is not None else recommended.typing_threshold
        )
        self.typing_prompt = typing_prompt or recommended.typing_prompt
        if flat and self.typing is None:
            raise InputError("flat needs two-stage NER: give a typing reading (mc, verify or cloze)")
        self.flat = (flat if flat is not None else recommended.flat) and self.typing is not None
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.max_chunk_tokens = max_chunk_tokens
        self.proposer = proposer
        self._ner_backend: Backend | None = None
        self._ner: NERTask | None = None
        self._re: dict[tuple[object, ...], RelationTask] = {}
        self._events: dict[tuple[object, ...], EventTask] = {}
        self._openie: OpenIETask | None = None
        self._table: TableTask | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            spec = self._model_spec if isinstance(self._model_spec, str) else None
            self._backend = load_model(spec, device=self.device, dtype=self.dtype, base_url=self.base_url)
        return self._backend

    @property
    def ner_backend(self) -> Backend:
        """The model NER runs on: the model given, or, when none was given, the default NER model
        (:data:`~ieforge.models.DEFAULT_NER_MODEL`; when it differs from the default model of the other
        tasks, each is loaded on first use)."""
        if self._model_spec is not None or DEFAULT_NER_MODEL == DEFAULT_MODEL:
            return self.backend
        if self._ner_backend is None:
            self._ner_backend = load_model(DEFAULT_NER_MODEL, device=self.device, dtype=self.dtype)
        return self._ner_backend

    def _model_name(self, *, ner: bool = False) -> str:
        """The name of the model a task runs on, without loading it (results of empty texts carry it)."""
        if ner and self._model_spec is None and DEFAULT_NER_MODEL != DEFAULT_MODEL:
            return self._ner_backend.name if self._ner_backend is not None else DEFAULT_NER_MODEL
        if self._backend is not None:
            return self._backend.name
        return self._model_spec if isinstance(self._model_spec, str) else DEFAULT_MODEL

    @property
    def ner_max_new_tokens(self) -> int:
        """The answer-length limit of each entity question."""
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS

    def _ner_task(self) -> NERTask:
        if self._ner is None:
            self._ner = NERTask(
                self.ner_backend,
                prompt=self.prompt,
                max_new_tokens=self.ner_max_new_tokens,
                batch_size=self.batch_size or NER_BATCH_SIZE,
                max_chunk_tokens=self.max_chunk_tokens,
                typing=self.typing,
                proposer=self.proposer,
                typing_calibrate=self.typing_calibrate,
                typing_threshold=self.typing_threshold,
                flat=self.flat,
                typing_prompt=self.typing_prompt,
            )
        return self._ner

    @property
    def ner_prompt_id(self) -> str:
        """The prompt versions NER results record (two-stage NER names both stages)."""
        return self._ner_task().prompt_id

    def ner(self, text: str, labels: Sequence[str]) -> NERResult:
        """Entities of the given types in ``text`` with parse statistics, model and prompt version (an
        empty or whitespace-only text has none: no model is loaded or asked)."""
        if is_blank(text):
            return NERResult(text=text, labels=_labels(labels), entities=[], model=self._model_name(ner=True))
        return self._ner_task().run(text, labels)

    def entities(self, text: str, labels: Sequence[str]) -> list[Entity]:
        """Entities of the given types in ``text``, each with ``text[e.start:e.end] == e.text``."""
        return self.ner(text, labels).entities

    def ner_many(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        on_done: Callable[[int], None] | None = None,
        on_chunk: ChunkProgress | None = None,
    ) -> Iterator[NERResult]:
        """One :class:`NERResult` per text, in order, computed lazily. ``on_chunk(text, done, total)``
        hears of each chunk of a text as it is answered (progress inside a long text)."""
        return self._ner_task().run_many(texts, labels, on_done=on_done, on_chunk=on_chunk)

    # ----- relations -------------------------------------------------------------------------------

    def relation_task(
        self,
        schema: str | RelationSchema = "semeval",
        method: Method = "qa4re",
        *,
        prompt: str | None = None,
        reading: Reading = "letters",
        calibrate: bool = False,
        demonstrations: Sequence[tuple[RelationQuery, str]] = (),
        permutations: int = 1,
    ) -> RelationTask:
        """The (cached) relation task for a schema, method and reading on this extractor's model (see
        :class:`RelationTask` for ``calibrate``, ``demonstrations`` and ``permutations``)."""
        key = (
            schema if isinstance(schema, str) else schema.id,
            method,
            prompt,
            reading,
            calibrate,
            permutations,
            tuple(
                (q.text, q.head.start, q.tail.start, q.head_type, q.tail_type, y) for q, y in demonstrations
            ),
        )
        if key not in self._re:
            check_relation_options(method, reading, permutations)  # before the model loads
            self._re[key] = RelationTask(
                self.backend,
                schema=schema,
                method=method,
                prompt=prompt,
                reading=reading,
                batch_size=self.batch_size or TASK_BATCH_SIZE,
                calibrate=calibrate,
                demonstrations=demonstrations,
                permutations=permutations,
            )
        return self._re[key]

    def relations(
        self,
        text: str,
        head: Argument = None,
        tail: Argument = None,
        *,
        schema: str | RelationSchema = "semeval",
        method: Method = "qa4re",
        head_type: str | None = None,
        tail_type: str | None = None,
        prompt: str | None = None,
        reading: Reading = "letters",
        calibrate: bool = False,
        permutations: int = 1,
    ) -> Relation:
        """The relation between ``head`` (subject) and ``tail`` (object) in ``text``.

        ``head``/``tail`` are strings found in the text (first occurrence), (start, end) offsets, or
        :class:`Mention` objects; or leave both out and mark them in the text as ``<e1>..</e1>`` and
        ``<e2>..</e2>`` (SemEval style). ``method="vanilla"`` runs the RE-instruction baseline;
        ``reading="verify"`` asks one yes/no question per option; ``calibrate`` removes the model's
        content-free preference among the options; ``permutations=K`` averages over K rotations of the
        option order.
        """
        query = make_query(text, head, tail, head_type, tail_type)
        task = self.relation_task(
            schema, method, prompt=prompt, reading=reading, calibrate=calibrate, permutations=permutations
        )
        return task.run(query)

    def extract_relations(
        self,
        text: str,
        *,
        schema: str | RelationSchema = "tacred",
        entity_types: Sequence[str] | None = None,
        method: Method = "qa4re",
        reading: Reading = "letters",
        calibrate: bool = False,
        permutations: int = 1,
        max_pairs: int | None = None,
        entities: Sequence[tuple[Argument, str]] | None = None,
    ) -> list[Relation]:
        """End-to-end relation extraction: find entities of the schema's types with NER, then classify every
        ordered pair of non-overlapping entities whose types the schema's constraints allow.

        ``max_pairs`` refuses (:class:`InputError`) a text whose entities make more pairs than that,
        before any pair is classified (a service's bound on the work one request may ask for).

        An empty or whitespace-only text has no relations (no model is loaded or asked).
        ``entity_types`` overrides the types (needed for schemas without type constraints). ``entities``
        skips NER: ``(mention, type)`` pairs, each mention a string found in the text (first occurrence),
        (start, end) offsets or a :class:`Mention`. Pairs read as the none label are left out of the result.
        """
        if is_blank(text):
            check_relation_options(method, reading, permutations)
            return []
        task = self.relation_task(
            schema, method, reading=reading, calibrate=calibrate, permutations=permutations
        )
        found: list[tuple[Mention, str]]
        if entities is not None:
            if entity_types is not None:
                raise InputError("give entity_types (for NER to find) or entities (found already), not both")
            found = [(_mention(text, m, f"entity {n}"), t) for n, (m, t) in enumerate(entities, 1)]
        else:
            types = list(entity_types) if entity_types is not None else entity_types_of(task.schema)
            if not types:
                raise InputError(
                    f"schema '{task.schema.name}' names no entity types; pass entity_types=[...] for its "
                    "entities"
                )
            by_label = {type_to_label(t): t for t in types}
            found = [
                (Mention(start=e.start, end=e.end, text=e.text), by_label[e.label])
                for e in self.ner(text, list(by_label)).entities
            ]
        queries: list[RelationQuery] = []
        for h, ht in found:
            for t, tt in found:
                apart = h.end <= t.start or t.end <= h.start  # distinct, non-overlapping mentions
                if apart and task.schema.allowed_labels(ht, tt):
                    queries.append(RelationQuery(text, h, t, ht, tt))
        if max_pairs is not None and len(queries) > max_pairs:
            raise InputError(
                f"{len(found)} entities make {len(queries)} pairs to classify, more than the {max_pairs} "
                f"allowed; send {'fewer entities' if entities is not None else 'a shorter text'}"
            )
        best: dict[tuple[int, int, int, int], Relation] = {}
        for r in task.run_many(queries):
            # a mention typed two ways is asked about twice: keep the more confident reading
            key = (r.head.start, r.head.end, r.tail.start, r.tail.end)
            if r.label != task.schema.none_label and (
                key not in best or (r.score or 0) > (best[key].score or 0)
            ):
                best[key] = r
        return sorted(best.values(), key=lambda r: (r.head.start, r.tail.start))

    # ----- events, open IE, on-demand tables ---------------------------------------------------------------

    def event_task(self, schema: str | EventSchema = "casie", *, detection: Detection = "auto") -> EventTask:
        """The (cached) event task for a schema (``casie``, ``rams``, ``ace05`` or a YAML file)."""
        key = (schema if isinstance(schema, str) else schema.id, detection)
        if key not in self._events:
            self._events[key] = EventTask(
                self.backend,
                schema,
                detection=detection,
                batch_size=self.batch_size or TASK_BATCH_SIZE,
                max_chunk_tokens=self.max_chunk_tokens,
                max_new_tokens=self.max_new_tokens or TRIGGER_TOKENS,
                argument_max_new_tokens=self.max_new_tokens or ARGUMENT_TOKENS,
            )
        return self._events[key]

    def event_result(
        self, text: str, *, schema: str | EventSchema = "casie", detection: Detection = "auto"
    ) -> EventResult:
        """Events of the schema's types in ``text`` with parse statistics, model and prompt versions (an
        empty or whitespace-only text has none: no model is loaded or asked)."""
        if is_blank(text):
            loaded = schema if isinstance(schema, EventSchema) else load_event_schema(schema)
            return EventResult(text=text, schema_name=loaded.id, events=[], model=self._model_name())
        return self.event_task(schema, detection=detection).run(text)

    def events(
        self, text: str, *, schema: str | EventSchema = "casie", detection: Detection = "auto"
    ) -> list[Event]:
        """Events of the schema's types in ``text``: each trigger (span + type) with its arguments
        (span + role), every span grounded to offsets in ``text``."""
        return self.event_result(text, schema=schema, detection=detection).events

    def events_many(
        self,
        texts: Sequence[str],
        *,
        schema: str | EventSchema = "casie",
        detection: Detection = "auto",
        on_done: Callable[[int], None] | None = None,
        on_chunk: ChunkProgress | None = None,
    ) -> Iterator[EventResult]:
        """One :class:`EventResult` per text, in order, computed lazily (``on_chunk``: as in
        :meth:`ner_many`, for the trigger questions)."""
        return self.event_task(schema, detection=detection).run_many(
            texts, on_done=on_done, on_chunk=on_chunk
        )

    def _openie_task(self) -> OpenIETask:
        if self._openie is None:
            self._openie = OpenIETask(
                self.backend,
                batch_size=self.batch_size or TASK_BATCH_SIZE,
                max_chunk_tokens=self.max_chunk_tokens,
                max_new_tokens=self.max_new_tokens or OPENIE_TOKENS,
            )
        return self._openie

    def triples_result(self, text: str) -> TriplesResult:
        """Open IE triples of ``text`` with parse statistics, model and prompt version (an empty or
        whitespace-only text has none: no model is loaded or asked)."""
        if is_blank(text):
            return TriplesResult(text=text, triples=[], model=self._model_name())
        return self._openie_task().run(text)

    def triples(self, text: str) -> list[OpenTriple]:
        """Every fact ``text`` states as (subject, relation, object[, more]); each part that occurs in the
        text carries its offsets."""
        return self.triples_result(text).triples

    def triples_many(
        self,
        texts: Sequence[str],
        *,
        on_done: Callable[[int], None] | None = None,
        on_chunk: ChunkProgress | None = None,
    ) -> Iterator[TriplesResult]:
        """One :class:`TriplesResult` per text, in order, computed lazily (``on_chunk``: as in
        :meth:`ner_many`)."""
        return self._openie_task().run_many(texts, on_done=on_done, on_chunk=on_chunk)

    def _table_task(self) -> TableTask:
        if self._table is None:
            self._table = TableTask(
                self.backend,
                batch_size=self.batch_size or TASK_BATCH_SIZE,
                max_chunk_tokens=self.max_chunk_tokens,
                max_new_tokens=self.max_new_tokens or TABLE_TOKENS,
            )
        return self._table

    def table(self, text: str, *, instruction: str, headers: Sequence[str]) -> TableResult:
        """The table ``instruction`` asks for, with the given column ``headers``, filled from ``text``
        (``.records()`` for plain rows, ``.to_csv()`` for CSV); copied cells carry their offsets. An
        empty or whitespace-only text gives a table without rows (no model is loaded or asked)."""
        if is_blank(text):
            if not instruction.strip():
                raise InputError("empty instruction")
            return TableResult(
                text=text,
                instruction=instruction,
                headers=clean_headers(headers),
                rows=[],
                model=self._model_name(),
            )
        return self._table_task().run(text, instruction, headers)

    def tables_many(
        self,
        texts: Sequence[str],
        *,
        instruction: str | Sequence[str],
        headers: Sequence[str] | Sequence[Sequence[str]],
        on_done: Callable[[int], None] | None = None,
        on_chunk: ChunkProgress | None = None,
    ) -> Iterator[TableResult]:
        """One :class:`TableResult` per text; one instruction and header list for all texts, or one each
        (``on_chunk``: as in :meth:`ner_many`)."""
        n = len(texts)
        instructions = [instruction] * n if isinstance(instruction, str) else list(instruction)
        if headers and all(isinstance(h, str) for h in headers):
            header_lists = [[str(h) for h in headers]] * n
        else:
            header_lists = [list(h) for h in headers]
        return self._table_task().run_many(
            texts, instructions, header_lists, on_done=on_done, on_chunk=on_chunk
        )


def is_blank(text: str) -> bool:
    """An empty or whitespace-only text: nothing to extract, nothing to ask a model."""
    return not text.strip()


def _labels(labels: Sequence[str]) -> list[str]:
    out = [label.strip() for label in labels if label.strip()]
    if not out:
        raise InputError("at least one entity label is required")
    return list(dict.fromkeys(out))


def entity_types_of(schema: RelationSchema) -> list[str]:
    """The entity types a schema's constraints mention, in first-seen order (SUBJ then OBJ)."""
    seen: list[str] = []
    for pair in schema.constraints or {}:
        for t in pair.split(":"):
            if t.strip() and t.strip() not in seen:
                seen.append(t.strip())
    return seen


def type_to_label(entity_type: str) -> str:
    """A schema entity type as an NER question word: STATE_OR_PROVINCE -> "state or province"."""
    return entity_type.replace("_", " ").lower()


def make_query(
    text: str, head: Argument, tail: Argument, head_type: str | None = None, tail_type: str | None = None
) -> RelationQuery:
    """A :class:`RelationQuery` from any of the accepted argument forms (see :meth:`Extractor.relations`)."""
    if head is None and tail is None:
        if "<e1>" not in text or "<e2>" not in text:
            raise InputError("give head and tail, or mark them in the text as <e1>..</e1> and <e2>..</e2>")
        from ieforge.data.semeval import parse_entity_markup

        plain, h, t = parse_entity_markup(text)
        return RelationQuery(plain, h, t, head_type, tail_type)
    if head is None or tail is None:
        raise InputError("give both head and tail")
    return RelationQuery(
        text, _mention(text, head, "head"), _mention(text, tail, "tail"), head_type, tail_type
    )


def _mention(text: str, arg: Argument, role: str) -> Mention:
    if isinstance(arg, Mention):
        m = arg
    elif isinstance(arg, tuple):
        start, end = arg
        m = Mention(start=start, end=end, text=text[start:end])
    else:
        found = find_mentions(text, str(arg))
        if not found:
            raise InputError(f"{role} {arg!r} does not occur in the text")
        start, end = found[0]
        m = Mention(start=start, end=end, text=text[start:end])
    if not (0 <= m.start < m.end <= len(text)) or text[m.start : m.end] != m.text:
        raise InputError(f"{role} offsets {m.start}:{m.end} do not fit the text")
    return m
