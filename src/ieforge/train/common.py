"""What the training steps share: loading a trainable model, chat tokenization with assistant masks,
LoRA settings, and the record written next to every trained model."""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from ieforge.errors import InputError
from ieforge.models.base import Message

log = logging.getLogger(__name__)

RECORD = "ieforge-train.json"
"""the file in every trained model directory that records how it was made"""


@dataclass
class LoraSettings:
    """LoRA on every linear layer by default (PEFT ``all-linear``)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    """0 by default: on a CPU, dropout's random masks and products took a third of each LoRA step
    (benchmarks/README.md, "Training throughput"); 0.05 is what the first shipped adapters used"""
    target_modules: str | list[str] = "all-linear"
    last_layers: int | None = None
    """adapt only the last N decoder layers (None: all): the backward pass then stops below them"""

    def peft_config(self, model: Any = None) -> Any:
        """PEFT's LoraConfig; ``model`` (whose layers are counted) is needed with ``last_layers``."""
        from peft import LoraConfig

        extra: dict[str, Any] = {}
        targets = self.target_modules
        if self.last_layers is not None:
            if self.last_layers < 1:
                raise InputError(f"LoRA last_layers must be at least 1, not {self.last_layers}")
            # PEFT places layers_to_transform only with explicit module names; these are the linear
            # layers of the Llama / Qwen / Mistral / Gemma decoder blocks
            if targets == "all-linear":
                targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
            total = int(model.config.get_text_config().num_hidden_layers) if model is not None else 0
            if not 0 < self.last_layers <= total:
                raise InputError(f"LoRA last_layers={self.last_layers}, but the model has {total} layers")
            extra["layers_to_transform"] = list(range(total - self.last_layers, total))
        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
            **extra,
        )


def load_trainable(name_or_path: str, *, dtype: str = "float32") -> tuple[Any, Any]:
    """The model and tokenizer of any model ieforge loads (catalogue name, GGUF file, model directory
    with or without a LoRA adapter, hub id), as a plain trainable transformers model: GGUF weights are
    dequantized and their quantizer flags cleared, adapters merged. The tokenizer pads on the right."""
    from ieforge.models import load_model

    backend = load_model(name_or_path, device="cpu", dtype=dtype)
    model = getattr(backend, "model", None)
    tokenizer = getattr(backend, "tokenizer", None)
    if model is None or tokenizer is None:
        raise InputError(f"model '{name_or_path}' is not a transformers model; only those can be trained")
    model.train()
    tokenizer.padding_side = "right"
    return model, tokenizer


def bf16_available() -> bool:
    """Whether mixed bf16 training is worth it here: any CUDA device with bf16, or a CPU with native
    bf16 matrix instructions (AVX512-BF16 / AMX)."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def assistant_spans(tokenizer: Any, messages: Sequence[Message]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of every assistant turn in it (each turn's
    content and the template's end-of-turn marker). Needs a chat template that renders a conversation
    as an extension of its prefixes, as ChatML and most others do."""
    full = str(tokenizer.apply_chat_template(list(messages), tokenize=False))
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = str(
            tokenizer.apply_chat_template(list(messages[:i]), tokenize=False, add_generation_prompt=True)
        )
        through = str(tokenizer.apply_chat_template(list(messages[: i + 1]), tokenize=False))
        if not (full.startswith(through) and through.startswith(before)):
            raise InputError(
                "the model's chat template does not render a conversation as an extension of its "
                "beginning, so assistant turns cannot be located for the loss mask"
            )
        spans.append((len(before), len(through)))
    return full, spans


def end_of_turn(tokenizer: Any) -> str:
    """What the chat template writes after an assistant answer, up to the end-of-sequence token when
    the template ends turns with it (ChatML: ``<|im_end|>``)."""
    probe = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "\x00"}]
    text = str(tokenizer.apply_chat_template(probe, tokenize=False))
    tail = text[text.rindex("\x00") + 1 :]
    eos = tokenizer.eos_token or ""
    return tail[: tail.index(eos) + len(eos)] if eos and eos in tail else tail.rstrip("\n")


def encode_chat(
    tokenizer: Any, messages: Sequence[Message], *, last_only: bool = False, prefix: str = ""
) -> tuple[list[int], list[int]]:
    """Token ids of the conversation and a mask that is 1 on assistant tokens (only the last assistant
    turn with ``last_only``), 0 elsewhere.

    Tokens are cut where inference cuts them: the prompt up to an answer is encoded on its own, and so
    is the answer. An answer that starts with ``prefix`` (a task's assistant prefix, such as ``[``)
    has the prefix encoded with the prompt and left out of the loss, because at inference the task
    writes it and the model continues after it. Encoding ``["a"]`` in one piece would teach a token
    (``["``) that the model never gets to produce after the prompt's ``[``."""
    full, spans = assistant_spans(tokenizer, messages)
    trained = spans[-1:] if last_only else spans
    cuts = {0, len(full)}
    answer_starts = {}
    for a, b in spans:
        start = a + len(prefix) if prefix and full.startswith(prefix, a) else a
        answer_starts[a] = start
        cuts |= {start, b}
    ids: list[int] = []
    mask: list[int] = []
    bounds = sorted(cuts)
    for s, e in pairwise(bounds):
        piece = tokenizer(full[s:e], add_special_tokens=False)["input_ids"]
        on = any(answer_starts[a] <= s and e <= b for a, b in trained)
        ids += piece
        mask += [1 if on else 0] * len(piece)
    return ids, mask


