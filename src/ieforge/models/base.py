"""The one interface every model backend implements. Tasks talk to models only through it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    role: str
    """"system", "user" or "assistant"."""
    content: str


Chat = list[Message]

Continuations = Sequence[str] | Sequence[Sequence[str]]
"""What :meth:`Backend.score_continuations` scores: one list of strings for every chat, or a list per
chat."""


@dataclass
class Generation:
    """One generated answer with per-token log-probabilities.

    ``token_spans[i]`` is the (start, end) character range of generated token ``i`` inside ``text``;
    ``token_logprobs[i]`` is its log-probability under the model. ``text`` starts with the assistant
    prefix the caller asked for (if any), which has no tokens of its own.
    """

    text: str
    token_logprobs: list[float] = field(default_factory=list)
    token_spans: list[tuple[int, int]] = field(default_factory=list)
    finished: bool = True
    """False when generation stopped at the token limit rather than at end-of-turn."""

    def mean_logprob(self, start: int, end: int) -> float | None:
        """Mean log-probability of the tokens overlapping ``text[start:end]`` (None if none do)."""
        vals = [lp for (s, e), lp in zip(self.token_spans, self.token_logprobs) if s < end and e > start]
        return sum(vals) / len(vals) if vals else None


@runtime_checkable
class Backend(Protocol):
    """A language model ieforge can prompt.

    Implementations: :class:`ieforge.models.transformers.TransformersBackend` and
    :class:`ieforge.models.llamacpp.LlamaCppBackend`. A new backend (an OpenAI-compatible server, say)
    implements these methods and nothing else. Callers pass every prompt of a step in one call, so a
    backend is free to reorder them, batch them and reuse what they share (both local backends encode a
    prefix common to several prompts once).
    """

    name: str

    @property
    def context_length(self) -> int:
        """Maximum tokens (prompt + answer) the model accepts."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` costs inside a prompt."""
        ...

    def generate(
        self,
        chats: Sequence[Chat],
        *,
        max_new_tokens: int | Sequence[int] = 128,
        temperature: float = 0.0,
        assistant_prefix: str = "",
        stop: Sequence[str] = (),
        batch_size: int = 8,
        on_answer: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        """Answer each chat (the model's chat template applies); greedy when ``temperature`` is 0.

        ``max_new_tokens`` is one limit for every answer or one per chat. ``assistant_prefix`` is text
        the answer is forced to start with (e.g. ``"["``). Generation of an
        answer ends at the first of the ``stop`` strings, which is kept at the end of the text.
        ``on_answer`` is called with a chat's index as soon as its answer is done, once per chat, in the
        order the backend finishes them (progress within one call; it must not change the answers).
        Tasks pass it only when a caller asked for progress.
        """
        ...

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Continuations, *, batch_size: int = 8
    ) -> list[list[float]]:
        """Log-probability of each continuation as the start of the assistant's answer.

        ``continuations`` is one list for every chat, or one list per chat (see
        :func:`continuation_lists`). Returns one row per chat, one summed log-probability per
        continuation of that chat.
        """
        ...

    def next_token_logprobs(
        self,
        chats: Sequence[Chat],
        options: Sequence[str],
        *,
        assistant_prefix: str = "",
        batch_size: int = 8,
        distinct: bool = False,
    ) -> list[dict[str, float]]:
        """Log-probability of each option's first token as the next token of the answer (one forward pass
        per chat). Options whose first tokens coincide share a score; with ``distinct=True`` only the
        first of them gets it and the later ones get ``-inf``, so that probabilities summed over options
        (several spellings of one answer, say) count every token once."""
        ...


def continuation_lists(chats: Sequence[Chat], continuations: Continuations) -> list[list[str]]:
    """The continuations of each chat: the same list for every chat when ``continuations`` is a list of
    strings, else one list per chat (a ValueError when the counts differ)."""
    if all(isinstance(c, str) for c in continuations):
        same = [str(c) for c in continuations]
        return [same for _ in chats]
    if any(isinstance(c, str) for c in continuations) or len(continuations) != len(chats):
        raise ValueError(
            "continuations: give one list of strings for every chat, or one list per chat "
            f"({len(chats)} chats, {len(continuations)} entries)"
        )
    return [[str(x) for x in c] for c in continuations]
