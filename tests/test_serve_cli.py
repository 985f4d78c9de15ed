"""`ieforge serve` as a real process: it loads SmolLM2-135M, listens on a free port and answers HTTP. It
takes its API key from IEFORGE_API_KEY, fails at once on a port in use and warns when exposed keyless."""

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
from conftest import free_port
from typer.testing import CliRunner

from ieforge.cli import app


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
    port = free_port()
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
    key = "process-key"
    env = {**os.environ, "IEFORGE_HOME": str(model_home), "IEFORGE_API_KEY": key}  # the session's model
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as open_http:
            health = _wait_for_health(open_http, proc, log)  # /health needs no key
            assert health.status_code == 200
            assert health.json()["model"] == "smollm2-135m"
            assert health.json()["limits"]["max_chars"] == 300
            assert (health.json()["max_queue"], health.json()["request_timeout"]) == (16, 300.0)
            refused = open_http.post("/v1/ner", json={"text": "Paris.", "labels": ["city"]})
            assert refused.status_code == 401
            assert refused.json() == {
                "error": "this service needs an API key: send the header 'Authorization: Bearer KEY'"
            }
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120, headers=headers) as http:
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
    assert "requests need the API key" in output and "warning" not in output
    assert "Traceback" not in output


def test_serve_fails_at_once_on_a_port_in_use_without_loading_the_model(tmp_path: Path) -> None:
    """Loading smollm2-135m into an empty IEFORGE_HOME converts it there (the session's model_home holds
    it after the first load); on a port in use the home stays empty: the model was never touched."""
    home = tmp_path / "home"
    home.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        res = subprocess.run(
            [sys.executable, "-m", "ieforge.cli", "serve", "--model", "smollm2-135m", "--port", str(port)],
            env={**os.environ, "IEFORGE_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        took = time.monotonic() - started
    assert res.returncode == 2, res.stderr
    assert res.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert res.stdout == ""
    assert list(home.iterdir()) == []  # nothing converted, nothing verified: the model was not loaded
    assert took < 60, took  # loose: it is the interpreter's start-up, not a model load


def test_serve_warns_on_a_non_loopback_host_without_a_key() -> None:
    """The warning comes once the address is bound, before the model loads (here: an unknown one)."""
    runner = CliRunner()
    base = ["serve", "--model", "no-such-model", "--host", "0.0.0.0", "--port", str(free_port())]
    res = runner.invoke(app, base, env={"IEFORGE_API_KEY": None, "COLUMNS": "300"})
    assert res.exit_code == 2
    lines = res.output.splitlines()
    assert lines[0] == (
        "warning: --host 0.0.0.0 is reachable from other machines and no --api-key is set: anyone who can "
        "reach the port can use every endpoint"
    )
    assert "error: unknown model 'no-such-model'" in res.output
    for keyed, env in (
        ([*base, "--api-key", "k"], {"IEFORGE_API_KEY": None}),
        (base, {"IEFORGE_API_KEY": "k"}),
    ):
        res = runner.invoke(app, keyed, env=env)
        assert res.exit_code == 2 and "warning" not in res.output
        assert "error: unknown model 'no-such-model'" in res.output
    loopback = ["serve", "--model", "no-such-model", "--port", str(free_port())]
    res = runner.invoke(app, loopback, env={"IEFORGE_API_KEY": None})
    assert res.exit_code == 2 and "warning" not in res.output
    res = runner.invoke(app, [*base, "--api-key", " "])
    assert res.exit_code == 2 and "error: the API key (--api-key or IEFORGE_API_KEY) is empty" in res.output


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
