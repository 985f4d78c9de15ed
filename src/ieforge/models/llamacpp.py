"""Backend on llama.cpp (the optional extra ``ieforge[llamacpp]``): GGUF files run quantized, as shipped.

llama.cpp decodes faster than transformers on a CPU but prefills more slowly and runs one sequence at a
time, so this backend relies on its prompt cache: the key/value cache of the last prompt stays in the
context, and the next prompt only evaluates the tokens after their common prefix. Prompts are visited in
an order that keeps shared prefixes adjacent (all questions about one text in a row), so a text is read
once for all its questions. The chat template is the GGUF's own (``tokenizer.chat_template``).

Build note: llama-cpp-python compiles from source; on CPUs where the default ``-march=native`` build
emits instructions the CPU lacks (SIGILL), build with
``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AMX_TILE=OFF
-DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"`` (see the README).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ieforge.errors import ModelLoadError
from ieforge.models.base import Chat, Continuations, Generation, continuation_lists
from ieforge.models.prefix import Usage, common_prefix_length, plan_batches
from ieforge.models.threads import thread_count
from ieforge.models.tokens import (
    assemble_generation,
    option_first_tokens,
    option_scores,
    stop_end,
    token_limits,
)

DEFAULT_CONTEXT = 4096
# end-of-turn markers of common chat templates, as in the transformers backend
_END_OF_TURN = ("<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "</s>")


def _np() -> Any:
    import numpy

    return numpy


class LlamaCppBackend:
    """A GGUF model run by llama.cpp through llama-cpp-python.

    ``prompt_cache`` (default on) reuses the context's key/value cache for the prefix a prompt shares
    with the previous one; turning it off evaluates every prompt in full. ``usage`` counts the tokens
    evaluated.
    """

    def __init__(self, llm: Any, *, name: str, prompt_cache: bool = True) -> None:
        self.llm = llm
        self.name = name
        self.prompt_cache = prompt_cache
        self.usage = Usage()
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelLoadError(f"{name}: the GGUF has no chat template (tokenizer.chat_template)")
        self._formatter = Jinja2ChatFormatter(
            template, eos_token=self._token_text(llm.token_eos()), bos_token=self._token_text(llm.token_bos())
        )
        ends = {int(llm.token_eos())}
        for marker in _END_OF_TURN:
            ids = self._tokenize(marker)
            if len(ids) == 1:
                ends.add(ids[0])
        self.stop_ids = sorted(ends)

    @classmethod
    def from_gguf(
        cls,
        path: Path,
        *,
        name: str | None = None,
        n_ctx: int = DEFAULT_CONTEXT,
        n_threads: int | None = None,
        prompt_cache: bool = True,
    ) -> LlamaCppBackend:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelLoadError(
                "the llama.cpp backend needs llama-cpp-python: pip install 'ieforge[llamacpp]' "
                "(it compiles from source; see the README for build flags)"
            ) from exc
        count = n_threads or thread_count()
        try:
            llm = llama_cpp.Llama(
                str(path), n_ctx=n_ctx, n_threads=count, n_threads_batch=count, verbose=False
            )
        except Exception as exc:  # a file llama.cpp cannot read
            raise ModelLoadError(
                f"llama.cpp cannot load '{path}': {str(exc).strip() or type(exc).__name__}"
            ) from exc
        return cls(llm, name=name or Path(path).name, prompt_cache=prompt_cache)

    # ----- helpers ---------------------------------------------------------------------------------

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return bytes(self.llm.detokenize([token], special=True)).decode("utf-8", errors="replace")

    def _tokenize(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _detokenize(self, ids: list[int]) -> str:
        return bytes(self.llm.detokenize(ids)).decode("utf-8", errors="replace")

    def render(self, chat: Chat) -> str:
        """The prompt string for ``chat`` in the GGUF's chat template."""
        messages: Any = list(chat)
        return str(self._formatter(messages=messages).prompt)

    def _prompt_ids(self, prompt: str) -> list[int]:
        ids = self._tokenize(prompt)
        if not ids:
            raise ValueError("an empty prompt")
        if len(ids) >= self.context_length:
            raise ValueError(
                f"a prompt of {len(ids)} tokens does not fit the context of {self.context_length}"
            )
        return ids

    def _evaluate(self, ids: list[int]) -> Any:
        """Bring the context to ``ids`` (re-using the cached prefix) and return the next-token logits."""
        llm = self.llm
        keep = 0
        if self.prompt_cache:
            keep = min(common_prefix_length(llm.input_ids[: llm.n_tokens].tolist(), ids), len(ids) - 1)
        llm.n_tokens = keep
        llm.eval(ids[keep:])
        self.usage.prompt_tokens += len(ids)
        self.usage.prefill_tokens += len(ids) - keep
        self.usage.forward_passes += 1
        return self._logits()

    def _step(self, token: int) -> Any:
        if self.llm.n_tokens >= self.context_length:
            raise ValueError("the answer ran out of context")
        self.llm.eval([token])
        self.usage.forward_passes += 1
        return self._logits()

    def _logits(self) -> Any:
        np = _np()
        raw = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),))
        return raw.astype(np.float64)

    def _order(self, prompts: list[list[int]]) -> list[int]:
        """Visit prompts so that those sharing a prefix come one after the other."""
        return [i for b in plan_batches(prompts, len(prompts), share=self.prompt_cache) for i in b.rows]

    # ----- Backend protocol ------------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        return int(self.llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

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
        """One prompt at a time (``batch_size`` is not used); greedy when ``temperature`` is 0."""
        np = _np()
        rng = np.random.default_rng()
        prompts = [self._prompt_ids(self.render(c) + assistant_prefix) for c in chats]
        limits = token_limits(max_new_tokens, len(prompts))
        results: list[Generation] = [Generation(text=assistant_prefix) for _ in prompts]
        ends = set(self.stop_ids)
        for i in self._order(prompts):
            logits = self._evaluate(prompts[i])
            ids: list[int] = []
            lps: list[float] = []
            for _ in range(limits[i]):
                scaled = logits / temperature if temperature > 0 else logits
                logp = scaled - _logsumexp(scaled)
                token = int(rng.choice(len(logp), p=np.exp(logp))) if temperature > 0 else int(logp.argmax())
                ids.append(token)
                lps.append(float(logp[token]))
                self.usage.generated_tokens += 1
                if token in ends or (stop and stop_end(self._detokenize(ids), stop) is not None):
                    break
                if len(ids) == limits[i] or self.llm.n_tokens + 1 >= self.context_length:
                    break
                logits = self._step(token)
            results[i] = assemble_generation(ids, lps, assistant_prefix, stop, self._detokenize, ends)
            if on_answer is not None:
                on_answer(i)
        return results

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Continuations, *, batch_size: int = 8
    ) -> list[list[float]]:
        lists = continuation_lists(chats, continuations)
        out: list[list[float]] = []
        for chat, strings in zip(chats, lists):
            conts = [self._tokenize(c) for c in strings]
            if any(not c for c in conts):
                raise ValueError("a continuation has no tokens")
            prompt = self._prompt_ids(self.render(chat))
            row = []
            for cont in conts:
                logits = self._evaluate(prompt)
                total = 0.0
                for k, token in enumerate(cont):
                    total += float(logits[token] - _logsumexp(logits))
                    if k + 1 < len(cont):
                        logits = self._step(token)
                row.append(total)
            out.append(row)
        return out

    def next_token_logprobs(
        self,
        chats: Sequence[Chat],
        options: Sequence[str],
        *,
        assistant_prefix: str = "",
        batch_size: int = 8,
        distinct: bool = False,
    ) -> list[dict[str, float]]:
        first_ids, repeated = option_first_tokens(options, self._tokenize, distinct=distinct)
        prompts = [self._prompt_ids(self.render(c) + assistant_prefix) for c in chats]
        rows: list[dict[str, float]] = [{} for _ in prompts]
        for i in self._order(prompts):
            logits = self._evaluate(prompts[i])
            logp = logits - _logsumexp(logits)
            rows[i] = option_scores(logp, options, first_ids, repeated)
        return rows


def _logsumexp(x: Any) -> float:
    top = float(x.max())
    return top + math.log(float(_np().exp(x - top).sum()))
