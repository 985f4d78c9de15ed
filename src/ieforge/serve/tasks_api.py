"""Typed task endpoints: NER, relations, events, open IE and tables over HTTP, one model behind one lock.

Every request is a pydantic model whose caps (text length, number of labels ...) come from
:class:`Limits`, so the OpenAPI spec states them; every response is the library's own result model
(:mod:`ieforge.types`). Schemas are the built-in ones, by name only: a client never names a server file.
Errors are ``{"error": "one line"}`` (see :mod:`ieforge.serve.app` for the handlers).
"""

# No ``from __future__ import annotations`` here: the request models are built inside :func:`router` (their
# caps are the app's), and FastAPI reads endpoint annotations at runtime, where a string naming a local
# class could not be resolved.

import threading
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException
from fastapi.params import Depends
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeInt

from ieforge.errors import IEForgeError, InputError, RequestError
from ieforge.extractor import Extractor
from ieforge.schemas._files import _builtin
from ieforge.schemas.events import EventSchema, available_event_schemas
from ieforge.schemas.relations import RelationSchema, available_relation_schemas
from ieforge.serve.admission import Admission, acquire_until
from ieforge.tasks.relations import check_relation_options
from ieforge.types import EventResult, NERResult, Relation, TableResult, TriplesResult

T = TypeVar("T")

MODEL_LOCK = threading.Lock()
"""Held around every model call of the process: the model backends are not thread-safe, and FastAPI runs
sync endpoints in a thread pool. Other routers calling the model take it too."""


class Limits(BaseModel):
    """Caps on what one request may ask for. Anything above a cap is refused with a 4xx error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_chars: int = Field(default=20_000, ge=1, description="longest text, in characters")
    max_labels: int = Field(default=32, ge=1, description="most entity labels (or entity types) per request")
    max_label_chars: int = Field(default=100, ge=1, description="longest label or entity type, in characters")
    max_headers: int = Field(default=16, ge=1, description="most table column headers per request")
    max_header_chars: int = Field(default=100, ge=1, description="longest column header, in characters")
    max_instruction_chars: int = Field(default=1_000, ge=1, description="longest table instruction")
    max_body_bytes: int = Field(default=1_048_576, ge=1, description="largest request body, in bytes")
    max_pairs: int = Field(
        default=256, ge=1, description="most entity pairs one end-to-end relation request may classify"
    )


class ErrorBody(BaseModel):
    """Every error the service returns, whatever its status."""

    error: str = Field(description="what went wrong, in one line", examples=["text: must not be blank"])


class Health(BaseModel):
    """The service is up and serving this model."""

    status: Literal["ok"] = "ok"
    model: str = Field(description="name of the model the endpoints run")
    ner_model: str = Field(
        description="name of the model entity extraction runs (the default NER model "
        "when the service was started without a model)"
    )
    busy: bool = Field(description="a model call is running now (requests queue behind it)")
    requests: int = Field(description="requests the model is answering or that wait for it now")
    max_queue: int = Field(description="most requests that may wait behind the one being answered")
    request_timeout: float | None = Field(description="seconds a request may take, waiting included")
    limits: Limits


class RelationsResult(BaseModel):
    """End-to-end relation extraction: every related pair of entities found in one text."""

    text: str
    schema_name: str = Field(description="name@version of the relation schema")
    relations: list[Relation] = Field(description="pairs read as a relation other than the none label")
    model: str = ""


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the request cannot be served as asked (unknown schema ...)"},
    413: {"model": ErrorBody, "description": "the request body is larger than max_body_bytes"},
    422: {"model": ErrorBody, "description": "a field is missing, malformed, blank or over its cap"},
    500: {"model": ErrorBody, "description": "an unexpected failure (details in the server log)"},
    502: {"model": ErrorBody, "description": "the model server behind an openai:NAME model did not answer"},
}
QUEUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "the request queue is full; retry after the seconds in the Retry-After header",
        "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    },
    504: {"model": ErrorBody, "description": "no answer within the request timeout; the request was dropped"},
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no API key, or not the service's (Authorization: Bearer KEY)"},
}

Offsets = tuple[NonNegativeInt, NonNegativeInt]
Method = Literal["qa4re", "vanilla"]
Reading = Literal["letters", "generate", "verify", "score"]
Detection = Literal["auto", "per-type", "joint"]


def check_text(value: str) -> str:
    """A request string must be encodable text; a text must also have something besides whitespace."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (it holds a lone surrogate)") from None
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def relation_schema(name: str) -> RelationSchema:
    """A built-in relation schema by name; anything else is a 400 listing the names (no file is read)."""
    names = available_relation_schemas()
    if name not in names:
        raise HTTPException(400, f"unknown relation schema '{name}' (available: {', '.join(names)})")
    return _builtin(name, "relations", "relation", RelationSchema)


