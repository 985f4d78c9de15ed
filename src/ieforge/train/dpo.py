"""Direct preference optimization on preference pairs (ADELIE's DPO step) with TRL's DPOTrainer.

The model (normally the SFT model directory) is trained with a fresh LoRA adapter by default; the
reference policy is the same model with the adapter switched off, so no second copy is held in memory.
The result is a model directory :func:`ieforge.models.load_model` loads (the adapter names its base).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ieforge.errors import InputError
from ieforge.evaluate.runner import file_sha256
from ieforge.train.common import (
    TrainSettings,
    end_of_turn,
    load_trainable,
    train_and_save,
    trainer_arguments,
)
from ieforge.train.pairs import PreferencePair, read_pairs


@dataclass(kw_only=True)
class DPOSettings(TrainSettings):
    pairs: str
    beta: float = 0.1
    """strength of the pull towards the reference model"""
    save_steps: int = 50


def preference_text(tokenizer: Any, pair: PreferencePair) -> dict[str, str]:
    """A pair as prompt and answer strings, cut where inference cuts them: the chat template's prompt
    plus the task's assistant prefix, then each answer without that prefix and with the template's
    end-of-turn marker (see :func:`ieforge.train.common.encode_chat`)."""
    prompt = str(tokenizer.apply_chat_template(pair.prompt, tokenize=False, add_generation_prompt=True))
    end = end_of_turn(tokenizer)

    def answer(turns: list[dict[str, str]]) -> str:
        text = turns[-1]["content"]
        return (text[len(pair.prefix) :] if text.startswith(pair.prefix) else text) + end

    return {"prompt": prompt + pair.prefix, "chosen": answer(pair.chosen), "rejected": answer(pair.rejected)}


def train_dpo(settings: DPOSettings) -> Path:
    """Train on the preference pairs and save the model to ``settings.out``; returns that folder."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    if not Path(settings.pairs).is_file():
        raise InputError(f"no such pairs file: {settings.pairs}")
    pairs = read_pairs(settings.pairs)
    if not pairs:
        raise InputError(f"{settings.pairs}: no preference pairs (every example was dropped?)")
    model, tokenizer = load_trainable(settings.model, dtype=settings.dtype)
    dataset = Dataset.from_list([preference_text(tokenizer, p) for p in pairs])
    args = DPOConfig(
        **trainer_arguments(settings, lora_lr=5e-5, full_lr=5e-7, warmup=0.1),
        max_length=settings.max_length,
        beta=settings.beta,
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=settings.lora_settings.peft_config(model) if settings.lora else None,
    )
    return train_and_save(
        trainer,
        tokenizer,
        settings,
        "dpo",
        pairs_sha256=file_sha256(settings.pairs),
        data={"pairs": len(pairs)},
    )
