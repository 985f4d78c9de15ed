"""The OpenAI-compatible backend against the real ieforge server (uvicorn on loopback, serving the real
SmolLM2-135M), directly and through a fault-injecting proxy: the same answers as the local backend,
retries that recover, failures that end in one RequestError within the time limit, and the
concurrency cap."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from faultproxy import FaultProxy

from ieforge import Extractor
from ieforge.errors import RequestError
from ieforge.models import Backend, Chat, load_model
from ieforge.models.openai import OpenAIBackend, ScoringUnsupportedError
from ieforge.prompts import load_ner_prompt
from ieforge.serve import create_app

pytestmark = pytest.mark.model

MODEL = "smollm2-135m"
TEXTS = ["Barack Obama was born in Honolulu.", "Marie Curie worked in Paris."]
LETTERS = ["A", " A", "B", " B", "C", " C", "D", " D"]


@contextmanager
def _serving(app: Any) -> Iterator[int]:
    """``app`` served by uvicorn on a free loopback port (yields the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def port(small_backend: Backend) -> Iterator[int]:
    """The real server (create_app over the small model) on a free loopback port."""
    with _serving(create_app(Extractor(small_backend))) as p:
        yield p


@pytest.fixture(scope="module")
def alone_port(small_backend: Backend) -> Iterator[int]:
    """The same server answering each chat request alone (no batching), as the local backend one chat
    at a time does: answers compared with those must not depend on which requests met at the server."""
    with _serving(create_app(Extractor(small_backend), max_batch=1)) as p:
        yield p


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1"


def _ner_chats() -> list[Chat]:
    prompt = load_ner_prompt("uniner-json")
    return [prompt.chat(text, label) for text in TEXTS for label in ("person", "location")]


def _choice_chat(question: str) -> Chat:
    return [{"role": "user", "content": f"{question}\nAnswer with the letter of the right option only."}]


def _local(backend: Backend, chats: list[Chat], **kw: object) -> list:  # type: ignore[type-arg]
    """The local backend's answers, one chat at a time (as the server runs them)."""
    return [backend.generate([c], **kw)[0] for c in chats]  # type: ignore[arg-type]


def test_generation_matches_the_local_backend(small_backend: Backend, port: int) -> None:
    prompt = load_ner_prompt("uniner-json")
    # one request at a time: the server answers each alone, as _local runs them
    remote = OpenAIBackend(MODEL, base_url=_url(port), concurrency=1)
    kw: dict[str, object] = {
        "max_new_tokens": 12,
        "assistant_prefix": prompt.assistant_prefix,
        "stop": prompt.stop,
    }
    chats = _ner_chats()
    ner = remote.generate(chats, **kw)  # type: ignore[arg-type]
    want = _local(small_backend, chats, **kw)
    assert [g.text for g in ner] == [w.text for w in want]
    for g, w in zip(ner, want):
        assert g.text.startswith("[")
        assert g.finished == w.finished
        assert g.token_spans == w.token_spans
        assert g.token_logprobs == pytest.approx(w.token_logprobs, abs=1e-5)
    # no prefix, no stop, cut at the limit; per-chat limits
    plain = [[{"role": "user", "content": "Write a long story about a dragon."}]] * 2
    cut = remote.generate(plain, max_new_tokens=[3, 5])  # type: ignore[arg-type]
    want = [small_backend.generate([c], max_new_tokens=n)[0] for c, n in zip(plain, [3, 5])]  # type: ignore[arg-type]
    assert [g.text for g in cut] == [w.text for w in want]
    assert [len(g.token_logprobs) for g in cut] == [3, 5]
    assert not any(g.finished for g in cut)
    assert remote.usage.extra["requests"] == 6
    assert remote.usage.generated_tokens == sum(len(g.token_logprobs) for g in [*ner, *cut])


def test_concurrent_requests_are_answered_in_one_batch(small_backend: Backend, port: int) -> None:
    """Requests that wait while the model is busy share its next call: 8 concurrent answers of at most
    8 tokens cost far fewer forward passes than 8 answers one after the other (about 8 x 9)."""
    prompt = load_ner_prompt("uniner-json")
    chats = [prompt.chat(f"{name} lives in {city}.", "person") for name in ("Ann", "Bob") for city in
             ("Oslo", "Rome", "Lima", "Kyiv")]  # fmt: skip
    remote = OpenAIBackend(MODEL, base_url=_url(port), concurrency=8)
    before = small_backend.usage.forward_passes  # type: ignore[attr-defined]
    got = remote.generate(chats, max_new_tokens=8, assistant_prefix=prompt.assistant_prefix, stop=prompt.stop)
    passes = small_backend.usage.forward_passes - before  # type: ignore[attr-defined]
    assert len(got) == 8 and all(g.text.startswith("[") for g in got)
    assert passes <= 40, f"{passes} forward passes: the requests were not batched"
    # each answer is whole: its own tokens, its own limit (bf16 answers may differ from a run in
    # batches of another shape at near-ties, so they are not compared with the local ones here)
    assert all(len(g.token_logprobs) <= 8 for g in got)


def test_letter_scores_match_the_local_backend(small_backend: Backend, port: int) -> None:
    remote = OpenAIBackend(MODEL, base_url=_url(port), concurrency=1)
    chats = [
        _choice_chat("Which is a fruit? A. car B. apple C. chair D. river"),
        _choice_chat("Which is a colour? A. red B. dog C. table D. seven"),
    ]
    for distinct in (True, False):
        got = remote.next_token_logprobs(chats, LETTERS, distinct=distinct)
        want = [small_backend.next_token_logprobs([c], LETTERS, distinct=distinct)[0] for c in chats]
        for g, w in zip(got, want):
            assert max(g, key=g.__getitem__) == max(w, key=w.__getitem__)
            listed = [o for o in LETTERS if g[o] > -math.inf]
            assert len(listed) >= 4  # the letters are among the 20 most probable tokens
            for option in LETTERS:
                if g[option] > -math.inf:
                    assert g[option] == pytest.approx(w[option], abs=1e-4)
                else:  # not among the top 20: below every listed one
                    assert w[option] <= min(g[o] for o in listed) + 1e-4


def test_ner_and_relations_end_to_end(small_backend: Backend, port: int) -> None:
    remote = Extractor(
        OpenAIBackend(MODEL, base_url=_url(port), concurrency=1), batch_size=1, max_new_tokens=12
    )
    local = Extractor(small_backend, batch_size=1, max_new_tokens=12)
    text = TEXTS[1]
    got = remote.ner(text, ["person", "location"])
    want = local.ner(text, ["person", "location"])
    assert got.entities, "the model finds something in this sentence"
    for e in got.entities:
        assert text[e.start : e.end] == e.text
    assert [(e.start, e.end, e.label) for e in got.entities] == [
        (e.start, e.end, e.label) for e in want.entities
    ]
    assert [e.score for e in got.entities] == pytest.approx([e.score for e in want.entities], abs=1e-4)
    assert got.model == f"openai:{MODEL}"
    # QA4RE's letter reading: one one-token request with top log-probabilities per question
    rel = remote.relations(
        "Bill Gates founded Microsoft.", head="Microsoft", tail="Bill Gates", schema="tacred",
        head_type="ORGANIZATION", tail_type="PERSON",
    )  # fmt: skip
    ref = local.relations(
        "Bill Gates founded Microsoft.", head="Microsoft", tail="Bill Gates", schema="tacred",
        head_type="ORGANIZATION", tail_type="PERSON",
    )  # fmt: skip
    # the same option probabilities; the chosen label is the local one or ties with it (SmolLM2 gives
    # no_relation and org:top_members/employees the same probability to 1e-5 here, so bf16 rounding on
    # either side may pick either)
    assert rel.options.keys() == ref.options.keys()
    for label, p in ref.options.items():
        assert rel.options[label] == pytest.approx(p, abs=1e-3), label
    assert ref.options[rel.label] == pytest.approx(ref.score, abs=1e-3)
    assert rel.score == pytest.approx(ref.score, abs=1e-3)


def test_counts_and_context_come_from_the_server(small_backend: Backend, port: int) -> None:
    remote = OpenAIBackend(MODEL, base_url=_url(port))
    text = "Information extraction, naïvely: ünïcode too."
    assert remote.count_tokens(text) == small_backend.count_tokens(text)
    assert remote.context_length == small_backend.context_length
    with pytest.raises(ScoringUnsupportedError, match="reading='letters'"):
        remote.score_continuations(_ner_chats()[:1], ["x"])
    # a server without /tokenize: asked once, then estimated (one token per three characters)
    with FaultProxy(port, ["404"], cycle=True) as proxy:
        plain = OpenAIBackend(MODEL, base_url=proxy.url, context_length=512, max_retries=0)
        assert plain.count_tokens(text) == math.ceil(len(text) / 3)
        assert plain.count_tokens("abcd") == 2
        assert plain.context_length == 512
        assert proxy.seen == [("/tokenize", "404")]


def test_requests_recover_from_injected_faults(small_backend: Backend, port: int) -> None:
    chat = _ner_chats()[:1]
    want = small_backend.generate(chat, max_new_tokens=8)[0]
    with FaultProxy(port, ["drop", "429", "500", "delay:0.3"]) as proxy:
        remote = OpenAIBackend(MODEL, base_url=proxy.url, max_retries=4, timeout=10)
        t0 = time.monotonic()
        got = remote.generate(chat, max_new_tokens=8)[0]
        elapsed = time.monotonic() - t0
    assert got.text == want.text
    assert proxy.actions() == ["drop", "429", "500", "delay:0.3"]
    assert {path for path, _ in proxy.seen} == {"/v1/chat/completions"}
    assert remote.usage.extra["requests"] == 1
    assert elapsed < 5  # backoff after the drop (<= 0.5 s), 20 ms after 429/500, the 0.3 s delay


def test_a_failing_server_gives_one_request_error_after_the_retries(port: int) -> None:
    chat = _ner_chats()[:1]
    with FaultProxy(port, ["500"], cycle=True) as proxy:
        remote = OpenAIBackend(MODEL, base_url=proxy.url, max_retries=2, timeout=5)
        t0 = time.monotonic()
        with pytest.raises(RequestError) as info:
            remote.generate(chat, max_new_tokens=4)
        assert time.monotonic() - t0 < 3
    assert proxy.requests == 3
    message = str(info.value)
    assert proxy.url in message and MODEL in message and "HTTP 500" in message and "3 attempts" in message
    assert "\n" not in message
    with FaultProxy(port, ["drop"], cycle=True) as proxy:
        remote = OpenAIBackend(MODEL, base_url=proxy.url, max_retries=1, timeout=5)
        with pytest.raises(RequestError, match="connection failed"):
            remote.generate(chat, max_new_tokens=4)
    assert proxy.requests == 2


def test_a_slow_server_times_out(port: int) -> None:
    with FaultProxy(port, ["delay:5"], cycle=True) as proxy:
        remote = OpenAIBackend(MODEL, base_url=proxy.url, max_retries=1, timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(RequestError, match="timeout"):
            remote.generate(_ner_chats()[:1], max_new_tokens=4)
        elapsed = time.monotonic() - t0
        assert proxy.requests == 2
    assert elapsed < 2.5  # two 0.5 s attempts and one backoff of at most 0.5 s


def test_at_most_concurrency_requests_in_flight(small_backend: Backend, alone_port: int) -> None:
    chats = [[{"role": "user", "content": f"Count to {n}."}] for n in range(6)]
    with FaultProxy(alone_port, ["delay:0.2"], cycle=True) as proxy:
        remote = OpenAIBackend(MODEL, base_url=proxy.url, concurrency=2)
        got = remote.generate(chats, max_new_tokens=3)  # type: ignore[arg-type]
    want = _local(small_backend, chats, max_new_tokens=3)  # type: ignore[arg-type]
    assert [g.text for g in got] == [w.text for w in want]  # in input order
    assert proxy.requests == 6
    assert proxy.max_in_flight == 2


def test_load_model_and_extractor_take_a_base_url(port: int) -> None:
    backend = load_model(f"openai:{MODEL}", base_url=_url(port))
    assert isinstance(backend, OpenAIBackend) and backend.name == f"openai:{MODEL}"
    ex = Extractor(f"openai:{MODEL}", base_url=_url(port))
    assert ex.entities("Paris.", ["location"]) == Extractor(backend).entities("Paris.", ["location"])


def test_the_server_refuses_what_it_cannot_do(port: int) -> None:
    url = _url(port)
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    cases = [
        ({**chat, "stream": True}, 400, "stream"),
        ({**chat, "n": 2}, 400, "n=1"),
        ({**chat, "logprobs": True, "top_logprobs": 21}, 400, "top_logprobs"),
        ({**chat, "top_logprobs": 3}, 400, "logprobs=true"),
        ({**chat, "tools": [{"type": "function"}]}, 400, "tools"),
        ({**chat, "messages": []}, 400, "messages"),
        ({**chat, "continue_final_message": True, "add_generation_prompt": False}, 400, "assistant"),
        ({**chat, "model": "gpt-4o"}, 404, "smollm2-135m"),
    ]
    with httpx.Client(timeout=30) as client:
        for body, status, words in cases:
            r = client.post(f"{url}/chat/completions", json=body)
            assert r.status_code == status, body
            error = r.json()["error"]
            assert words in error["message"] and "\n" not in error["message"]
            assert error["type"] == "invalid_request_error"
        r = client.post(
            f"{url}/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
        lone = b'{"model": "smollm2-135m", "messages": [{"role": "user", "content": "\\ud800"}]}'
        r = client.post(f"{url}/chat/completions", content=lone, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "surrogate" in r.json()["error"]["message"]
        # a plain answer: usage, stop string stripped and named in stop_reason, top list first
        ok = client.post(
            f"{url}/chat/completions",
            json={
                **chat,
                "max_tokens": 8,
                "logprobs": True,
                "top_logprobs": 5,
                "temperature": 0,
                "stop": ".",
            },
        ).json()
        choice = ok["choices"][0]
        tokens = choice["logprobs"]["content"]
        assert len(tokens[0]["top_logprobs"]) == 5
        assert ok["usage"]["completion_tokens"] == len(tokens)
        assert ok["usage"]["total_tokens"] == ok["usage"]["prompt_tokens"] + len(tokens)
        spelled = "".join(t["token"] for t in tokens)
        if choice["stop_reason"] == ".":
            assert spelled == choice["message"]["content"] + "."
        else:
            assert spelled == choice["message"]["content"]
        models = client.get(f"{url}/models").json()
        assert models["data"][0]["id"] == MODEL and models["data"][0]["max_model_len"] > 0


@pytest.mark.parametrize("mode", ["negative", "positive"])
def test_the_endpoints_answer_as_their_spec_says(small_backend: Backend, mode: str) -> None:
    """Schemathesis requests from the OpenAPI spec: never a 5xx, every answer a documented status and
    shape (positive requests run the model, with answers cut to two tokens)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]
    api = schemathesis.openapi.from_asgi("/openapi.json", create_app(Extractor(small_backend)))
    generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE
    operations = [("/v1/chat/completions", "POST"), ("/tokenize", "POST")]
    if generation == GenerationMode.POSITIVE:
        operations.append(("/v1/models", "GET"))  # nothing to get wrong in a request without parameters
    for path, method in operations:

        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=api[path][method].as_strategy(generation_mode=generation))
        def run(case: Any) -> None:
            if generation == GenerationMode.POSITIVE and isinstance(case.body, dict):
                case.body["max_tokens"] = 2
                case.body.pop("max_completion_tokens", None)
            case.call_and_validate(checks=checks)

        run()


def test_a_corpus_run_records_a_dead_server_and_retries_later(port: int, tmp_path: Any) -> None:
    """Documents whose requests fail after the retries are written as error records (none dropped), and
    ``retry_errors`` runs exactly those again once the server answers."""
    import json

    from ieforge.runs import execute, make_job, plan_run

    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    out = tmp_path / "out.jsonl"
    job = make_job("ner", labels=["person"])
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    down = Extractor(OpenAIBackend(MODEL, base_url=dead, max_retries=1, timeout=5), max_new_tokens=8)
    summary = execute(plan_run(inp, out, job), down)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert summary.errors == 2 and [r["id"] for r in rows] == [0, 1]
    assert all(r["error"].startswith("RequestError: ") and dead in r["error"] for r in rows)

    up = Extractor(OpenAIBackend(MODEL, base_url=_url(port)), max_new_tokens=8)
    assert plan_run(inp, out, job).pending == 0  # errors count as done ...
    plan = plan_run(inp, out, job, retry_errors=True)  # ... until they are asked for again
    assert plan.retried == 2
    assert execute(plan, up).errors == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [0, 1] and all("entities" in r for r in rows)


def test_logit_bias_forces_the_options(small_backend: Backend, port: int) -> None:
    """Without log-probabilities the letter reading asks for one token with a logit bias on the options'
    first tokens: the answer is always an option, the one the local model ranks first among them."""
    options = ["A", "B", "C", "D"]
    chats = [
        _choice_chat("Which is a fruit? A. car B. apple C. chair D. river"),
        _choice_chat("Write a poem about the sea."),  # a question that has nothing to do with letters
    ]
    remote = OpenAIBackend(MODEL, base_url=_url(port), logprobs=False, concurrency=1)
    got = remote.next_token_logprobs(chats, options)
    want = [small_backend.next_token_logprobs([c], options)[0] for c in chats]
    for g, w in zip(got, want):
        assert sorted(g.values()) == [-math.inf] * 3 + [0.0]
        assert max(g, key=g.__getitem__) == max(w, key=w.__getitem__)
    # the server checks the bias it is given
    url = f"{_url(port)}/chat/completions"
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 1}
    for bad in ({"x": 1}, {"1": 500}, {"99999999": 5}):
        res = httpx.post(url, json={**chat, "logit_bias": bad}, timeout=30)
        assert res.status_code == 400 and "logit_bias" in res.json()["error"]["message"]
