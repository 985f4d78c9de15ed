"""Zero-shot NER with the UniversalNER protocol: one question per entity type, answers grounded to offsets.

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
from ieforge.prompts.parsers import parse_string_list
from ieforge.tasks._answers import BATCHES_PER_CALL, answer_score, chunk_budget, token_spans_of
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

    Each (chunk, type) pair becomes one conversation; conversations are generated in batches. Every
    answer string is located in the text (all its occurrences); strings that are not there are dropped
    and counted. ``score`` is the probability-scale mean token log-probability of the answer string.

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

    def _chat(self, chunk: Chunk, label: str) -> Chat:
        if self.propose_prompt is not None:
            return self.propose_prompt.chat(text=chunk.text)
        return self.prompt.chat(chunk.text, label)

    def chunks(self, text: str) -> list[Chunk]:
        spans = token_spans_of(self.backend)
        return chunk_text(text, self.max_chunk_tokens, self.backend.count_tokens, token_spans=spans)

    def answer_budgets(self, chunks: Sequence[Chunk]) -> list[int]:
        """New tokens each answer may take: ``max_new_tokens``, but no more than a list quoting every
        token of its chunk could need (two tokens per text token, plus brackets)."""
        tokens: dict[str, int] = {}
        for c in chunks:
            if c.text not in tokens:
                tokens[c.text] = self.backend.count_tokens(c.text)
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
    ) -> Iterator[NERResult]:
        """Yield one result per text, in order. ``texts_per_batch`` texts go to the backend in one
        call (by default as many as fill :data:`BATCHES_PER_CALL` batches of ``batch_size``
        questions): a backend that decodes continuously starts the next batch while the longest
        answers of the last are still running, so more batches per call waste fewer steps."""
        labels = _clean_labels(labels)
        asked = [""] if self.proposer == "all" else labels
        per_batch = texts_per_batch or max(1, BATCHES_PER_CALL * self.batch_size // len(asked))
        stage1 = self._stage1
        for b in range(0, len(texts), per_batch):
            group = texts[b : b + per_batch]
            queries = [
                _Query(i, chunk, label, self._chat(chunk, label))
                for i, text in enumerate(group)
                for chunk in self.chunks(text)
                for label in asked
            ]
            gens = (
                self.backend.generate(
                    [q.chat for q in queries],
                    max_new_tokens=self.answer_budgets([q.chunk for q in queries]),
                    assistant_prefix=stage1.assistant_prefix,
                    stop=stage1.stop,
                    batch_size=self.batch_size,
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
            s = read_answer(gen, q.chunk, q.label, best)
            stats.add(s)
        return self._result(text, labels, list(best.values()), stats)

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
                stats.add(read_answer(gen, q.chunk, q.label, proposed))
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
    seen: set[str] = set()
    for item in parsed.items:
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
    return stats


def _clean_labels(labels: Sequence[str]) -> list[str]:
    out: list[str] = []
    for label in labels:
        label = label.strip()
        if label and label not in out:
            out.append(label)
    if not out:
        raise ValueError("at least one entity label is required")
    return out
