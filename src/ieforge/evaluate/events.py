"""Event extraction scores in the ACE convention that OneIE, DEGREE and TextEE report.

Four strict, micro-averaged scores are computed over a corpus, each from sets of tuples per document:

======================== =====================================================================
score                    a predicted tuple counts when a gold tuple of the same document has
======================== =====================================================================
trigger identification   the same trigger offsets ``(start, end)``
trigger classification   the same trigger offsets and the same event type
argument identification  the same argument offsets and the same event type (of the event the
                         argument belongs to)
argument classification  the same argument offsets, event type and role
======================== =====================================================================

The event type is :attr:`EventMention.subtype` when it is set and :attr:`EventMention.type` otherwise,
the same choice as :func:`ieforge.data.casie_schema`: CASIE is scored on its five subtypes
(``Databreach`` ...), not on the two coarse types above them.

Arguments are scored on their own, without asking whether the trigger of their event was found: an
argument with the right offsets, event type (and role) counts even when the predicted trigger sits
elsewhere. This is the usual Arg-I / Arg-C of the papers above; the stricter variants that also
require the trigger offsets are not computed. Offsets are the spans' ``start``/``end``; their ``text``
is not compared. Every tuple is put in a set, so a duplicate counts once: the same argument span
predicted twice for two events of the same type (or the same trigger listed as two events of one
type) is one tuple, on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from ieforge.data.examples import Argument, EventMention
from ieforge.evaluate.metrics import PRF
from ieforge.types import Event, Mention


class EventScores(BaseModel):
    """The four event extraction scores, each with its true/false positive and false negative counts."""

    trigger_identification: PRF = Field(default_factory=PRF)
    """trigger offsets match (Trig-I)"""
    trigger_classification: PRF = Field(default_factory=PRF)
    """trigger offsets and event type match (Trig-C)"""
    argument_identification: PRF = Field(default_factory=PRF)
    """argument offsets and the event type of its event match (Arg-I)"""
    argument_classification: PRF = Field(default_factory=PRF)
    """argument offsets, event type and role match (Arg-C)"""


def _event_type(event: EventMention) -> str:
    return event.subtype or event.type


def _counts(gold: set[tuple[object, ...]], pred: set[tuple[object, ...]]) -> PRF:
    return PRF(tp=len(gold & pred), fp=len(pred - gold), fn=len(gold - pred))


def _tuples(
    events: Iterable[EventMention],
) -> tuple[
    set[tuple[object, ...]], set[tuple[object, ...]], set[tuple[object, ...]], set[tuple[object, ...]]
]:
    trig_i: set[tuple[object, ...]] = set()
    trig_c: set[tuple[object, ...]] = set()
    arg_i: set[tuple[object, ...]] = set()
    arg_c: set[tuple[object, ...]] = set()
    for event in events:
        kind = _event_type(event)
        trig_i.add((event.trigger.start, event.trigger.end))
        trig_c.add((event.trigger.start, event.trigger.end, kind))
        for argument in event.arguments:
            arg_i.add((argument.span.start, argument.span.end, kind))
            arg_c.add((argument.span.start, argument.span.end, kind, argument.role))
    return trig_i, trig_c, arg_i, arg_c


def event_prf(gold: Sequence[Iterable[EventMention]], pred: Sequence[Iterable[EventMention]]) -> EventScores:
    """Score predicted events against gold events, document by document, micro over the corpus.

    ``gold[i]`` and ``pred[i]`` are the events of document ``i`` (``EventExample.events`` is the gold
    side); the two sequences must have the same length, otherwise :class:`ValueError`. See the module
    docstring for what each of the four scores matches and how duplicates are counted.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold documents but {len(pred)} predicted")
    scores = EventScores()
    for g, p in zip(gold, pred):
        g_sets, p_sets = _tuples(g), _tuples(p)
        scores.trigger_identification += _counts(g_sets[0], p_sets[0])
        scores.trigger_classification += _counts(g_sets[1], p_sets[1])
        scores.argument_identification += _counts(g_sets[2], p_sets[2])
        scores.argument_classification += _counts(g_sets[3], p_sets[3])
    return scores


def predicted_mentions(events: Iterable[Event]) -> list[EventMention]:
    """Predicted :class:`~ieforge.types.Event` objects in the gold shape that :func:`event_prf` compares.

    The predicted type becomes the mention's ``type`` (no subtype), which is what a schema built from
    the data names: CASIE's subtypes, RAMS's full type names."""
    return [
        EventMention(
            type=event.type,
            trigger=event.trigger,
            arguments=[
                Argument(role=a.role, span=Mention(start=a.start, end=a.end, text=a.text))
                for a in event.arguments
            ],
        )
        for event in events
    ]
