"""The library's front door: :class:`Extractor` holds a model and runs IE tasks on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from ieforge.models import Backend, load_model
from ieforge.tasks.ner import DEFAULT_PROMPT, NERTask
from ieforge.types import Entity, NERResult


class Extractor:
    """Information extraction with one language model.

    >>> ex = Extractor()  # doctest: +SKIP
    >>> ex.entities("Barack Obama was born in Honolulu.", labels=["person", "location"])  # doctest: +SKIP
    [Entity(start=0, end=12, text='Barack Obama', label='person', score=0.97), ...]

    ``model`` is a catalogue name (``ieforge models``), a GGUF file, a model directory, a hub id, or an
    already loaded :class:`~ieforge.models.Backend`. Loading happens on first use.
    """

    def __init__(
        self,
        model: str | Backend | None = None,
        *,
        prompt: str = DEFAULT_PROMPT,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        max_new_tokens: int = 64,
        max_chunk_tokens: int | None = None,
    ) -> None:
        self._model_spec = model
        self._backend: Backend | None = model if isinstance(model, Backend) else None
        self.prompt = prompt
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.max_chunk_tokens = max_chunk_tokens
        self._ner: NERTask | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            spec = self._model_spec if isinstance(self._model_spec, str) else None
            self._backend = load_model(spec, device=self.device, dtype=self.dtype)
        return self._backend

    def _ner_task(self) -> NERTask:
        if self._ner is None:
            self._ner = NERTask(
                self.backend,
                prompt=self.prompt,
                max_new_tokens=self.max_new_tokens,
                batch_size=self.batch_size,
                max_chunk_tokens=self.max_chunk_tokens,
            )
        return self._ner

    def ner(self, text: str, labels: Sequence[str]) -> NERResult:
        """Entities of the given types in ``text`` with parse statistics, model and prompt version."""
        return self._ner_task().run(text, labels)

    def entities(self, text: str, labels: Sequence[str]) -> list[Entity]:
        """Entities of the given types in ``text``, each with ``text[e.start:e.end] == e.text``."""
        return self.ner(text, labels).entities

    def ner_many(
        self, texts: Sequence[str], labels: Sequence[str], *, on_done: Callable[[int], None] | None = None
    ) -> Iterator[NERResult]:
        """One :class:`NERResult` per text, in order, computed lazily."""
        return self._ner_task().run_many(texts, labels, on_done=on_done)
