"""Zero-shot relation classification: QA4RE (multiple-choice QA over relation templates) and the vanilla
RE instruction it is compared with.

QA4RE turns every relation allowed for the entity types into a lettered option sentence and asks which
option the sentence supports; the none option is always last. On a local backend the answer is read from
one forward pass: the next-token probabilities of the option letters ("A" and " A" both count), normalized
over the offered letters. The vanilla baseline lists the relation labels and generates one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ieforge.models.base import Backend
from ieforge.prompts import REPrompt, REQuestion, build_re_question, load_re_prompt
from ieforge.prompts.parsers import parse_label, parse_option_letter
from ieforge.schemas.relations import RelationSchema, load_relation_schema
from ieforge.types import Mention, Relation

Method = Literal["qa4re", "vanilla"]
Reading = Literal["letters", "generate"]

# the letter readings that can start an answer; a leading space is a different token in most vocabularies
_LETTER_FORMS = ("{}", " {}")


@dataclass(frozen=True)
class RelationQuery:
    """One (sentence, head, tail) pair to classify; types are optional (they prune the options)."""

    text: str
    head: Mention
    tail: Mention
    head_type: str | None = None
    tail_type: str | None = None


class RelationTask:
    """Classify the relation of head/tail pairs with one model, one schema and one method."""

    def __init__(
        self,
        backend: Backend,
        *,
        schema: str | RelationSchema = "semeval",
        method: Method = "qa4re",
        prompt: str | REPrompt | None = None,
        reading: Reading = "letters",
        batch_size: int = 8,
        max_new_tokens: int = 24,
    ) -> None:
        if method not in ("qa4re", "vanilla"):
            raise ValueError(f"unknown method '{method}' (use qa4re or vanilla)")
        self.backend = backend
        self.schema = schema if isinstance(schema, RelationSchema) else load_relation_schema(schema)
        self.method = method
        chosen = prompt if prompt is not None else method
        self.prompt = chosen if isinstance(chosen, REPrompt) else load_re_prompt(chosen)
        self.reading: Reading = reading if self.prompt.parser == "option_letter" else "generate"
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    def question(self, q: RelationQuery) -> REQuestion:
        return build_re_question(self.prompt, self.schema, q.text, q.head, q.tail, q.head_type, q.tail_type)

    def run(self, query: RelationQuery) -> Relation:
        return next(self.run_many([query]))

    def run_many(
        self,
        queries: Sequence[RelationQuery],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> Iterator[Relation]:
        """One :class:`Relation` per query, in order, computed a batch at a time."""
        for b in range(0, len(queries), max(1, self.batch_size)):
            group = list(queries[b : b + self.batch_size])
            questions = [self.question(q) for q in group]
            if self.reading == "letters":
                results = self._read_letters(group, questions)
            else:
                results = self._read_generated(group, questions)
            for r in results:
                yield r
                if on_done is not None:
                    on_done(1)

    # ----- readings ---------------------------------------------------------------------------------

    def _relation(self, q: RelationQuery, label: str, **kw: object) -> Relation:
        return Relation(
            label=label,
            head=q.head,
            tail=q.tail,
            head_type=q.head_type,
            tail_type=q.tail_type,
            method=self.method,
            prompt=self.prompt.id,
            model=self.backend.name,
            **kw,  # type: ignore[arg-type]
        )

    def _read_letters(self, group: list[RelationQuery], questions: list[REQuestion]) -> list[Relation]:
        probs_of: dict[int, tuple[dict[str, float], float]] = {}
        # questions offering the same letters share one batched forward pass
        by_letters: dict[tuple[str, ...], list[int]] = {}
        for i, question in enumerate(questions):
            letters = tuple(question.answers)
            if max(len(x) for x in letters) > 1:
                probs_of[i] = self._score_long_letters(question)
            else:
                by_letters.setdefault(letters, []).append(i)
        for letters, idx in by_letters.items():
            forms = [form.format(letter) for letter in letters for form in _LETTER_FORMS]
            rows = self.backend.next_token_logprobs(
                [self.prompt.chat(questions[i].text) for i in idx],
                forms,
                assistant_prefix=self.prompt.assistant_prefix,
                batch_size=self.batch_size,
            )
            for i, lp in zip(idx, rows):
                probs_of[i] = _normalize({letter: _distinct_mass(lp, letter) for letter in letters})
        out: list[Relation] = []
        for i, (q, question) in enumerate(zip(group, questions)):
            probs, mass = probs_of[i]
            best = max(question.answers, key=lambda x: probs[x])
            by_label: dict[str, float] = {}
            for letter, label in question.options:
                by_label[label] = by_label.get(label, 0.0) + probs[letter]
            label = question.label_of(best) or self.schema.none_label
            out.append(self._relation(q, label, score=by_label[label], options=by_label, choice_mass=mass))
        return out

    def _score_long_letters(self, question: REQuestion) -> tuple[dict[str, float], float]:
        """More than 26 options: "A" is a prefix of "AB", so score every letter string in full."""
        letters = question.answers
        rows = self.backend.score_continuations(
            [self.prompt.chat(question.text)], [self.prompt.assistant_prefix + x for x in letters]
        )[0]
        return _normalize({letter: math.exp(s) for letter, s in zip(letters, rows)})

    def _read_generated(self, group: list[RelationQuery], questions: list[REQuestion]) -> list[Relation]:
        gens = self.backend.generate(
            [self.prompt.chat(x.text) for x in questions],
            max_new_tokens=self.max_new_tokens,
            assistant_prefix=self.prompt.assistant_prefix,
            stop=self.prompt.stop,
            batch_size=self.batch_size,
        )
        out: list[Relation] = []
        for q, question, gen in zip(group, questions, gens):
            answer = gen.text[len(self.prompt.assistant_prefix) :]
            if self.prompt.parser == "option_letter":
                choice = parse_option_letter(answer, question.answers, question.choices)
            else:
                choice = parse_label(answer, question.answers)
            label = question.label_of(choice) if choice is not None else None
            if label is None:
                out.append(self._relation(q, self.schema.none_label, answered=False))
            else:
                out.append(self._relation(q, label, options={label: 1.0}))
        return out


def _normalize(raw: dict[str, float]) -> tuple[dict[str, float], float]:
    """Probabilities over the offered letters, and the share of probability they had before."""
    mass = sum(raw.values())
    return {k: v / mass if mass > 0 else 1.0 / len(raw) for k, v in raw.items()}, mass


def _distinct_mass(logprobs: dict[str, float], letter: str) -> float:
    """Probability of a letter over its spellings; spellings that are the same token count once."""
    seen: set[float] = set()
    total = 0.0
    for form in _LETTER_FORMS:
        v = logprobs[form.format(letter)]
        if v not in seen:
            seen.add(v)
            total += math.exp(v)
    return total
