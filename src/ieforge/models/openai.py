"""Backend on any OpenAI-compatible chat-completions server: vLLM, the llama.cpp server, Ollama, OpenAI,
or another ieforge (``ieforge serve``).

Connection. The server is ``base_url``, else the environment's ``IEFORGE_BASE_URL``, else
``OPENAI_BASE_URL``; a URL without a path gets ``/v1`` (``http://localhost:8000`` means
``http://localhost:8000/v1``). With none of them set, OpenAI's own API is used when an API key is set,
and otherwise the backend refuses to guess. The API key is ``api_key``, else ``IEFORGE_API_KEY``, else
``OPENAI_API_KEY``, else the placeholder ``"none"`` (local servers ask for none).

Retries and time limits come from the ``openai`` client. As read in its ``_base_client.py`` (openai
3.57): a request is retried after a timeout, a connection error, or a 408, 409, 429 or 5xx answer (or
whatever ``x-should-retry`` says), at most ``max_retries`` times. Before retry ``n`` (counting from 0)
it sleeps ``min(0.5 * 2**n, 8)`` seconds less a random 0-25 % (jitter), unless the answer carries
``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date) of more than 0 and at most 120 s, which
is then honoured as given; a ``Retry-After`` over 120 s ends the retries, and ``Retry-After: 0`` is
ignored (the backoff applies). ``timeout`` bounds each attempt, so a call gives up after at most
``(max_retries + 1) * timeout`` plus the sleeps, and then raises :class:`~ieforge.errors.RequestError`
naming the server, the model and the cause.

What a chat API gives, and what this backend makes of it:

- ``generate`` sends one request per chat, at most ``concurrency`` at a time, asking for the chosen
  tokens' log-probabilities (``token_logprobs`` and ``token_spans`` stay empty when the server gives
  none). Servers strip the stop string from the answer; it is put back when the stop string ended the
  answer: as vLLM (and ``ieforge serve``) report in ``stop_reason``, else as the returned tokens show
  (vLLM-like servers list the token that completed the stop string), and without either sign whenever
  the server says ``finish_reason="stop"`` (the first stop string then, as an answer ended early by its
  end-of-turn cannot be told apart).
- ``assistant_prefix`` goes as a final assistant message with vLLM's
  ``continue_final_message=True, add_generation_prompt=False`` (SGLang and ``ieforge serve`` read them
  too; llama.cpp's server continues a final assistant message on its own). A server that ignores them
  answers in a new turn, and the text is then the prefix followed by that whole answer. The fields are
  not sent to ``api.openai.com``, which rejects unknown fields.
- ``next_token_logprobs`` asks for one token with its ``top_logprobs`` (20 by default) and reads each
  option from them (see :func:`match_options`); options outside that list get ``-inf``. A server that
  gives no log-probabilities (or ``logprobs=False``) leaves only the token it chose, asked for with a
  ``logit_bias`` of 100 on the options' first tokens when the server's ``/tokenize`` names their ids
  (so that the token is one of them): the option the answer starts with gets log-probability 0 and
  the others ``-inf``.
- ``score_continuations`` is impossible (chat APIs score only what the model generates) and raises
  :class:`ScoringUnsupportedError`.
- ``count_tokens`` asks the server's ``/tokenize`` (vLLM's or llama.cpp's) and caches the answers; a
  server without one gets an estimate of one token per three characters from then on.
- ``context_length`` is the ``context_length`` argument, else the ``max_model_len`` the server lists in
  ``/v1/models`` (vLLM and ``ieforge serve`` do), else 8192.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ieforge.errors import IEForgeError, ModelLoadError, RequestError
from ieforge.models.base import Chat, Continuations, Generation
from ieforge.models.prefix import Usage
from ieforge.models.tokens import token_limits

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 8192
DEFAULT_TOP_LOGPROBS = 20
CHARS_PER_TOKEN = 3
"""the token estimate when the server cannot count: one token per this many characters, rounded up"""
OPENAI_URL = "https://api.openai.com/v1"
_CACHE_LIMIT = 100_000

T = TypeVar("T")
R = TypeVar("R")


class ScoringUnsupportedError(IEForgeError):
    """A chat-completions server cannot score a given continuation."""


@dataclass(frozen=True)
class ServerToken:
    """One generated token as the server reports it: its text, UTF-8 bytes (when given) and log-prob."""

    text: str
    logprob: float
    raw: bytes | None = None


class _Missing:
    """The server did not say (as opposed to saying ``None``)."""


MISSING = _Missing()


# ----- pure helpers --------------------------------------------------------------------------------


def resolve_base_url(base_url: str | None = None, api_key: str | None = None) -> str:
    """The chat-completions base URL: the argument, ``IEFORGE_BASE_URL``, ``OPENAI_BASE_URL``, or
    OpenAI's API when an API key (argument, ``IEFORGE_API_KEY`` or ``OPENAI_API_KEY``) is set."""
    url = base_url or os.environ.get("IEFORGE_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    if not url:
        if api_key or os.environ.get("IEFORGE_API_KEY") or os.environ.get("OPENAI_API_KEY"):
            return OPENAI_URL
        raise ModelLoadError(
            "an OpenAI-compatible model needs a server: pass base_url (e.g. http://localhost:8000/v1) "
            "or set IEFORGE_BASE_URL (with only OPENAI_API_KEY set, OpenAI's API is used)"
        )
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelLoadError(f"'{url}' is not a server URL (expected e.g. http://localhost:8000/v1)")
    return url if parts.path else url + "/v1"


def resolve_api_key(api_key: str | None = None) -> str:
    """The argument, ``IEFORGE_API_KEY``, ``OPENAI_API_KEY``, or ``"none"`` (local servers need none)."""
    return api_key or os.environ.get("IEFORGE_API_KEY") or os.environ.get("OPENAI_API_KEY") or "none"


def server_root(base_url: str) -> str:
    """The server's root URL (``/tokenize`` lives there, beside ``/v1``)."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def spell_tokens(tokens: Sequence[ServerToken]) -> tuple[str, list[tuple[int, int]]]:
    """The text the tokens spell and each token's (start, end) in it. When every token has its bytes,
    the text is decoded from them, and a character split across tokens belongs to the token that
    completes it (the others get an empty span); otherwise the token strings are joined."""
    if tokens and all(t.raw is not None for t in tokens):
        buf = b""
        spans: list[tuple[int, int]] = []
        done = 0
        text = ""
        for t in tokens:
            buf += t.raw or b""
            text = buf.decode("utf-8", errors="ignore")  # an unfinished character waits for its end
            spans.append((min(done, len(text)), len(text)))
            done = len(text)
        return text, spans
    spans = []
    pos = 0
    for t in tokens:
        spans.append((pos, pos + len(t.text)))
        pos += len(t.text)
    return "".join(t.text for t in tokens), spans


def stop_to_append(
    content: str,
    finish_reason: str | None,
    stop: Sequence[str],
    *,
    stop_reason: object = MISSING,
    spelled: str | None = None,
) -> str:
    """The stop string to put back at the end of ``content`` ("" for none), for a server that strips it.

    ``stop_reason`` is vLLM's field (the stop string, or None/a token id for an end-of-turn), ``MISSING``
    when the server has no such field; ``spelled`` is the text of the returned tokens, which vLLM-like
    servers continue past ``content`` with the token that completed the stop string. With neither sign,
    ``finish_reason="stop"`` is taken as the first stop string."""
    stops = [s for s in stop if s]
    if finish_reason != "stop" or not stops or any(content.endswith(s) for s in stops):
        return ""
    if not isinstance(stop_reason, _Missing):
        return stop_reason if isinstance(stop_reason, str) and stop_reason in stops else ""
    if spelled is not None and spelled.startswith(content) and len(spelled) > len(content):
        rest = spelled[len(content) :]
        hits = [s for s in stops if rest.startswith(s)]
        return max(hits, key=len) if hits else ""  # another token (the end of turn) came next
    return stops[0]


def assemble_answer(
    prefix: str,
    content: str,
    finish_reason: str | None,
    stop: Sequence[str],
    tokens: Sequence[ServerToken] | None,
    *,
    stop_reason: object = MISSING,
) -> Generation:
    """A :class:`Generation` from a chat-completion choice: ``prefix`` + the answer (its stop string
    put back, see :func:`stop_to_append`), with the tokens' log-probabilities and spans when the tokens
    spell the answer (tokens past its end, like the one completing a stripped stop string or an
    end-of-turn, are cut or dropped), none when the server gave none or they spell something else."""
    spelled, spans = spell_tokens(tokens) if tokens else ("", [])
    answer = content + stop_to_append(
        content, finish_reason, stop, stop_reason=stop_reason, spelled=spelled if tokens else None
    )
    finished = finish_reason != "length"
    shift = 0
    if tokens and not _consistent(spelled, answer):
        # a server that trims the answer's leading whitespace still lists the tokens that had it
        lead = len(spelled) - len(spelled.lstrip())
        if lead and _consistent(spelled[lead:], answer):
            shift = lead
        else:
            tokens = None
    logprobs: list[float] = []
    out_spans: list[tuple[int, int]] = []
    for t, (s, e) in zip(tokens or (), spans):
        s, e = max(0, s - shift), min(len(answer), e - shift)
        if s >= len(answer):
            break  # past the answer: the end of turn, or the rest of a stripped stop string
        logprobs.append(t.logprob)
        out_spans.append((len(prefix) + s, len(prefix) + max(s, e)))
    return Generation(text=prefix + answer, token_logprobs=logprobs, token_spans=out_spans, finished=finished)


def _consistent(spelled: str, answer: str) -> bool:
    return spelled.startswith(answer) or answer.startswith(spelled)


def match_options(
    options: Sequence[str],
    candidates: Sequence[tuple[str, float]],
    *,
    distinct: bool = False,
    several_tokens: Callable[[str], bool | None] | None = None,
) -> dict[str, float]:
    """option -> the log-probability of its first token among ``candidates`` (the top next tokens as
    (text, log-prob)), ``-inf`` when its first token is not among them: the remote counterpart of
    :func:`ieforge.models.tokens.option_scores`.

    An option's first token is the candidate spelled exactly like the option (case and leading space
    count: ``"A"``, ``" A"`` and ``"a"`` are different tokens); failing that, when the option takes
    several tokens (``several_tokens(option)``; None when unknown), the longest candidate the option
    starts with (when unknown, only candidates with a visible character qualify, so that a lone space
    never stands for a one-token ``" A"``). Options whose first tokens coincide share its
    log-probability; with ``distinct`` only the first of them gets it and the later ones ``-inf``."""
    best: dict[str, float] = {}
    for text, lp in candidates:
        if text and (text not in best or lp > best[text]):
            best[text] = lp
    taken: set[str] = set()
    out: dict[str, float] = {}
    for opt in options:
        if not opt:
            raise ValueError(f"option {opt!r} has no tokens")
        first: str | None = opt if opt in best else None
        if first is None:
            many = several_tokens(opt) if several_tokens is not None else None
            if many is not False:
                heads = [c for c in best if len(c) < len(opt) and opt.startswith(c) and (many or c.strip())]
                first = max(heads, key=len) if heads else None
        if first is None or (distinct and first in taken):
            out.setdefault(opt, -math.inf)
            continue
        taken.add(first)
        out[opt] = best[first]
    return out


def answer_start_scores(options: Sequence[str], answer: str, *, distinct: bool = False) -> dict[str, float]:
    """Without log-probabilities: the option ``answer`` starts with (the longest; else the one that
    starts with the whole answer) gets log-probability 0, every other option ``-inf``."""
    out = dict.fromkeys(options, -math.inf)
    if not answer:
        return out
    starts = [o for o in options if o and answer.startswith(o)]
    longer = [o for o in options if o and o.startswith(answer)]
    winner = max(starts, key=len) if starts else (min(longer, key=len) if longer else None)
    if winner is not None:
        out[winner] = 0.0
    return out


def _first_line(text: str, limit: int = 200) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ----- the backend ---------------------------------------------------------------------------------


class OpenAIBackend:
    """A model behind an OpenAI-compatible chat-completions server (see the module notes for what each
    method can and cannot do over a chat API).

    ``model`` is the server's name for the model; ``concurrency`` caps the requests in flight;
    ``timeout`` (seconds) bounds each attempt and ``max_retries`` the retries after it;
    ``context_length`` overrides what the server lists; ``top_logprobs`` (at most 20, OpenAI's and
    vLLM's default cap) is how many next tokens :meth:`next_token_logprobs` reads options from;
    ``logprobs=False`` never asks for log-probabilities (for a server that refuses them).
    ``usage`` counts the tokens the server reports and the requests made (``extra["requests"]``).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        context_length: int | None = None,
        top_logprobs: int = DEFAULT_TOP_LOGPROBS,
        logprobs: bool = True,
    ) -> None:
        import openai

        if not model.strip():
            raise ModelLoadError("an OpenAI-compatible model needs a model name, e.g. openai:my-model")
        if concurrency < 1 or timeout <= 0 or max_retries < 0 or not 0 <= top_logprobs <= 20:
            raise ValueError(
                "concurrency must be >= 1, timeout > 0, max_retries >= 0 and top_logprobs within 0..20"
            )
        self.model = model.strip()
        self.name = f"openai:{self.model}"
        self.base_url = resolve_base_url(base_url, api_key)
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.top_logprobs = top_logprobs
        self.logprobs = logprobs
        self.usage = Usage()
        self.client = openai.OpenAI(
            base_url=self.base_url, api_key=resolve_api_key(api_key), timeout=timeout, max_retries=max_retries
        )
        # vLLM's request extensions, which OpenAI's own API refuses
        self.extensions = urlsplit(self.base_url).hostname != "api.openai.com"
        self._context_length = context_length
        self._counts: dict[str, tuple[int, list[Any]]] = {}
        self._can_tokenize: bool | None = None
        self._lock = threading.Lock()

    # ----- requests ------------------------------------------------------------------------------

    def _failure(self, cause: str) -> RequestError:
        return RequestError(f"{self.base_url} (model '{self.model}'): {cause}")

    def _call(self, do: Callable[[], T]) -> T:
        """Run one client call; what still fails after the client's retries becomes a RequestError."""
        import openai

        attempts = f"gave up after {self.max_retries + 1} attempts"
        try:
            return do()
        except openai.APITimeoutError as exc:
            raise self._failure(f"no answer within the {self.timeout:g} s timeout ({attempts})") from exc
        except openai.APIConnectionError as exc:
            cause = _first_line(str(exc.__cause__ or exc)) or type(exc).__name__
            raise self._failure(f"connection failed: {cause} ({attempts})") from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            message = _first_line(_error_message(exc.body) or exc.response.text or exc.message)
            retried = status in (408, 409, 429) or status >= 500
            raise self._failure(
                f"HTTP {status}{': ' + message if message else ''}{f' ({attempts})' if retried else ''}"
            ) from exc
        except openai.OpenAIError as exc:
            raise self._failure(_first_line(str(exc)) or type(exc).__name__) from exc

    def _complete(self, chat: Chat, prefix: str, **params: Any) -> Any:
        """One chat completion; returns its first choice."""
        messages: list[Any] = [{"role": m["role"], "content": m["content"]} for m in chat]
        extra: dict[str, Any] = {}
        if prefix:
            messages.append({"role": "assistant", "content": prefix})
            if self.extensions:
                extra = {"continue_final_message": True, "add_generation_prompt": False}
        response = self._call(
            lambda: self.client.chat.completions.create(
                model=self.model, messages=messages, extra_body=extra or None, **params
            )
        )
        if not response.choices:
            raise self._failure("the server answered without a choice")
        usage = response.usage
        with self._lock:
            self.usage.extra["requests"] = self.usage.extra.get("requests", 0) + 1
            if usage is not None:
                cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None) or 0
                self.usage.prompt_tokens += usage.prompt_tokens or 0
                self.usage.prefill_tokens += max(0, (usage.prompt_tokens or 0) - cached)
                self.usage.generated_tokens += usage.completion_tokens or 0
        return response.choices[0]

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` over ``items`` with at most ``concurrency`` running, results in input order; the first
        failure cancels what has not started and is raised."""
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)))
        futures = [pool.submit(fn, x) for x in items]
        try:
            out = [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return out

    # ----- Backend protocol ----------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        if self._context_length is None:
            self._context_length = self._listed_context() or DEFAULT_CONTEXT
        return self._context_length

    def _listed_context(self) -> int | None:
        """The context length ``/v1/models`` gives for this model, if it gives one."""
        try:
            listed = self._call(lambda: self.client.models.list())
        except RequestError as exc:
            log.warning("no context length from %s (using %d): %s", self.base_url, DEFAULT_CONTEXT, exc)
            return None
        models = list(listed.data)
        mine = [m for m in models if m.id == self.model] or (models if len(models) == 1 else [])
        for m in mine:
            extra = m.model_extra or {}
            for key in ("max_model_len", "context_length", "context_window"):
                if isinstance(extra.get(key), int) and extra[key] > 0:
                    return int(extra[key])
        return None

    def count_tokens(self, text: str) -> int:
        """The server's count (its ``/tokenize``), else an estimate of one token per
        :data:`CHARS_PER_TOKEN` characters."""
        n = self._server_count(text)
        return math.ceil(len(text) / CHARS_PER_TOKEN) if n is None else n

    def _server_count(self, text: str) -> int | None:
        """Tokens of ``text`` by the server's ``/tokenize``, None when the server has none."""
        answer = self._tokenized(text)
        return None if answer is None else answer[0]

    def _first_token_id(self, text: str) -> int | None:
        """The id of ``text``'s first token in the served model's vocabulary (None when the server
        cannot tell)."""
        answer = self._tokenized(text)
        ids = answer[1] if answer is not None else []
        return ids[0] if ids and isinstance(ids[0], int) else None

    def _tokenized(self, text: str) -> tuple[int, list[Any]] | None:
        """:meth:`_tokenize`, its answers cached (a server without ``/tokenize`` is asked once)."""
        known = self._counts.get(text)
        if known is not None:
            return known
        answer = self._tokenize(text)
        if answer is not None:
            with self._lock:
                if len(self._counts) >= _CACHE_LIMIT:
                    self._counts.clear()
                self._counts[text] = answer
        return answer

    def _tokenize(self, text: str) -> tuple[int, list[Any]] | None:
        """``text`` by the server's ``/tokenize`` (vLLM's and llama.cpp's shapes): its token count and
        the token ids the server lists (maybe none); None when it has no such endpoint."""
        if self._can_tokenize is False:
            return None
        body = {
            "model": self.model,
            "prompt": text,  # vLLM
            "content": text,  # llama.cpp
            "add_special_tokens": False,
            "add_special": False,
        }
        url = server_root(self.base_url) + "/tokenize"
        try:
            data = self._call(lambda: self.client.post(url, cast_to=object, body=body))
            tokens = data.get("tokens") if isinstance(data, dict) else None
            count = data.get("count") if isinstance(data, dict) else None
            if not isinstance(tokens, list) and not isinstance(count, int):
                raise KeyError("tokens")
        except (RequestError, KeyError, TypeError) as exc:
            if self._can_tokenize is None:
                log.warning("%s cannot count tokens (%s); estimating from characters", self.base_url, exc)
                self._can_tokenize = False
                return None
            # it counted before: a failure now is the server's, not a missing endpoint
            if isinstance(exc, RequestError):
                raise
            raise self._failure("/tokenize answered without a token count") from exc
        self._can_tokenize = True
        ids = tokens if isinstance(tokens, list) else []
        return (count if isinstance(count, int) else len(ids)), ids

    def generate(
        self,
        chats: Sequence[Chat],
        *,
        max_new_tokens: int | Sequence[int] = 128,
        temperature: float = 0.0,
        assistant_prefix: str = "",
        stop: Sequence[str] = (),
        batch_size: int = 8,
        on_answer: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        """One request per chat, ``concurrency`` at a time (``batch_size`` is not used); ``on_answer`` is
        called from the thread that got the answer."""
        limits = token_limits(max_new_tokens, len(chats))
        stops = [s for s in stop if s]

        def one(i: int) -> Generation:
            if limits[i] == 0:
                return Generation(text=assistant_prefix, finished=False)
            params: dict[str, Any] = {"max_tokens": limits[i], "temperature": temperature}
            if self.logprobs:
                params["logprobs"] = True
            if stops:
                params["stop"] = stops
            choice = self._complete(chats[i], assistant_prefix, **params)
            extra = choice.model_extra or {}
            return assemble_answer(
                assistant_prefix,
                choice.message.content or "",
                choice.finish_reason,
                stops,
                _server_tokens(choice),
                stop_reason=extra.get("stop_reason", MISSING),
            )

        def told(i: int) -> Generation:
            gen = one(i)
            if on_answer is not None:
                on_answer(i)
            return gen

        return self._map(told, range(len(chats)))

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Continuations, *, batch_size: int = 8
    ) -> list[list[float]]:
        raise ScoringUnsupportedError(
            f"{self.name} cannot score whole answers: a chat-completions server gives log-probabilities "
            "only of the tokens it generates (relations call this for reading='score' and for more than "
            "26 options); use reading='letters' (up to 26 options) or reading='generate'"
        )

    def next_token_logprobs(
        self,
        chats: Sequence[Chat],
        options: Sequence[str],
        *,
        assistant_prefix: str = "",
        batch_size: int = 8,
        distinct: bool = False,
    ) -> list[dict[str, float]]:
        """One one-token request per chat asking for its top log-probabilities (see the module notes)."""
        for opt in options:
            if not opt:
                raise ValueError(f"option {opt!r} has no tokens")
        several: dict[str, bool | None] = {}
        for opt in dict.fromkeys(options):
            n = self._server_count(opt)
            several[opt] = None if n is None else n > 1
        bias: dict[str, int] | None = None

        def forced(chat: Chat) -> dict[str, float]:
            """Without log-probabilities: one token, pushed onto the options' first tokens by a logit
            bias when the server can name their ids (its /tokenize), read as the option it starts."""
            nonlocal bias
            if bias is None:
                ids = [self._first_token_id(o) for o in dict.fromkeys(options)]
                bias = {str(i): 100 for i in ids if i is not None} if all(i is not None for i in ids) else {}
            params: dict[str, Any] = {"max_tokens": 1, "temperature": 0.0}
            if bias:
                params["logit_bias"] = bias
            choice = self._complete(chat, assistant_prefix, **params)
            return answer_start_scores(options, choice.message.content or "", distinct=distinct)

        def one(chat: Chat) -> dict[str, float]:
            if not self.logprobs:
                return forced(chat)
            params: dict[str, Any] = {"max_tokens": 1, "temperature": 0.0, "logprobs": True}
            if self.top_logprobs:
                params["top_logprobs"] = self.top_logprobs
            choice = self._complete(chat, assistant_prefix, **params)
            content = getattr(choice.logprobs, "content", None) if choice.logprobs is not None else None
            if not content:
                return forced(chat)
            first = content[0]
            candidates = [(_token_text(t), float(t.logprob)) for t in first.top_logprobs or ()]
            candidates.append((_token_text(first), float(first.logprob)))
            return match_options(options, candidates, distinct=distinct, several_tokens=several.get)

        return self._map(one, list(chats))


def _token_text(token: Any) -> str:
    """A logprobs entry's text: its bytes decoded when they are valid UTF-8 (servers spell tokens
    that end inside a character in their own ways), else its string."""
    raw = getattr(token, "bytes", None)
    if raw:
        try:
            return bytes(raw).decode("utf-8")
        except (UnicodeDecodeError, ValueError, TypeError):
            pass
    return str(token.token)


def _server_tokens(choice: Any) -> list[ServerToken] | None:
    logprobs = getattr(choice, "logprobs", None)
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return None
    out = []
    for t in content:
        try:
            raw = bytes(t.bytes) if t.bytes is not None else None
        except (ValueError, TypeError):
            raw = None
        out.append(ServerToken(text=str(t.token), logprob=float(t.logprob), raw=raw))
    return out


def _error_message(body: object) -> str:
    """The message of an OpenAI-shaped error body (``{"error": {"message": ...}}``), else ""."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    return ""
