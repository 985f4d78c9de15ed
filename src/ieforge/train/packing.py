"""Packed supervised fine-tuning: no padding, and the vocabulary projection only where the loss is.

Conversations are packed into rows of at most ``capacity`` tokens (best-fit decreasing). Each
conversation's positions restart at 0, and transformers turns restarting positions (with no attention
mask) into a block-diagonal causal mask, so a packed conversation attends only to itself and computes
what it computes alone. The loss needs next-token log-probabilities at the positions whose next token
is an assistant token: only those hidden states go through the vocabulary projection, which is 21%
(SmolLM2) to 28% (Qwen2.5-0.5B) of the weights and, over every position, most of the memory traffic.

Written on :class:`transformers.Trainer` (optimizer, schedule, checkpoints, exact resume, accelerate)
because TRL's SFTTrainer projects every position onto the vocabulary on a CPU (its compact path is
Triton-only) and computes entropy metrics from them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROGRESS = "ieforge-progress.json"
"""written into every checkpoint: the tokens, CPU time and wall time the run spent up to it"""


def pack(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into bins whose lengths sum to at most ``capacity``, best-fit
    decreasing (each item, longest first, goes to the fullest bin it still fits in). Deterministic.
    Items longer than ``capacity`` get a bin of their own."""
    import bisect

    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    # free space of each open bin, kept sorted with the bin's number: (free, bin)
    free: list[tuple[int, int]] = []
    for i in order:
        size = lengths[i]
        at = bisect.bisect_left(free, (size, -1))
        if at < len(free):
            room, b = free.pop(at)
            bins[b].append(i)
            bisect.insort(free, (room - size, b))
        else:
            bins.append([i])
            if capacity - size > 0:
                bisect.insort(free, (capacity - size, len(bins) - 1))
    return bins


def packed_rows(rows: Sequence[tuple[list[int], list[int]]], capacity: int) -> list[dict[str, list[int]]]:
    """(token ids, loss mask) conversations packed into rows of ``input_ids``, ``position_ids`` and
    ``loss_mask`` (1 where the token is trained, i.e. predicted from the position before it)."""
    out = []
    for members in pack([len(ids) for ids, _ in rows], capacity):
        ids: list[int] = []
        positions: list[int] = []
        mask: list[int] = []
        for i in members:
            seq, m = rows[i]
            ids += seq
            positions += range(len(seq))
            # the first token of a conversation is never predicted (the position before it is another's)
            mask += [0, *m[1:]]
        out.append({"input_ids": ids, "position_ids": positions, "loss_mask": mask})
    return out


@dataclass
class PackedCollator:
    """Packed rows as one batch: right-padded ``input_ids`` and ``position_ids`` (the padding forms a
    segment of its own, which no loss reads) and the flat indices and targets of the trained tokens."""

    pad_token_id: int
    width: int | None = None
    """pad every row to this many tokens (a compiled model then sees one shape); None: the longest row"""

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(self.width or 0, *(len(r["input_ids"]) for r in rows))
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        positions = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for b, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[b, :n] = torch.tensor(r["input_ids"])
            positions[b, :n] = torch.tensor(r["position_ids"])
            positions[b, n:] = torch.arange(width - n)
            mask[b, :n] = torch.tensor(r["loss_mask"], dtype=torch.bool)
        # the hidden state at position t predicts the token at t + 1
        predicted = mask[:, 1:]
        return {
            "input_ids": ids,
            "position_ids": positions,
            "source": predicted.nonzero(as_tuple=True),
            "targets": ids[:, 1:][predicted],
            "tokens": sum(len(r["input_ids"]) for r in rows),
        }


