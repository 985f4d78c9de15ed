"""Answer chat requests that wait for the model together.

One request at a time leaves a batching backend idle: a client running 8 requests at once would wait for
8 separate generations. The batcher keeps one thread at the model. Whatever requests queued up while
it was busy become its next call, one ``generate`` per group of requests that share temperature,
answer prefix, stop strings and logit bias (each request keeps its own token limit). A request alone
in the queue runs alone, exactly as it would without the batcher. A request whose deadline has passed
when the model is free for it is dropped (:class:`~ieforge.serve.admission.RequestTimeout`) unasked.
"""

from __future__ import annotations

import inspect
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ieforge.models.base import Backend, Chat, Generation
from ieforge.serve.admission import RequestTimeout

TopTokens = list[tuple[str, float]]
Key = tuple[float, str, tuple[str, ...], tuple[tuple[int, float], ...]]


@dataclass
class Ask:
    """One request's generation: what it asks, and (when done) its answer or error."""

    chat: Chat
    limit: int
    temperature: float
    prefix: str = ""
    stops: tuple[str, ...] = ()
    top: int = 0
    """how many of the first position's top tokens to list (0: none)"""
    bias: tuple[tuple[int, float], ...] = ()
    """logit bias: (token id, value) pairs"""
    deadline: float | None = None
    """a :func:`time.monotonic` time after which the request is dropped unasked (None: never)"""
    generation: Generation | None = None
    top_tokens: TopTokens | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def key(self) -> Key:
        return (self.temperature, self.prefix, self.stops, self.bias)


class Batcher:
    """A thread that runs queued :class:`Ask` s on the model, ``max_batch`` at most per call."""

    def __init__(self, backend: Callable[[], Backend], lock: threading.Lock, *, max_batch: int = 16) -> None:
        self._backend = backend
        self._lock = lock
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Ask] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.calls: list[int] = []
        """the size of every generate call so far (for tests and logs)"""

    def ask(self, ask: Ask) -> Ask:
        """Queue ``ask``, wait for its answer and return it (raises the model's error, if any)."""
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ieforge-batcher", daemon=True)
                self._thread.start()
        self._queue.put(ask)
        ask.done.wait()
        if ask.error is not None:
            raise ask.error
        return ask

    def _loop(self) -> None:
        while True:
            waiting = [self._queue.get()]
            while len(waiting) < self.max_batch:
                try:
                    waiting.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            groups: dict[Key, list[Ask]] = {}
            for ask in waiting:
                groups.setdefault(ask.key(), []).append(ask)
            for group in groups.values():
                self._run(group)

    def _run(self, waiting: list[Ask]) -> None:
        group = waiting
        try:
            with self._lock:
                now = time.monotonic()
                group = []
                for a in waiting:
                    if a.deadline is not None and a.deadline <= now:  # its client has had a 504
                        a.error = RequestTimeout()
                        a.done.set()
                    else:
                        group.append(a)
                if not group:
                    return
                first = group[0]
                model = self._backend()
                self.calls.append(len(group))
                extra: dict[str, Any] = {}
                if first.bias:
                    if "logit_bias" not in inspect.signature(model.generate).parameters:
                        raise ValueError(f"logit_bias is not supported by {model.name}")
                    extra["logit_bias"] = dict(first.bias)
                gens = model.generate(
                    [a.chat for a in group],
                    max_new_tokens=[a.limit for a in group],
                    temperature=first.temperature,
                    assistant_prefix=first.prefix,
                    stop=first.stops,
                    batch_size=len(group),
                    **extra,
                )
                listing = [a for a in group if a.top]
                top_of = getattr(model, "top_next_tokens", None)
                if listing and callable(top_of):
                    k = max(a.top for a in listing)
                    tops = top_of([a.chat for a in listing], k, assistant_prefix=first.prefix)
                    for a, top in zip(listing, tops):
                        a.top_tokens = top[: a.top]
            for a, gen in zip(group, gens):
                a.generation = gen
        except BaseException as exc:  # handed to every waiting request; the thread lives on
            for a in group:
                a.error = exc
        finally:
            for a in group:
                a.done.set()
