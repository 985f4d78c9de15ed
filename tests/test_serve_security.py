"""`ieforge serve` exposed: the API key, the bounded request queue and the request timeout, on the real
SmolLM2-135M behind the real app (in-process through httpx, or a real uvicorn server on a free port)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest
from conftest import serving
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ieforge.errors import RequestError
from ieforge.extractor import Extractor
from ieforge.models.openai import OpenAIBackend
from ieforge.serve import create_app

pytestmark = pytest.mark.model

KEY = "s3cret-key-for-tests"
AUTH = {"Authorization": f"Bearer {KEY}"}
NER = {"text": "Paris is the capital of France.", "labels": ["city"]}
CHAT = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}
# every endpoint but /health, with a body it accepts (the model runs only with the key)
GUARDED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/limits", None),
    ("POST", "/v1/ner", NER),
    ("POST", "/v1/re", {"text": "<e1>Bill</e1> founded <e2>Acme</e2>."}),
    ("POST", "/v1/relations", {"text": "Bill founded Acme.", "schema": "tacred"}),
    ("POST", "/v1/events", {"text": "Hackers breached Acme.", "schema": "casie"}),
    ("POST", "/v1/openie", {"text": "Bill founded Acme."}),
    ("POST", "/v1/table", {"text": "Tea costs $2.", "instruction": "List prices.", "headers": ["item"]}),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/tokenize", {"prompt": "hello"}),
    ("POST", "/page/render", {"records": []}),
]
OPENAI_PATHS = {"/v1/models", "/v1/chat/completions", "/tokenize"}


@pytest.fixture(scope="module")
def keyed(small_backend: Any) -> FastAPI:
    return create_app(Extractor(small_backend, max_new_tokens=8), api_key=KEY)


@pytest.fixture(scope="module")
def client(keyed: FastAPI) -> Iterator[TestClient]:
    with TestClient(keyed) as c:
        yield c


@pytest.fixture(scope="module")
def live() -> Iterator[Callable[[FastAPI], str]]:
    """Start a real uvicorn server for an app on a free port; all are stopped at the module's end."""
    with ExitStack() as servers:
        yield lambda web: servers.enter_context(serving(web))


def _message(path: str, body: Any) -> str:
    """The error message in the router's shape: ieforge's {"error": "..."} or OpenAI's."""
    assert list(body) == ["error"], body
    if path in OPENAI_PATHS:
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
        message: str = body["error"]["message"]
        return message
    assert isinstance(body["error"], str), body
    return str(body["error"])