def write_record(out: Path, step: str, config: Any, **facts: Any) -> None:
    """Write ``ieforge-train.json``: the step, its full configuration and what the run measured."""
    import torch
    import transformers

    record = {
        "step": step,
        "config": asdict(config),
        "versions": {
            "ieforge": _version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **facts,
    }
    (out / RECORD).write_text(json.dumps(record, indent=2, default=str) + "\n")


def read_record(model_dir: str | Path) -> dict[str, Any] | None:
    path = Path(model_dir) / RECORD
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def latest_checkpoint(folder: Path) -> str | None:
    """The newest complete ``checkpoint-N`` folder under ``folder``, to resume from. transformers writes
    a checkpoint's trainer state last, so a folder whose ``trainer_state.json`` is missing or torn was
    cut off while being written (a kill during a save): it is skipped for the one before it."""
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    for path in sorted(found, key=lambda p: int(p.name.split("-")[-1]), reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, ValueError):
            log.warning("skipping %s: written only in part (interrupted while saving)", path)
            continue
        return str(path)
    return None


def save_model(model: Any, tokenizer: Any, out: Path, *, merge: bool) -> None:
    """Save a trained model: the LoRA adapter alone, or (``merge``) the adapter merged into a full model."""
    out.mkdir(parents=True, exist_ok=True)
    if merge and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(str(out))
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(str(out))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ieforge")
    except PackageNotFoundError:
        return "unknown"


def use_cpu() -> bool:
    """Train on the CPU unless a CUDA device is there (``accelerate launch`` places the processes)."""
    import torch

    return not torch.cuda.is_available()


def base_name(model: str) -> str:
    """How a trained model records its base: a catalogue name or hub id as given, a local path made
    absolute (so the record still finds it from another working directory)."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


@dataclass(kw_only=True)
class TrainSettings:
    """What every training step takes; ``SFTSettings`` and ``DPOSettings`` add their data."""

    model: str
    out: str
    lora: bool = True
    lora_settings: LoraSettings = field(default_factory=LoraSettings)
    merge: bool = False
    """save the adapter merged into a full model (bigger, loads without PEFT)"""
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4
    grad_accum: int = 1
    learning_rate: float | None = None
    """None: the step's default for LoRA or full fine-tuning"""
    max_length: int = 512
    seed: int = 0
    save_steps: int = 100
    logging_steps: int = 10
    dtype: str = "bfloat16"
    """weights' dtype while training: bfloat16, or float32 (with ``bf16`` autocast)"""
    bf16: bool | None = None
    """mixed bf16 autocast (default: when the hardware has it and the weights are float32)"""
    gradient_checkpointing: bool = False
    """trade compute for memory (worth it for big models on GPUs)"""
    resume: bool = True


def trainer_arguments(
    settings: TrainSettings, lora_lr: float, full_lr: float, warmup: float
) -> dict[str, Any]:
    """The TrainingArguments both trainers share (output, schedule, precision, checkpoints, device)."""
    bf16 = (bf16_available() and settings.dtype == "float32") if settings.bf16 is None else settings.bf16
    return {
        "output_dir": str(Path(settings.out) / "checkpoints"),
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "learning_rate": settings.learning_rate or (lora_lr if settings.lora else full_lr),
        "lr_scheduler_type": "cosine",
        "warmup_steps": warmup,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "save_steps": settings.save_steps,
        "save_total_limit": 2,
        "logging_steps": settings.logging_steps,
        "bf16": bf16,
        "report_to": [],
        "use_cpu": use_cpu(),
        "dataloader_num_workers": 0,
        "gradient_checkpointing": settings.gradient_checkpointing,
    }


def train_and_save(trainer: Any, tokenizer: Any, settings: TrainSettings, step: str, **facts: Any) -> Path:
    """Train (from the newest checkpoint when ``settings.resume``), then save the model and its record
    on the main process. Returns the output folder."""
    out = Path(settings.out)
    resume = latest_checkpoint(out / "checkpoints") if settings.resume else None
    if resume is not None:
        log.info("resuming from %s", resume)
    if hasattr(trainer, "totals"):  # the packed trainer accounts for the run across its sessions
        from ieforge.train.packing import read_progress

        trainer.resumed = read_progress(resume)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - t0
    if hasattr(trainer, "totals"):
        facts["run"] = trainer.totals()
    if trainer.is_world_process_zero():
        save_model(trainer.model, tokenizer, out, merge=settings.merge)
        write_record(
            out,
            step,
            settings,
            base_model=base_name(settings.model),
            train_seconds=round(seconds, 1),
            steps=result.global_step,
            train_loss=result.training_loss,
            resumed_from=resume,
            bf16=trainer.args.bf16,
            log_history=trainer.state.log_history,
            **facts,
        )
    return out
