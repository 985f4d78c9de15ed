"""ieforge: information extraction with instruction-tuned language models, every span grounded."""

from ieforge.extractor import Extractor
from ieforge.types import (
    Entity,
    Event,
    EventArgument,
    EventResult,
    Mention,
    NERResult,
    OpenTriple,
    ParseStats,
    Phrase,
    Relation,
    Span,
    TableResult,
    TableRow,
    TriplesResult,
)

__version__ = "0.1.0"

__all__ = [
    "Entity",
    "Event",
    "EventArgument",
    "EventResult",
    "Extractor",
    "Mention",
    "NERResult",
    "OpenTriple",
    "ParseStats",
    "Phrase",
    "Relation",
    "Span",
    "TableResult",
    "TableRow",
    "TriplesResult",
    "__version__",
]
