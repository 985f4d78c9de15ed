"""Event extraction in two steps, as ADELIE splits it: trigger detection, then argument extraction.

1. **Triggers.** Either one question per event type ("which words report an event of type X?",
   answered with a list of strings, like UniversalNER's entity questions), or, for large inventories,
   one question listing every type, answered with ``[trigger, type]`` pairs. Every trigger string is
   located in the text (all its occurrences, as entity answers are).
2. **Arguments.** One question per trigger: the event's type, its trigger and the sentence around it,
   and the roles of the type; the answer is a JSON object of role -> strings. Each argument string is
   located in the text at its occurrence nearest to the trigger.

Long texts are cut into chunks (sentence boundaries, one sentence of overlap); an event is asked
about within the chunk where its trigger was found. Model output is never trusted: answers that cannot
be read, strings not in the text, and types or roles outside the schema are dropped and counted in
:class:`~ieforge.types.ParseStats`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ieforge.grounding import Chunk, find_mentions
from ieforge.models.base import Backend, Chat, Generation
from ieforge.prompts import ChatPrompt
from ieforge.prompts.parsers import parse_string_list
from ieforge.prompts.structured import parse_role_map, parse_tuple_list
from ieforge.schemas.events import EventSchema, EventType, load_event_schema
from ieforge.tasks._answers import (
    ChunkProgress,
    answer_score,
    chunk_budget,
    chunk_counter,
    chunker,
    distinct_items,
    generate_answers,
    ground_in_chunk,
    sentence_around,
    task_prompt,
)
from ieforge.types import Event, EventArgument, EventResult, Mention, ParseStats

Detection = Literal["auto", "per-type", "joint"]
DEFAULT_TRIGGER_PROMPT = "triggers"
DEFAULT_JOINT_PROMPT = "triggers-joint"
DEFAULT_ARGUMENT_PROMPT = "arguments"
TRIGGER_TOKENS = 64
ARGUMENT_TOKENS = 160
MAX_PER_TYPE = 12
MAX_TRIGGER_WORDS = 6
"""``detection="auto"`` asks one question per type up to this many types, one joint question beyond"""


@dataclass
class _Trigger:
    type: str
    start: int
    end: int
    text: str
    score: float | None
    chunk: Chunk


def _norm(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


class EventTask:
    """Find events of a schema's types in texts: triggers, then the arguments of each trigger.

    ``detection`` chooses how triggers are found: ``"per-type"`` (one question per event type),
    ``"joint"`` (one question listing all types) or ``"auto"`` (per-type up to
    :data:`MAX_PER_TYPE` types). :meth:`arguments_many` skips detection and extracts the arguments of
    given triggers (the RAMS setting).

    A trigger is a word or a short phrase: answers longer than ``max_trigger_words`` words (whole
    sentences, which small models give) are dropped and counted as ``stats.rejected``; None keeps them.
    In CASIE, 99.7% of the gold triggers have at most 5 words and none more than 7; RAMS's have 1 or 2.
    """

    def __init__(
        self,
        backend: Backend,
        schema: str | EventSchema = "casie",
        *,
        detection: Detection = "auto",
        trigger_prompt: str | ChatPrompt | None = None,
        argument_prompt: str | ChatPrompt = DEFAULT_ARGUMENT_PROMPT,
        max_new_tokens: int = TRIGGER_TOKENS,
        argument_max_new_tokens: int = ARGUMENT_TOKENS,
        batch_size: int = 8,
        max_chunk_tokens: int | None = None,
        max_trigger_words: int | None = MAX_TRIGGER_WORDS,
    ) -> None:
        self.backend = backend
        self.max_trigger_words = max_trigger_words
        self.schema = schema if isinstance(schema, EventSchema) else load_event_schema(schema)
        if detection == "auto":
            detection = "per-type" if len(self.schema.types) <= MAX_PER_TYPE else "joint"
        if detection not in ("per-type", "joint"):
            raise ValueError(f"detection must be auto, per-type or joint, not {detection!r}")
        self.detection = detection
        default = DEFAULT_TRIGGER_PROMPT if detection == "per-type" else DEFAULT_JOINT_PROMPT
        expected = "string_list" if detection == "per-type" else "tuple_list"
        self.trigger_prompt = task_prompt(trigger_prompt or default, "events", [expected])
        self.argument_prompt = task_prompt(argument_prompt, "events", ["role_map"])
        self.max_new_tokens = max_new_tokens
        self.argument_max_new_tokens = argument_max_new_tokens
        self.batch_size = batch_size
        widest = max(self.schema.types, key=lambda t: len(self._roles_block(t)))
        skeleton = self.argument_prompt.chat(
            text="",
            event=self._event_name(widest),
            trigger="x" * 20,
            sentence="x" * 200,
            roles=self._roles_block(widest),
        )
        if self.detection == "joint":
            skeleton += self.trigger_prompt.chat(text="", types=self._types_block())
        self._chunks = chunker(
            backend,
            chunk_budget(backend, skeleton, max(max_new_tokens, argument_max_new_tokens), max_chunk_tokens),
        )

    @property
    def prompt_id(self) -> str:
        return f"{self.trigger_prompt.id}+{self.argument_prompt.id}"

    # ----- rendering ---------------------------------------------------------------------------------

    @staticmethod
    def _event_name(event_type: EventType) -> str:
        return f"{event_type.name} ({event_type.description})" if event_type.description else event_type.name

    def _types_block(self) -> str:
        return "\n".join(
            f"- {t.name}: {t.description}" if t.description else f"- {t.name}" for t in self.schema.types
        )

    @staticmethod
    def _roles_block(event_type: EventType) -> str:
        lines = []
        for role in event_type.roles:
            desc = event_type.role_descriptions.get(role, "")
            lines.append(f"- {role}: {desc}" if desc else f"- {role}")
        return "\n".join(lines)

    # ----- running ------------------------------------------------------------------------------------

    def run(self, text: str) -> EventResult:
        return next(self.run_many([text]))

    def run_many(
        self,
        texts: Sequence[str],
        *,
        on_done: Callable[[int], None] | None = None,
        on_chunk: ChunkProgress | None = None,
    ) -> Iterator[EventResult]:
        """Yield one result per text, in order: triggers, then the arguments of every trigger.
        ``on_chunk`` hears of each chunk as its trigger questions are answered (see
        :data:`ChunkProgress`)."""
        for i, text in enumerate(texts):
            stats = ParseStats()
            triggers = self._detect(text, stats, on_chunk, i)
            events = self._arguments(text, triggers, stats)
            yield self._result(text, events, stats)
            if on_done is not None:
                on_done(1)

    def arguments_many(
        self,
        texts: Sequence[str],
        triggers: Sequence[Sequence[tuple[Mention, str]]],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> Iterator[EventResult]:
        """Yield one result per text with the arguments of the given ``(trigger, event type)`` pairs."""
        if len(texts) != len(triggers):
            raise ValueError(f"{len(texts)} texts but {len(triggers)} trigger lists")
        for text, given in zip(texts, triggers):
            stats = ParseStats()
            chunks = self._chunks(text)
            found: list[_Trigger] = []
            for mention, kind in given:
                self.schema.type(kind)  # an unknown type is the caller's mistake: say so
                if text[mention.start : mention.end] != mention.text:
                    raise ValueError(f"trigger {mention.text!r} is not at {mention.start}:{mention.end}")
                chunk = next(
                    (c for c in chunks if c.start <= mention.start and mention.end <= c.end), chunks[0]
                )
                found.append(_Trigger(kind, mention.start, mention.end, mention.text, None, chunk))
            yield self._result(text, self._arguments(text, found, stats), stats)
            if on_done is not None:
                on_done(1)

    def _result(self, text: str, events: list[Event], stats: ParseStats) -> EventResult:
        return EventResult(
            text=text,
            schema_name=self.schema.id,
            events=events,
            stats=stats,
            model=self.backend.name,
            prompt=self.prompt_id,
        )

    def _generate(
        self,
        chats: list[Chat],
        prompt: ChatPrompt,
        max_new_tokens: int,
        on_answer: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        return generate_answers(self.backend, prompt, chats, max_new_tokens, self.batch_size, on_answer)

    def _detect(
        self, text: str, stats: ParseStats, on_chunk: ChunkProgress | None = None, index: int = 0
    ) -> list[_Trigger]:
        """The triggers of ``text``; ``on_chunk`` hears of its chunks as text number ``index``."""
        chunks = self._chunks(text)
        best: dict[tuple[int, int, str], _Trigger] = {}

        def keep(t: _Trigger) -> None:
            key = (t.start, t.end, t.type)
            if key not in best or (t.score or 0.0) > (best[key].score or 0.0):
                best[key] = t

        if self.detection == "per-type":
            asked = [(chunk, t) for chunk in chunks for t in self.schema.types]
            chats = [self.trigger_prompt.chat(text=c.text, event=self._event_name(t)) for c, t in asked]
            counter = chunk_counter([(index, c.start) for c, _ in asked], on_chunk)
            for (chunk, t), gen in zip(
                asked, self._generate(chats, self.trigger_prompt, self.max_new_tokens, counter)
            ):
                stats.answers += 1
                parsed = parse_string_list(gen.text)
                if not parsed.ok:
                    stats.unparsed += 1
                    continue
                for item in distinct_items(parsed.items):
                    for t_ in self._ground_trigger(chunk, item.value, t.name, answer_score(gen, item), stats):
                        keep(t_)
        else:
            types = self._types_block()
            chats = [self.trigger_prompt.chat(text=c.text, types=types) for c in chunks]
            counter = chunk_counter([(index, c.start) for c in chunks], on_chunk)
            for chunk, gen in zip(
                chunks, self._generate(chats, self.trigger_prompt, self.max_new_tokens * 2, counter)
            ):
                stats.answers += 1
                tuples = parse_tuple_list(gen.text)
                if not tuples.ok:
                    stats.unparsed += 1
                    continue
                for parts in tuples.items:
                    if len(parts) < 2 or not parts[0].value.strip():
                        continue
                    kind = type_named(self.schema, parts[1].value)
                    if kind is None:
                        stats.unknown += 1
                        continue
                    score = answer_score(gen, parts[0])
                    for t_ in self._ground_trigger(chunk, parts[0].value, kind, score, stats):
                        keep(t_)
        return sorted(best.values(), key=lambda t: (t.start, t.end, t.type))

    def _ground_trigger(
        self, chunk: Chunk, value: str, kind: str, score: float | None, stats: ParseStats
    ) -> list[_Trigger]:
        stats.strings += 1
        if self.max_trigger_words is not None and len(value.split()) > self.max_trigger_words:
            stats.rejected += 1
            return []
        found = find_mentions(chunk.text, value)
        if not found:
            stats.ungrounded += 1
        return [
            _Trigger(kind, chunk.start + s, chunk.start + e, chunk.text[s:e], score, chunk) for s, e in found
        ]

    def _arguments(self, text: str, triggers: list[_Trigger], stats: ParseStats) -> list[Event]:
        asked = [t for t in triggers if self.schema.type(t.type).roles]
        chats = [
            self.argument_prompt.chat(
                text=t.chunk.text,
                event=self._event_name(self.schema.type(t.type)),
                trigger=t.text,
                sentence=sentence_around(t.chunk, t.start, t.end),
                roles=self._roles_block(self.schema.type(t.type)),
            )
            for t in asked
        ]
        gens = dict(
            zip(
                (id(t) for t in asked),
                self._generate(chats, self.argument_prompt, self.argument_max_new_tokens),
            )
        )
        events: list[Event] = []
        for t in triggers:
            arguments: list[EventArgument] = []
            gen = gens.get(id(t))
            if gen is not None:
                roles = self.schema.type(t.type).roles
                arguments = read_arguments(gen, t.chunk, (t.start, t.end), roles, stats)
            events.append(
                Event(
                    type=t.type,
                    trigger=Mention(start=t.start, end=t.end, text=t.text),
                    arguments=arguments,
                    score=t.score,
                )
            )
        return events


def type_named(schema: EventSchema, answer: str) -> str | None:
    """The schema type an answer names: its name or description (ignoring case and punctuation), or
    the one type whose name starts with the answer ("life.die" for ``life.die.n/a`` when no other
    ``life.die.*`` type exists, the general ``*.n/a`` type when one does); None otherwise."""
    key = _norm(answer)
    if not key:
        return None
    names = {_norm(t.name): t.name for t in schema.types}
    names.update({_norm(t.description): t.name for t in schema.types if t.description})
    if key in names:
        return names[key]
    if key + "na" in names:
        return names[key + "na"]
    starting = [t.name for t in schema.types if _norm(t.name).startswith(key)]
    return starting[0] if len(starting) == 1 else None


def read_arguments(
    gen: Generation, chunk: Chunk, trigger: tuple[int, int], roles: Sequence[str], stats: ParseStats
) -> list[EventArgument]:
    """One argument answer as grounded arguments, in role order: each string at its occurrence in
    ``chunk`` nearest to the ``trigger`` (document offsets); unknown roles and strings not in the text
    are dropped and counted in ``stats``."""
    stats.answers += 1
    parsed = parse_role_map(gen.text, roles)
    if not parsed.ok:
        stats.unparsed += 1
        return []
    stats.unknown += len(parsed.unknown)
    seen: set[tuple[str, int, int]] = set()
    out: list[EventArgument] = []
    for role in roles:
        for item in distinct_items(parsed.items.get(role, [])):
            stats.strings += 1
            where = ground_in_chunk(chunk, item.value, trigger)
            if where is None:
                stats.ungrounded += 1
                continue
            s, e = where
            if (role, s, e) not in seen:
                seen.add((role, s, e))
                text = chunk.text[s - chunk.start : e - chunk.start]
                out.append(EventArgument(role=role, start=s, end=e, text=text, score=answer_score(gen, item)))
    return out
