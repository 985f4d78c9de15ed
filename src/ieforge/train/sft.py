"""Supervised fine-tuning on an instruction corpus (ADELIE's SFT step) with TRL's SFTTrainer.

The loss covers the assistant turns only (every assistant turn of a conversation: UniversalNER-style
conversations answer several questions). LoRA (PEFT) by default, full fine-tuning on request. The result
is a model directory that :func:`ieforge.models.load_model` and :class:`ieforge.Extractor` load.
Checkpoints are written every ``save_steps`` and an interrupted run resumes from the newest one.
Under ``accelerate launch`` the same code trains on several GPUs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ieforge.corpus import read_corpus
from ieforge.errors import InputError
from ieforge.train.common import (
    LoraSettings,
    base_name,
    bf16_available,
    encode_chat,
    file_sha256,
    latest_checkpoint,
    load_trainable,
    save_model,
    use_cpu,
    write_record,
)

log = logging.getLogger(__name__)


@dataclass
class SFTSettings:
    model: str
    corpus: str
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
    """default: 2e-4 with LoRA, 2e-5 for full fine-tuning"""
    max_length: int = 512
    """longer conversations are left out (and counted), never cut"""
    limit: int | None = None
    """train on the first N corpus examples"""
    seed: int = 0
    save_steps: int = 100
    logging_steps: int = 10
    bf16: bool | None = None
    """mixed bf16 autocast (default: when the hardware has it and the weights are float32)"""
    resume: bool = True
    dtype: str = "bfloat16"
    gradient_checkpointing: bool = False
    """trade compute for memory (worth it for big models on GPUs)"""
    """weights' dtype while training: float32 (with ``bf16`` autocast) or bfloat16 (all bf16)"""


def sft_dataset(settings: SFTSettings, tokenizer: Any) -> tuple[Any, dict[str, int]]:
    """The tokenized training split of the corpus, with the counts of what was kept and left out."""
    from datasets import Dataset

    examples = read_corpus(settings.corpus, split="train")
    if settings.limit is not None:
        examples = examples[: settings.limit]
    if not examples:
        raise InputError(f"{settings.corpus}: no training examples")
    rows, too_long = [], 0
    for ex in examples:
        ids, mask = encode_chat(tokenizer, ex.messages)  # type: ignore[arg-type]
        if len(ids) > settings.max_length:
            too_long += 1
            continue
        rows.append({"input_ids": ids, "assistant_masks": mask})
    if not rows:
        raise InputError(f"every example is longer than max_length={settings.max_length} tokens")
    tokens = sum(len(r["input_ids"]) for r in rows)
    return Dataset.from_list(rows), {"examples": len(rows), "too_long": too_long, "tokens": tokens}


def train_sft(settings: SFTSettings) -> Path:
    """Fine-tune ``settings.model`` on the corpus and save it to ``settings.out``; returns that folder."""
    from trl import SFTConfig, SFTTrainer

    out = Path(settings.out)
    if not Path(settings.corpus).is_file():
        raise InputError(f"no such corpus file: {settings.corpus}")
    model, tokenizer = load_trainable(settings.model, dtype=settings.dtype)
    dataset, counts = sft_dataset(settings, tokenizer)
    log.info("SFT on %(examples)d examples (%(tokens)d tokens; %(too_long)d too long, left out)", counts)
    bf16 = (bf16_available() and settings.dtype == "float32") if settings.bf16 is None else settings.bf16
    lr = settings.learning_rate or (2e-4 if settings.lora else 2e-5)
    args = SFTConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        max_length=settings.max_length,
        seed=settings.seed,
        data_seed=settings.seed,
        save_steps=settings.save_steps,
        save_total_limit=2,
        logging_steps=settings.logging_steps,
        bf16=bf16,
        report_to=[],
        use_cpu=use_cpu(),
        dataloader_num_workers=0,
        completion_only_loss=False,
        gradient_checkpointing=settings.gradient_checkpointing,
        train_sampling_strategy="group_by_length",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=settings.lora_settings.peft_config() if settings.lora else None,
    )
    resume = latest_checkpoint(out / "checkpoints") if settings.resume else None
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - t0
    if trainer.is_world_process_zero():
        save_model(trainer.model, tokenizer, out, merge=settings.merge)
        write_record(
            out,
            "sft",
            settings,
            base_model=base_name(settings.model),
            corpus_sha256=file_sha256(settings.corpus),
            data=counts,
            train_seconds=round(seconds, 1),
            steps=result.global_step,
            train_loss=result.training_loss,
            resumed_from=resume,
            bf16=bf16,
            log_history=trainer.state.log_history,
        )
    return out
