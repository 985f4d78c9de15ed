"""Gold examples shared by the benchmark readers: documents with entities and relations, events,
relational triples and open IE extractions.

The models are deliberately small and task-shaped rather than dataset-shaped, so that a reader's
output and a model's prediction for the same task can be compared field by field. Every span is a
:class:`~ieforge.types.Mention` (or :class:`~ieforge.types.Entity`) whose offsets index the example's
``text``: ``text[span.start:span.end] == span.text``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ieforge.data.semeval import REExample
from ieforge.types import Entity, Mention


class RelationMention(BaseModel):
    """A labelled, directed relation between two mentions of the same text (head = subject)."""

    head: Mention
    tail: Mention
    label: str


class DocumentExample(BaseModel):
    """A text with its gold entities and the relations between them (one SciERC sentence, say)."""

    id: str
    text: str
    entities: list[Entity] = Field(default_factory=list)
    relations: list[RelationMention] = Field(default_factory=list)


class Argument(BaseModel):
    """A participant of an event: the role it plays and where it is mentioned."""

    role: str
    span: Mention
    type: str | None = None
    """entity type of the filler, when the dataset gives one (CASIE: ``Person``, ``PII`` ...)"""


class EventMention(BaseModel):
    """One event: its type, the trigger word or phrase that evokes it, and its arguments."""

    type: str
    trigger: Mention
    arguments: list[Argument] = Field(default_factory=list)
    subtype: str | None = None
    """finer type, for datasets with a two-level inventory (CASIE: type ``Attack``, subtype ``Ransom``)"""
    realis: str | None = None
    """whether the event actually happened (CASIE: ``Actual``, ``Generic``, ``Other``), when annotated"""


class EventExample(BaseModel):
    """A text with its gold events."""

    id: str
    text: str
    events: list[EventMention] = Field(default_factory=list)


class Triple(BaseModel):
    """A (subject, relation, object) fact stated in a text, with where subject and object occur.

    A span is None when the string does not occur verbatim in the text.
    """

    subject: str
    relation: str
    object: str
    subject_span: Mention | None = None
    object_span: Mention | None = None


class TripleExample(BaseModel):
    """A text with the gold relational triples it expresses."""

    id: str
    text: str
    triples: list[Triple] = Field(default_factory=list)


class OpenIEExtraction(BaseModel):
    """An open IE tuple: a relation phrase and its arguments (``arguments[0]`` is the subject).

    The phrases are strings, not spans: open IE gold tuples may rephrase or reorder words of the text.
    """

    relation: str
    arguments: list[str]


class OpenIEExample(BaseModel):
    """A sentence with its gold open IE extractions."""

    id: str
    text: str
    extractions: list[OpenIEExtraction] = Field(default_factory=list)


def relation_examples(example: DocumentExample, *, none_label: str | None = None) -> list[REExample]:
    """Turn a document's gold relations into relation classification examples, one per relation.

    Entity types are filled in from the entities with the same offsets as the head and tail. With
    ``none_label`` (e.g. ``"no_relation"``), every ordered pair of distinct entities that has no gold
    relation becomes an example with that label as well, which is how relation classification over
    all candidate pairs is usually evaluated. Ids are ``DOCUMENT-INDEX`` in output order.
    """
    types = {(e.start, e.end): e.label for e in example.entities}
    pairs: list[tuple[Mention, Mention, str]] = [(r.head, r.tail, r.label) for r in example.relations]
    if none_label is not None:
        related = {(r.head.start, r.head.end, r.tail.start, r.tail.end) for r in example.relations}
        mentions = [Mention(start=e.start, end=e.end, text=e.text) for e in example.entities]
        for head in mentions:
            for tail in mentions:
                key = (head.start, head.end, tail.start, tail.end)
                if (head.start, head.end) != (tail.start, tail.end) and key not in related:
                    related.add(key)
                    pairs.append((head, tail, none_label))
    return [
        REExample(
            id=f"{example.id}-{i}",
            text=example.text,
            head=head,
            tail=tail,
            label=label,
            head_type=types.get((head.start, head.end)),
            tail_type=types.get((tail.start, tail.end)),
        )
        for i, (head, tail, label) in enumerate(pairs)
    ]