def packed_loss(model: Any, batch: dict[str, Any], num_items: Any = None) -> Any:
    """Summed next-token cross-entropy at the trained positions, divided by ``num_items`` (the trained
    tokens of the whole accumulated step) or by this batch's count. Runs the model's backbone, then its
    vocabulary projection on the selected hidden states only."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.base_model(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
    ).last_hidden_state
    rows, cols = batch["source"]
    logits = base.get_output_embeddings()(hidden[rows, cols]).float()
    softcap = getattr(base.config, "final_logit_softcapping", None)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    total = torch.nn.functional.cross_entropy(logits, batch["targets"], reduction="sum")
    count = num_items if num_items is not None else max(int(batch["targets"].numel()), 1)
    return total / count


def fit_for_training(model: Any, *, bf16: bool, compile: bool = False) -> None:
    """Settings measured faster for LoRA training on a CPU (benchmarks/README.md, "Training
    throughput"): eager attention (torch's CPU SDPA backward took 20% of a step) and, under bf16
    autocast, LoRA layers that take their bf16 input as it is instead of copying it to the adapters'
    float32 (autocast computes the adapter products in bf16; the adapters' weights and optimizer stay
    float32). ``compile``: the backbone compiled by torch.compile, which fuses the element-wise work of
    the forward and backward passes."""

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    on_cpu = next(base.parameters()).device.type == "cpu"
    if on_cpu and hasattr(base, "set_attn_implementation"):
        base.set_attn_implementation("eager")
    if bf16:
        for module in model.modules():
            if hasattr(module, "lora_A"):
                module.cast_input_dtype_enabled = False
    if compile:
        # in place (parameter names unchanged, so checkpoints and adapters are saved as usual); rows of
        # one width give one graph, compiled once per process (about 2 minutes for SmolLM2)
        base.base_model.compile(dynamic=False)


def trainer_class() -> type:
    """:class:`transformers.Trainer` with the packed loss and the run's accounting (imported late:
    transformers is heavy). ``resumed`` (set before training) is what the checkpoint it resumes from
    recorded in :data:`PROGRESS`; every checkpoint it writes records the totals so far."""
    from transformers import Trainer

    class PackedTrainer(Trainer):
        resumed: dict[str, float] | None = None

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            import torch

            # the loss calls the backbone itself, past the autocast accelerate wraps model.forward in
            device = inputs["input_ids"].device.type
            with torch.autocast(device, dtype=torch.bfloat16, enabled=bool(self.args.bf16)):
                loss = packed_loss(model, inputs, num_items_in_batch)
            return (loss, None) if return_outputs else loss

        def _prepare_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
            if not hasattr(self, "_clock"):
                self._clock = (time.process_time(), time.perf_counter())
                self._tokens = 0
            self._tokens += int(inputs["tokens"])
            device = self.args.device
            return {
                "input_ids": inputs["input_ids"].to(device),
                "position_ids": inputs["position_ids"].to(device),
                "source": tuple(t.to(device) for t in inputs["source"]),
                "targets": inputs["targets"].to(device),
            }

        def get_batch_samples(self, epoch_iterator: Any, num_batches: int, device: Any) -> Any:
            batches, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
            # the tokens the accumulated step trains on (Trainer counts ``labels``, which packed rows lack)
            count = sum(int(b["targets"].numel()) for b in batches)
            return batches, (count if count else None)

        def totals(self) -> dict[str, float]:
            """Tokens run through the model and CPU / wall seconds, over every session of the run."""
            base = self.resumed or {}
            cpu0, wall0 = getattr(self, "_clock", (time.process_time(), time.perf_counter()))
            return {
                "tokens": int(base.get("tokens", 0)) + getattr(self, "_tokens", 0),
                "cpu_seconds": round(float(base.get("cpu_seconds", 0)) + time.process_time() - cpu0, 1),
                "wall_seconds": round(float(base.get("wall_seconds", 0)) + time.perf_counter() - wall0, 1),
                "sessions": int(base.get("sessions", 0)) + 1,
                "global_step": int(self.state.global_step),
            }

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            super()._save_checkpoint(model, trial)
            folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
            if self.args.should_save and folder.is_dir():
                (folder / PROGRESS).write_text(json.dumps(self.totals()) + "\n")

    return PackedTrainer


def read_progress(checkpoint: str | Path | None) -> dict[str, float] | None:
    """What a checkpoint recorded of its run (:data:`PROGRESS`), or None."""
    if checkpoint is None:
        return None
    path = Path(checkpoint) / PROGRESS
    try:
        data: dict[str, float] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data
