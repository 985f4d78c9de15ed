"""Backend on Hugging Face transformers: hub ids, local model directories and GGUF files.

GGUF weights are dequantized by transformers on load, which is slow (tens of seconds); the dense model is
then saved once as safetensors in ieforge's cache, keyed by the GGUF file's sha256, so later loads take
seconds.
"""

from __future__ import annotations

import collections
import inspect
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ieforge.errors import ModelLoadError
from ieforge.models import attention, kv_cache
from ieforge.models.base import Chat, Continuations, Generation, continuation_lists
from ieforge.models.catalogue import cache_root
from ieforge.models.prefix import Forest, PromptBatch, Usage, plan_batches, plan_forests
from ieforge.models.tokens import (
    assemble_generation,
    option_first_tokens,
    option_scores,
    stop_end,
    token_limits,
)

log = logging.getLogger(__name__)

# End-of-turn markers of common chat templates; whichever the vocabulary has stop generation.
_END_OF_TURN = ("<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "</s>")

# Used when a model has no chat template (base models): the UniversalNER/Vicuna conversation format.
_FALLBACK_ROLES = {"system": "", "user": "USER: ", "assistant": "ASSISTANT: "}


def _torch() -> Any:
    import torch

    return torch


def _resolve_device(device: str) -> str:
    torch = _torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _resolve_dtype(dtype: str) -> Any:
    torch = _torch()
    if dtype == "auto":
        # bf16 is 2.5-6x faster than fp32 on CPUs with AVX512-BF16/AMX and halves memory elsewhere.
        return torch.bfloat16
    try:
        return {
            "bf16": torch.bfloat16,
            "bfloat16": torch.bfloat16,
            "fp16": torch.float16,
            "float16": torch.float16,
            "fp32": torch.float32,
            "float32": torch.float32,
        }[dtype]
    except KeyError:
        raise ModelLoadError(f"unknown dtype '{dtype}' (use auto, bf16, fp16 or fp32)") from None


def _first_line(exc: BaseException, limit: int = 400) -> str:
    """The exception's message as one line: its first paragraph with the line breaks (some libraries
    break a sentence over lines) turned into spaces, shortened at a word to ``limit`` characters."""
    paragraph = str(exc).strip().split("\n\n")[0]
    line = " ".join(part.strip() for part in paragraph.splitlines() if part.strip())
    if len(line) > limit:
        line = line[:limit].rsplit(" ", 1)[0] + " ..."
    return line or type(exc).__name__


def _clear_quantizer(model: Any) -> None:
    """A GGUF-loaded model is dense after dequantization, but transformers still marks it quantized and
    refuses to save or train it; drop those marks."""
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            try:
                setattr(model, attr, None)
            except AttributeError:
                pass
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:
            pass
    if getattr(model.config, "quantization_config", None) is not None:
        model.config.quantization_config = None
        try:
            del model.config.quantization_config
        except AttributeError:
            pass


def _cache_of(output: Any) -> Any:
    """The key/value cache a forward pass returned (``cache`` since transformers 5.24)."""
    if "cache" in getattr(output, "__dataclass_fields__", {}):
        return output.cache
    return output.past_key_values


def _left_padded(rows: list[list[int]], pad: int) -> tuple[Any, Any, Any]:
    """Token ids left-padded to one width, their attention mask, and positions counting real tokens."""
    torch = _torch()
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, width - len(r) :] = torch.tensor(r)
        mask[k, width - len(r) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, positions


def _contiguous_input(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (args[0].contiguous(), *args[1:])


def _fold_vocabulary_projection(model: Any) -> None:
    """Make the vocabulary projection's input contiguous. With ``logits_to_keep`` a model hands it the
    last position of each row, a strided [rows, 1, hidden] slice; when the weight does not require a
    gradient (a merged LoRA model, any frozen model), torch's matmul cannot fold such a slice into one
    matrix product and instead broadcasts the whole [vocab, hidden] weight to every row (a copy of
    rows x vocab x hidden): 3 seconds for 52 rows of SmolLM2 where the product itself takes 30 ms."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None and not getattr(head, "_ieforge_contiguous", False):
        head.register_forward_pre_hook(_contiguous_input)
        head._ieforge_contiguous = True


def _join(first: _Prefilled, second: _Prefilled) -> _Prefilled:
    """``second``'s rows appended to ``first``'s, both left-padded to one cache width (the caller has
    checked that ``first``'s cache can be joined)."""
    torch = _torch()
    cache = kv_cache.join_rows(first.cache, second.cache)
    if cache is None:
        raise RuntimeError("a key/value cache that cannot take more rows")
    width = max(first.mask.shape[1], second.mask.shape[1])

    def padded(mask: Any) -> Any:
        return torch.nn.functional.pad(mask, (width - mask.shape[1], 0))

    return _Prefilled(
        torch.cat([first.logits, second.logits]),
        cache,
        torch.cat([padded(first.mask), padded(second.mask)]),
        torch.cat([first.last, second.last]),
    )


def _to_device(model: Any, device: str) -> Any:
    return model if device == "cpu" else model.to(device)


def converted_dir(sha256: str) -> Path:
    return cache_root() / "converted" / sha256


def cached_conversion(sha256: str) -> Path | None:
    """The converted-model directory for a GGUF with this sha256, if a complete one is cached."""
    target = converted_dir(sha256)
    return target if (target / "ieforge-source.json").is_file() else None


@dataclass
class _Prefilled:
    """A batch after its prompts ran: next-token logits per row, the cache, its attention mask and the
    position of each row's last token."""

    logits: Any
    cache: Any
    mask: Any
    last: Any


class TransformersBackend:
    """A causal language model run with transformers (CPU by default, CUDA when available).

    ``share_prefix`` (default on) encodes a prefix common to several prompts of one call once and reuses
    its key/value cache; turning it off runs every prompt in full (the published protocols' cost), with
    the same answers under greedy decoding. ``usage`` counts the tokens computed.
    """

    def __init__(
        self, model: Any, tokenizer: Any, *, name: str, device: str = "cpu", share_prefix: bool = True
    ) -> None:
        self.device = device
        self.model = model  # through the property below
        self.share_prefix = share_prefix
        # transformers 5.24 renamed the forward argument past_key_values to cache
        forward = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in forward else "past_key_values"
        # compute the vocabulary projection for the last position only, where the model supports it
        self._last_only: dict[str, int] = {"logits_to_keep": 1} if "logits_to_keep" in forward else {}
        self.usage = Usage()
        self.score_nodes = 1024
        """the most tokens :meth:`score_continuations` runs in one forward pass"""
        self.tokenizer = tokenizer
        self.name = name
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        vocab = self.tokenizer.get_vocab()
        stop: set[int] = set()
        eos = getattr(model.generation_config, "eos_token_id", None)
        for v in eos if isinstance(eos, list) else [eos]:
            if isinstance(v, int):
                stop.add(v)
        if self.tokenizer.eos_token_id is not None:
            stop.add(int(self.tokenizer.eos_token_id))
        for tok in _END_OF_TURN:
            if tok in vocab:
                stop.add(vocab[tok])
        self.stop_ids = sorted(stop)
        self.model.eval()

    @property
    def model(self) -> Any:
        """The transformers model (assignable: a merged LoRA model replaces its base)."""
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        _fold_vocabulary_projection(model)
        if self.device == "cpu":
            attention.install(model)
        self._model = model

    # ----- loading -------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls, path_or_id: str, *, name: str | None = None, device: str = "auto", dtype: str = "auto"
    ) -> TransformersBackend:
        """Load a hub id or a local model directory."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dev = _resolve_device(device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path_or_id)
            model = AutoModelForCausalLM.from_pretrained(path_or_id, dtype=_resolve_dtype(dtype))
        except Exception as exc:  # missing files, offline hub, unsupported architecture ...
            raise ModelLoadError(
                f"could not load model '{path_or_id}' with transformers: {_first_line(exc)}"
            ) from exc
        return cls(_to_device(model, dev), tokenizer, name=name or str(path_or_id), device=dev)

    @classmethod
    def from_gguf(
        cls, path: Path, *, sha256: str, name: str | None = None, device: str = "auto", dtype: str = "auto"
    ) -> TransformersBackend:
        """Load a GGUF file, through the converted-model cache when possible."""
        path = Path(path)
        cached = cached_conversion(sha256)
        if cached is not None:
            log.info("loading %s from the converted-model cache %s", path.name, cached)
            return cls.from_pretrained(str(cached), name=name or path.name, device=device, dtype=dtype)
        target = converted_dir(sha256)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        t0 = time.perf_counter()
        log.info("dequantizing %s with transformers (once; cached afterwards)", path.name)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=_resolve_dtype(dtype)
            )
        except ImportError as exc:
            raise ModelLoadError(f"loading GGUF needs the 'gguf' package: {_first_line(exc)}") from exc
        except Exception as exc:  # any parse failure of a foreign file becomes one line
            import transformers

            raise ModelLoadError(
                f"transformers {transformers.__version__} cannot load GGUF '{path.name}': {_first_line(exc)}"
            ) from exc
        _clear_quantizer(model)
        try:
            tmp = target.with_name(target.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            (tmp / "ieforge-source.json").write_text(
                json.dumps({"gguf": path.name, "sha256": sha256, "convert_seconds": time.perf_counter() - t0})
            )
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        except OSError as exc:  # a cache we cannot write only costs time
            log.warning("could not cache the converted model in %s: %s", target, exc)
        dev = _resolve_device(device)
        return cls(_to_device(model, dev), tokenizer, name=name or path.name, device=dev)

    # ----- Backend protocol ------------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        n = getattr(self.model.config, "max_position_embeddings", None) or 2048
        return int(n)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def token_spans(self, text: str) -> list[tuple[int, int]] | None:
        """Each token's (start, end) character offsets in ``text``, from one tokenization (None when
        the tokenizer cannot tell: a slow, Python-only tokenizer). Chunking long texts measures them
        with it (:func:`ieforge.grounding.chunk_text`)."""
        if not getattr(self.tokenizer, "is_fast", False):
            return None
        offsets: list[tuple[int, int]] = self.tokenizer.backend_tokenizer.encode(
            text, add_special_tokens=False
        ).offsets
        return offsets

    def render(self, chat: Chat, *, add_generation_prompt: bool = True) -> str:
        """The prompt string for ``chat`` in the model's own chat template."""
        if getattr(self.tokenizer, "chat_template", None):
            out = self.tokenizer.apply_chat_template(
                list(chat), tokenize=False, add_generation_prompt=add_generation_prompt
            )
            return str(out)
        parts = [f"{_FALLBACK_ROLES.get(m['role'], '')}{m['content']}" for m in chat]
        prompt = "\n".join(p for p in parts if p)
        return prompt + ("\nASSISTANT:" if add_generation_prompt else "")

    def generate(
        self,
        chats: Sequence[Chat],
        *,
        max_new_tokens: int | Sequence[int] = 128,
        temperature: float = 0.0,
        assistant_prefix: str = "",
        stop: Sequence[str] = (),
        batch_size: int = 8,
        logit_bias: Mapping[int, float] | None = None,
        on_answer: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        """Prompts that share a prefix (one text asked several questions) are batched together and the
        prefix is encoded once (see :mod:`ieforge.models.prefix`). Decoding is continuous: each answer
        leaves the batch as soon as it ends, and when half of a batch has left, the next batch of
        prompts is run and joins the rows still decoding, so a long answer does not keep the model
        stepping for one row. ``logit_bias`` (token id -> value added to its logit, as OpenAI's API has
        it) applies at every step; the log-probabilities reported are those of the biased
        distribution."""
        prompts = [self._prompt_ids(self.render(c) + assistant_prefix) for c in chats]
        limits = token_limits(max_new_tokens, len(prompts))
        bias = self._bias_vector(logit_bias) if logit_bias else None
        results: list[Generation | None] = [None] * len(prompts)
        batches = plan_batches(prompts, batch_size, share=self.share_prefix)
        for i, ids, lps in self._decode(prompts, batches, limits, temperature, stop, bias, batch_size):
            results[i] = assemble_generation(
                ids, lps, assistant_prefix, stop, self._decode_ids, self.stop_ids
            )
            if on_answer is not None:
                on_answer(i)
        if on_answer is not None:
            for i in (i for i, r in enumerate(results) if r is None):
                on_answer(i)
        return [r if r is not None else Generation(text=assistant_prefix) for r in results]

    def _decode_ids(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _prompt_ids(self, prompt: str) -> list[int]:
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError("an empty prompt")
        return list(ids)

    def _prefill(self, prompts: list[list[int]], batch: PromptBatch, *, keep_cache: bool) -> _Prefilled:
        """Run one batch of prompts: every group's shared prefix once (all prefixes in one left-padded
        pass), then every row's remaining tokens against its group's prefix. Returns the next-token
        logits of each row, in the order of ``batch.rows``."""
        torch = _torch()
        pad = int(self.tokenizer.pad_token_id)
        rows = [prompts[i] for i in batch.rows]
        shared = [g.shared for g in batch.groups for _ in g.rows]
        prefixed = [g for g in batch.groups if g.shared]
        cache = None
        prefix_mask = torch.zeros((len(rows), max((g.shared for g in prefixed), default=0)), dtype=torch.long)
        if prefixed:
            ids, mask, positions = _left_padded([prompts[g.rows[0]][: g.shared] for g in prefixed], pad)
            cache = _cache_of(self._forward(ids, mask, positions, None, use_cache=True))
            # each row takes its group's prefix; a row of a group without one masks a borrowed prefix out
            source: list[int] = []
            owner = 0
            for g in batch.groups:
                if g.shared:
                    prefix_mask[len(source) : len(source) + len(g.rows)] = mask[owner]
                    source += [owner] * len(g.rows)
                    owner += 1
                else:
                    source += [0] * len(g.rows)
            if source != list(range(len(prefixed))):
                cache.batch_select_indices(torch.tensor(source, device=self.device))
            self.usage.prefill_tokens += int(ids.numel())
        ids, tail_mask, positions = _left_padded([r[k:] for r, k in zip(rows, shared)], pad)
        positions = positions + torch.tensor(shared).unsqueeze(-1)
        mask = torch.cat([prefix_mask, tail_mask], dim=1)
        out = self._forward(ids, mask, positions, cache, use_cache=keep_cache)
        self.usage.prompt_tokens += sum(len(r) for r in rows)
        self.usage.prefill_tokens += int(ids.numel())
        return _Prefilled(out.logits[:, -1].float(), _cache_of(out), mask, positions[:, -1].clone())

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any, *, use_cache: bool) -> Any:
        """One forward pass (no gradients) from ``cache``, computing logits of the last position only."""
        torch = _torch()
        with torch.inference_mode():
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
                **{self._cache_arg: cache},
                use_cache=use_cache,
                **self._last_only,
            )
        self.usage.forward_passes += 1
        return out

    def _bias_vector(self, logit_bias: Mapping[int, float]) -> Any:
        """``logit_bias`` as a vector over the vocabulary (ids outside it are a ValueError)."""
        torch = _torch()
        size = int(self.model.get_output_embeddings().weight.shape[0])
        bias = torch.zeros(size, dtype=torch.float32)
        for token, value in logit_bias.items():
            if not 0 <= int(token) < size:
                raise ValueError(f"logit_bias: token id {token} is not in the vocabulary (0 to {size - 1})")
            bias[int(token)] = float(value)
        return bias

    def _decode(
        self,
        prompts: list[list[int]],
        batches: list[PromptBatch],
        limits: list[int],
        temperature: float,
        stop: Sequence[str],
        bias: Any,
        batch_size: int,
    ) -> Iterator[tuple[int, list[int], list[float]]]:
        """Greedy (temperature 0) or sampled decoding of ``batches`` of ``prompts``; yields (prompt
        index, token ids, log-probabilities) as each answer ends. A row ends at an end-of-turn token, at
        a stop string or at its limit of new tokens (a limit of 0 still takes part in one step and is
        cut after it), and then leaves the cache. When fewer than half of ``batch_size`` rows are
        left, the next batch is prefilled and joined to them (left-padded to one cache width), where
        the cache's layers allow it (:func:`ieforge.models.kv_cache.join_rows`); leading columns that no
        remaining row attends to are dropped as rows end."""
        torch = _torch()
        end_ids = set(self.stop_ids)
        waiting = collections.deque(batches)
        live: _Prefilled | None = None
        rows: list[int] = []
        out: dict[int, tuple[list[int], list[float]]] = {}
        while True:
            # refill when half the rows have ended (or none are left), if the cache can take rows
            refill = waiting and len(rows) < max(1, batch_size // 2)
            if refill and (live is None or kv_cache.can_join(live.cache)):
                batch = waiting.popleft()
                new = self._prefill(prompts, batch, keep_cache=True)
                live = _join(live, new) if live is not None else new
                rows += batch.rows
                out.update({i: ([], []) for i in batch.rows})
            if live is None:
                return
            logits = live.logits if bias is None else live.logits.float() + bias.to(live.logits.device)
            if temperature > 0:
                logp = torch.log_softmax(logits / temperature, dim=-1)
                tokens = torch.multinomial(logp.exp(), 1).squeeze(-1)
            else:
                logp = torch.log_softmax(logits, dim=-1)
                tokens = logp.argmax(dim=-1)
            chosen = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1).tolist()
            keep: list[int] = []
            for k, row in enumerate(rows):
                ids, lps = out[row]
                ids.append(int(tokens[k]))
                lps.append(float(chosen[k]))
                self.usage.generated_tokens += 1
                ended = ids[-1] in end_ids or len(ids) >= limits[row]
                if not ended and stop and stop_end(self._decode_ids(ids), stop) is not None:
                    ended = True
                if ended:
                    del out[row]
                    yield row, ids[: limits[row]], lps[: limits[row]]
                else:
                    keep.append(k)
            if len(keep) < len(rows):
                rows = [rows[k] for k in keep]
                if not keep:
                    live = None
                    continue
                live.cache.batch_select_indices(torch.tensor(keep, device=self.device))
                live.mask, live.last, tokens = live.mask[keep], live.last[keep], tokens[keep]
                # columns that only ended rows attended to (padding of rows that joined later)
                first = int(live.mask.any(dim=0).int().argmax())
                if first > 0 and kv_cache.trim_left(live.cache, first):
                    live.mask = live.mask[:, first:]
            live.mask = torch.cat([live.mask, torch.ones((len(rows), 1), dtype=live.mask.dtype)], dim=1)
            live.last = live.last + 1
            step = self._forward(
                tokens.unsqueeze(-1), live.mask, live.last.unsqueeze(-1), live.cache, use_cache=True
            )
            live.logits = step.logits[:, -1].float()

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Continuations, *, batch_size: int = 8
    ) -> list[list[float]]:
        """Every (prompt + continuation) sequence of the call goes into prefix trees of at most
        ``score_nodes`` tokens, each run in one forward pass with a tree attention mask: a prompt
        prefix several chats share (the text of a passage, asked about several spans) and a start
        several continuations share (the span of "{span} is a person.", "{span} is a place.") are
        computed once. ``batch_size`` does not apply: trees are packed by tokens."""
        lists = continuation_lists(chats, continuations)
        tokenized: dict[str, list[int]] = {}
        sequences: list[list[int]] = []
        starts: list[int] = []
        where: list[tuple[int, int]] = []
        for i, (chat, conts) in enumerate(zip(chats, lists)):
            prompt = self._prompt_ids(self.render(chat)) if conts else []
            for j, cont in enumerate(conts):
                if cont not in tokenized:
                    tokenized[cont] = list(self.tokenizer(cont, add_special_tokens=False)["input_ids"])
                if not tokenized[cont]:
                    raise ValueError("a continuation has no tokens")
                sequences.append(prompt + tokenized[cont])
                starts.append(len(prompt))
                where.append((i, j))
        out = [[0.0] * len(conts) for conts in lists]
        for forest in plan_forests(sequences, starts, self.score_nodes):
            for row, total in zip(forest.rows, self._score_forest(forest).tolist()):
                i, j = where[row]
                out[i][j] = float(total)
            self.usage.prompt_tokens += sum(len(sequences[r]) for r in forest.rows)
            self.usage.prefill_tokens += len(forest)
        return out

    def _score_forest(self, forest: Forest) -> Any:
        """The summed log-probabilities of the scored tokens of each of ``forest``'s sequences (one
        forward pass; every node attends to itself and its ancestors only)."""
        torch = _torch()
        n = len(forest)
        sees = torch.zeros((n, n), dtype=torch.bool)
        for k, parent in enumerate(forest.parents):
            if parent >= 0:
                sees[k] = sees[parent]
            sees[k, k] = True
        dtype = self.model.dtype
        mask = torch.zeros((1, 1, n, n), dtype=dtype).masked_fill(~sees, torch.finfo(dtype).min)
        needed = sorted({node for row in forest.scored for node, _ in row})
        where = {node: k for k, node in enumerate(needed)}
        keep = {"logits_to_keep": torch.tensor(needed, device=self.device)} if self._last_only else {}
        with torch.inference_mode():
            logits = self.model(
                input_ids=torch.tensor([forest.tokens], device=self.device),
                attention_mask=mask.to(self.device),
                position_ids=torch.tensor([forest.depths], device=self.device),
                use_cache=False,
                **keep,
            ).logits[0]
            if not keep:
                logits = logits[torch.tensor(needed, device=self.device)]
            # normalise a slice at a time: a float32 copy of every row at once can take gigabytes
            norm = torch.cat([logits[b : b + 128].float().logsumexp(-1) for b in range(0, len(needed), 128)])
            pairs = [(k, where[node], token) for k, row in enumerate(forest.scored) for node, token in row]
            owner, rows, tokens = torch.tensor(pairs, device=self.device).unbind(-1)
            picked = logits[rows, tokens].float() - norm[rows]
            totals = torch.zeros(len(forest.scored), dtype=torch.float32, device=self.device)
            totals.index_add_(0, owner, picked)
        self.usage.forward_passes += 1
        return totals.cpu()

    def next_token_logprobs(
        self,
        chats: Sequence[Chat],
        options: Sequence[str],
        *,
        assistant_prefix: str = "",
        batch_size: int = 8,
        distinct: bool = False,
    ) -> list[dict[str, float]]:
        first_ids, repeated = option_first_tokens(
            options,
            lambda o: list(self.tokenizer(o, add_special_tokens=False)["input_ids"]),
            distinct=distinct,
        )
        rows: list[dict[str, float]] = [{} for _ in chats]
        for batch_rows, logp in self._next_token_logp(chats, assistant_prefix, batch_size):
            for r, i in enumerate(batch_rows):
                rows[i] = option_scores(logp[r], options, first_ids, repeated)
        return rows

    def _next_token_logp(
        self, chats: Sequence[Chat], assistant_prefix: str, batch_size: int
    ) -> Iterator[tuple[Sequence[int], Any]]:
        """Per planned batch: the chats' indices and the log-probabilities of each one's next answer
        token (after ``assistant_prefix``), one row per index: one forward pass per chat."""
        torch = _torch()
        prompts = [self._prompt_ids(self.render(c) + assistant_prefix) for c in chats]
        for batch in plan_batches(prompts, batch_size, share=self.share_prefix):
            logits = self._prefill(prompts, batch, keep_cache=False).logits
            yield batch.rows, torch.log_softmax(logits, dim=-1)

    def top_next_tokens(
        self, chats: Sequence[Chat], k: int, *, assistant_prefix: str = "", batch_size: int = 8
    ) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable next tokens of each chat's answer (after ``assistant_prefix``) with
        their log-probabilities, most probable first: one forward pass per chat, as in
        :meth:`next_token_logprobs`. Each token is decoded alone (special tokens, end-of-turn included,
        decode to ``""``). Used by the OpenAI-compatible server for ``top_logprobs``."""
        rows: list[list[tuple[str, float]]] = [[] for _ in chats]
        for batch_rows, logp in self._next_token_logp(chats, assistant_prefix, batch_size):
            values, ids = logp.topk(max(0, min(k, logp.shape[-1])), dim=-1)
            for r, i in enumerate(batch_rows):
                rows[i] = [(self._decode_ids([t]), v) for t, v in zip(ids[r].tolist(), values[r].tolist())]
        return rows
