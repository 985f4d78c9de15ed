"""`ieforge serve` task endpoints on the real SmolLM2-135M, through FastAPI's TestClient (httpx).

Every endpoint answers with the library's result model and grounded spans; the caps answer 413/422/400
with one-line JSON errors; the OpenAPI spec types every endpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ieforge.extractor import Extractor
from ieforge.schemas.events import available_event_schemas
from ieforge.schemas.relations import available_relation_schemas, load_relation_schema
from ieforge.serve import create_app
from ieforge.serve.app import CatchAllMiddleware
from ieforge.serve.tasks_api import Limits
from ieforge.types import EventResult, NERResult, Phrase, Relation, TableResult, TriplesResult

LIMITS = Limits(
    max_chars=400,
    max_labels=4,
    max_label_chars=30,
    max_headers=3,
    max_header_chars=20,
    max_instruction_chars=120,
    max_body_bytes=8192,
)
TASKS = ["/v1/ner", "/v1/re", "/v1/relations", "/v1/events", "/v1/openie", "/v1/table"]


@pytest.fixture(scope="module")
def client(small_backend: Any) -> Iterator[TestClient]:
    app = create_app(Extractor(small_backend, max_new_tokens=16), limits=LIMITS)
    with TestClient(app) as c:
        yield c


def post(client: TestClient, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    data: dict[str, Any] = r.json()
    return data


def grounded(text: str, span: Any) -> None:
    assert 0 <= span.start < span.end <= len(text), span
    assert text[span.start : span.end] == span.text, span


def phrase_grounded(text: str, p: Phrase) -> None:
    if p.start is not None:
        assert p.end is not None
        assert text[p.start : p.end] == p.text, p


# ----- the task endpoints ---------------------------------------------------------------------------------


@pytest.mark.model
def test_ner_returns_grounded_entities_of_the_asked_labels(client: TestClient) -> None:
    text = "Paris is the capital of France. Angela Merkel visited Paris."
    body = post(client, "/v1/ner", {"text": text, "labels": ["city", "country", "person"]})
    result = NERResult.model_validate(body)
    assert result.text == text and result.labels == ["city", "country", "person"]
    assert result.model == "smollm2-135m" and result.prompt.startswith("uniner")
    assert result.entities, "the small model finds something here"
    for e in result.entities:
        grounded(text, e)
        assert e.label in result.labels
        assert e.score is not None and 0.0 <= e.score <= 1.0
    assert result.stats.answers >= 3


@pytest.mark.model
def test_re_with_strings_offsets_and_markup(client: TestClient) -> None:
    text = "Bill Gates founded Microsoft."
    tacred = load_relation_schema("tacred")
    by_string = Relation.model_validate(
        post(
            client,
            "/v1/re",
            {
                "text": text,
                "head": "Microsoft",
                "tail": "Bill Gates",
                "schema": "tacred",
                "head_type": "ORGANIZATION",
                "tail_type": "PERSON",
            },
        )
    )
    assert (by_string.head.start, by_string.head.end) == (19, 28)
    assert (by_string.tail.start, by_string.tail.end) == (0, 10)
    grounded(text, by_string.head)
    grounded(text, by_string.tail)
    assert by_string.label in [*tacred.labels, tacred.none_label]
    assert by_string.score is not None and sum(by_string.options.values()) == pytest.approx(1.0, abs=1e-3)

    by_offsets = Relation.model_validate(
        post(
            client,
            "/v1/re",
            {
                "text": text,
                "head": [19, 28],
                "tail": [0, 10],
                "schema": "tacred",
                "head_type": "ORGANIZATION",
                "tail_type": "PERSON",
            },
        )
    )
    assert by_offsets == by_string  # the same question, asked by offsets

    marked = Relation.model_validate(
        post(client, "/v1/re", {"text": "The <e1>bottle</e1> was full of <e2>wine</e2>."})
    )
    plain = "The bottle was full of wine."
    grounded(plain, marked.head)
    grounded(plain, marked.tail)
    assert (marked.head.text, marked.tail.text) == ("bottle", "wine")

    verified = Relation.model_validate(
        post(
            client,
            "/v1/re",
            {"text": text, "head": "Microsoft", "tail": "Bill Gates", "reading": "verify", "calibrate": True},
        )
    )
    assert verified.method.startswith("qa4re") and verified.options


@pytest.mark.model
def test_relations_end_to_end_are_grounded_pairs(client: TestClient) -> None:
    text = "Bill Gates founded Microsoft in Seattle."
    body = post(client, "/v1/relations", {"text": text, "schema": "tacred"})
    assert body["text"] == text and body["schema_name"] == "tacred@1" and body["model"] == "smollm2-135m"
    for raw in body["relations"]:
        rel = Relation.model_validate(raw)
        grounded(text, rel.head)
        grounded(text, rel.tail)
        assert rel.label != "no_relation"
    typed = post(client, "/v1/relations", {"text": text, "schema": "fewrel", "entity_types": ["person"]})
    assert typed["schema_name"] == "fewrel@1"


@pytest.mark.model
def test_events_openie_and_table_are_grounded(client: TestClient) -> None:
    text = "Hackers breached the servers of Acme Corp in March and stole the emails of 2,000 customers."
    events = EventResult.model_validate(post(client, "/v1/events", {"text": text, "schema": "casie"}))
    assert events.schema_name == "casie@1" and events.stats.answers >= 5
    for ev in events.events:
        grounded(text, ev.trigger)
        for arg in ev.arguments:
            grounded(text, arg)

    text = "Barack Obama was born in Honolulu in 1961."
    triples = TriplesResult.model_validate(post(client, "/v1/openie", {"text": text}))
    assert triples.text == text and triples.stats.answers == 1
    for t in triples.triples:
        for p in (t.subject, t.relation, t.object, *t.extra):
            phrase_grounded(text, p)

    text = "The iPhone 15 costs $799 and the iPad Air costs $599."
    table = TableResult.model_validate(
        post(
            client,
            "/v1/table",
            {
                "text": text,
                "instruction": "List the products and their prices.",
                "headers": ["product", "price"],
            },
        )
    )
    assert table.headers == ["product", "price"] and table.stats.answers == 1
    for row in table.rows:
        assert set(row.cells) <= {"product", "price"}
        for cell in row.cells.values():
            phrase_grounded(text, cell)


@pytest.mark.model
def test_health_and_limits(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == health["ner_model"] == "smollm2-135m"
    assert health["busy"] is False
    assert health["limits"] == LIMITS.model_dump()
    assert client.get("/v1/limits").json() == LIMITS.model_dump()


@pytest.mark.model
def test_concurrent_requests_queue_behind_the_model_lock(client: TestClient) -> None:
    body = {"text": "Paris is the capital of France.", "labels": ["city", "country"]}
    alone = post(client, "/v1/ner", body)
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(post(client, "/v1/ner", body))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    seen_busy = False
    while any(t.is_alive() for t in threads):
        seen_busy = seen_busy or client.get("/health").json()["busy"]
        time.sleep(0.005)
    for t in threads:
        t.join()
    assert results == [alone] * 3  # one at a time on the one model: the same answers as alone
    assert seen_busy  # /health answers while the model works
    assert client.get("/health").json()["busy"] is False


# ----- caps and errors ------------------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/v1/ner", {"text": "", "labels": ["person"]}, "text: must not be empty"),
        ("/v1/ner", {"text": " \n\t", "labels": ["person"]}, "text: must not be blank"),
        (
            "/v1/ner",
            {"text": "x" * 401, "labels": ["person"]},
            "text: String should have at most 400 characters",
        ),
        ("/v1/ner", {"text": "x", "labels": []}, "labels: List should have at least 1 item"),
        ("/v1/ner", {"text": "x", "labels": list("abcde")}, "labels: List should have at most 4 items"),
        ("/v1/ner", {"text": "x", "labels": ["person", "y" * 31]}, "labels.1: String should have at most 30"),
        ("/v1/ner", {"text": "x", "labels": ["person", " "]}, "labels.1: must not be blank"),
        ("/v1/ner", {"text": "x"}, "labels: Field required"),
        ("/v1/ner", {"text": "x", "labels": ["a"], "label": "b"}, "label: Extra inputs are not permitted"),
        ("/v1/ner", {"text": 5, "labels": ["a"]}, "text: Input should be a valid string"),
        ("/v1/re", {"text": "x", "head": [-1, 2], "tail": "x"}, "head"),
        ("/v1/re", {"text": "ab", "reading": "guess"}, "reading: Input should be 'letters'"),
        ("/v1/events", {"text": "x", "detection": "all"}, "detection: Input should be 'auto'"),
        ("/v1/table", {"text": "x", "instruction": "List.", "headers": list("abcd")}, "headers: List should"),
        (
            "/v1/table",
            {"text": "x", "instruction": "L" * 121, "headers": ["a"]},
            "instruction: String should",
        ),
    ],
)
def test_bad_fields_are_422_with_a_readable_message(
    client: TestClient, path: str, body: dict[str, Any], message: str
) -> None:
    error = post(client, path, body, status=422)
    assert list(error) == ["error"]
    assert error["error"].startswith(message), error
    assert "\n" not in error["error"]


@pytest.mark.model
@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/v1/events",
            {"text": "x", "schema": "/etc/passwd"},
            f"unknown event schema '/etc/passwd' (available: {', '.join(available_event_schemas())})",
        ),
        (
            "/v1/re",
            {"text": "a b", "head": "a", "tail": "b", "schema": "schemas/relations/semeval.yaml"},
            "unknown relation schema 'schemas/relations/semeval.yaml' (available: "
            + ", ".join(available_relation_schemas())
            + ")",
        ),
        ("/v1/re", {"text": "a b", "head": "zebra", "tail": "b"}, "head 'zebra' does not occur in the text"),
        ("/v1/re", {"text": "a b", "head": [0, 9], "tail": "b"}, "head offsets 0:9 do not fit the text"),
        (
            "/v1/re",
            {"text": "a b"},
            "give head and tail, or mark them in the text as <e1>..</e1> and <e2>..</e2>",
        ),
        ("/v1/re", {"text": "a <e1>b</e1>", "head": None}, "give head and tail, or mark them"),
        ("/v1/re", {"text": "<e1>a</e1> <e2>b</e1>"}, "entity markup: </e1> occurs twice"),
        ("/v1/re", {"text": "a b", "head": "a"}, "give both head and tail"),
        (
            "/v1/re",
            {"text": "a b", "head": "a", "tail": "b", "method": "vanilla", "reading": "verify"},
            "reading 'verify' works with method 'qa4re' only",
        ),
        ("/v1/relations", {"text": "a b", "schema": "fewrel"}, "schema 'fewrel' names no entity types"),
    ],
)
def test_requests_the_library_refuses_are_400(
    client: TestClient, path: str, body: dict[str, Any], message: str
) -> None:
    error = post(client, path, body, status=400)
    assert list(error) == ["error"]
    assert error["error"].startswith(message), error


@pytest.mark.model
def test_body_over_the_cap_is_413_by_length_and_by_counting(client: TestClient) -> None:
    big = b'{"text": "' + b"x" * 9000 + b'", "labels": ["a"]}'
    r = client.post("/v1/ner", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"error": "request body too large: the limit is 8192 bytes"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it arrives
        yield big[:5000]
        yield big[5000:]

    r = client.post("/v1/ner", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"error": "request body too large: the limit is 8192 bytes"}

    small = b'{"text": "Paris.", "labels": ["city"]}'
    r = client.post(
        "/v1/ner", content=iter([small[:10], small[10:]]), headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text


@pytest.mark.model
def test_malformed_json_unknown_paths_and_methods_share_the_error_shape(client: TestClient) -> None:
    r = client.post("/v1/ner", content=b'{"text": ', headers={"content-type": "application/json"})
    assert (r.status_code, r.json()) == (422, {"error": "request body: not valid JSON"})
    r = client.get("/v1/nothing")
    assert (r.status_code, r.json()) == (404, {"error": "Not Found"})
    r = client.get("/v1/ner")
    assert (r.status_code, r.json()) == (405, {"error": "Method Not Allowed"})


def test_unexpected_exceptions_are_a_500_without_traceback() -> None:
    app = FastAPI()
    app.add_middleware(CatchAllMiddleware)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail at /srv/app/config.py\nline two")

    with TestClient(app) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": "internal error (RuntimeError); see the server log"}
    assert "secret" not in r.text and "Traceback" not in r.text


# ----- the OpenAPI spec -----------------------------------------------------------------------------------


@pytest.mark.model
def test_openapi_spec_types_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    responses = {
        "/v1/ner": "NERResult",
        "/v1/re": "Relation",
        "/v1/relations": "RelationsResult",
        "/v1/events": "EventResult",
        "/v1/openie": "TriplesResult",
        "/v1/table": "TableResult",
    }
    for path in TASKS:
        op = spec["paths"][path]["post"]
        request_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        request = schemas[request_ref.rsplit("/", 1)[1]]
        assert request["properties"]["text"]["maxLength"] == LIMITS.max_chars
        assert request["properties"]["text"]["minLength"] == 1
        assert request["additionalProperties"] is False
        assert request.get("examples"), path
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ok == f"#/components/schemas/{responses[path]}"
        for status in ("400", "413", "422", "500", "502"):
            error = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert error == "#/components/schemas/ErrorBody"
    for path, model in (("/health", "Health"), ("/v1/limits", "Limits")):
        ok = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ok == f"#/components/schemas/{model}"
    assert schemas["NERRequest"]["properties"]["labels"]["maxItems"] == LIMITS.max_labels
    assert schemas["NERRequest"]["properties"]["labels"]["items"]["maxLength"] == LIMITS.max_label_chars
    assert schemas["TableRequest"]["properties"]["headers"]["maxItems"] == LIMITS.max_headers
    assert set(schemas["NERResult"]["properties"]) >= {
        "text",
        "labels",
        "entities",
        "stats",
        "model",
        "prompt",
    }
    assert schemas["Entity"]["required"] == ["start", "end", "text", "label"]


@pytest.mark.model
def test_end_to_end_relations_refuse_more_pairs_than_the_cap(small_backend: Any) -> None:
    """Given entities make a known number of pairs (no NER runs), so the cap is met exactly whatever the
    model would find: at the cap the pairs are classified, one over it is a 400 before any model call."""
    text = "Bill Gates and Paul Allen founded Microsoft in Albuquerque."
    entities = [
        {"mention": "Bill Gates", "type": "PERSON"},
        {"mention": [15, 25], "type": "PERSON"},
        {"mention": "Microsoft", "type": "ORGANIZATION"},
    ]
    request = {"text": text, "schema": "fewrel", "entities": entities}  # fewrel: every pair allowed
    ex = Extractor(small_backend, max_new_tokens=16)
    with TestClient(create_app(ex, limits=Limits(max_pairs=6))) as at_cap:
        body = post(at_cap, "/v1/relations", request)
        for raw in body["relations"]:
            rel = Relation.model_validate(raw)
            assert {rel.head.text, rel.tail.text} <= {"Bill Gates", "Paul Allen", "Microsoft"}
            assert rel.head != rel.tail
    with TestClient(create_app(ex, limits=Limits(max_pairs=5))) as below:
        body = post(below, "/v1/relations", request, status=400)
        assert (
            body["error"]
            == "3 entities make 6 pairs to classify, more than the 5 allowed; send fewer entities"
        )
        overlapping = {
            "text": text,
            "schema": "fewrel",
            "entities": [*entities, {"mention": "Bill", "type": "X"}],
        }
        post(below, "/v1/relations", overlapping, status=400)  # 3 more pairs: Bill overlaps Bill Gates
        body = post(
            below, "/v1/relations", {**request, "entities": [{"mention": "Zoe", "type": "P"}]}, status=400
        )
        assert body["error"] == "entity 1 'Zoe' does not occur in the text"
        body = post(below, "/v1/relations", {**request, "entity_types": ["person"]}, status=400)
        assert body["error"].startswith(
            "give entity_types (for NER to find) or entities (found already), not both"
        )
