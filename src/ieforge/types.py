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
    """recovered strings that do not occur in the text (entities, triggers and arguments are dropped;
    open IE parts and table cells are kept without offsets)"""
    unknown: int = 0
    """answers naming an event type, role or column the question did not offer (dropped)"""
    rejected: int = 0
    """recovered strings the task refused (an event trigger longer than the task allows; a candidate
    span two-stage NER typed as none of the requested types)"""

    def add(self, other: ParseStats) -> None:
        self.answers += other.answers
        self.strings += other.strings
        self.unparsed += other.unparsed
        self.ungrounded += other.ungrounded
        self.unknown += other.unknown
        self.rejected += other.rejected


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


# ----- events ---------------------------------------------------------------------------------------------


class EventArgument(Mention):
    """A participant of an event: the role it plays and where the text mentions it."""

    role: str
    score: float | None = None


class Event(BaseModel):
    """An event the text mentions: its type, the trigger that evokes it, and its arguments."""

    type: str
    trigger: Mention
    arguments: list[EventArgument] = Field(default_factory=list)
    score: float | None = None
    """confidence in the trigger and its type (probability scale; None when not measured)"""


class EventResult(BaseModel):
    """Events found in one text, plus how they were obtained."""

    text: str
    schema_name: str
    """name@version of the event schema the types and roles come from"""
    events: list[Event]
    stats: ParseStats = Field(default_factory=ParseStats)
    model: str = ""
    prompt: str = ""
    """name@version of the prompts used (trigger detection + argument extraction)"""


# ----- open IE and on-demand tables ----------------------------------------------------------------------


class Phrase(BaseModel):
    """A piece of a model's answer, located in the input text when it was copied from it.

    ``start``/``end`` are None when the phrase does not occur in the text (open IE relations such as
    "is", a table cell the model computed); otherwise ``text[start:end] == phrase.text``.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)

    @property
    def grounded(self) -> bool:
        return self.start is not None


class OpenTriple(BaseModel):
    """An open IE fact: subject, relation phrase, object, and further arguments (time, place ...)."""

    subject: Phrase
    relation: Phrase
    object: Phrase
    extra: list[Phrase] = Field(default_factory=list)
    score: float | None = None
    """the answer tokens' mean probability (the confidence open IE scorers rank by)"""

    @property
    def arguments(self) -> list[str]:
        """Subject, object and the further arguments as strings (the CaRB argument order)."""
        return [self.subject.text, self.object.text, *(p.text for p in self.extra)]


class TriplesResult(BaseModel):
    """Open IE triples found in one text."""

    text: str
    triples: list[OpenTriple]
    stats: ParseStats = Field(default_factory=ParseStats)
    model: str = ""
    prompt: str = ""


class TableRow(BaseModel):
    """One row of an on-demand table: header -> cell (absent headers have no cell)."""

    cells: dict[str, Phrase]
    score: float | None = None


class TableResult(BaseModel):
    """The table an instruction asked for, built from one text."""

    text: str
    instruction: str
    headers: list[str]
    rows: list[TableRow]
    stats: ParseStats = Field(default_factory=ParseStats)
    model: str = ""
    prompt: str = ""

    def records(self) -> list[dict[str, str]]:
        """The table as plain rows: header -> cell text ("" for a missing cell), in header order."""
        return [{h: row.cells[h].text if h in row.cells else "" for h in self.headers} for row in self.rows]

    def to_csv(self) -> str:
        """The table as CSV text with a header line."""
        import csv
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.headers, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records())
        return buf.getvalue()
