"""Zero-shot NER with the UniversalNER protocol: one question per entity type, answers grounded to offsets.

A ``type_map`` prompt (``uniner-json-all``) asks one question per text for every type at once instead,
answered with a JSON object ``{type: [strings]}``; its strings are grounded the same way.

With ``typing`` set, NER runs in two stages: the answers (of the per-type questions, or of one "list every
entity" question with ``proposer="all"``) only propose candidate spans, and
:mod:`ieforge.tasks.entity_typing` decides each candidate's type by scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ieforge.grounding import Chunk, chunk_text, find_mentions
from ieforge.models.base import Backend, Chat, Generation
from ieforge.prompts import NERPrompt, Prompt, TypingPrompt, load_ner_prompt, load_typing_prompt
from ieforge.prompts.parsers import ParsedString, parse_string_list
from ieforge.prompts.structured import parse_type_map
from ieforge.tasks._answers import (
    BATCHES_PER_CALL,
    ChunkProgress,
    answer_hook,
    answer_score,
    chunk_budget,
    chunk_counter,
    token_spans_of,
)
from ieforge.tasks.entity_typing import Candidate, EntityTyper, TypingReading
from ieforge.types import Entity, NERResult, ParseStats

DEFAULT_PROMPT = "uniner-json"
DEFAULT_MAX_NEW_TOKENS = 64
# questions decoded together: the questions about several texts fill one batch
DEFAULT_BATCH_SIZE = 64
PROPOSE_ALL_PROMPT = "propose-all"
Proposer = Literal["types", "all"]


@dataclass
class _Query:
    text_index: int
    chunk: Chunk
    label: str
    chat: Chat


class NERTask:
    """Find entities of the given types in texts.

    Each (chunk, type) pair becomes one conversation; conversations are generated in batches. With a
    prompt that asks for every type at once (parser ``type_map``, e.g. ``uniner-json-all``), each chunk
    is one conversation and its answer names every type. Every answer string is located in the text
    (all its occurrences); strings that are not there are dropped and counted. ``score`` is the
    probability-scale mean token log-probability of the answer string.

    Two-stage NER (``typing``: ``mc``, ``verify`` or ``cloze``): the answers only propose candidate
    spans, and each candidate's type is decided by scoring (see :mod:`ieforge.tasks.entity_typing`);
    an entity's score is then the typing probability. ``proposer`` is where candidates come from: the
    per-type questions (``types``) or one question for every entity of a text (``all``, prompt
    ``propose-all``). ``typing_calibrate``, ``typing_threshold`` and ``descriptions`` go to the typer.
    ``flat`` keeps, among typed spans that overlap, only the most probable (flat NER: stage 1 often
    proposes both "Bayes classifier" and "naive Bayes classifier").
    """

    def __init__(
        self,
        backend: Backend,
        *,
        prompt: str | NERPrompt = DEFAULT_PROMPT,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_chunk_tokens: int | None = None,
        typing: TypingReading | None = None,
        proposer: Proposer = "types",
        typing_prompt: str | TypingPrompt | None = None,
        typing_calibrate: bool = False,
        typing_threshold: float | None = None,
        descriptions: dict[str, str] | None = None,
        flat: bool = False,
    ) -> None:
        if proposer not in ("types", "all"):
            raise ValueError(f"unknown proposer '{proposer}' (use types or all)")
        if proposer == "all" and typing is None:
            raise ValueError("proposer 'all' needs a typing reading (mc, verify or cloze) to type its spans")
        if flat and typing is None:
            raise ValueError("flat needs a typing reading (mc, verify or cloze): it compares typing scores")
        self.flat = flat
        self.backend = backend
        self.prompt = prompt if isinstance(prompt, NERPrompt) else load_ner_prompt(prompt)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self._chunk_cap = max_chunk_tokens
        self._room: dict[tuple[str, ...], tuple[int, int]] = {}
        self.proposer = proposer
        self.propose_prompt = load_typing_prompt(PROPOSE_ALL_PROMPT) if proposer == "all" else None
        self.typer = (
            EntityTyper(
                backend,
                reading=typing,
                prompt=typing_prompt,
                calibrate=typing_calibrate,
                threshold=typing_threshold,
                batch_size=batch_size,
                descriptions=descriptions,
            )
            if typing is not None
            else None
        )
        skeleton = self.prompt.chat("", "x" * 20)
        self.max_chunk_tokens = chunk_budget(backend, skeleton, max_new_tokens, max_chunk_tokens)

    @property
    def prompt_id(self) -> str:
        """The prompt versions behind the results: the question prompt, and in two stages also the
        proposal prompt (``all``) and the typing prompt with its options, e.g.
        ``uniner@1+typing-cloze@1+calibrated+threshold0.5+flat``."""
        if self.typer is None:
            return self.prompt.id
        first = self.propose_prompt.id if self.propose_prompt is not None else self.prompt.id
        return f"{first}+{self.typer.prompt.id}{self.typer.options_id}" + ("+flat" if self.flat else "")

    @property
    def _stage1(self) -> Prompt:
        return self.propose_prompt if self.propose_prompt is not None else self.prompt

    @property
    def asks_all(self) -> bool:
        """True when one question per chunk asks for every type (a ``type_map`` prompt, stage 1 of
        ``proposer="types"``)."""
        return self.propose_prompt is None and self.prompt.asks_all

    def _chat(self, chunk: Chunk, label: str, labels: Sequence[str]) -> Chat:
        if self.propose_prompt is not None:
            return self.propose_prompt.chat(text=chunk.text)
        if self.prompt.asks_all:
            return self.prompt.chat_all(chunk.text, labels)
        return self.prompt.chat(chunk.text, label)

    def chunks(self, text: str, labels: Sequence[str] | None = None) -> list[Chunk]:
        """``text`` in chunks the prompt has room for. A prompt that asks for every type at once needs the
        ``labels`` (its question and answer grow with them)."""
        limit = self.max_chunk_tokens
        if self.asks_all and labels:
            limit = min(limit, self._all_types_room(labels)[0])
        return chunk_text(text, limit, self.backend.count_tokens, token_spans=token_spans_of(self.backend))

    def _all_types_room(self, labels: Sequence[str]) -> tuple[int, int]:
        """For one question about every type of ``labels``: the most tokens a chunk may have, and the
        tokens of the answer with every list empty (its keys)."""
        key = tuple(labels)
        if key not in self._room:
            keys = self.backend.count_tokens(self.prompt.answer_all(labels, {}))
            most = keys + self.max_new_tokens * len(labels)
            skeleton = self.prompt.chat_all("", labels)
            self._room[key] = (chunk_budget(self.backend, skeleton, most, self._chunk_cap), keys)
        return self._room[key]

    def answer_budgets(self, chunks: Sequence[Chunk], labels: Sequence[str] | None = None) -> list[int]:
        """New tokens each answer may take: ``max_new_tokens``, but no more than a list quoting every
        token of its chunk could need (two tokens per text token, plus brackets). An answer for every
        type at once (``labels`` given, with a ``type_map`` prompt) takes its keys and empty lists, plus
        up to ``max_new_tokens`` per type, again no more than quoting the chunk could need."""
        tokens: dict[str, int] = {}
        for c in chunks:
            if c.text not in tokens:
                tokens[c.text] = self.backend.count_tokens(c.text)
        if self.asks_all and labels:
            keys = self._all_types_room(labels)[1]
            per_text = self.max_new_tokens * len(labels)
            return [keys + max(1, min(per_text, 2 * tokens[c.text] + 8)) for c in chunks]
        return [max(1, min(self.max_new_tokens, 2 * tokens[c.text] + 8)) for c in chunks]

    def run(self, text: str, labels: Sequence[str]) -> NERResult:
        return next(self.run_many([text], labels))

    def run_many(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        on_done: Callable[[int], None] | None = None,
        texts_per_batch: int | None = None,
        on_chunk: ChunkProgress | None = None,
    ) -> Iterator[NERResult]:
        """Yield one result per text, in order. ``texts_per_batch`` texts go to the backend in one
        call (by default as many as fill :data:`BATCHES_PER_CALL` batches of ``batch_size``
        questions): a backend that decodes continuously starts the next batch while the longest
        answers of the last are still running, so more batches per call waste fewer steps.
        ``on_chunk(text, done, total)`` is told as every question about one more chunk of a text is
        answered, within that call (two stages: the first stage's questions)."""
        labels = _clean_labels(labels)
        asked = [""] if self.proposer == "all" or self.asks_all else labels
        per_batch = texts_per_batch or max(1, BATCHES_PER_CALL * self.batch_size // len(asked))
        stage1 = self._stage1
        for b in range(0, len(texts), per_batch):
            group = texts[b : b + per_batch]
            queries = [
                _Query(i, chunk, label, self._chat(chunk, label, labels))
                for i, text in enumerate(group)
                for chunk in self.chunks(text, labels)
                for label in asked
            ]
            counter = chunk_counter([(b + q.text_index, q.chunk.start) for q in queries], on_chunk)
            gens = (
                self.backend.generate(
                    [q.chat for q in queries],
                    max_new_tokens=self.answer_budgets([q.chunk for q in queries], labels),
                    assistant_prefix=stage1.assistant_prefix,
                    stop=stage1.stop,
                    batch_size=self.batch_size,
                    **answer_hook(counter),
                )
                if queries
                else []
            )
            answers = [
                [(q, g) for q, g in zip(queries, gens) if q.text_index == i] for i in range(len(group))
            ]
            if self.typer is None:
                results = [self._collect(text, labels, mine) for text, mine in zip(group, answers)]
            else:
                results = self._two_stage(group, labels, answers)
            for result in results:
                yield result
                if on_done is not None:
                    on_done(1)

    def _collect(self, text: str, labels: list[str], answers: list[tuple[_Query, Generation]]) -> NERResult:
        stats = ParseStats()
        best: dict[tuple[int, int, str], Entity] = {}
        for q, gen in answers:
            stats.add(self._read(gen, q, labels, best))
        return self._result(text, labels, list(best.values()), stats)

    def _read(
        self, gen: Generation, q: _Query, labels: list[str], into: dict[tuple[int, int, str], Entity]
    ) -> ParseStats:
        if self.asks_all:
            return read_type_map_answer(gen, q.chunk, labels, into)
        return read_answer(gen, q.chunk, q.label, into)

    def _result(self, text: str, labels: list[str], entities: list[Entity], stats: ParseStats) -> NERResult:
        return NERResult(
            text=text,
            labels=labels,
            entities=sorted(entities, key=lambda e: (e.start, e.end, e.label)),
            stats=stats,
            model=self.backend.name,
            prompt=self.prompt_id,
        )

    def _two_stage(
        self, group: Sequence[str], labels: list[str], answers: list[list[tuple[_Query, Generation]]]
    ) -> list[NERResult]:
        """Stage 1's answers become candidates (one per grounded span of a chunk, with the types it was
        proposed under); the typer decides them all in one call, the group's texts together."""
        assert self.typer is not None
        per_text: list[list[Candidate]] = []
        stats_of: list[ParseStats] = []
        for mine in answers:
            found: dict[tuple[int, int, int], Candidate] = {}
            stats = ParseStats()
            for q, gen in mine:
                proposed: dict[tuple[int, int, str], Entity] = {}
                stats.add(self._read(gen, q, labels, proposed))
                for (start, end, label), ent in proposed.items():
                    s, e = start - q.chunk.start, end - q.chunk.start
                    cand = found.setdefault((q.chunk.start, s, e), Candidate(q.chunk, s, e))
                    if label:
                        cand.proposed[label] = ent.score or 0.0
            per_text.append(list(found.values()))
            stats_of.append(stats)
        flat = [c for cands in per_text for c in cands]
        decisions = iter(self.typer.decide(flat, labels))
        results = []
        for text, cands, stats in zip(group, per_text, stats_of):
            entities = []
            for cand in cands:
                decision = next(decisions)
                if decision.label is None:
                    stats.rejected += 1
                    continue
                start = cand.chunk.start + cand.start
                entities.append(
                    Entity(
                        start=start,
                        end=start + (cand.end - cand.start),
                        text=cand.text,
                        label=decision.label,
                        score=decision.score,
                    )
                )
            if self.flat:
                kept = flatten_entities(entities)
                stats.rejected += len(entities) - len(kept)
                entities = kept
            results.append(self._result(text, labels, entities, stats))
        return results


def flatten_entities(entities: list[Entity]) -> list[Entity]:
    """Entities taken most probable first, each kept only if it overlaps none kept before it (ties:
    the earlier, then the longer span)."""
    kept: list[Entity] = []
    for e in sorted(entities, key=lambda x: (-(x.score or 0.0), x.start, x.start - x.end)):
        if all(e.end <= k.start or k.end <= e.start for k in kept):
            kept.append(e)
    return kept


def read_answer(
    gen: Generation, chunk: Chunk, label: str, into: dict[tuple[int, int, str], Entity]
) -> ParseStats:
    """Parse one answer, ground its strings in ``chunk``, add the entities to ``into`` (best score wins)."""
    stats = ParseStats(answers=1)
    parsed = parse_string_list(gen.text)
    if not parsed.ok:
        stats.unparsed += 1
        return stats
    _ground(gen, chunk, label, parsed.items, into, stats)
    return stats


def read_type_map_answer(
    gen: Generation, chunk: Chunk, labels: Sequence[str], into: dict[tuple[int, int, str], Entity]
) -> ParseStats:
    """Parse one answer for every type of ``labels`` (``{type: [strings]}``), ground each type's strings in
    ``chunk`` and add the entities to ``into`` (best score wins). Keys naming no asked type count as
    ``unknown``; a type the answer leaves out has no entities."""
    stats = ParseStats(answers=1)
    parsed = parse_type_map(gen.text, labels)
    if not parsed.ok:
        stats.unparsed += 1
        return stats
    stats.unknown += len(parsed.unknown)
    for label, items in parsed.items.items():
        _ground(gen, chunk, label, items, into, stats)
    return stats


def _ground(
    gen: Generation,
    chunk: Chunk,
    label: str,
    items: Sequence[ParsedString],
    into: dict[tuple[int, int, str], Entity],
    stats: ParseStats,
) -> None:
    """Locate each distinct string of ``items`` in ``chunk`` (every occurrence) as entities of ``label``."""
    seen: set[str] = set()
    for item in items:
        value = item.value.strip()
        if not value or value in seen:
            continue
        seen.add(value)
        stats.strings += 1
        mentions = find_mentions(chunk.text, value)
        if not mentions:
            stats.ungrounded += 1
            continue
        score = answer_score(gen, item)
        for s, e in mentions:
            start, end = chunk.start + s, chunk.start + e
            key = (start, end, label)
            ent = Entity(start=start, end=end, text=chunk.text[s:e], label=label, score=score)
            old = into.get(key)
            if old is None or (score or 0.0) > (old.score or 0.0):
                into[key] = ent


def _clean_labels(labels: Sequence[str]) -> list[str]:
    out: list[str] = []
    for label in labels:
        label = label.strip()
        if label and label not in out:
            out.append(label)
    if not out:
        raise ValueError("at least one entity label is required")
    return out
