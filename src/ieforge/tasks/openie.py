"""Open information extraction: every fact a text states, as (subject, relation, object[, more]) tuples.

One question per chunk of the text asks for a JSON list of ``[subject, relation, object, ...]`` lists.
Each part is located in the text: the relation first, then the subject and the object at their
occurrences nearest to it, so that the parts of one fact come from one place. Parts that are not in the
text (a relation the model rephrased, say) are kept as ungrounded :class:`~ieforge.types.Phrase` objects
and counted. A triple's score is the mean probability of its answer tokens, which is what open IE
scorers such as CaRB rank extractions by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from ieforge.grounding import Chunk
from ieforge.models.base import Backend
from ieforge.prompts import ChatPrompt
from ieforge.prompts.parsers import ParsedString
from ieforge.prompts.structured import parse_tuple_list
from ieforge.tasks._answers import (
    ChunkProgress,
    answers_per_text,
    chunk_budget,
    chunker,
    count_phrase,
    generate_answers,
    phrase_in_chunk,
    span_score,
    task_prompt,
)
from ieforge.types import OpenTriple, ParseStats, Phrase, TriplesResult

DEFAULT_MAX_NEW_TOKENS = 256
DEFAULT_PROMPT = "triples"


class OpenIETask:
    """Extract open IE triples from texts (one question per chunk)."""

    def __init__(
        self,
        backend: Backend,
        *,
        prompt: str | ChatPrompt = DEFAULT_PROMPT,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        batch_size: int = 8,
        max_chunk_tokens: int | None = None,
    ) -> None:
        self.backend = backend
        self.prompt = task_prompt(prompt, "openie", ["tuple_list"])
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        budget = chunk_budget(backend, self.prompt.chat(text=""), max_new_tokens, max_chunk_tokens)
        self._chunks = chunker(backend, budget)

    def run(self, text: str) -> TriplesResult:
        return next(self.run_many([text]))

    def run_many(
        self,
        texts: Sequence[str],
        *,
        on_done: Callable[[int], None] | None = None,
        texts_per_batch: int = 4,
        on_chunk: ChunkProgress | None = None,
    ) -> Iterator[TriplesResult]:
        """Yield one result per text, in order; ``texts_per_batch`` texts share generation batches.
        ``on_chunk`` hears of each chunk as it is answered (see :data:`ChunkProgress`)."""
        answers = answers_per_text(
            len(texts),
            lambda i: self._chunks(texts[i]),
            lambda i, chunk: self.prompt.chat(text=chunk.text),
            lambda chats, on_answer: generate_answers(
                self.backend, self.prompt, chats, self.max_new_tokens, self.batch_size, on_answer
            ),
            texts_per_batch,
            on_chunk,
        )
        for i, pairs in answers:
            stats = ParseStats()
            triples: dict[tuple[str, ...], OpenTriple] = {}
            for chunk, gen in pairs:
                stats.answers += 1
                parsed = parse_tuple_list(gen.text)
                if not parsed.ok:
                    stats.unparsed += 1
                    continue
                for parts in parsed.items:
                    triple = read_triple(chunk, parts, stats)
                    if triple is None:
                        continue
                    triple.score = span_score(gen, parts)
                    key = tuple(p.text for p in (triple.subject, triple.relation, triple.object))
                    key += tuple(p.text for p in triple.extra)
                    if key not in triples or (triple.score or 0) > (triples[key].score or 0):
                        triples[key] = triple
            yield TriplesResult(
                text=texts[i],
                triples=list(triples.values()),
                stats=stats,
                model=self.backend.name,
                prompt=self.prompt.id,
            )
            if on_done is not None:
                on_done(1)


def read_triple(chunk: Chunk, parts: Sequence[ParsedString], stats: ParseStats) -> OpenTriple | None:
    """One parsed tuple as a grounded :class:`OpenTriple` (None when it has no subject or relation)."""
    values = [p.value.strip() for p in parts]
    if len(values) < 2 or not values[0] or not values[1]:
        return None
    subject_text, relation_text = values[0], values[1]
    object_text = values[2] if len(values) > 2 else ""
    relation = phrase_in_chunk(chunk, relation_text)
    anchor = (
        (relation.start, relation.end) if relation.start is not None and relation.end is not None else None
    )
    subject = phrase_in_chunk(chunk, subject_text, anchor)
    if anchor is None and subject.start is not None and subject.end is not None:
        anchor = (subject.start, subject.end)
        relation = phrase_in_chunk(chunk, relation_text, anchor)
    obj = phrase_in_chunk(chunk, object_text, anchor) if object_text else Phrase(text="")
    extra = [phrase_in_chunk(chunk, v, anchor) for v in values[3:] if v]
    for phrase in (subject, relation, obj, *extra):
        count_phrase(stats, phrase)
    return OpenTriple(subject=subject, relation=relation, object=obj, extra=extra)
