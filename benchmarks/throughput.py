"""Throughput of NER inference: shared-prefix batching vs the per-type UniversalNER protocol, transformers vs
llama.cpp, and prefill FLOP/s against this machine's matmul peak.

Steps (each configuration runs in its own process, so its peak RSS is its own):

  ner       CrossNER AI test, the first ``--limit`` sentences, every type of the domain asked (UniversalNER
            protocol: one question per type; prompt uniner-json). Configurations ``--configs``, each
            ENGINE:SHARING:BATCH, e.g. ``transformers:off:1`` (one question at a time, each prompt in
            full: the published protocol run plainly), ``transformers:off:16`` (per-type questions
            batched), ``transformers:on:64`` (text encoded once per batch of its questions),
            ``llamacpp:off:1`` / ``llamacpp:on:1`` (llama.cpp without / with its prompt cache, on the
            model's GGUF file). Reports wall time, sentences/s, prompt tokens asked and prefill tokens
            computed, tokens generated, strict span F1, peak RSS, and how many sentences get exactly the
            entities of the first configuration.
  prefill   the model's forward pass on prompts (no decoding) in FLOP/s, as a share of a bf16 matmul
            measured in the same process: one plain batch of 8 x 256 tokens and the prefill of a real
            shared-prefix NER batch.

    python benchmarks/throughput.py ner --model smollm2-135m --limit 100 \\
        --configs transformers:off:16,transformers:on:64,llamacpp:off:1,llamacpp:on:1
    python benchmarks/throughput.py prefill --model smollm2-135m
    python benchmarks/throughput.py table benchmarks/results/throughput_ner_smollm2.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import DEFAULT_DATA, ROOT

DOMAIN = "crossner_ai"


def _labels_and_texts(data_dir: str, limit: int) -> tuple[list[str], list[str], list[list]]:  # type: ignore[type-arg]
    from ieforge.data import read_instructuie_ner

    folder = Path(data_dir) / DOMAIN / "instructuie_format"
    labels = [x for x in json.loads((folder / "labels.json").read_text()) if x != "else"]
    examples = read_instructuie_ner(folder / "test.json")[:limit]
    gold = [[s for s in e.entities if s.label in labels] for e in examples]
    return labels, [e.text for e in examples], gold


def _load(model: str, engine: str, dtype: str, threads: int):  # type: ignore[no-untyped-def]
    from ieforge.models import load_model, set_threads

    set_threads(threads)
    name = f"llamacpp:{model}" if engine == "llamacpp" else model
    return load_model(name, dtype=dtype) if engine == "transformers" else load_model(name)


def ner_worker(args: argparse.Namespace) -> dict[str, object]:
    from ieforge.evaluate import span_prf
    from ieforge.tasks.ner import NERTask

    engine, sharing, batch = args.config.split(":")
    labels, texts, gold = _labels_and_texts(args.data_dir, args.limit)
    t0 = time.perf_counter()
    backend = _load(args.model, engine, args.dtype, args.threads)
    load_s = time.perf_counter() - t0
    if engine == "llamacpp":
        backend.prompt_cache = sharing == "on"  # type: ignore[attr-defined]
    else:
        backend.share_prefix = sharing == "on"  # type: ignore[attr-defined]
    task = NERTask(backend, prompt=args.prompt, batch_size=int(batch))
    backend.usage.reset()  # type: ignore[attr-defined]
    t = time.perf_counter()
    results = list(task.run_many(texts, labels))
    seconds = time.perf_counter() - t
    pred = [[(e.start, e.end, e.label) for e in r.entities] for r in results]
    prf = span_prf(gold, [r.entities for r in results])
    return {
        "config": args.config,
        "model": args.model,
        "prompt": task.prompt.id,
        "dtype": args.dtype if engine == "transformers" else "gguf",
        "sentences": len(texts),
        "types": len(labels),
        "load_seconds": load_s,
        "seconds": seconds,
        "sentences_per_second": len(texts) / seconds,
        "usage": backend.usage.as_dict(),  # type: ignore[attr-defined]
        "f1": prf.f1,
        "precision": prf.precision,
        "recall": prf.recall,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "predictions": pred,
    }


def _matmul_flops(torch, dtype, n: int = 2048, repeats: int = 5) -> float:  # type: ignore[no-untyped-def]
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _forward_flops(model, tokens: int, contexts: list[int]) -> float:  # type: ignore[no-untyped-def]
    """Matmul FLOPs of a forward pass over ``tokens`` positions whose attention spans are ``contexts``:
    2 per weight per token (embedding lookups excluded, the last position's vocabulary projection
    included) and the attention products (QK and AV, 2 x 2 x head dim x heads per attended key)."""
    cfg = model.config
    body = sum(p.numel() for n, p in model.named_parameters() if "embed" not in n and "lm_head" not in n)
    heads_dim = cfg.num_attention_heads * (cfg.hidden_size // cfg.num_attention_heads)
    attention = 4 * heads_dim * cfg.num_hidden_layers * sum(contexts)
    return 2.0 * body * tokens + attention


def prefill_worker(args: argparse.Namespace) -> dict[str, object]:
    import torch

    from ieforge.models.prefix import plan_batches
    from ieforge.prompts import load_ner_prompt

    backend = _load(args.model, "transformers", args.dtype, args.threads)
    model = backend.model  # type: ignore[attr-defined]
    dtype = next(model.parameters()).dtype
    peak = _matmul_flops(torch, dtype)
    out: dict[str, object] = {"model": args.model, "dtype": str(dtype), "matmul_flops": peak}
    # a plain batch: 8 prompts of 256 tokens
    ids = torch.randint(100, 1000, (8, 256))
    with torch.inference_mode():
        model(input_ids=ids, logits_to_keep=1)
        best = min(_timed(lambda: model(input_ids=ids, logits_to_keep=1)) for _ in range(3))
    flops = _forward_flops(model, 8 * 256, [k + 1 for _ in range(8) for k in range(256)])
    out["plain"] = {
        "tokens": 8 * 256,
        "seconds": best,
        "flops": flops / best,
        "share_of_matmul": flops / best / peak,
    }
    # the prefill of a real NER batch: 4 CrossNER sentences x every type, prefixes shared
    labels, texts, _ = _labels_and_texts(args.data_dir, 4)
    prompt = load_ner_prompt("uniner-json")
    chats = [prompt.chat(t, lab) for t in texts for lab in labels]
    prompts = [backend._prompt_ids(backend.render(c) + prompt.assistant_prefix) for c in chats]  # type: ignore[attr-defined]
    (batch,) = plan_batches(prompts, len(prompts))
    with torch.inference_mode():
        backend._prefill(prompts, batch, keep_cache=False)  # type: ignore[attr-defined]
        backend.usage.reset()  # type: ignore[attr-defined]
        best = min(_timed(lambda: backend._prefill(prompts, batch, keep_cache=False)) for _ in range(3))  # type: ignore[attr-defined]
    computed = backend.usage.prefill_tokens // 3  # type: ignore[attr-defined]
    contexts = []
    for g in batch.groups:
        contexts += [k + 1 for k in range(g.shared)]
        for r in g.rows:
            contexts += [g.shared + k + 1 for k in range(len(prompts[r]) - g.shared)]
    flops = _forward_flops(model, computed, contexts)
    out["ner_batch"] = {
        "prompts": len(prompts),
        "prompt_tokens": sum(len(p) for p in prompts),
        "computed_tokens": computed,
        "seconds": best,
        "flops": flops / best,
        "share_of_matmul": flops / best / peak,
        "prompt_tokens_per_second": sum(len(p) for p in prompts) / best,
    }
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def _worker_cmd(args: argparse.Namespace, *extra: str) -> list[str]:
    return [
        sys.executable,
        __file__,
        args.step,
        "--worker",
        "--model",
        args.model,
        "--limit",
        str(args.limit),
        "--threads",
        str(args.threads),
        "--dtype",
        args.dtype,
        "--prompt",
        args.prompt,
        "--data-dir",
        args.data_dir,
        *extra,
    ]


def _run(cmd: list[str]) -> dict[str, object] | None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print(f"failed (exit {proc.returncode}): {' '.join(cmd[2:])}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ner_table(runs: list[dict]) -> str:  # type: ignore[type-arg]
    base = runs[0]
    lines = [
        "| configuration | s/sentence | sentences/s | speed-up | prompt tokens | prefill tokens computed | "
        "tokens generated | F1 | same entities as first | peak RSS GB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        same = sum(a == b for a, b in zip(r["predictions"], base["predictions"]))
        u = r["usage"]
        lines.append(
            f"| {r['config']} ({r['dtype']}) | {r['seconds'] / r['sentences']:.2f} | "
            f"{r['sentences_per_second']:.2f} | {base['seconds'] / r['seconds']:.2f}x | "
            f"{u['prompt_tokens']} | {u['prefill_tokens']} | {u['generated_tokens']} | {100 * r['f1']:.1f} | "
            f"{same}/{r['sentences']} | {r['peak_rss_gb']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["ner", "prefill", "table"])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--configs", default="transformers:off:16,transformers:on:64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--prompt", default="uniner-json", help="NER prompt (uniner: the published one)")
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA))
    ap.add_argument("--out")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help="table: result files of the ner step to print as tables")
    args = ap.parse_args()
    if args.step == "table":
        for name in args.files:
            print(f"\n{name}\n\n" + ner_table(json.loads(Path(name).read_text())["runs"]))
        return
    if args.worker:
        result = ner_worker(args) if args.step == "ner" else prefill_worker(args)
        print(json.dumps(result))
        return
    results = ROOT / "benchmarks" / "results"
    out = Path(args.out or results / f"throughput_{args.step}_{Path(args.model).name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.step == "prefill":
        got = _run(_worker_cmd(args))
        out.write_text(json.dumps(got, indent=1))
        print(json.dumps(got, indent=1))
        return
    runs: list[dict[str, object]] = []
    for config in args.configs.split(","):
        got = _run(_worker_cmd(args, "--config", config))
        if got is None:
            continue
        runs.append(got)
        print(
            f"  {config}: {got['seconds']:.0f} s, {got['sentences_per_second']:.3f} sentences/s, "
            f"F1 {100 * float(got['f1']):.1f}",  # type: ignore[arg-type]
            file=sys.stderr,
            flush=True,
        )
        # one line: the per-sentence predictions make an indented file long
        out.write_text(
            json.dumps({"model": args.model, "limit": args.limit, "runs": runs}, separators=(",", ":"))
        )
    print(ner_table(runs))


if __name__ == "__main__":
    main()