# ----- the API key ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), GUARDED, ids=[p for _, p, _ in GUARDED])
def test_every_endpoint_but_health_needs_the_key(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for headers, expected in (
        ({}, "this service needs an API key: send the header 'Authorization: Bearer KEY'"),
        ({"Authorization": "Bearer wrong-key"}, "the API key is not valid"),
        ({"Authorization": f"Bearer {KEY}x"}, "the API key is not valid"),
        ({"Authorization": f"Basic {KEY}"}, "this service needs an API key"),
        ({"Authorization": KEY}, "this service needs an API key"),
    ):
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert _message(path, r.json()).startswith(expected)
    if path in ("/v1/limits", "/v1/models", "/tokenize", "/page/render", "/v1/ner", "/v1/chat/completions"):
        r = client.request(method, path, json=body, headers=AUTH)  # the cheap ones run: the key lets them in
        assert r.status_code == 200, r.text


def test_health_page_and_docs_are_open_and_the_page_asks_for_the_key(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["model"] == "smollm2-135m"
    page = client.get("/")
    assert page.status_code == 200 and 'id="ief-key"' in page.text and 'type="password"' in page.text
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_openapi_spec_shows_bearer_security_on_the_guarded_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert len(schemes) == 1
    (name, scheme), *_ = schemes.items()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    for method, path, _ in GUARDED:
        if path == "/page/render":  # the page's own route is not in the spec
            continue
        op = spec["paths"][path][method.lower()]
        assert op["security"] == [{name: []}], path
        assert "401" in op["responses"], path
        assert (method, path) in documented
    health = spec["paths"]["/health"]["get"]
    assert "security" not in health and "401" not in health["responses"]
    for path in ("/v1/ner", "/v1/chat/completions"):
        assert {"503", "504"} <= set(spec["paths"][path]["post"]["responses"])


def test_openapi_spec_has_no_security_without_a_key(small_backend: Any) -> None:
    with TestClient(create_app(Extractor(small_backend))) as open_client:
        spec = open_client.get("/openapi.json").json()
        assert "securitySchemes" not in spec.get("components", {})
        assert open_client.get("/v1/limits").status_code == 200
        page = open_client.get("/").text
        assert 'id="ief-key"' not in page


def test_openai_clients_send_the_key_as_openai_does(keyed: FastAPI, live: Callable[[FastAPI], str]) -> None:
    base = live(keyed) + "/v1"
    chat = openai.OpenAI(base_url=base, api_key=KEY, max_retries=0)
    done = chat.chat.completions.create(
        model="smollm2-135m", messages=[{"role": "user", "content": "Say hi."}], max_tokens=4
    )
    assert isinstance(done.choices[0].message.content, str) and done.usage is not None
    assert [m.id for m in chat.models.list()] == ["smollm2-135m"]
    with pytest.raises(openai.AuthenticationError, match="the API key is not valid"):
        openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()

    # ieforge's own openai: backend passes its key (argument, or IEFORGE_API_KEY / OPENAI_API_KEY)
    backend = OpenAIBackend("smollm2-135m", base_url=base, api_key=KEY, max_retries=0)
    (gen,) = backend.generate([[{"role": "user", "content": "Say hi."}]], max_new_tokens=4)
    assert gen.token_logprobs
    with pytest.raises(RequestError, match="HTTP 401: the API key is not valid"):
        OpenAIBackend("smollm2-135m", base_url=base, api_key="wrong", max_retries=0).generate(
            [[{"role": "user", "content": "Say hi."}]], max_new_tokens=4
        )


# ----- the queue and the timeout --------------------------------------------------------------------------


def test_a_full_queue_is_503_with_retry_after_and_a_late_request_504(
    small_backend: Any, live: Callable[[FastAPI], str]
) -> None:
    """One request at the model, one waiting (--max-queue 1): a third is refused at once. The first runs
    well past the 1.5 s timeout (120 tokens with the end-of-turn tokens banned take ~4 s here), so both
    it and the one waiting behind it get the timeout error, and the queue empties once the model is done."""
    web = create_app(
        Extractor(small_backend, max_new_tokens=8), api_key=KEY, max_queue=1, request_timeout=1.5
    )
    base = live(web)
    long_chat = {
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": "Count from 1 to 1000, separated by commas."}],
        "max_tokens": 120,
        "temperature": 0,
        "logit_bias": {str(t): -100 for t in small_backend.stop_ids},
    }
    answers: dict[str, httpx.Response] = {}

    def send(name: str, path: str, body: dict[str, Any]) -> threading.Thread:
        def go() -> None:
            with httpx.Client(base_url=base, headers=AUTH, timeout=120) as http:
                answers[name] = http.post(path, json=body)

        thread = threading.Thread(target=go)
        thread.start()
        return thread

    def wait_for(requests: int) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health: dict[str, Any] = httpx.get(base + "/health").json()
            if health["requests"] == requests:
                return health
            time.sleep(0.01)
        pytest.fail(f"the service never had {requests} requests in hand")

    first = send("first", "/v1/chat/completions", long_chat)
    assert wait_for(1)["max_queue"] == 1
    second = send("second", "/v1/ner", NER)
    health = wait_for(2)
    assert health["busy"] is True and health["request_timeout"] == 1.5

    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
        started = time.monotonic()
        full = http.post("/v1/openie", json={"text": "Bill founded Acme."})
        refused_in = time.monotonic() - started
        full_chat = http.post("/v1/chat/completions", json=CHAT)
    assert refused_in < 1.0  # refused at once, not after waiting
    assert full.status_code == 503, full.text
    assert int(full.headers["retry-after"]) >= 1
    assert full.json() == {
        "error": "the service is busy: the request queue is full (1 waiting, at most 1); retry later"
    }
    assert full_chat.status_code == 503 and int(full_chat.headers["retry-after"]) >= 1
    assert full_chat.json()["error"]["type"] == "server_error"
    assert full_chat.json()["error"]["message"].startswith("the service is busy")

    first.join()
    second.join()
    late = "no answer within the request timeout of 1.5 s; the request was dropped"
    assert answers["second"].status_code == 504, answers["second"].text
    assert answers["second"].json() == {"error": late}
    assert answers["first"].status_code == 504, answers["first"].text
    assert answers["first"].json()["error"]["message"] == late
    # the model finishes the first call (it cannot be interrupted); then every place is free again
    assert wait_for(0)["busy"] is False
