"""Supervised fine-tuning on an instruction corpus (ADELIE's SFT step) with TRL's SFTTrainer.

The loss covers the assistant turns only (every assistant turn of a conversation: UniversalNER-style
conversations answer several questions). LoRA (PEFT) by default, full fine-tuning on request. The result
is a model directory that :func:`ieforge.models.load_model` and :class:`ieforge.Extractor` load.
Checkpoints are written every ``save_steps`` and an interrupted run resumes from the newest one.
Under ``accelerate launch`` the same code trains on several GPUs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ieforge.corpus import read_corpus
from ieforge.errors import InputError
from ieforge.evaluate.runner import file_sha256
from ieforge.train.common import (
    TrainSettings,
    encode_chat,
    load_trainable,
    train_and_save,
    trainer_arguments,
)

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class SFTSettings(TrainSettings):
    corpus: str
    max_length: int = 512
    """longer conversations are left out (and counted), never cut"""
    limit: int | None = None
    """train on the first N corpus examples"""


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
        ids, mask = encode_chat(tokenizer, ex.messages, prefix=ex.prefix)  # type: ignore[arg-type]
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

    if not Path(settings.corpus).is_file():
        raise InputError(f"no such corpus file: {settings.corpus}")
    model, tokenizer = load_trainable(settings.model, dtype=settings.dtype)
    dataset, counts = sft_dataset(settings, tokenizer)
    log.info("SFT on %(examples)d examples (%(tokens)d tokens; %(too_long)d too long, left out)", counts)
    args = SFTConfig(
        **trainer_arguments(settings, lora_lr=2e-4, full_lr=2e-5, warmup=0.03),
        completion_only_loss=False,
        train_sampling_strategy="group_by_length",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=settings.lora_settings.peft_config() if settings.lora else None,
    )
    return train_and_save(
        trainer, tokenizer, settings, "sft", corpus_sha256=file_sha256(settings.corpus), data=counts
    )
