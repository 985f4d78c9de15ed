"""Two-stage NER, stage 2: decide each candidate span's type by scoring, not by generating.

The QA4RE insight applied to entities. Stage 1 (in :mod:`ieforge.tasks.ner`) proposes candidate spans,
grounded to offsets: the spans the per-type questions found, or the answer to one "list every entity"
question. This module then decides each candidate's type among the requested ones, or none, with one of
three readings, each a versioned prompt:

- ``mc`` (``typing-mc``): one multiple-choice question per candidate, the requested types (with their
  descriptions when given) as lettered options and "none of these" last, read from the next-token
  probabilities of the letters -- one forward pass per candidate;
- ``verify`` (``typing-verify``): one yes/no question per (candidate, type), read as P(yes); the candidate
  takes the type with the highest P(yes) when it reaches ``threshold``;
- ``cloze`` (``typing-cloze``): the statement "{span} is a {type}." for every type, and a none statement,
  each scored as the whole answer; the most probable one decides.

Under every reading a candidate keeps its best type only when that type's probability reaches
``threshold`` (by default 0.5 for verify, 0 for the others: the argmax decides). ``calibrate`` divides
by the content-free prior (text and span replaced by "N/A"), which undoes a model's standing preference
for one letter, one answer or one type name (small models here collapse onto one option letter without
it). All questions about one text share its prefix (system prompt and text), which the local backends
encode once; the cloze statements of one candidate also share their start (the span), which the
transformers backend encodes once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ieforge.grounding import Chunk
from ieforge.models.base import Backend, Chat
from ieforge.prompts import TypingPrompt, load_typing_prompt
from ieforge.tasks._options import (
    NO,
    YES,
    calibrate_binary,
    distinct_mass,
    divide_by_prior,
    letter_forms,
    normalize,
    yes_probability,
)

TypingReading = Literal["mc", "verify", "cloze"]
READINGS: tuple[str, ...] = ("mc", "verify", "cloze")
DEFAULT_PROMPTS: dict[str, str] = {"mc": "typing-mc", "verify": "typing-verify", "cloze": "typing-cloze"}
DEFAULT_THRESHOLDS: dict[str, float] = {"mc": 0.0, "verify": 0.5, "cloze": 0.0}
"""the probability a candidate's best type needs, by reading, when no threshold is given"""
_PARSERS = {"mc": "option_letter", "verify": "yes_no", "cloze": "cloze"}
_CONTENT_FREE = "N/A"
NONE = ""
"""the key of the none answer in :attr:`TypeDecision.probabilities`"""


@dataclass
class Candidate:
    """A span stage 1 proposed, at ``chunk.text[start:end]``, with the types it was proposed under."""

    chunk: Chunk
    start: int
    end: int
    proposed: dict[str, float] = field(default_factory=dict)
    """label -> the stage-1 answer score (empty when stage 1 asked no type)"""

    @property
    def text(self) -> str:
        return self.chunk.text[self.start : self.end]


@dataclass
class TypeDecision:
    """The type stage 2 gave a candidate (None: none of the requested types) and how sure it was."""

    label: str | None
    score: float
    probabilities: dict[str, float]
    """label -> probability as read (P(yes) for verify); the none answer is under the key ``""``"""


