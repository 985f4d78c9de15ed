"""An OpenAI-compatible endpoint over the served model: ``GET /v1/models``, ``POST /v1/chat/completions``
and vLLM's ``POST /tokenize``, so that any OpenAI client (ieforge's own ``openai:NAME`` backend
included) can use it.

The supported subset of the chat-completions schema: ``messages`` (system, developer, user and
assistant turns; text content, as a string or text parts), ``max_tokens`` / ``max_completion_tokens``
(default 512, and no more than the context leaves), ``temperature`` (default 1, as OpenAI's; 0 is
greedy), ``stop`` (a string or a list), ``logprobs``, ``top_logprobs`` (0 to 20), ``n`` = 1 only and
no streaming; ``seed`` and ``user`` are accepted and ignored, and fields the model cannot honour
(tools, response formats, penalties, ``top_p`` other than 1 ...) are refused. vLLM's extensions are
read too: ``continue_final_message`` (the final assistant message is the start of the answer, which
the reply continues; the reply holds only the continuation), ``add_generation_prompt`` and
``include_stop_str_in_output``; ``logit_bias`` (token ids of the served model's tokenizer, as
``/tokenize`` gives them) on a model that can apply it (the transformers backend); each choice has vLLM's
``stop_reason`` (the stop string that ended the
answer, or null).

``top_logprobs`` are those of the first answer token (for a model that can list its top next tokens:
the transformers backend); later tokens list only the chosen token, and so does the first on a model
that cannot. Token strings are the answer's text cut at each token's span, so they join up to it exactly.

Errors are OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``: 400 for a bad request,
401 for a missing or wrong API key (``Authorization: Bearer KEY``, as OpenAI's clients send it), 404 for
another model name, 503 (with ``Retry-After``) when the request queue is full and 504 past the request
timeout (:mod:`ieforge.serve.admission`). Every model call holds the process's model lock. Requests that
wait for the model while it is busy are answered together in one batched call
(:mod:`ieforge.serve.batching`).
"""

import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from ieforge.errors import IEForgeError
from ieforge.extractor import Extractor
from ieforge.models.base import Backend, Chat, Generation, Message
from ieforge.serve.admission import Admission
from ieforge.serve.batching import Ask, Batcher
from ieforge.serve.tasks_api import MODEL_LOCK

DEFAULT_MAX_TOKENS = 512
MAX_TOP_LOGPROBS = 20
LOWEST_LOGPROB = -9999.0
"""what OpenAI reports for a token of (numerically) zero probability; JSON has no -inf"""
# request fields of OpenAI's schema this server cannot honour (refused when given a value)
_UNSUPPORTED = (
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "response_format",
    "audio",
    "prediction",
    "stream_options",
)


# ----- request and response models -----------------------------------------------------------------


