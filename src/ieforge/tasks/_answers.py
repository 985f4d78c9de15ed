"""What every task does with a parsed answer: score a piece of it, and find it in the text."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

from ieforge.grounding import Chunk, TokenSpans, chunk_text, find_mentions, sentence_spans
from ieforge.models.base import Backend, Chat, Generation
from ieforge.prompts import ChatPrompt, load_chat_prompt
from ieforge.prompts.parsers import ParsedString
from ieforge.types import ParseStats, Phrase

DEFAULT_MAX_CHUNK_TOKENS = 1024
# batches of questions per backend call in a task's run_many: the backend orders a call's prompts by
# length (less padding) and a continuous decoder refills from the call's next batch
BATCHES_PER_CALL = 4

ChunkProgress = Callable[[int, int, int], None]
"""``on_chunk(text, done, total)`` of a task's ``run_many``: every question about one more chunk of text
number ``text`` (its index in the texts given) has its answer; ``done`` of its ``total`` chunks are
answered. Called as the backend finishes answers, within one backend call."""


class ChunkCounter:
    """A backend's ``on_answer`` that calls ``on_chunk`` each time the last question about a chunk is
    answered. ``owners[q]`` is ``(text, chunk)`` for question ``q`` of the call: the text's index and
    anything naming the chunk within it (its start). Thread-safe (a server backend answers from
    several threads)."""

    def __init__(self, owners: Sequence[tuple[int, Hashable]], on_chunk: ChunkProgress) -> None:
        self._owners = list(owners)
        self._left = Counter(self._owners)
        self._total = Counter(text for text, _ in self._left)
        self._done: Counter[int] = Counter()
        self._on_chunk = on_chunk
        self._lock = threading.Lock()

    def __call__(self, question: int) -> None:
        owner = self._owners[question]
        with self._lock:  # held while telling, so that each text's counts arrive in order
            self._left[owner] -= 1
            if self._left[owner] == 0:
                text = owner[0]
                self._done[text] += 1
                self._on_chunk(text, self._done[text], self._total[text])


def chunk_counter(
    owners: Sequence[tuple[int, Hashable]], on_chunk: ChunkProgress | None
) -> ChunkCounter | None:
    """The ``on_answer`` hook of one backend call whose questions belong to ``owners`` (None without
    ``on_chunk``)."""
    return None if on_chunk is None else ChunkCounter(owners, on_chunk)


def answer_hook(on_answer: Callable[[int], None] | None) -> dict[str, Any]:
    """The backend's ``on_answer`` keyword: none without a hook, so a call nobody watches is exactly
    what it was before progress existed (and a backend without the keyword still works)."""
    return {} if on_answer is None else {"on_answer": on_answer}


def answer_score(gen: Generation, item: ParsedString | None = None) -> float | None:
    """Probability-scale mean token log-probability of ``item`` in the answer (of the whole answer when
    ``item`` is None or has no tokens of its own); None when the backend gave no log-probabilities."""
    lp = gen.mean_logprob(item.start, item.end) if item is not None and item.start >= 0 else None
    if lp is None and gen.token_logprobs:
        lp = sum(gen.token_logprobs) / len(gen.token_logprobs)
    return math.exp(lp) if lp is not None else None


def span_score(gen: Generation, items: Sequence[ParsedString]) -> float | None:
    """:func:`answer_score` over the tokens from the first to the last of ``items`` (a whole tuple)."""
    located = [i for i in items if i.start >= 0]
    if not located:
        return answer_score(gen)
    first = min(i.start for i in located)
    last = max(i.end for i in located)
    return answer_score(gen, ParsedString("", first, max(last, first + 1)))


def distinct_items(items: Sequence[ParsedString]) -> list[ParsedString]:
    """The items with a non-blank value, each value once (first occurrence kept)."""
    seen: set[str] = set()
    out: list[ParsedString] = []
    for item in items:
        value = item.value.strip()
        if value and value not in seen:
            seen.add(value)
            out.append(item)
    return out


def nearest(mentions: Sequence[tuple[int, int]], anchor: tuple[int, int] | None) -> tuple[int, int]:
    """The mention closest to ``anchor`` (the first one when there is no anchor)."""
    if anchor is None or len(mentions) == 1:
        return mentions[0]
    a_start, a_end = anchor

    def distance(m: tuple[int, int]) -> tuple[int, int]:
        gap = max(0, m[0] - a_end, a_start - m[1])
        return (gap, m[0])

    return min(mentions, key=distance)


def ground_in_chunk(
    chunk: Chunk, value: str, anchor: tuple[int, int] | None = None
) -> tuple[int, int] | None:
    """Where ``value`` occurs in ``chunk`` as document offsets, nearest to ``anchor`` (document offsets);
    None when it does not occur."""
    found = find_mentions(chunk.text, value)
    if not found:
        return None
    local_anchor = None if anchor is None else (anchor[0] - chunk.start, anchor[1] - chunk.start)
    s, e = nearest(found, local_anchor)
    return chunk.start + s, chunk.start + e


def phrase_in_chunk(chunk: Chunk, value: str, anchor: tuple[int, int] | None = None) -> Phrase:
    """``value`` as a :class:`Phrase`: grounded (with the text's own spelling) when it occurs in the chunk."""
    where = ground_in_chunk(chunk, value, anchor)
    if where is None:
        return Phrase(text=value.strip())
    s, e = where
    return Phrase(text=chunk.text[s - chunk.start : e - chunk.start], start=s, end=e)


def sentence_around(chunk: Chunk, start: int, end: int) -> str:
    """The sentence(s) of ``chunk`` that hold the document span ``start:end``, stripped."""
    lo, hi = start - chunk.start, end - chunk.start
    spans = [(s, e) for s, e in sentence_spans(chunk.text) if s < hi and e > lo]
    if not spans:
        return chunk.text.strip()
    return chunk.text[spans[0][0] : spans[-1][1]].strip()


def chunk_budget(backend: Backend, skeleton: Chat, max_new_tokens: int, max_chunk_tokens: int | None) -> int:
    """Tokens left for the text in a prompt shaped like ``skeleton`` (its messages without the text)."""
    overhead = backend.count_tokens("\n".join(m["content"] for m in skeleton)) + 32
    budget = backend.context_length - overhead - max_new_tokens
    cap = max_chunk_tokens if max_chunk_tokens is not None else DEFAULT_MAX_CHUNK_TOKENS
    return max(16, min(budget, cap))


def chunker(backend: Backend, max_tokens: int) -> Callable[[str], list[Chunk]]:
    """Split texts into chunks of at most ``max_tokens`` tokens (sentence boundaries, one overlapping)."""
    spans = token_spans_of(backend)
    return lambda text: chunk_text(text, max_tokens, backend.count_tokens, token_spans=spans)


def token_spans_of(backend: Backend) -> TokenSpans | None:
    """The backend's ``token_spans`` (each token's offsets, from one tokenization of a text) when it has
    one: chunking a long text then costs about two tokenizations of it (without, about five)."""
    spans = getattr(backend, "token_spans", None)
    return spans if callable(spans) else None


def task_prompt(prompt: str | ChatPrompt, task: str, parsers: Sequence[str]) -> ChatPrompt:
    """A packaged prompt of ``task`` by name (or a YAML file, or a loaded prompt) whose parser is one of
    ``parsers``; anything else is a :class:`ValueError` naming the prompt."""
    loaded = prompt if isinstance(prompt, ChatPrompt) else load_chat_prompt(task, prompt)
    if loaded.task != task or loaded.parser not in parsers:
        raise ValueError(
            f"prompt {loaded.id} is a {loaded.task}/{loaded.parser} prompt; this needs task {task} "
            f"with parser {' or '.join(parsers)}"
        )
    return loaded


def generate_answers(
    backend: Backend,
    prompt: ChatPrompt,
    chats: Sequence[Chat],
    max_new_tokens: int,
    batch_size: int,
    on_answer: Callable[[int], None] | None = None,
) -> list[Generation]:
    """Generate the answers to ``chats`` with ``prompt``'s answer prefix and stop strings (none asked: []);
    ``on_answer`` goes to the backend (see :class:`ChunkCounter`)."""
    if not chats:
        return []
    return backend.generate(
        chats,
        max_new_tokens=max_new_tokens,
        assistant_prefix=prompt.assistant_prefix,
        stop=prompt.stop,
        batch_size=batch_size,
        **answer_hook(on_answer),
    )


def answers_per_text(
    n: int,
    chunks_of: Callable[[int], list[Chunk]],
    chat_for: Callable[[int, Chunk], Chat],
    answer: Callable[[list[Chat], Callable[[int], None] | None], list[Generation]],
    texts_per_batch: int,
    on_chunk: ChunkProgress | None = None,
) -> Iterator[tuple[int, list[tuple[Chunk, Generation]]]]:
    """For texts ``0..n-1``, in order: the index and the (chunk, answer) pairs of its chunks.

    One question per chunk; the questions of ``texts_per_batch`` texts are answered in one
    ``answer(chats, on_answer)`` call, so that they share generation batches (``on_answer``: the
    backend's hook telling ``on_chunk``, None without it)."""
    step = max(1, texts_per_batch)
    for b in range(0, n, step):
        group = range(b, min(b + step, n))
        asked = [(i, chunk) for i in group for chunk in chunks_of(i)]
        counter = chunk_counter([(i, chunk.start) for i, chunk in asked], on_chunk)
        gens = answer([chat_for(i, chunk) for i, chunk in asked], counter)
        for i in group:
            yield i, [(chunk, gen) for (j, chunk), gen in zip(asked, gens) if j == i]


def count_phrase(stats: ParseStats, phrase: Phrase) -> None:
    """Count a non-empty answer phrase as a recovered string, and as ungrounded when it has no offsets."""
    if phrase.text:
        stats.strings += 1
        if not phrase.grounded:
            stats.ungrounded += 1
