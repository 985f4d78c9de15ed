"""Typed results. Every span is grounded: ``text[start:end] == span.text`` (Python str indices)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Span(BaseModel):
    """A labelled piece of the input text, located by character offsets."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0, description="offset of the first character (Python str index)")
    end: int = Field(ge=0, description="offset one past the last character")
    text: str
    label: str
    score: float | None = Field(default=None, description="model confidence in [0, 1]")


class Entity(Span):
    """A named entity mention."""


class ParseStats(BaseModel):
    """What happened to the model's answers on the way to grounded spans."""

    answers: int = 0
    """number of model answers read (one per question)"""
    strings: int = 0
    """strings recovered from the answers"""
    unparsed: int = 0
    """answers from which nothing could be recovered (not a list, empty output ...)"""
    ungrounded: int = 0
    """recovered strings that do not occur in the text (dropped)"""

    def add(self, other: ParseStats) -> None:
        self.answers += other.answers
        self.strings += other.strings
        self.unparsed += other.unparsed
        self.ungrounded += other.ungrounded


class NERResult(BaseModel):
    """Entities found in one text, plus how they were obtained."""

    text: str
    labels: list[str]
    entities: list[Entity]
    stats: ParseStats = Field(default_factory=ParseStats)
    model: str = ""
    prompt: str = ""
    """name@version of the prompt that produced the answers"""


class Mention(BaseModel):
    """A piece of the input text located by character offsets, without a label (e.g. a relation argument)."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0, description="offset of the first character (Python str index)")
    end: int = Field(ge=0, description="offset one past the last character")
    text: str


class Relation(BaseModel):
    """The relation a model reads between a head (subject) and a tail (object) mention."""

    label: str
    head: Mention
    tail: Mention
    head_type: str | None = None
    tail_type: str | None = None
    score: float | None = None
    """probability of ``label`` among the offered choices (None when the answer was generated text)"""
    options: dict[str, float] = Field(default_factory=dict)
    """probability of every offered label (a label with several templates sums its options)"""
    answered: bool = True
    """False when the model's answer could not be read; the label is then the schema's none label"""
    choice_mass: float | None = None
    """share of the next-token probability that fell on the offered option letters (letter reading)"""
    method: str = ""
    prompt: str = ""
    model: str = ""