def _check_unicode(*texts: str | None) -> None:
    for text in texts:
        try:
            (text or "").encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from None


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None

    @model_validator(mode="after")
    def _text_only(self) -> "ChatMessage":
        if isinstance(self.content, list) and any(p.type != "text" or p.text is None for p in self.content):
            raise ValueError("only text content is supported")
        _check_unicode(self.text())
        return self

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The chat-completions request (OpenAI's schema, the subset this server supports)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    logprobs: bool | None = False
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    n: int | None = Field(default=1, ge=1)
    seed: int | None = None
    stream: bool | None = False
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    user: str | None = None
    logit_bias: dict[str, float] | None = Field(
        default=None, description="token id (as a string) -> value from -100 to 100 added to its logit"
    )
    # vLLM's extensions
    continue_final_message: bool = False
    add_generation_prompt: bool = True
    include_stop_str_in_output: bool = False

    @model_validator(mode="after")
    def _supported(self) -> "ChatCompletionRequest":
        for name in _UNSUPPORTED:
            if (self.model_extra or {}).get(name) not in (None, [], {}, "none", "auto"):
                raise ValueError(f"'{name}' is not supported by this server")
        if self.stream:
            raise ValueError("streaming is not supported: send stream=false")
        if self.n not in (None, 1):
            raise ValueError("only n=1 is supported")
        if self.top_p not in (None, 1, 1.0):
            raise ValueError("only top_p=1 is supported")
        if self.frequency_penalty or self.presence_penalty:
            raise ValueError("frequency and presence penalties are not supported")
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs=true")
        for token, value in (self.logit_bias or {}).items():
            if not token.isdigit() or not -100 <= value <= 100:
                raise ValueError("logit_bias maps token ids (digits) to values from -100 to 100")
        _check_unicode(*self.stops())
        if self.continue_final_message:
            if self.messages[-1].role != "assistant":
                raise ValueError("continue_final_message needs an assistant message last")
            if self.add_generation_prompt:
                raise ValueError("continue_final_message and add_generation_prompt cannot both be true")
        elif not self.add_generation_prompt:
            raise ValueError("add_generation_prompt=false is supported only with continue_final_message")
        return self

    def stops(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in stops if s]


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = []


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: ChoiceLogprobs | None = None
    stop_reason: str | None = Field(default=None, description="the stop string that ended the answer (vLLM)")


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ieforge"
    max_model_len: int = Field(description="context length: prompt and answer tokens (vLLM's field)")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class TokenizeRequest(BaseModel):
    """vLLM's ``{"model", "prompt"}``; llama.cpp's ``{"content"}`` is read too."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    prompt: str | None = None
    content: str | None = None

    @model_validator(mode="after")
    def _unicode(self) -> "TokenizeRequest":
        _check_unicode(self.prompt, self.content)
        return self


class TokenizeResponse(BaseModel):
    count: int
    max_model_len: int
    tokens: list[int] = Field(description="token ids (empty for a model whose tokenizer is not exposed)")


class ErrorDetail(BaseModel):
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


# ----- errors --------------------------------------------------------------------------------------


def api_error(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> HTTPException:
    """An HTTPException whose body is OpenAI's error shape (one-line message)."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    detail = ErrorDetail(message=" ".join(message.split()), type=kind, param=param, code=code)
    return HTTPException(status, detail=ErrorResponse(error=detail).model_dump())


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = list(exc.errors())
    if not errors:
        return "invalid request", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    msg = str(first.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    param = ".".join(loc) or None
    return (f"{param}: {msg}" if param else msg), param


class OpenAIRoute(APIRoute):
    """Routes whose errors take OpenAI's shape: a malformed body is a 400, not FastAPI's 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                message, param = _validation_message(exc)
                raise api_error(400, message, param=param) from None
            except StarletteHTTPException as exc:  # ours, or FastAPI's (a body it cannot parse)
                detail = exc.detail
                if not (isinstance(detail, dict) and "error" in detail):
                    detail = api_error(exc.status_code, str(detail)).detail
                return JSONResponse(detail, status_code=exc.status_code, headers=exc.headers)

        return route


# ----- the endpoints -------------------------------------------------------------------------------


def _prompt_tokens(backend: Backend, chat: Chat, prefix: str) -> int:
    """Tokens of the rendered prompt (the sum over the messages' texts for a backend that cannot
    render its chat template)."""
    render = getattr(backend, "render", None)
    if callable(render):
        return backend.count_tokens(str(render(chat)) + prefix)
    return sum(backend.count_tokens(m["content"]) for m in chat) + backend.count_tokens(prefix)


def _token_entries(
    gen: Generation, prefix: str, top: list[tuple[str, float]] | None, k: int
) -> list[TokenLogprob]:
    """One entry per answer token: its text (the answer cut at its span, so that entries join up to
    the answer), log-prob and top list (``top`` at the first position; the chosen token alone later)."""
    answer = gen.text[len(prefix) :]
    entries: list[TokenLogprob] = []
    done = 0
    for (_, end), lp in zip(gen.token_spans, gen.token_logprobs):
        end = max(done, end - len(prefix))
        piece = answer[done:end]
        done = end
        entry = TokenLogprob(token=piece, logprob=max(lp, LOWEST_LOGPROB), bytes=list(piece.encode()))
        if k:
            entry.top_logprobs = [TopLogprob(token=piece, logprob=entry.logprob, bytes=entry.bytes)]
        entries.append(entry)
    if top is not None:
        listed = [
            TopLogprob(token=t, logprob=max(lp, LOWEST_LOGPROB), bytes=list(t.encode())) for t, lp in top
        ]
        if not entries and gen.finished:
            # the first token ended the turn: list it (end-of-turn tokens decode to "")
            end_lp = next((e.logprob for e in listed if e.token == ""), LOWEST_LOGPROB)
            entries.append(TokenLogprob(token="", logprob=end_lp, bytes=[]))
        if entries:
            entries[0].top_logprobs = listed
    return entries


def _conversation(body: ChatCompletionRequest) -> tuple[Chat, str]:
    """The chat to answer and the text its answer must start with (``continue_final_message``)."""
    chat: Chat = [
        Message(role="system" if m.role == "developer" else m.role, content=m.text()) for m in body.messages
    ]
    if body.continue_final_message:
        return chat[:-1], chat[-1]["content"]
    return chat, ""


def router(
    extractor: Extractor,
    *,
    max_batch: int = 16,
    admission: Admission | None = None,
    dependencies: Sequence[Depends] = (),
) -> APIRouter:
    """``/v1/models``, ``/v1/chat/completions`` and ``/tokenize`` for ``extractor``'s model. Chat requests
    queue in ``admission`` (default: :class:`Admission`'s bounds); ``dependencies`` guard every endpoint
    (the API key's check)."""
    gate = admission or Admission()
    responses: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
    }
    if dependencies:
        responses[401] = {"model": ErrorResponse, "description": "no API key, or not the service's"}
    api = APIRouter(
        route_class=OpenAIRoute, tags=["openai"], responses=responses, dependencies=list(dependencies)
    )
    queue_responses: dict[int | str, dict[str, Any]] = {
        503: {
            "model": ErrorResponse,
            "description": "the request queue is full; retry after the seconds in the Retry-After header",
        },
        504: {"model": ErrorResponse, "description": "no answer within the request timeout"},
    }
    started = int(time.time())

    # Counting tokens needs the tokenizer only: it takes its own lock, not the model's, so a chat
    # request joins the batcher's queue while the model is busy with earlier ones (and shares their
    # next call) instead of waiting for the model to count.
    count_lock = threading.Lock()

    with MODEL_LOCK:
        model = extractor.backend  # loaded once, here; requests read it without waiting for the model
    batcher = Batcher(lambda: model, MODEL_LOCK, max_batch=max_batch)

    def check_model(name: str | None, served: str) -> None:
        if name is not None and name != served:
            raise api_error(
                404,
                f"The model '{name}' does not exist: this server serves '{served}'",
                param="model",
                code="model_not_found",
            )

    @api.get("/v1/models", summary="The served model (OpenAI's model list)")
    def list_models() -> ModelList:
        return ModelList(data=[ModelCard(id=model.name, created=started, max_model_len=model.context_length)])

    @api.post(
        "/v1/chat/completions",
        summary="A chat completion (OpenAI's API, non-streaming)",
        responses=queue_responses,
    )
    async def chat_completions(body: ChatCompletionRequest) -> ChatCompletion:
        check_model(body.model, model.name)
        return await gate.run(lambda deadline: complete(body, deadline))

    def complete(body: ChatCompletionRequest, deadline: float | None) -> ChatCompletion:
        chat, prefix = _conversation(body)
        stops = body.stops()
        k = (body.top_logprobs or 0) if body.logprobs else 0
        try:
            with count_lock:
                prompt_tokens = _prompt_tokens(model, chat, prefix)
            room = model.context_length - prompt_tokens
            if room <= 0:
                raise api_error(
                    400,
                    f"the prompt has {prompt_tokens} tokens; the model's context is {model.context_length}",
                    param="messages",
                    code="context_length_exceeded",
                )
            done = batcher.ask(
                Ask(
                    chat,
                    limit=min(body.max_completion_tokens or body.max_tokens or DEFAULT_MAX_TOKENS, room),
                    temperature=1.0 if body.temperature is None else body.temperature,
                    prefix=prefix,
                    stops=tuple(stops),
                    top=k,
                    bias=tuple(sorted((int(t), v) for t, v in (body.logit_bias or {}).items())),
                    deadline=deadline,
                )
            )
        except (IEForgeError, ValueError) as exc:
            raise api_error(400, str(exc) or type(exc).__name__) from None
        assert done.generation is not None
        gen, top = done.generation, done.top_tokens
        answer = gen.text[len(prefix) :] if gen.text.startswith(prefix) else gen.text
        hits = [s for s in stops if gen.finished and answer.endswith(s)]
        stop_hit = max(hits, key=len) if hits else None
        content = answer
        if stop_hit is not None and not body.include_stop_str_in_output:
            content = answer[: -len(stop_hit)]
        logprobs = ChoiceLogprobs(content=_token_entries(gen, prefix, top, k)) if body.logprobs else None
        completion_tokens = len(gen.token_logprobs)
        return ChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=model.name,
            choices=[
                Choice(
                    message=AssistantMessage(content=content),
                    finish_reason="stop" if gen.finished else "length",
                    logprobs=logprobs,
                    stop_reason=stop_hit,
                )
            ],
            usage=CompletionUsage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            ),
        )

    @api.post("/tokenize", summary="Count a text's tokens (vLLM's endpoint)")
    def tokenize(body: TokenizeRequest) -> TokenizeResponse:
        check_model(body.model, model.name)
        text = body.prompt if body.prompt is not None else body.content
        if text is None:
            raise api_error(400, "give the text to count as 'prompt'", param="prompt")
        tokenizer = getattr(model, "tokenizer", None)
        with count_lock:
            count = model.count_tokens(text)
            ids = list(tokenizer(text, add_special_tokens=False)["input_ids"]) if callable(tokenizer) else []
        return TokenizeResponse(count=count, max_model_len=model.context_length, tokens=[int(i) for i in ids])

    return api
