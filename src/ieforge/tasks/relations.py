"""Zero-shot relation classification: QA4RE (multiple-choice QA over relation templates) and the vanilla
RE instruction it is compared with.

QA4RE turns every relation allowed for the entity types into a lettered option sentence and asks which
option the sentence supports; the none option is always last. On a local backend the answer is read from
one forward pass: the next-token probabilities of the option letters ("A" and " A" both count), normalized
over the offered letters. The vanilla baseline lists the relation labels and generates one.

Beside the published readings, each behind its own flag:

- ``calibrate`` divides the option probabilities by their prior on a content-free question (the sentence
  and both entities replaced by "N/A"; contextual calibration, Zhao et al. 2021), which undoes a model's
  standing preference for one option;
- ``demonstrations`` puts solved questions (e.g. from a training split) before the asked one as earlier
  conversation turns, the few-shot setting QA4RE also reports;
- ``reading="verify"`` asks one yes/no question per option sentence and ranks options by P(yes);
- ``reading="score"`` ranks whole answers (the vanilla labels, or letters) by their probability as the
  reply, which is restricted decoding for a model that would otherwise answer in prose;
- ``permutations=K`` asks each question K times with the relation options in K evenly spaced rotations
  (the none option stays last) and averages each label's probability, so an option's place in the list
  no longer decides for it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ieforge.errors import InputError
from ieforge.models.base import Backend, Chat
from ieforge.prompts import (
    REPrompt,
    REQuestion,
    build_re_question,
    content_free_question,
    load_re_prompt,
)
from ieforge.prompts.parsers import parse_label, parse_option_letter
from ieforge.schemas.relations import RelationSchema, load_relation_schema
from ieforge.tasks._answers import BATCHES_PER_CALL
from ieforge.tasks._options import (
    NO,
    YES,
    distinct_mass,
    divide_by_prior,
    letter_forms,
    normalize,
    yes_probability,
)
from ieforge.types import Mention, Relation

Method = Literal["qa4re", "vanilla"]
Reading = Literal["letters", "generate", "verify", "score"]

METHODS: tuple[str, ...] = ("qa4re", "vanilla")
READINGS: tuple[str, ...] = ("letters", "generate", "verify", "score")


def check_relation_options(method: str, reading: str, permutations: int = 1) -> None:
    """The one rule on relation options, for the library, the command line, corpus runs and the service:
    a known method and reading, no ``verify`` reading for the vanilla question (it has no yes/no form),
    and option rotations (``permutations`` above 1) only for the letters and score readings. Raises
    :class:`InputError` (a ``ValueError``) with one line naming the option; it needs no model, so a
    caller checks before loading one."""
    if method not in METHODS:
        raise InputError(f"method is qa4re or vanilla, not '{method}'")
    if reading not in READINGS:
        raise InputError(f"reading is letters, generate, verify or score, not '{reading}'")
    if method == "vanilla" and reading == "verify":
        raise InputError(
            "reading 'verify' works with method 'qa4re' only: the vanilla question has no yes/no form "
            "(use reading letters, generate or score)"
        )
    if permutations < 1:
        raise InputError(f"permutations must be at least 1, not {permutations}")
    if permutations > 1 and reading not in ("letters", "score"):
        raise InputError(f"permutations above 1 need the letters or score reading, not '{reading}'")


# the prompt each (method, reading) uses unless one is given
_DEFAULT_PROMPT = {"qa4re": "qa4re", "vanilla": "vanilla"}
_VERIFY_PROMPT = "qa4re-verify"


@dataclass(frozen=True)
class RelationQuery:
    """One (sentence, head, tail) pair to classify; types are optional (they prune the options)."""

    text: str
    head: Mention
    tail: Mention
    head_type: str | None = None
    tail_type: str | None = None


@dataclass
class LabelProbabilities:
    """How probable a task finds each offered label for one query."""

    raw: dict[str, float] = field(default_factory=dict)
    """label -> probability as read (a label with several templates sums its options)"""
    calibrated: dict[str, float] | None = None
    """label -> probability after dividing by the content-free prior (when asked for)"""
    mass: float = 0.0
    """share of the model's probability that fell on the answers read (mean over rotations)"""


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
        calibrate: bool = False,
        demonstrations: Sequence[tuple[RelationQuery, str]] = (),
        permutations: int = 1,
    ) -> None:
        """``reading`` is how the answer is read: ``letters`` (QA4RE: one forward pass, the published
        reading), ``generate`` (generate and parse the letter or label), ``verify`` (QA4RE: one yes/no
        question per option, prompt ``qa4re-verify``) or ``score`` (the probability of each whole
        answer, letter or label, as the reply: restricted decoding). Vanilla generates unless asked to
        score. ``calibrate`` divides
        the option probabilities by their content-free prior (letters and verify); ``demonstrations``
        are (query, gold label) pairs shown as solved questions before each one; ``permutations``
        averages over that many rotations of the option order (letters and score)."""
        check_relation_options(method, reading, permutations)
        self.backend = backend
        self.schema = schema if isinstance(schema, RelationSchema) else load_relation_schema(schema)
        self.method = method
        if prompt is None:
            prompt = _VERIFY_PROMPT if method == "qa4re" and reading == "verify" else _DEFAULT_PROMPT[method]
        self.prompt = prompt if isinstance(prompt, REPrompt) else load_re_prompt(prompt)
        parser = self.prompt.parser
        self.reading: Reading
        if parser == "yes_no":
            self.reading = "verify"
        elif reading == "verify":
            raise InputError(f"reading 'verify' needs a yes/no prompt, not '{self.prompt.id}'")
        elif parser == "option_letter" or reading == "score":
            self.reading = reading
        else:  # the vanilla question has no letters to read: its label is generated
            self.reading = "generate"
        if demonstrations and self.reading == "verify":
            raise InputError("demonstrations are not supported with the verify reading")
        if permutations > 1 and self.reading not in ("letters", "score"):
            raise InputError(f"permutations need the letters or score reading, not '{self.reading}'")
        self.permutations = permutations
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.calibrate = calibrate
        self._priors: dict[tuple[str | None, str | None, int], dict[str, float]] = {}
        self.demonstrations = list(demonstrations)
        self._demo_turns = [self._solved(q, label) for q, label in self.demonstrations]

    @property
    def variant(self) -> str:
        """The reading and its variants, e.g. ``letters+calibrated+3shot`` (recorded in benchmark files)."""
        parts: list[str] = [self.reading]
        if self.calibrate and self.reading != "generate":
            parts.append("calibrated")
        if self.demonstrations:
            parts.append(f"{len(self.demonstrations)}shot")
        if self.permutations > 1:
            parts.append(f"{self.permutations}perm")
        return "+".join(parts)

    def question(self, q: RelationQuery, rotation: int = 0) -> REQuestion:
        """The rendered question for one query (``rotation``: see :func:`build_re_question`)."""
        return build_re_question(
            self.prompt,
            self.schema,
            q.text,
            q.head,
            q.tail,
            q.head_type,
            q.tail_type,
            rotation=rotation,
        )

    def rotations(self, q: RelationQuery) -> list[int]:
        """The option rotations asked for ``q``: ``permutations`` evenly spaced shifts of its relation
        options (fewer when fewer relations are offered)."""
        n = len(self.schema.allowed_labels(q.head_type, q.tail_type))
        k = max(1, min(self.permutations, n))
        return sorted({i * n // k for i in range(k)})

    def chat(self, question: REQuestion) -> Chat:
        """The conversation for one question: the demonstrations' turns, then the question."""
        return self.prompt.chat(question.text, self._demo_turns)

    def _solved(self, q: RelationQuery, label: str) -> tuple[str, str]:
        """A demonstration as (user message, assistant answer): the answer names the gold label's choice."""
        if label not in self.schema.all_labels:
            raise ValueError(f"demonstration label '{label}' is not in schema '{self.schema.name}'")
        question = self.question(q)
        answer = next((a for a, lab in question.options if lab == label), None)
        if answer is None:
            raise ValueError(
                f"demonstration label '{label}' is not offered for types {q.head_type}:{q.tail_type}"
            )
        return question.text, self.prompt.assistant_prefix + answer

    def run(self, query: RelationQuery) -> Relation:
        return next(self.run_many([query]))

    def run_many(
        self,
        queries: Sequence[RelationQuery],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> Iterator[Relation]:
        """One :class:`Relation` per query, in order. :data:`BATCHES_PER_CALL` batches of ``batch_size``
        queries go to the backend in one call, which orders them by prompt length (less padding) and,
        when generating, decodes them continuously."""
        per_call = max(1, self.batch_size) * BATCHES_PER_CALL
        for b in range(0, len(queries), per_call):
            group = list(queries[b : b + per_call])
            if self.reading != "generate":
                results = self._read_scored(group)
            else:
                results = self._read_generated(group, [self.question(q) for q in group])
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

    def label_probabilities(
        self, queries: Sequence[RelationQuery], *, calibrated: bool | None = None
    ) -> list[LabelProbabilities]:
        """Per query, the probability of every offered label as this task reads it, averaged over the
        option rotations; with ``calibrated`` (default: the task's ``calibrate``) also the calibrated
        probabilities. Only for the scored readings (letters, verify, score)."""
        if self.reading == "generate":
            raise ValueError("label probabilities need a scored reading (letters, verify or score)")
        calibrated = self.calibrate if calibrated is None else calibrated
        asked = [(i, r) for i, q in enumerate(queries) for r in self.rotations(q)]
        questions = [self.question(queries[i], r) for i, r in asked]
        out = [LabelProbabilities() for _ in queries]
        counts = [0] * len(queries)
        for (i, rotation), question, (probs, mass) in zip(asked, questions, self._option_probs(questions)):
            q, acc = queries[i], out[i]
            counts[i] += 1
            acc.mass += mass
            for letter, label in question.options:
                acc.raw[label] = acc.raw.get(label, 0.0) + probs[letter]
            if calibrated:
                prior = self.letter_prior(q.head_type, q.tail_type, rotation)
                cal = divide_by_prior(probs, prior)
                acc.calibrated = acc.calibrated or {}
                for letter, label in question.options:
                    acc.calibrated[label] = acc.calibrated.get(label, 0.0) + cal[letter]
        for acc, n in zip(out, counts):
            acc.mass /= n
            acc.raw = {k: v / n for k, v in acc.raw.items()}
            if acc.calibrated is not None:
                acc.calibrated = {k: v / n for k, v in acc.calibrated.items()}
        return out

    def _read_scored(self, group: list[RelationQuery]) -> list[Relation]:
        out: list[Relation] = []
        for q, lp in zip(group, self.label_probabilities(group)):
            by_label = lp.calibrated if self.calibrate and lp.calibrated is not None else lp.raw
            label = max(by_label, key=lambda x: by_label[x])
            out.append(self._relation(q, label, score=by_label[label], options=by_label, choice_mass=lp.mass))
        return out

    def _letter_probs(self, questions: list[REQuestion]) -> list[tuple[dict[str, float], float]]:
        """Per question: the probability of each offered letter (normalized) and their raw total."""
        probs_of: dict[int, tuple[dict[str, float], float]] = {}
        # questions offering the same letters share one batched forward pass
        by_letters: dict[tuple[str, ...], list[int]] = {}
        for i, question in enumerate(questions):
            letters = tuple(question.answers)
            if max(len(x) for x in letters) > 1:
                probs_of[i] = self._score_answers(question)
            else:
                by_letters.setdefault(letters, []).append(i)
        for letters, idx in by_letters.items():
            forms = letter_forms(letters)
            rows = self.backend.next_token_logprobs(
                [self.chat(questions[i]) for i in idx],
                forms,
                assistant_prefix=self.prompt.assistant_prefix,
                batch_size=self.batch_size,
                distinct=True,
            )
            for i, lp in zip(idx, rows):
                probs_of[i] = normalize({letter: distinct_mass(lp, letter) for letter in letters})
        return [probs_of[i] for i in range(len(questions))]

    def _option_probs(self, questions: list[REQuestion]) -> list[tuple[dict[str, float], float]]:
        """Per question: a probability per option letter and the answer mass behind it."""
        if self.reading == "verify":
            return self._verify_probs(questions)
        if self.reading == "score":
            return [self._score_answers(question) for question in questions]
        return self._letter_probs(questions)

    def _verify_probs(self, questions: list[REQuestion]) -> list[tuple[dict[str, float], float]]:
        """Yes/no reading: P(yes) of each option's own question, normalized over the options; the mass
        is the mean share of next-token probability on the yes/no words."""
        flat = [stmt for question in questions for stmt in question.statements]
        rows = self.backend.next_token_logprobs(
            [self.prompt.chat(text, self._demo_turns) for text in flat],
            [*YES, *NO],
            assistant_prefix=self.prompt.assistant_prefix,
            batch_size=max(self.batch_size, 16),
            distinct=True,
        )
        out: list[tuple[dict[str, float], float]] = []
        k = 0
        for question in questions:
            yes_of: dict[str, float] = {}
            masses: list[float] = []
            for letter in question.answers:
                yes_of[letter], mass = yes_probability(rows[k])
                k += 1
                masses.append(mass)
            probs, _ = normalize(yes_of)
            out.append((probs, sum(masses) / len(masses)))
        return out

    def letter_prior(
        self, head_type: str | None, tail_type: str | None, rotation: int = 0
    ) -> dict[str, float]:
        """The option probabilities (by letter) on the content-free question for these entity types:
        the model's preference among the options when there is nothing to read (computed once)."""
        key = (head_type, tail_type, rotation)
        if key not in self._priors:
            question = content_free_question(
                self.prompt, self.schema, head_type, tail_type, rotation=rotation
            )
            self._priors[key] = self._option_probs([question])[0][0]
        return self._priors[key]

    def _score_answers(self, question: REQuestion) -> tuple[dict[str, float], float]:
        """Every answer (option letters, or the vanilla labels) scored in full as the whole reply: used
        for the score reading and beyond 26 options, where "A" is a prefix of "AB"."""
        answers = question.answers
        rows = self.backend.score_continuations(
            [self.chat(question)],
            [self.prompt.assistant_prefix + x for x in answers],
            batch_size=self.batch_size,
        )[0]
        return normalize({answer: math.exp(s) for answer, s in zip(answers, rows)})

    def _read_generated(self, group: list[RelationQuery], questions: list[REQuestion]) -> list[Relation]:
        gens = self.backend.generate(
            [self.chat(x) for x in questions],
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


def pick_demonstrations(
    examples: Sequence[tuple[RelationQuery, str]], k: int, *, seed: int = 0
) -> list[tuple[RelationQuery, str]]:
    """``k`` demonstrations drawn from ``examples`` with distinct labels where possible (seeded).

    Labels are visited in a seeded random order and one example is taken per label, so a few shots show
    several relations rather than the most frequent one ``k`` times.
    """
    if k <= 0 or not examples:
        return []
    rng = random.Random(seed)
    by_label: dict[str, list[tuple[RelationQuery, str]]] = {}
    for ex in examples:
        by_label.setdefault(ex[1], []).append(ex)
    labels = sorted(by_label)
    rng.shuffle(labels)
    picked: list[tuple[RelationQuery, str]] = []
    while len(picked) < k and any(by_label.values()):
        for label in labels:
            pool = by_label[label]
            if pool and len(picked) < k:
                picked.append(pool.pop(rng.randrange(len(pool))))
    return picked