class EntityTyper:
    """Decide the types of candidate spans with one model and one reading (see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        *,
        reading: TypingReading = "mc",
        prompt: str | TypingPrompt | None = None,
        calibrate: bool = False,
        threshold: float | None = None,
        batch_size: int = 64,
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        if reading not in READINGS:
            raise ValueError(f"unknown typing reading '{reading}' (use {', '.join(READINGS)})")
        self.backend = backend
        self.reading = reading
        if prompt is None:
            prompt = DEFAULT_PROMPTS[reading]
        self.prompt = prompt if isinstance(prompt, TypingPrompt) else load_typing_prompt(prompt)
        if self.prompt.parser != _PARSERS[reading]:
            raise ValueError(
                f"the {reading} reading needs a '{_PARSERS[reading]}' typing prompt, "
                f"not '{self.prompt.id}' ({self.prompt.parser})"
            )
        if threshold is None:
            threshold = DEFAULT_THRESHOLDS[reading]
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
        self.calibrate = calibrate
        self.threshold = threshold
        self.batch_size = batch_size
        self.descriptions = dict(descriptions or {})
        self._priors: dict[tuple[str, ...], dict[str, float]] = {}

    @property
    def options_id(self) -> str:
        """The options that change decisions, as recorded with results after the prompt's id:
        ``+calibrated``, and ``+threshold0.5`` when the threshold is not the reading's default."""
        out = "+calibrated" if self.calibrate else ""
        if self.threshold != DEFAULT_THRESHOLDS[self.reading]:
            out += f"+threshold{self.threshold:g}"
        return out

    @property
    def variant(self) -> str:
        """The reading and its options, e.g. ``mc+calibrated``."""
        return self.reading + self.options_id

    def type_name(self, label: str) -> str:
        """How a type is written in a question: its name, with its description when one was given."""
        description = self.descriptions.get(label, "").strip()
        return f"{label} ({description})" if description else label

    def decide(self, candidates: Sequence[Candidate], labels: Sequence[str]) -> list[TypeDecision]:
        """One decision per candidate, in order. Candidates with the same text in the same chunk are
        asked once."""
        labels = list(labels)
        keys = [(c.chunk.text, c.text) for c in candidates]
        unique = list(dict.fromkeys(keys))
        if not unique:
            return []
        if self.reading == "mc":
            decided = self._multiple_choice(unique, labels)
        elif self.reading == "verify":
            decided = self._verify(unique, labels)
        else:
            decided = self._cloze(unique, labels)
        by_key = dict(zip(unique, decided))
        return [by_key[k] for k in keys]

    # ----- multiple choice ------------------------------------------------------------------------

    def _options(self, labels: list[str]) -> tuple[str, list[tuple[str, str]]]:
        """The options block and its (letter, label) pairs, the none option (label ``""``) last."""
        if len(labels) + 1 > 26:
            raise ValueError(
                f"the mc reading offers at most 25 types as lettered options, not {len(labels)}; "
                "use the verify or cloze reading"
            )
        block, letters = self.prompt.choices([self.type_name(x) for x in labels])
        pairs = list(zip(letters, [*labels, NONE]))
        return block, pairs

    def _letter_probs(self, keys: list[tuple[str, str]], labels: list[str]) -> list[dict[str, float]]:
        block, pairs = self._options(labels)
        letters = [letter for letter, _ in pairs]
        rows = self.backend.next_token_logprobs(
            [self.prompt.chat(text=text, span=span, options=block) for text, span in keys],
            letter_forms(letters),
            assistant_prefix=self.prompt.assistant_prefix,
            batch_size=self.batch_size,
            distinct=True,
        )
        out = []
        for row in rows:
            probs, _ = normalize({letter: distinct_mass(row, letter) for letter in letters})
            out.append({label: probs[letter] for letter, label in pairs})
        return out

    def _multiple_choice(self, keys: list[tuple[str, str]], labels: list[str]) -> list[TypeDecision]:
        rows = self._letter_probs(keys, labels)
        if self.calibrate:
            prior = self._prior(labels, self._letter_probs)
            rows = [divide_by_prior(row, prior) for row in rows]
        return [self._best(row) for row in rows]

    # ----- yes/no verification ----------------------------------------------------------------------

    def _yes(self, keys: list[tuple[str, str]], labels: list[str]) -> list[dict[str, float]]:
        chats: list[Chat] = [
            self.prompt.chat(text=text, span=span, type=self.type_name(label))
            for text, span in keys
            for label in labels
        ]
        rows = self.backend.next_token_logprobs(
            chats,
            [*YES, *NO],
            assistant_prefix=self.prompt.assistant_prefix,
            batch_size=self.batch_size,
            distinct=True,
        )
        k = len(labels)
        return [
            {label: yes_probability(row)[0] for label, row in zip(labels, rows[i * k : (i + 1) * k])}
            for i in range(len(keys))
        ]

    def _verify(self, keys: list[tuple[str, str]], labels: list[str]) -> list[TypeDecision]:
        rows = self._yes(keys, labels)
        if self.calibrate:
            prior = self._prior(labels, self._yes)
            rows = [{k: calibrate_binary(p, prior[k]) for k, p in row.items()} for row in rows]
        return [self._best(row) for row in rows]

    # ----- cloze ----------------------------------------------------------------------------------

    def _statements(self, span: str, labels: list[str]) -> list[str]:
        p = self.prompt
        filled = [
            p.fill(p.statement, span=span, type=self.type_name(x), article=_article(self.type_name(x)))
            for x in labels
        ]
        return [*filled, p.fill(p.none_statement, span=span, article="a", type="")]

    def _statement_logprobs(self, keys: list[tuple[str, str]], labels: list[str]) -> list[dict[str, float]]:
        rows = self.backend.score_continuations(
            [self.prompt.chat(text=text, span=span) for text, span in keys],
            [[self.prompt.assistant_prefix + s for s in self._statements(span, labels)] for _, span in keys],
            batch_size=self.batch_size,
        )
        return [dict(zip([*labels, NONE], row)) for row in rows]

    def _cloze(self, keys: list[tuple[str, str]], labels: list[str]) -> list[TypeDecision]:
        rows = self._statement_logprobs(keys, labels)
        if self.calibrate:
            prior = self._prior(labels, self._statement_logprobs)
            rows = [{k: lp - prior[k] for k, lp in row.items()} for row in rows]
        out = []
        for row in rows:
            top = max(row.values())
            probs, _ = normalize({k: math.exp(lp - top) for k, lp in row.items()})
            out.append(self._best(probs))
        return out

    # ----- shared ---------------------------------------------------------------------------------

    def _best(self, probs: dict[str, float]) -> TypeDecision:
        """The most probable answer; a type below the threshold becomes none."""
        best = max(probs, key=lambda k: probs[k])
        label = best if best and probs[best] >= self.threshold else None
        return TypeDecision(label=label, score=probs[best], probabilities=probs)

    def _prior(
        self, labels: list[str], read: Callable[[list[tuple[str, str]], list[str]], list[dict[str, float]]]
    ) -> dict[str, float]:
        """``read`` on the content-free question (text and span "N/A") for these labels, computed once
        per label list."""
        key = tuple(labels)
        if key not in self._priors:
            self._priors[key] = read([(_CONTENT_FREE, _CONTENT_FREE)], labels)[0]
        return self._priors[key]


def _article(word: str) -> str:
    return "an" if word[:1] and word[0].lower() in "aeiou" else "a"
