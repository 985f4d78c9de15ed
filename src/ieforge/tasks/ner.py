"""Zero-shot NER with the UniversalNER protocol: one question per entity type, answers grounded to offsets."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ieforge.grounding import Chunk, chunk_text, find_mentions
from ieforge.models.base import Backend, Chat, Generation
from ieforge.prompts import NERPrompt, load_ner_prompt
from ieforge.prompts.parsers import parse_string_list
from ieforge.tasks._answers import answer_score, chunk_budget
from ieforge.types import Entity, NERResult, ParseStats

DEFAULT_PROMPT = "uniner-json"
DEFAULT_MAX_NEW_TOKENS = 64
# questions decoded together: the questions about several texts fill one batch
DEFAULT_BATCH_SIZE = 64


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
    """

    def __init__(
        self,
        backend: Backend,
        *,
        prompt: str | NERPrompt = DEFAULT_PROMPT,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_chunk_tokens: int | None = None,
    ) -> None:
        self.backend = backend
        self.prompt = prompt if isinstance(prompt, NERPrompt) else load_ner_prompt(prompt)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        skeleton = self.prompt.chat("", "x" * 20)
        self.max_chunk_tokens = chunk_budget(backend, skeleton, max_new_tokens, max_chunk_tokens)

    def chunks(self, text: str) -> list[Chunk]:
        return chunk_text(text, self.max_chunk_tokens, self.backend.count_tokens)

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
        """Yield one result per text, in order. ``texts_per_batch`` texts share generation batches (by
        default as many as fill ``batch_size`` questions)."""
        labels = _clean_labels(labels)
        per_batch = texts_per_batch or max(1, self.batch_size // len(labels))
        for b in range(0, len(texts), per_batch):
            group = texts[b : b + per_batch]
            queries = [
                _Query(i, chunk, label, self.prompt.chat(chunk.text, label))
                for i, text in enumerate(group)
                for chunk in self.chunks(text)
                for label in labels
            ]
            gens = (
                self.backend.generate(
                    [q.chat for q in queries],
                    max_new_tokens=self.answer_budgets([q.chunk for q in queries]),
                    assistant_prefix=self.prompt.assistant_prefix,
                    stop=self.prompt.stop,
                    batch_size=self.batch_size,
                )
                if queries
                else []
            )
            for i, text in enumerate(group):
                mine = [(q, g) for q, g in zip(queries, gens) if q.text_index == i]
                yield self._collect(text, labels, mine)
                if on_done is not None:
                    on_done(1)

    def _collect(self, text: str, labels: list[str], answers: list[tuple[_Query, Generation]]) -> NERResult:
        stats = ParseStats()
        best: dict[tuple[int, int, str], Entity] = {}
        for q, gen in answers:
            s = read_answer(gen, q.chunk, q.label, best)
            stats.add(s)
        entities = sorted(best.values(), key=lambda e: (e.start, e.end, e.label))
        return NERResult(
            text=text,
            labels=labels,
            entities=entities,
            stats=stats,
            model=self.backend.name,
            prompt=self.prompt.id,
        )


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
