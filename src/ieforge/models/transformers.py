"""Backend on Hugging Face transformers: hub ids, local model directories and GGUF files.

GGUF weights are dequantized by transformers on load, which is slow (tens of seconds); the dense model is
then saved once as safetensors in ieforge's cache, keyed by the GGUF file's sha256, so later loads take
seconds.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ieforge.errors import ModelLoadError
from ieforge.models.base import Chat, Generation
from ieforge.models.catalogue import cache_root

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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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


def _stop_end(text: str, stop: Sequence[str]) -> int | None:
    """End offset of the earliest stop string in ``text`` (None if there is none)."""
    ends = [(text.find(s), text.find(s) + len(s)) for s in stop if s and s in text]
    return min(ends)[1] if ends else None


def _to_device(model: Any, device: str) -> Any:
    return model if device == "cpu" else model.to(device)


def converted_dir(sha256: str) -> Path:
    return cache_root() / "converted" / sha256


def cached_conversion(sha256: str) -> Path | None:
    """The converted-model directory for a GGUF with this sha256, if a complete one is cached."""
    target = converted_dir(sha256)
    return target if (target / "ieforge-source.json").is_file() else None


class TransformersBackend:
    """A causal language model run with transformers (CPU by default, CUDA when available)."""

    def __init__(self, model: Any, tokenizer: Any, *, name: str, device: str = "cpu") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
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
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

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

    def _encode(self, texts: list[str]) -> Any:
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return {k: v.to(self.device) for k, v in enc.items()}

    def generate(
        self,
        chats: Sequence[Chat],
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        assistant_prefix: str = "",
        stop: Sequence[str] = (),
        batch_size: int = 8,
    ) -> list[Generation]:
        torch = _torch()
        stop_kw: dict[str, Any] = {"stop_strings": list(stop), "tokenizer": self.tokenizer} if stop else {}
        prompts = [self.render(c) + assistant_prefix for c in chats]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[Generation | None] = [None] * len(prompts)
        for b in range(0, len(order), max(1, batch_size)):
            idx = order[b : b + batch_size]
            enc = self._encode([prompts[i] for i in idx])
            sampling: dict[str, Any] = (
                {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
                if temperature > 0
                else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
            )
            with torch.inference_mode():
                out = self.model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    return_dict_in_generate=True,
                    output_scores=True,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=self.stop_ids,
                    **stop_kw,
                    **sampling,
                )
                trans = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
            width = enc["input_ids"].shape[1]
            for row, i in enumerate(idx):
                ids = out.sequences[row, width:].tolist()
                lps = trans[row].float().tolist()
                results[i] = self._to_generation(ids, lps, assistant_prefix, stop)
        return [r if r is not None else Generation(text=assistant_prefix) for r in results]

    def _to_generation(
        self, ids: list[int], logprobs: list[float], prefix: str, stop: Sequence[str] = ()
    ) -> Generation:
        finished = False
        kept: list[int] = []
        kept_lp: list[float] = []
        end_ids = set(self.stop_ids)
        for tok, lp in zip(ids, logprobs):
            if tok in end_ids:
                finished = True
                break
            kept.append(tok)
            kept_lp.append(lp)
        spans: list[tuple[int, int]] = []
        prev = ""
        for k in range(len(kept)):
            cur = self.tokenizer.decode(kept[: k + 1], skip_special_tokens=True)
            start = min(len(prev), len(cur))
            # a token that completes a multi-byte character rewrites the previous replacement char
            while start > 0 and prev[:start] != cur[:start]:
                start -= 1
            spans.append((len(prefix) + start, len(prefix) + len(cur)))
            prev = cur
            cut = _stop_end(cur, stop)
            if cut is not None:
                # the answer ends with the stop string; later tokens are padding of the batch
                prev = cur[:cut]
                finished = True
                kept_lp = kept_lp[: k + 1]
                spans[-1] = (spans[-1][0], len(prefix) + len(prev))
                break
        return Generation(text=prefix + prev, token_logprobs=kept_lp, token_spans=spans, finished=finished)

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Sequence[str], *, batch_size: int = 8
    ) -> list[list[float]]:
        """Each chat's prompt is encoded once; its key/value cache is then shared by all continuations,
        which are scored together (right-padded) in batches of ``batch_size``."""
        torch = _torch()
        conts = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        if any(not c for c in conts):
            raise ValueError("a continuation has no tokens")
        pad = int(self.tokenizer.pad_token_id)
        out: list[list[float]] = []
        for chat in chats:
            p_ids = self.tokenizer(self.render(chat), add_special_tokens=False)["input_ids"]
            prompt = torch.tensor([p_ids], device=self.device)
            with torch.inference_mode():
                first = self.model(input_ids=prompt, use_cache=True)
            first_logp = torch.log_softmax(first.logits[0, -1].float(), dim=-1)
            row: list[float] = []
            for b in range(0, len(conts), max(1, batch_size)):
                group = conts[b : b + batch_size]
                n, width = len(group), max(len(c) for c in group)
                ids = torch.full((n, width), pad, dtype=torch.long)
                mask = torch.zeros((n, len(p_ids) + width), dtype=torch.long)
                mask[:, : len(p_ids)] = 1
                for r, c in enumerate(group):
                    ids[r, : len(c)] = torch.tensor(c)
                    mask[r, len(p_ids) : len(p_ids) + len(c)] = 1
                cache = copy.deepcopy(first.past_key_values)
                cache.batch_repeat_interleave(n)
                positions = torch.arange(len(p_ids), len(p_ids) + width).unsqueeze(0).expand(n, -1)
                with torch.inference_mode():
                    logits = self.model(
                        input_ids=ids.to(self.device),
                        attention_mask=mask.to(self.device),
                        position_ids=positions.to(self.device),
                        past_key_values=cache,
                    ).logits
                    logp = torch.log_softmax(logits.float(), dim=-1)
                for r, c in enumerate(group):
                    total = float(first_logp[c[0]])
                    for k in range(1, len(c)):
                        total += float(logp[r, k - 1, c[k]])
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
        torch = _torch()
        first_ids = []
        for opt in options:
            toks = self.tokenizer(opt, add_special_tokens=False)["input_ids"]
            if not toks:
                raise ValueError(f"option {opt!r} has no tokens")
            first_ids.append(toks[0])
        repeated = {k for k, tid in enumerate(first_ids) if tid in first_ids[:k]} if distinct else set()
        prompts = [self.render(c) + assistant_prefix for c in chats]
        out: list[dict[str, float]] = []
        for b in range(0, len(prompts), max(1, batch_size)):
            enc = self._encode(prompts[b : b + batch_size])
            # left padding: positions must count real tokens only, as generate() does
            positions = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(**enc, position_ids=positions).logits[:, -1, :]
                logp = torch.log_softmax(logits.float(), dim=-1)
            for r in range(logp.shape[0]):
                out.append(
                    {
                        opt: -math.inf if k in repeated else float(logp[r, tid])
                        for k, (opt, tid) in enumerate(zip(options, first_ids))
                    }
                )
        return out
