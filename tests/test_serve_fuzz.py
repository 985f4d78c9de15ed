"""Schemathesis fuzzing of the task endpoints from their OpenAPI spec, on the real SmolLM2-135M.

Requests are generated from the spec itself: valid ones (positive mode: they run the model) and invalid
ones (negative mode: they must be refused with a documented 4xx). Every response must be a documented
status with a body matching its schema, never a 5xx. The caps are tight and answers short so each
operation takes seconds; RAMS (139 event types in one question) is left out of the fuzzing for time.
Generated head/tail mentions seldom occur in generated texts, so /v1/re is also fuzzed with pairs that do.
The service has an API key (its spec states the bearer scheme); every generated request sends it.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ieforge.extractor import Extractor
from ieforge.schemas.relations import load_relation_schema
from ieforge.serve import create_app
from ieforge.serve.tasks_api import Limits

pytestmark = pytest.mark.model

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
TASKS = ["/v1/ner", "/v1/re", "/v1/relations", "/v1/events", "/v1/openie", "/v1/table"]
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 25}
KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def app(small_backend: Any) -> FastAPI:
    limits = Limits(
        max_chars=60,
        max_labels=3,
        max_label_chars=20,
        max_headers=3,
        max_header_chars=20,
        max_instruction_chars=60,
        max_body_bytes=4096,
    )
    return create_app(Extractor(small_backend, max_new_tokens=8), limits=limits, api_key=KEY)


@pytest.fixture(scope="module")
def api(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz(operation: Any, mode: GenerationMode) -> None:
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        assume(not (isinstance(case.body, dict) and case.body.get("schema") == "rams"))
        case.call_and_validate(checks=CHECKS, timeout=300, headers=AUTH)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("path", TASKS)
def test_task_endpoints_never_fail_and_answer_as_documented(
    api: Any, path: str, mode: GenerationMode
) -> None:
    fuzz(api[path]["POST"], mode)


@pytest.mark.parametrize("path", ["/health", "/v1/limits"])
def test_service_endpoints_answer_as_documented(api: Any, path: str) -> None:
    fuzz(api[path]["GET"], GenerationMode.POSITIVE)


_WORDS = ["Acme", "Corp", "bought", "東京", "Zoë", "in", "2019", "😀", "the", "café", "Gates", "e\u0301"]


@st.composite
def _pair_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A /v1/re request whose head and tail are in its text: as strings, offsets or <e1>/<e2> markup."""
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=2, max_size=8))
    i, j = draw(st.lists(st.integers(0, len(words) - 1), min_size=2, max_size=2, unique=True))
    starts = [sum(len(w) + 1 for w in words[:k]) for k in range(len(words))]
    text = " ".join(words)
    body: dict[str, Any] = {
        "schema": draw(st.sampled_from(["semeval", "tacred", "fewrel"])),
        "method": draw(st.sampled_from(["qa4re", "vanilla"])),
        "reading": draw(st.sampled_from(["letters", "generate", "verify", "score"])),
        "calibrate": draw(st.booleans()),
    }
    form = draw(st.sampled_from(["strings", "offsets", "markup"]))
    if form == "markup":
        marked = list(words)
        marked[i], marked[j] = f"<e1>{words[i]}</e1>", f"<e2>{words[j]}</e2>"
        body["text"] = " ".join(marked)
    else:
        body["text"] = text
        for role, k in (("head", i), ("tail", j)):
            body[role] = words[k] if form == "strings" else [starts[k], starts[k] + len(words[k])]
    if draw(st.booleans()):
        body["head_type"], body["tail_type"] = draw(
            st.sampled_from([("PERSON", "ORGANIZATION"), ("MISC", "X")])
        )
    return body


def test_relation_pairs_in_the_text_are_classified_and_grounded(app: FastAPI) -> None:
    client = TestClient(app, headers=AUTH)

    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=_pair_requests())
    def run(body: dict[str, Any]) -> None:
        r = client.post("/v1/re", json=body)
        if body["method"] == "vanilla" and body["reading"] == "verify":
            assert r.status_code == 400, r.text
            return
        assert r.status_code == 200, (body, r.text)
        rel = r.json()
        plain = body["text"].replace("<e1>", "").replace("</e1>", "").replace("<e2>", "").replace("</e2>", "")
        for mention in (rel["head"], rel["tail"]):
            assert plain[mention["start"] : mention["end"]] == mention["text"]
        schema = load_relation_schema(body["schema"])
        assert rel["label"] in [*schema.labels, schema.none_label]

    run()
