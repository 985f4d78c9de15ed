"""Reading a scored answer: option letters and yes/no from next-token probabilities.

Shared by the tasks that decide by scoring instead of generating (QA4RE relations, entity typing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# the letter readings that can start an answer; a leading space is a different token in most vocabularies
LETTER_FORMS = ("{}", " {}")
# how a yes/no answer can start
YES = ("Yes", "yes", " Yes", " yes")
NO = ("No", "no", " No", " no")


def letter_forms(letters: Sequence[str]) -> list[str]:
    """Every spelling of every letter, in the order :func:`distinct_mass` reads them."""
    return [form.format(letter) for letter in letters for form in LETTER_FORMS]


def normalize(raw: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """Probabilities over the offered answers, and the share of probability they had before."""
    mass = sum(raw.values())
    return {k: v / mass if mass > 0 else 1.0 / len(raw) for k, v in raw.items()}, mass


def divide_by_prior(probs: Mapping[str, float], prior: Mapping[str, float]) -> dict[str, float]:
    """Contextual calibration of a choice: each option's probability divided by its content-free prior,
    normalized again over the options."""
    return normalize({k: p / max(prior[k], 1e-12) for k, p in probs.items()})[0]


def forms_mass(logprobs: Mapping[str, float], forms: Sequence[str]) -> float:
    """Total probability of several spellings of one answer (read with ``distinct=True``, so a spelling
    that is the same token as an earlier one is ``-inf`` and adds nothing)."""
    return sum(math.exp(logprobs[form]) for form in forms)


def distinct_mass(logprobs: Mapping[str, float], letter: str) -> float:
    """Probability of a letter over its spellings; spellings that are the same token count once."""
    return forms_mass(logprobs, [form.format(letter) for form in LETTER_FORMS])


def yes_probability(logprobs: Mapping[str, float]) -> tuple[float, float]:
    """P(yes) among the yes/no answers (0.5 when neither was likely) and the mass they had."""
    yes, no = forms_mass(logprobs, YES), forms_mass(logprobs, NO)
    return (yes / (yes + no) if yes + no > 0 else 0.5), yes + no


def calibrate_binary(p: float, prior: float) -> float:
    """P(yes) after dividing both answers by their content-free prior (contextual calibration)."""
    prior = min(max(prior, 1e-6), 1 - 1e-6)
    yes, no = p / prior, (1 - p) / (1 - prior)
    return yes / (yes + no)
