"""A fault-injecting HTTP proxy for tests: forwards each request to an upstream server on loopback, or
instead fails it as a fixed schedule says, and records what it did.

Schedule entries, one per request in arrival order (then ``"ok"`` for the rest, or the schedule again
with ``cycle=True``):

- ``"ok"``: forward the request and relay the answer;
- ``"429"``, ``"500"``, any status: answer it with a JSON error body, ``Retry-After: 0`` and
  ``retry-after-ms``. The openai client ignores a zero ``Retry-After`` (it honours 0 < delay <= 120 s
  and otherwise backs off 0.5 s, 1 s, 2 s ...); ``retry-after-ms`` (20 by default) keeps retries quick;
- ``"drop"``: close the connection without answering;
- ``"delay:SECONDS"``: wait, then forward (not at all if the client has hung up meanwhile).

Each forwarded request goes upstream on a fresh connection with ``Connection: close``, and every
answer closes the client's connection too, so one connection carries one request.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence


class FaultProxy:
    """Use as a context manager; ``url`` is the proxy's ``/v1`` base URL."""

    def __init__(
        self,
        upstream_port: int,
        schedule: Sequence[str] = (),
        *,
        cycle: bool = False,
        retry_after_ms: int = 20,
    ) -> None:
        self.upstream_port = upstream_port
        self.schedule = list(schedule)
        self.cycle = cycle
        self.retry_after_ms = retry_after_ms
        self.seen: list[tuple[str, str]] = []
        """(path, action) of every request, in arrival order"""
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> int:
        return len(self.seen)

    def actions(self) -> list[str]:
        return [action for _, action in self.seen]

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        start = asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _next_action(self) -> str:
        n = len(self.seen)
        if self.schedule and (n < len(self.schedule) or self.cycle):
            return self.schedule[n % len(self.schedule)]
        return "ok"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            writer.close()
            return
        action = self._next_action()
        self.seen.append((lines[0].split(" ")[1] if " " in lines[0] else "", action))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._act(action, lines, body, reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            self.in_flight -= 1
            writer.close()

    async def _act(
        self,
        action: str,
        lines: list[str],
        body: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if action == "drop":
            return
        if action.isdigit():
            payload = json.dumps({"error": {"message": f"injected {action}", "type": "fault"}}).encode()
            writer.write(
                (
                    f"HTTP/1.1 {action} Injected\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nRetry-After: 0\r\n"
                    f"retry-after-ms: {self.retry_after_ms}\r\nConnection: close\r\n\r\n"
                ).encode()
                + payload
            )
            await writer.drain()
            return
        if action.startswith("delay:"):
            await asyncio.sleep(float(action.split(":", 1)[1]))
            if reader.at_eof():
                return  # the client gave up waiting
        elif action != "ok":
            raise ValueError(f"unknown proxy action '{action}'")
        kept = [ln for ln in lines[1:] if ln and ln.split(":", 1)[0].strip().lower() != "connection"]
        request = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1") + body
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            up_writer.write(request)
            await up_writer.drain()
            answer = await up_reader.read()
        finally:
            up_writer.close()
        writer.write(answer)
        await writer.drain()
