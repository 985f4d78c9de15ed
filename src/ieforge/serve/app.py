"""The FastAPI application: one extractor (one model) behind typed task endpoints.

Errors have one shape whatever their cause: ``{"error": "one line"}``. Bad fields are 422, a body over
``max_body_bytes`` is 413, the library's input errors and unknown schema names are 400, a missing or
wrong API key is 401, a full request queue is 503 (with ``Retry-After``), a request past its timeout is
504, and anything unexpected is a 500 whose body names only the exception type (the traceback goes to the
server log). The OpenAI-compatible endpoints keep OpenAI's error shape (:mod:`ieforge.serve.openai_api`).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ieforge.extractor import Extractor
from ieforge.serve import openai_api, page, tasks_api
from ieforge.serve.admission import DEFAULT_MAX_QUEUE, DEFAULT_REQUEST_TIMEOUT, Admission, require_key
from ieforge.serve.tasks_api import Limits

logger = logging.getLogger("ieforge.serve")


def create_app(
    extractor: Extractor,
    *,
    limits: Limits | None = None,
    max_batch: int = 16,
    api_key: str | None = None,
    max_queue: int = DEFAULT_MAX_QUEUE,
    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
) -> FastAPI:
    """An app serving ``extractor``'s model: task endpoints, OpenAI-compatible chat, and the page.

    The model is loaded here (not on the first request). ``limits`` caps every request (see
    :class:`~ieforge.serve.tasks_api.Limits` for the defaults). ``max_batch`` bounds how many waiting
    chat requests the OpenAI-compatible endpoint answers in one model call (1: each alone).

    With ``api_key``, every endpoint but ``/health`` needs ``Authorization: Bearer API_KEY`` (the page
    and the API docs load without it: they run nothing, and the page asks for the key). Requests that run
    the model wait in one queue of ``max_queue`` places behind the one being answered, and each gets
    ``request_timeout`` seconds (``None``: no limit); see :mod:`ieforge.serve.admission`.
    """
    lim = limits or Limits()
    gate = Admission(max_queue, request_timeout)
    guard = [Security(require_key(api_key))] if api_key else []
    app = FastAPI(
        title="ieforge",
        summary="Information extraction with a language model; every span grounded to character offsets.",
        version=_version(),
    )
    app.include_router(tasks_api.router(extractor, lim, admission=gate, dependencies=guard))
    app.include_router(openai_api.router(extractor, max_batch=max_batch, admission=gate, dependencies=guard))
    app.include_router(page.router(extractor, dependencies=guard))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=lim.max_body_bytes)
    return app


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, for the server to take (``uvicorn.Server.run(
    sockets=[...])``). Binding first, before the model loads, makes a port in use fail at once.
    Raises :class:`OSError` (a host that does not resolve is a :class:`socket.gaierror`)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts need no wait
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def is_loopback(sock: socket.socket) -> bool:
    """The socket listens on a loopback address only (127.0.0.0/8, ::1): no other machine can connect."""
    address = str(sock.getsockname()[0]).split("%", 1)[0]
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ieforge")
    except PackageNotFoundError:
        return "0"


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error shape: ``{"error": message}`` with the message on one line."""
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


def describe_request_errors(errors: Any) -> str:
    """``field: problem`` for the first validation error, plus how many more there are. One line."""
    errors = list(errors)
    if not errors:
        return "invalid request"
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ())]
    if loc and loc[0] == "body":
        loc = loc[1:]
    msg = str(first.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if first.get("type") == "string_too_short" and (first.get("ctx") or {}).get("min_length") == 1:
        msg = "must not be empty"
    if first.get("type") == "json_invalid":
        where = "request body"
        msg = "not valid JSON"
    else:
        where = ".".join(loc) if loc else "request body"
    text = f"{where}: {msg}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, describe_request_errors(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if isinstance(exc.detail, dict) and "error" in exc.detail:
        # a router that needs another body under "error" (OpenAI's {"error": {"message": ...}}) gives it whole
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=headers)
    return error_response(exc.status_code, str(exc.detail), headers)


class CatchAllMiddleware:
    """Turn an exception no handler took into a JSON 500 that names only its type; log the traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_started)
        except Exception as exc:
            logger.exception("%s %s failed", scope.get("method", ""), scope.get("path", ""))
            if started:  # too late for an error response: let the server close the connection
                raise
            response = error_response(500, f"internal error ({type(exc).__name__}); see the server log")
            await response(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse a request body over ``max_bytes`` with 413: by its Content-Length when it states one, and by
    counting the bytes as they arrive (a chunked body, or a Content-Length that understates it)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> JSONResponse:
        return error_response(413, f"request body too large: the limit is {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await error_response(400, "Content-Length is not a number")(scope, receive, send)
                    return
                if declared > self.max_bytes:
                    await self._too_large()(scope, receive, send)
                    return
        # read the whole body now, counting, then hand it to the app as one message
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
