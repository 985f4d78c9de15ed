"""Training throughput against prefill throughput, side by side (issue 26, step 1).

For each model: the same conversations (the first ``--limit`` of a corpus) are
- run through the model without gradients, in packed rows, reading the last position only (prefill);
- trained on for one epoch with TRL's SFTTrainer as before (padded batches, ``--packing`` off);
- trained on for one epoch with packed rows and the vocabulary projection at trained positions only,
  for each ``--configs`` entry ``ROWTOKENS[xBATCH][:FLAG...]``: no flag is the default (LoRA dropout 0,
  eager attention, bf16 autocast with float32 adapters); ``:drop`` with LoRA dropout 0.05 as before;
  ``:half`` with LoRA on the last half of the layers only; ``:compile`` with the backbone compiled
  (its compile time is left out: tokens/s over the steps after the first).
Every configuration runs in its own process, one after the other, in rounds (``--rounds``), so a
noisy machine slows all of them alike; the table gives each one's tokens/s, its share of prefill
tokens/s, and its speed-up over TRL, with medians over the rounds.

  python benchmarks/train_throughput.py --corpus CORPUS.jsonl --models smollm2-135m,qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _settings(args: argparse.Namespace, config: str, out: str) -> Any:
    from ieforge.train.common import LoraSettings, load_trainable
    from ieforge.train.sft import SFTSettings

    name, *flags = config.split(":")
    lora = LoraSettings(dropout=0.05 if "drop" in flags or name == "trl" else 0.0)
    if "half" in flags:
        model, _ = load_trainable(args.model)
        lora.last_layers = int(model.config.num_hidden_layers) // 2
        del model
    common = {
        "model": args.model,
        "corpus": args.corpus,
        "out": out,
        "limit": args.limit,
        "save_steps": 10**6,
    }
    if name == "trl":
        return SFTSettings(**common, packing=False, batch_size=4, lora_settings=lora, logging_steps=10**6)
    tokens, _, batch = name.partition("x")
    return SFTSettings(
        **common,
        packing=True,
        pack_tokens=int(tokens),
        batch_size=int(batch or 1),
        lora_settings=lora,
        max_length=min(512, int(tokens)),
        logging_steps=1,
        compile="compile" in flags,
    )


def train_worker(args: argparse.Namespace) -> dict[str, Any]:
    import ieforge.train.sft as sft_module
    from ieforge.models import set_threads
    from ieforge.train.sft import train_sft

    set_threads(args.threads)
    steps: list[tuple[float, int]] = []  # (seconds, tokens) of each training step
    packed_trainer = sft_module.trainer_class

    def timed_trainer() -> type:
        class Timed(packed_trainer()):  # type: ignore[misc]
            def training_step(self, model: Any, inputs: dict[str, Any], *rest: Any, **kw: Any) -> Any:
                t0 = time.perf_counter()
                loss = super().training_step(model, inputs, *rest, **kw)
                steps.append((time.perf_counter() - t0, int(inputs["input_ids"].numel())))
                return loss

        return Timed

    sft_module.trainer_class = timed_trainer
    with tempfile.TemporaryDirectory() as tmp:
        folder = train_sft(_settings(args, args.config, tmp))
        record = json.loads((folder / "ieforge-train.json").read_text())
    data = record["data"]
    result = {
        "config": args.config,
        "tokens": data["tokens"],
        "examples": data["examples"],
        "seconds": record["train_seconds"],
        "tokens_per_s": data["tokens"] / record["train_seconds"],
    }
    if "compile" in args.config and len(steps) > 1:
        # steady state: the steps after the first, which compiles; rows are padded to one width, so
        # the conversations' own tokens are counted in proportion
        rest = sum(t for t, _ in steps[1:])
        share = sum(n for _, n in steps[1:]) / sum(n for _, n in steps)
        result |= {"compile_seconds": steps[0][0], "tokens_per_s": data["tokens"] * share / rest}
    return result


def prefill_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Forward passes without gradients over the same conversations packed into rows of 1024 tokens,
    the vocabulary projected at each row's last position only (as a prompt's prefill does)."""
    import torch

    from ieforge.corpus import read_corpus
    from ieforge.models import set_threads
    from ieforge.train.common import encode_chat, load_trainable
    from ieforge.train.packing import PackedCollator, packed_rows

    set_threads(args.threads)
    model, tokenizer = load_trainable(args.model, dtype="bfloat16")
    model.eval()
    examples = read_corpus(args.corpus, split="train")[: args.limit]
    rows = packed_rows([encode_chat(tokenizer, e.messages, prefix=e.prefix) for e in examples], 1024)
    collate = PackedCollator(tokenizer.pad_token_id or 0)
    tokens = sum(len(r["input_ids"]) for r in rows)
    with torch.no_grad():
        t0 = time.perf_counter()
        for r in rows:
            b = collate([r])
            model(input_ids=b["input_ids"], position_ids=b["position_ids"], use_cache=False, logits_to_keep=1)
        seconds = time.perf_counter() - t0
    return {"config": "prefill", "tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def _run(args: argparse.Namespace, model: str, config: str) -> dict[str, Any] | None:
    cmd = [sys.executable, __file__, "--worker", "--model", model, "--config", config]
    cmd += ["--corpus", args.corpus, "--limit", str(args.limit), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print(f"{model} {config}: failed (exit {proc.returncode})", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{model} {config}: {result['tokens_per_s']:.0f} tokens/s", file=sys.stderr)
    return result


def table(results: dict[str, dict[str, list[float]]]) -> str:
    lines = [
        "| model | configuration | tokens/s (median) | of prefill | vs TRL |",
        "|---|---|---|---|---|",
    ]
    for model, by_config in results.items():
        prefill = statistics.median(by_config.get("prefill", [float("nan")]))
        trl = statistics.median(by_config.get("trl", [float("nan")]))
        for config, values in by_config.items():
            m = statistics.median(values)
            share = "" if config == "prefill" else f"{100 * m / prefill:.0f}%"
            versus = "" if config == "prefill" else f"{m / trl:.2f}x"
            lines.append(f"| {model} | {config} | {m:.0f} | {share} | {versus} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b")
    ap.add_argument("--configs", default="trl,1024:drop,1024,512,2048,1024:half")
    ap.add_argument("--limit", type=int, default=96)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_throughput.json"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker = prefill_worker if args.config == "prefill" else train_worker
        print(json.dumps(worker(args)))
        return
    results: dict[str, dict[str, list[float]]] = {}
    runs = []
    for _ in range(args.rounds):
        for model in args.models.split(","):
            for config in ["prefill", *args.configs.split(",")]:
                r = _run(args, model, config)
                if r is not None:
                    runs.append({"model": model, **r})
                    results.setdefault(model, {}).setdefault(config, []).append(r["tokens_per_s"])
    Path(args.out).write_text(
        json.dumps({"limit": args.limit, "corpus": Path(args.corpus).name, "runs": runs})
    )
    print(table(results))


if __name__ == "__main__":
    main()
