"""`ieforge serve` as a real process: it loads SmolLM2-135M, listens on a free port and answers HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ieforge.cli import app


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_health(http: httpx.Client, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ieforge serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            return http.get("/health")
        except httpx.TransportError:
            time.sleep(0.5)
    pytest.fail(f"ieforge serve did not answer within 240 s:\n{log.read_text()}")


@pytest.mark.model
def test_serve_answers_health_and_ner_over_http(
    small_backend: object, model_home: Path, tmp_path: Path
) -> None:
    """(small_backend converts the model into model_home first, so the server only loads it.)"""
    port = _free_port()
    log = tmp_path / "serve.log"
    command = [
        sys.executable,
        "-m",
        "ieforge.cli",
        "serve",
        "--model",
        "smollm2-135m",
        "--port",
        str(port),
        "--max-chars",
        "300",
        "--max-body-bytes",
        "4096",
        "--max-new-tokens",
        "16",
    ]
    env = {**os.environ, "IEFORGE_HOME": str(model_home)}  # the session's converted model, shared
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            health = _wait_for_health(http, proc, log)
            assert health.status_code == 200
            assert health.json()["model"] == "smollm2-135m"
            assert health.json()["limits"]["max_chars"] == 300

            text = "Paris is the capital of France."
            r = http.post("/v1/ner", json={"text": text, "labels": ["city", "country"]})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["text"] == text and body["labels"] == ["city", "country"]
            for e in body["entities"]:
                assert text[e["start"] : e["end"]] == e["text"]

            r = http.post("/v1/ner", json={"text": "x" * 301, "labels": ["city"]})
            assert r.status_code == 422
            assert r.json() == {"error": "text: String should have at most 300 characters"}

            def chunked() -> Iterator[bytes]:  # no Content-Length: the server counts what arrives
                yield b'{"text": "'
                for _ in range(10):
                    yield b"y" * 1000
                yield b'", "labels": ["city"]}'

            r = http.post("/v1/ner", content=chunked(), headers={"content-type": "application/json"})
            assert r.status_code == 413
            assert r.json() == {"error": "request body too large: the limit is 4096 bytes"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert f"serving smollm2-135m at http://127.0.0.1:{port}" in output
    assert "Traceback" not in output


def test_serve_with_an_unknown_model_fails_with_one_line() -> None:
    res = CliRunner().invoke(app, ["serve", "--model", "no-such-model", "--port", "8999"])
    assert res.exit_code == 2
    assert "error: unknown model 'no-such-model'" in res.output


def test_serve_help_states_the_default_caps() -> None:
    from ieforge.serve.tasks_api import Limits

    res = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert res.exit_code == 0, res.output
    caps = Limits()
    for default in (caps.max_chars, caps.max_labels, caps.max_headers, caps.max_body_bytes, caps.max_pairs):
        assert f"(default {default})" in res.output