def event_schema(name: str) -> EventSchema:
    """A built-in event schema by name; anything else is a 400 listing the names (no file is read)."""
    names = available_event_schemas()
    if name not in names:
        raise HTTPException(400, f"unknown event schema '{name}' (available: {', '.join(names)})")
    return _builtin(name, "events", "event", EventSchema)


def check_reading(method: str, reading: str) -> None:
    """The library's one rule on relation options (:func:`check_relation_options`), as a 400 before the
    request waits for the model."""
    try:
        check_relation_options(method, reading)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None


def run_model(call: Callable[[], T], deadline: float | None = None) -> T:
    """Run one library call under the model lock, taking the lock no later than ``deadline`` (a monotonic
    time; else :class:`~ieforge.serve.admission.RequestTimeout`). The library's errors about the input
    become 400s; a remote model server that does not answer (an ``openai:NAME`` model) is a 502."""
    acquire_until(MODEL_LOCK, deadline)
    try:
        return call()
    except RequestError as exc:
        raise HTTPException(502, str(exc) or type(exc).__name__) from None
    except IEForgeError as exc:
        raise HTTPException(400, str(exc) or type(exc).__name__) from None
    finally:
        MODEL_LOCK.release()


def router(
    extractor: Extractor,
    limits: Limits | None = None,
    *,
    admission: Admission | None = None,
    dependencies: Sequence[Depends] = (),
) -> APIRouter:
    """The task endpoints for ``extractor``'s model, with ``limits`` on every request (defaults: Limits()).

    Requests that run the model queue in ``admission`` (default: :class:`Admission`'s bounds);
    ``dependencies`` guard every endpoint but ``/health`` (the API key's check)."""
    lim = limits or Limits()
    gate = admission or Admission()
    guard = list(dependencies)
    guarded = {**AUTH_RESPONSES} if guard else {}

    async def model_call(call: Callable[[], T]) -> T:
        return await gate.run(lambda deadline: run_model(call, deadline))

    model_name = extractor.backend.name  # loads the model now, not on the first request
    ner_model_name = extractor.ner_backend.name  # and NER's, when it has its own default
    relation_names = ", ".join(available_relation_schemas())
    event_names = ", ".join(available_event_schemas())

    Text = Annotated[
        str,
        Field(
            min_length=1,
            max_length=lim.max_chars,
            description=f"the text to read (not blank; at most {lim.max_chars} characters)",
        ),
        AfterValidator(check_text),
    ]
    Name = Annotated[str, Field(min_length=1, max_length=lim.max_label_chars), AfterValidator(check_text)]
    Header = Annotated[str, Field(min_length=1, max_length=lim.max_header_chars), AfterValidator(check_text)]
    Mention = Annotated[str, Field(min_length=1, max_length=lim.max_chars), AfterValidator(check_text)]
    RelationSchemaName = Annotated[str, Field(description=f"built-in relation schema: {relation_names}")]
    MethodField = Annotated[Method, Field(description="qa4re (multiple-choice QA) or vanilla")]
    ReadingField = Annotated[
        Reading, Field(description="letters (one forward pass), generate, verify (qa4re only) or score")
    ]
    CalibrateField = Annotated[
        bool, Field(description="divide option probabilities by the content-free prior")
    ]

    def examples(*cases: dict[str, Any]) -> ConfigDict:
        return ConfigDict(extra="forbid", json_schema_extra={"examples": list(cases)})

    class NERRequest(BaseModel):
        """Find entities of the given types."""

        model_config = examples(
            {"text": "Barack Obama was born in Honolulu.", "labels": ["person", "location"]}
        )

        text: Text
        labels: list[Name] = Field(
            min_length=1,
            max_length=lim.max_labels,
            description=f"entity types to look for (1 to {lim.max_labels}, each at most "
            f"{lim.max_label_chars} characters)",
        )

    class RERequest(BaseModel):
        """Classify the relation between a head and a tail mention."""

        model_config = examples(
            {
                "text": "Bill Gates founded Microsoft.",
                "head": "Microsoft",
                "tail": "Bill Gates",
                "schema": "tacred",
                "head_type": "ORGANIZATION",
                "tail_type": "PERSON",
            },
            {"text": "The <e1>bottle</e1> was full of <e2>wine</e2>.", "schema": "semeval"},
            {"text": "Bill Gates founded Microsoft.", "head": [19, 28], "tail": [0, 10]},
        )

        text: Text
        head: Mention | Offsets | None = Field(
            default=None,
            description="head (subject) mention: a string found in the text (first occurrence) or "
            "[start, end] offsets; leave head and tail out to mark them as <e1>..</e1> and <e2>..</e2>",
        )
        tail: Mention | Offsets | None = Field(default=None, description="tail (object) mention, like head")
        head_type: Name | None = Field(default=None, description="entity type of the head, e.g. PERSON")
        tail_type: Name | None = Field(default=None, description="entity type of the tail")
        schema_: RelationSchemaName = Field(default="semeval", alias="schema")
        method: MethodField = "qa4re"
        reading: ReadingField = "letters"
        calibrate: CalibrateField = False

    class GivenEntity(BaseModel):
        """An entity already found: where it is in the text and its type."""

        model_config = ConfigDict(extra="forbid")

        mention: Mention | Offsets = Field(
            description="a string found in the text (first occurrence) or [start, end] offsets"
        )
        type: Name = Field(description="its entity type, e.g. PERSON (as the schema's constraints name it)")

    class RelationsRequest(BaseModel):
        """Find entities (or take the given ones), then classify every pair the schema's type constraints
        allow."""

        model_config = examples(
            {"text": "Bill Gates founded Microsoft in Seattle.", "schema": "tacred"},
            {
                "text": "Bill Gates founded Microsoft in Seattle.",
                "schema": "tacred",
                "entities": [
                    {"mention": "Bill Gates", "type": "PERSON"},
                    {"mention": [19, 28], "type": "ORGANIZATION"},
                ],
            },
        )

        text: Text
        schema_: RelationSchemaName = Field(default="tacred", alias="schema")
        entity_types: list[Name] | None = Field(
            default=None,
            min_length=1,
            max_length=lim.max_labels,
            description="entity types to find (default: the types the schema's constraints name)",
        )
        entities: list[GivenEntity] | None = Field(
            default=None,
            min_length=1,
            description="the entities, found already: no NER runs (not with entity_types); every pair "
            f"counts toward the cap of {lim.max_pairs} pairs",
        )
        method: MethodField = "qa4re"
        reading: ReadingField = "letters"
        calibrate: CalibrateField = False

    class EventsRequest(BaseModel):
        """Find events: triggers and their arguments."""

        model_config = examples(
            {"text": "Hackers breached the servers of Acme Corp in March.", "schema": "casie"}
        )

        text: Text
        schema_: str = Field(
            default="casie", alias="schema", description=f"built-in event schema: {event_names}"
        )
        detection: Detection = Field(
            default="auto", description="per-type (one question per event type), joint (one for all) or auto"
        )

    class OpenIERequest(BaseModel):
        """Find every fact the text states as (subject, relation, object[, more])."""

        model_config = examples({"text": "Barack Obama was born in Honolulu in 1961."})

        text: Text

    class TableRequest(BaseModel):
        """Fill a table with the given column headers, following an instruction."""

        model_config = examples(
            {
                "text": "The iPhone 15 costs $799 and the iPad Air costs $599.",
                "instruction": "List the products and their prices.",
                "headers": ["product", "price"],
            }
        )

        text: Text
        instruction: Annotated[
            str,
            Field(
                min_length=1,
                max_length=lim.max_instruction_chars,
                description=f"what to list (at most {lim.max_instruction_chars} characters)",
            ),
            AfterValidator(check_text),
        ]
        headers: list[Header] = Field(
            min_length=1,
            max_length=lim.max_headers,
            description=f"column headers (1 to {lim.max_headers}, each at most {lim.max_header_chars} "
            "characters)",
        )

    api = APIRouter(responses=ERROR_RESPONSES)
    queued = {**guarded, **QUEUE_RESPONSES}

    @api.get("/health", tags=["service"], summary="Service status and model (open without the API key)")
    async def health() -> Health:
        return Health(
            model=model_name,
            ner_model=ner_model_name,
            busy=MODEL_LOCK.locked(),
            requests=gate.taken,
            max_queue=gate.max_queue,
            request_timeout=gate.timeout,
            limits=lim,
        )

    @api.get(
        "/v1/limits", tags=["service"], summary="Caps on every request", dependencies=guard, responses=guarded
    )
    async def get_limits() -> Limits:
        return lim

    @api.post(
        "/v1/ner",
        summary="Named entities of the given types",
        tags=["tasks"],
        dependencies=guard,
        responses=queued,
    )
    async def ner(req: NERRequest) -> NERResult:
        return await model_call(lambda: extractor.ner(req.text, req.labels))

    @api.post(
        "/v1/re",
        summary="The relation between a head and a tail mention",
        tags=["tasks"],
        dependencies=guard,
        responses=queued,
    )
    async def relation(req: RERequest) -> Relation:
        schema = relation_schema(req.schema_)
        check_reading(req.method, req.reading)
        return await model_call(
            lambda: extractor.relations(
                req.text,
                req.head,
                req.tail,
                schema=schema,
                method=req.method,
                head_type=req.head_type,
                tail_type=req.tail_type,
                reading=req.reading,
                calibrate=req.calibrate,
            )
        )

    @api.post(
        "/v1/relations",
        summary="End-to-end: entities, then their relations",
        tags=["tasks"],
        dependencies=guard,
        responses=queued,
    )
    async def relations(req: RelationsRequest) -> RelationsResult:
        schema = relation_schema(req.schema_)
        check_reading(req.method, req.reading)
        given = None if req.entities is None else [(e.mention, e.type) for e in req.entities]
        found = await model_call(
            lambda: extractor.extract_relations(
                req.text,
                schema=schema,
                entity_types=req.entity_types,
                method=req.method,
                reading=req.reading,
                calibrate=req.calibrate,
                max_pairs=lim.max_pairs,
                entities=given,
            )
        )
        return RelationsResult(text=req.text, schema_name=schema.id, relations=found, model=model_name)

    @api.post(
        "/v1/events",
        summary="Events: triggers and their arguments",
        tags=["tasks"],
        dependencies=guard,
        responses=queued,
    )
    async def events(req: EventsRequest) -> EventResult:
        schema = event_schema(req.schema_)
        return await model_call(
            lambda: extractor.event_result(req.text, schema=schema, detection=req.detection)
        )

    @api.post("/v1/openie", summary="Open IE triples", tags=["tasks"], dependencies=guard, responses=queued)
    async def openie(req: OpenIERequest) -> TriplesResult:
        return await model_call(lambda: extractor.triples_result(req.text))

    @api.post(
        "/v1/table",
        summary="A table with the given headers, filled from the text",
        tags=["tasks"],
        dependencies=guard,
        responses=queued,
    )
    async def table(req: TableRequest) -> TableResult:
        return await model_call(
            lambda: extractor.table(req.text, instruction=req.instruction, headers=req.headers)
        )

    return api
