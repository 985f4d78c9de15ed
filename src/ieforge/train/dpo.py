"""Direct preference optimization on preference pairs (ADELIE's DPO step) with TRL's DPOTrainer.

The model (normally the SFT model directory) is trained with a fresh LoRA adapter by default; the
reference policy is the same model with the adapter switched off, so no second copy is held in memory.
The result is a model directory :func:`ieforge.models.load_model` loads (the adapter names its base).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ieforge.errors import InputError
from ieforge.train.common import (
    LoraSettings,
    base_name,
    bf16_available,
    file_sha256,
    latest_checkpoint,
    load_trainable,
    save_model,
    use_cpu,
    write_record,
)
from ieforge.train.pairs import read_pairs

log = logging.getLogger(__name__)


@dataclass
class DPOSettings:
    model: str
    pairs: str
    out: str
    lora: bool = True
    lora_settings: LoraSettings = field(default_factory=LoraSettings)
    merge: bool = False
    beta: float = 0.1
    """strength of the pull towards the reference model"""
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4
    grad_accum: int = 1
    learning_rate: float | None = None
    """default: 5e-5 with LoRA, 5e-7 for full fine-tuning"""
    max_length: int = 512
    seed: int = 0
    save_steps: int = 50
    logging_steps: int = 10
    dtype: str = "bfloat16"
    bf16: bool | None = None
    resume: bool = True


def train_dpo(settings: DPOSettings) -> Path:
    """Train on the preference pairs and save the model to ``settings.out``; returns that folder."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    out = Path(settings.out)
    if not Path(settings.pairs).is_file():
        raise InputError(f"no such pairs file: {settings.pairs}")
    pairs = read_pairs(settings.pairs)
    if not pairs:
        raise InputError(f"{settings.pairs}: no preference pairs (every example was dropped?)")
    dataset = Dataset.from_list(
        [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    )
    model, tokenizer = load_trainable(settings.model, dtype=settings.dtype)
    bf16 = (bf16_available() and settings.dtype == "float32") if settings.bf16 is None else settings.bf16
    lr = settings.learning_rate or (5e-5 if settings.lora else 5e-7)
    args = DPOConfig(
        output_dir=str(out / "checkpoints"),
        beta=settings.beta,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.1,
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
        gradient_checkpointing=False,
    )
    trainer = DPOTrainer(
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
            "dpo",
            settings,
            base_model=base_name(settings.model),
            pairs_sha256=file_sha256(settings.pairs),
            data={"pairs": len(pairs)},
            train_seconds=round(seconds, 1),
            steps=result.global_step,
            train_loss=result.training_loss,
            resumed_from=resume,
            bf16=bf16,
            log_history=trainer.state.log_history,
        )
    return out
