"""Who may ask, how many may wait, and for how long: the service's API key, request queue and timeout.

**The key.** With an API key, every endpoint but ``/health`` (and the static page and API docs, which
run nothing) needs ``Authorization: Bearer KEY``, the header OpenAI's clients send. The key is compared in
constant time; a missing or wrong key is a 401 in the router's error shape.

**The queue.** Requests that run the model take a place in :class:`Admission`: one is answered while up
to ``max_queue`` wait behind it (chat requests answered together in one batched call each hold a place).
When every place is taken, a request is refused at once with 503 and ``Retry-After``.

**The timeout.** A request not answered within ``timeout`` seconds gets a 504. If it was still waiting, it
is dropped and never reaches the model. If the model was already working on it, that model call runs to
its end (a call cannot be interrupted) and its answer is dropped; the request keeps its place until then,
so the queue bound counts the work the model really has.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

T = TypeVar("T")

DEFAULT_MAX_QUEUE = 16
"""Requests that may wait for the model behind the one it is answering."""
DEFAULT_REQUEST_TIMEOUT = 300.0
"""Seconds a request may take, waiting included."""

bearer = HTTPBearer(
    auto_error=False,
    description="The key given to `ieforge serve --api-key` (or IEFORGE_API_KEY), sent as "
    "`Authorization: Bearer KEY` (what OpenAI clients send).",
)


def require_key(key: str) -> Callable[..., Any]:
    """A FastAPI dependency refusing (401) a request without ``Authorization: Bearer key``."""
    expected = key.encode("utf-8")

    async def check_key(credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> None:
        if credentials is None:
            raise HTTPException(
                401,
                "this service needs an API key: send the header 'Authorization: Bearer KEY'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(credentials.credentials.encode("utf-8"), expected):
            raise HTTPException(
                401, "the API key is not valid", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )

    return check_key


class RequestTimeout(Exception):
    """A request's deadline passed before the model took it up."""


class Admission:
    """Places for requests that run the model: ``max_queue + 1`` at once, each for ``timeout`` seconds
    at most (``None``: no limit). See the module's docstring for what happens at each bound."""

    def __init__(
        self, max_queue: int = DEFAULT_MAX_QUEUE, timeout: float | None = DEFAULT_REQUEST_TIMEOUT
    ) -> None:
        if max_queue < 0:
            raise ValueError("max_queue must be 0 or more")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive (or None for no limit)")
        self.max_queue = max_queue
        self.timeout = timeout
        self._lock = threading.Lock()
        self._taken = 0
        self._seconds: float | None = None  # moving average of a request's time, admitted to done

    @property
    def taken(self) -> int:
        """Requests admitted and not yet done: the one the model answers and those waiting behind it."""
        return self._taken

    def retry_after(self) -> int:
        """Whole seconds until a place is likely to free up (from recent requests' times), 1 to 60."""
        if self._seconds is None:
            return 1
        return max(1, min(60, math.ceil(self._seconds / (self.max_queue + 1))))

    def _admit(self) -> None:
        with self._lock:
            if self._taken > self.max_queue:
                raise HTTPException(
                    503,
                    f"the service is busy: the request queue is full ({self._taken - 1} waiting, at most "
                    f"{self.max_queue}); retry later",
                    headers={"Retry-After": str(self.retry_after())},
                )
            self._taken += 1

    def _release(self, seconds: float) -> None:
        with self._lock:
            self._taken -= 1
            self._seconds = seconds if self._seconds is None else 0.7 * self._seconds + 0.3 * seconds

    def timeout_error(self) -> HTTPException:
        return HTTPException(
            504, f"no answer within the request timeout of {self.timeout:g} s; the request was dropped"
        )

    async def run(self, work: Callable[[float | None], T]) -> T:
        """Take a place (or 503), run ``work(deadline)`` in a worker thread and return its result, or
        504 at the deadline. ``deadline`` is a :func:`time.monotonic` time (``None``: no limit); ``work``
        raises :class:`RequestTimeout` if it passes before the model takes the request up."""
        self._admit()
        started = time.monotonic()
        deadline = None if self.timeout is None else started + self.timeout
        state = {"phase": "queued"}
        phase_lock = threading.Lock()

        def finish() -> None:  # the place is given back once, by whoever ends the request
            self._release(time.monotonic() - started)

        def job() -> T:
            with phase_lock:
                if state["phase"] == "abandoned":  # timed out before a thread took it
                    raise RequestTimeout
                state["phase"] = "running"
            try:
                return work(deadline)
            finally:
                finish()

        try:
            with anyio.fail_after(self.timeout):
                return await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
        except TimeoutError:
            with phase_lock:
                never_started = state["phase"] == "queued"
                state["phase"] = "abandoned"
            if never_started:
                finish()
            raise self.timeout_error() from None
        except RequestTimeout:
            raise self.timeout_error() from None
        except BaseException:
            with phase_lock:
                if state["phase"] == "queued":  # cancelled (client gone) before a thread took it
                    state["phase"] = "abandoned"
                    finish()
            raise


def acquire_until(lock: threading.Lock, deadline: float | None) -> None:
    """Take ``lock``, waiting no later than ``deadline`` (a monotonic time; ``None``: as long as it takes);
    raise :class:`RequestTimeout` when the deadline passes first."""
    if deadline is None:
        lock.acquire()
        return
    if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise RequestTimeout
    if time.monotonic() >= deadline:
        lock.release()
        raise RequestTimeout
