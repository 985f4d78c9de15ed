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
    bf16_available,
    encode_chat,
    load_trainable,
    train_and_save,
    trainer_arguments,
)
from ieforge.train.packing import PackedCollator, fit_for_training, packed_rows, trainer_class

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class SFTSettings(TrainSettings):
    corpus: str
    max_length: int = 512
    """longer conversations are left out (and counted), never cut"""
    limit: int | None = None
    """train on the first N corpus examples"""
    packing: bool = True
    """pack conversations into rows of ``pack_tokens`` (no padding; the vocabulary projection only at
    trained positions: :mod:`ieforge.train.packing`); False: TRL's SFTTrainer on padded batches"""
    pack_tokens: int = 1024
    """tokens per packed row; ``batch_size`` counts rows when packing"""
    compile: bool = False
    """compile the model's backbone (torch.compile) when packing: minutes to compile, then faster steps"""


def sft_dataset(settings: SFTSettings, tokenizer: Any) -> tuple[Any, dict[str, int]]:
    """The tokenized training split of the corpus, with the counts of what was kept and left out."""
    from datasets import Dataset

    examples = read_corpus(settings.corpus, split="train")
    if settings.limit is not None:
        examples = examples[: settings.limit]
    if not examples:
        raise InputError(f"{settings.corpus}: no training examples")
    rows, too_long = [], 0
    for ex in examples:  # the corpus is tokenized in full before training: a bad example fails at once
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
    if not Path(settings.corpus).is_file():
        raise InputError(f"no such corpus file: {settings.corpus}")
    if settings.packing and settings.pack_tokens < settings.max_length:
        raise InputError(
            f"pack_tokens ({settings.pack_tokens}) must be at least max_length ({settings.max_length}): "
            "a conversation is never split across rows"
        )
    model, tokenizer = load_trainable(settings.model, dtype=settings.dtype)
    dataset, counts = sft_dataset(settings, tokenizer)
    log.info("SFT on %(examples)d examples (%(tokens)d tokens; %(too_long)d too long, left out)", counts)
    facts = {"corpus_sha256": file_sha256(settings.corpus), "data": counts}
    if settings.packing:
        return _train_packed(settings, model, tokenizer, dataset, counts, facts)
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **trainer_arguments(settings, lora_lr=2e-4, full_lr=2e-5, warmup=0.03),
        max_length=settings.max_length,
        completion_only_loss=False,
        train_sampling_strategy="group_by_length",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=settings.lora_settings.peft_config(model) if settings.lora else None,
    )
    return train_and_save(trainer, tokenizer, settings, "sft", **facts)


def _train_packed(
    settings: SFTSettings,
    model: Any,
    tokenizer: Any,
    dataset: Any,
    counts: dict[str, int],
    facts: dict[str, Any],
) -> Path:
    from datasets import Dataset
    from transformers import TrainingArguments

    rows = packed_rows(list(zip(dataset["input_ids"], dataset["assistant_masks"])), settings.pack_tokens)
    counts["rows"] = len(rows)
    log.info("packed into %d rows of at most %d tokens", len(rows), settings.pack_tokens)
    if settings.lora:
        from peft import get_peft_model
        from transformers import set_seed

        set_seed(settings.seed)  # the adapter's initial weights follow the seed too
        model = get_peft_model(model, settings.lora_settings.peft_config(model))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    arguments = trainer_arguments(settings, lora_lr=2e-4, full_lr=2e-5, warmup=0.03)
    if settings.bf16 is None:  # bf16 autocast wherever the hardware has it, whatever the weights' dtype
        arguments["bf16"] = bf16_available()
    fit_for_training(model, bf16=arguments["bf16"], compile=settings.compile)
    args = TrainingArguments(**arguments, remove_unused_columns=False)
    trainer = trainer_class()(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        data_collator=PackedCollator(pad, width=settings.pack_tokens if settings.compile else None),
        processing_class=tokenizer,
    )
    return train_and_save(trainer, tokenizer, settings, "sft", packing=settings.pack_tokens, **facts)
