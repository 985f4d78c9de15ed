"""ieforge: information extraction with instruction-tuned language models, every span grounded."""

from ieforge.extractor import Extractor
from ieforge.types import Entity, NERResult, ParseStats, Span

__version__ = "0.1.0"

__all__ = ["Entity", "Extractor", "NERResult", "ParseStats", "Span", "__version__"]
