"""Entity-typing questions for the training corpus, from NER data (two-stage NER's stage 2).

A question is ieforge's ``typing-mc`` prompt exactly as :class:`ieforge.tasks.entity_typing.EntityTyper`
sends it: the text once, then "Which option describes "<span>" in the text?" over lettered type names with
"none of these" last, answered after the cue ``Answer:`` with the option's letter. A model trained on
them must read the options:

- the number of options ``n`` (none included) is uniform from 2 to ``max_options`` (or as many as there
  are types to offer), and the gold answer is at each of the ``n`` positions equally often: with
  probability ``1 / n`` the answer is none, otherwise the span's type is among the ``n - 1`` types in
  random order;
- a none answer is about a span that is no entity (one to three words overlapping no annotated entity,
  the catch-all type's too, offered only the dataset's own types, which it annotates completely), or about
  an entity whose own type is left out of the options;
- wrong types come from the dataset's types, the types of the other NER training sets and a list of extra
  type names (:file:`overlaps.yaml`), never a type that may describe the same span (``organization`` and
  ``corporation``, say).

Type names are the natural-language names ieforge's NER readers give (``creative work``, ``disease``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ieforge.corpus.heldout import check_training_name
from ieforge.corpus.relations import overlap_map, overlaps
from ieforge.data.labels import DATASET_LABELS
from ieforge.models.base import Message
from ieforge.prompts import TypingPrompt, load_typing_prompt

TYPING_PROMPT = "typing-mc"
CATCH_ALL = frozenset({"else", "misc", "miscellaneous"})
_WORDS = re.compile(r"[A-Za-z][\w'-]*")


@dataclass(frozen=True)
class TypingSource:
    """One annotated sentence: its entities (start, end, type) and every annotated span (the catch-all
    type's too), which a none span must not touch."""

    id: str
    text: str
    entities: tuple[tuple[int, int, str], ...]
    taken: tuple[tuple[int, int], ...]
    types: tuple[str, ...]
    """the dataset's types (the catch-all left out)"""


@dataclass
class TypingQuestion:
    question: str
    """the user message"""
    answer: str
    """the assistant message: the prompt's answer cue and the letter"""
    letter: str
    options: int
    gold_position: int
    span: str
    label: str | None


@lru_cache(maxsize=1)
def type_pool() -> tuple[str, ...]:
    """Every type that may be offered as a wrong option: the types of the NER training sets ieforge
    knows (zero-shot test sets left out) and the extra type names of :file:`overlaps.yaml`."""
    names: list[str] = []
    for dataset, mapping in DATASET_LABELS.items():
        if check_training_name(dataset) is None:
            names += [v for v in mapping.values() if v.lower() not in CATCH_ALL]
    extra = overlaps().get("extra_types", [])
    names += [str(x) for x in extra] if isinstance(extra, list) else []
    return tuple(dict.fromkeys(names))


@lru_cache(maxsize=1)
def type_overlaps() -> dict[str, frozenset[str]]:
    groups = overlaps().get("types", [])
    return overlap_map(groups if isinstance(groups, list) else [])


def _wrong_types(gold: str | None, own: Sequence[str], span_types: set[str]) -> list[str]:
    """Types that are surely wrong for the span: for an entity, the pool without its own types and
    their overlaps; for a non-entity span, the dataset's own types only."""
    if gold is None:
        return [t for t in own if t not in span_types]
    banned = set(span_types)
    for t in span_types:
        banned |= type_overlaps().get(t, frozenset())
    pool = list(dict.fromkeys([*own, *type_pool()]))
    return [t for t in pool if t not in banned]


def non_entity_span(
    text: str, taken: Sequence[tuple[int, int]], rng: random.Random, *, tries: int = 12
) -> str | None:
    """One to three words of ``text``, drawn at random, that touch none of the ``taken`` (annotated)
    spans; None when the text has no words or ``tries`` draws find none. Typing questions and distilled
    NER data both ask about such spans."""
    words = [(m.start(), m.end()) for m in _WORDS.finditer(text)]
    for _ in range(tries):
        if not words:
            return None
        i = rng.randrange(len(words))
        j = min(len(words), i + rng.randint(1, 3))
        start, end = words[i][0], words[j - 1][1]
        if not any(s < end and start < e for s, e in taken):
            return text[start:end]
    return None


def typing_question(
    source: TypingSource,
    rng: random.Random,
    prompt: TypingPrompt,
    *,
    max_options: int = 16,
    non_entity_share: float = 0.5,
    avoid: frozenset[str] = frozenset(),
) -> TypingQuestion | None:
    """One question about a span of ``source`` (see the module docs); None when none can be asked.

    The option count ``n`` and the answer's position are drawn first (uniform, the none option being the
    last position); a none answer is about a non-entity span (``non_entity_share`` of them, when the
    dataset has ``n - 1`` types to offer) or an entity whose type is left out. Spans in ``avoid`` (asked
    already) are not asked again."""
    entities = [e for e in source.entities if source.text[e[0] : e[1]] not in avoid]
    if not entities:
        return None
    types_of: dict[str, set[str]] = {}
    for start, end, label in source.entities:
        types_of.setdefault(source.text[start:end], set()).add(label)
    for _ in range(8):
        n = rng.randint(2, max(2, max_options))
        position = rng.randrange(n)
        none = position == n - 1
        span: str | None = None
        gold: str | None = None
        if none and len(source.types) >= n - 1 and rng.random() < non_entity_share:
            span = non_entity_span(source.text, source.taken, rng)
            if span in avoid:
                span = None
            wrong = _wrong_types(None, source.types, set())
        if span is None:
            start, end, label = rng.choice(entities)
            span = source.text[start:end]
            gold = None if none else label
            wrong = _wrong_types(label, source.types, types_of[span])
        k = n - 1 if none else n - 2
        if k > len(wrong):
            continue
        offered = rng.sample(wrong, k)
        if gold is not None:
            offered.insert(position, gold)
        block, letters = prompt.choices(offered)
        letter = letters[position]
        question = prompt.chat(text=source.text, span=span, options=block)[-1]["content"]
        return TypingQuestion(
            question=question,
            answer=f"{prompt.assistant_prefix} {letter}".strip(),
            letter=letter,
            options=len(letters),
            gold_position=position,
            span=span,
            label=gold,
        )
    return None


def typing_conversation(
    source: TypingSource,
    rng: random.Random,
    *,
    questions: int = 1,
    max_options: int = 16,
    prompt_name: str = TYPING_PROMPT,
) -> tuple[list[Message], list[TypingQuestion]]:
    """The ``typing-mc`` conversation about ``source`` with up to ``questions`` solved questions (each a
    user turn and the answer); an empty list when no question could be asked."""
    prompt = load_typing_prompt(prompt_name)
    distinct = {source.text[s:e] for s, e, _ in source.entities}
    asked: list[TypingQuestion] = []
    # never more questions than distinct entities: each question can then take an entity not asked yet,
    # so that avoiding repeats does not favour the none answers about non-entity spans
    for _ in range(min(questions, len(distinct))):
        q = typing_question(
            source, rng, prompt, max_options=max_options, avoid=frozenset(q.span for q in asked)
        )
        if q is not None:
            asked.append(q)
    if not asked:
        return [], []
    messages: list[Message] = list(prompt.chat(text=source.text, span=asked[0].span, options="")[:-1])
    for q in asked:
        messages.append({"role": "user", "content": q.question})
        messages.append({"role": "assistant", "content": q.answer})
    return messages, asked
