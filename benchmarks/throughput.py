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
  kernels   the two CPU kernels the backend replaces, side by side in one process: the last-position
            vocabulary projection of a strided [rows, 1, hidden] input with frozen weights vs a
            contiguous copy, and one decoding step's attention by torch's SDPA vs ieforge's grouped
            bmm (per layer, then a whole decoding step of the model with each).

    python benchmarks/throughput.py ner --model smollm2-135m --limit 100 \\
        --configs transformers:off:16,transformers:on:64,llamacpp:off:1,llamacpp:on:1
    python benchmarks/throughput.py prefill --model smollm2-135m
    python benchmarks/throughput.py kernels --model ieforge-ner
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


def _best_ms(fn, repeats: int = 7) -> float:  # type: ignore[no-untyped-def]
    fn()
    return 1000 * min(_timed(fn) for _ in range(repeats))


def _step_ms(model, rows: int, impl: str) -> float:  # type: ignore[no-untyped-def]
    """The best of 7 decoding steps of ``rows`` rows after a 100-token prompt, with attention ``impl``."""
    import torch

    model.config._attn_implementation = impl
    with torch.inference_mode():
        cache = model(input_ids=torch.randint(100, 1000, (rows, 100)), use_cache=True, logits_to_keep=1)
        cache = cache.past_key_values
        token = torch.randint(100, 1000, (rows, 1))
        times = []
        for i in range(8):
            t = time.perf_counter()
            model(
                input_ids=token,
                attention_mask=torch.ones(rows, 101 + i, dtype=torch.long),
                position_ids=torch.full((rows, 1), 100 + i),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            times.append(time.perf_counter() - t)
    return 1000 * min(times[1:])


def kernels_worker(args: argparse.Namespace) -> dict[str, object]:
    import functools

    import torch

    from ieforge.models.attention import single_query_attention

    backend = _load(args.model, "transformers", args.dtype, args.threads)
    model = backend.model  # type: ignore[attr-defined]
    cfg = model.config
    weight = model.get_output_embeddings().weight.detach()
    dtype = weight.dtype
    linear = torch.nn.functional.linear
    out: dict[str, object] = {"model": args.model, "dtype": str(dtype)}
    projection = []
    with torch.inference_mode():
        for rows in (4, 52, 128):
            # the last position of 12-token rows, as logits_to_keep=1 hands it to the projection
            hidden = torch.randn(rows, 12, weight.shape[1], dtype=dtype)[:, -1:, :]
            # the strided call broadcasts the weight to every row; past a few GB it is not run
            broadcast_gb = rows * weight.numel() * weight.element_size() / 1024**3
            strided = _best_ms(functools.partial(linear, hidden, weight), 3) if broadcast_gb <= 4 else None
            folded = _best_ms(lambda h=hidden: linear(h.contiguous(), weight))
            projection.append(
                {"rows": rows, "strided_ms": strided, "contiguous_ms": folded, "broadcast_gb": broadcast_gb}
            )
    out["vocabulary_projection"] = projection
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
    dim = cfg.hidden_size // heads
    attention = []
    for rows, length in ((8, 100), (52, 100), (128, 100), (128, 300)):
        q = torch.randn(rows, heads, 1, dim, dtype=dtype)
        k = torch.randn(rows, kv_heads, length, dim, dtype=dtype)
        v = torch.randn(rows, kv_heads, length, dim, dtype=dtype)
        mask = torch.ones(rows, 1, 1, length, dtype=torch.bool)
        mask[:, :, :, :5] = False
        sdpa = functools.partial(
            torch.nn.functional.scaled_dot_product_attention, q, k, v, attn_mask=mask, enable_gqa=True
        )
        ours = functools.partial(single_query_attention, q, k, v, mask, dim**-0.5)
        attention.append(
            {"rows": rows, "cache": length, "sdpa_ms": _best_ms(sdpa), "ieforge_ms": _best_ms(ours)}
        )
    out["attention_per_layer"] = attention
    out["decoding_step"] = [
        {
            "rows": rows,
            "sdpa_ms": _step_ms(model, rows, "sdpa"),
            "ieforge_ms": _step_ms(model, rows, "ieforge_cpu"),
        }
        for rows in (8, 52, 128)
    ]
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


def kernels_table(result: dict) -> str:  # type: ignore[type-arg]
    lines = [
        f"{result['model']} ({result['dtype']}), milliseconds, best of several runs",
        "",
        "| kernel | rows | cache | torch as the model calls it | ieforge | faster |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["vocabulary_projection"]:
        if r["strided_ms"] is None:
            torch_ms, faster = f"not run (would allocate {r['broadcast_gb']:.0f} GB)", "-"
        else:
            torch_ms, faster = f"{r['strided_ms']:.1f}", f"{r['strided_ms'] / r['contiguous_ms']:.0f}x"
        lines.append(
            f"| vocabulary projection, last position | {r['rows']} | - | {torch_ms} | "
            f"{r['contiguous_ms']:.1f} | {faster} |"
        )
    for r in result["attention_per_layer"]:
        lines.append(
            f"| one-token attention, one layer | {r['rows']} | {r['cache']} | {r['sdpa_ms']:.2f} | "
            f"{r['ieforge_ms']:.2f} | {r['sdpa_ms'] / r['ieforge_ms']:.1f}x |"
        )
    for r in result["decoding_step"]:
        lines.append(
            f"| decoding step, whole model | {r['rows']} | 100 | {r['sdpa_ms']:.0f} | "
            f"{r['ieforge_ms']:.0f} | {r['sdpa_ms'] / r['ieforge_ms']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["ner", "prefill", "kernels", "table"])
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
            data = json.loads(Path(name).read_text())
            print(f"\n{name}\n\n" + (ner_table(data["runs"]) if "runs" in data else kernels_table(data)))
        return
    if args.worker:
        workers = {"ner": ner_worker, "prefill": prefill_worker, "kernels": kernels_worker}
        result = workers[args.step](args)
        print(json.dumps(result))
        return
    results = ROOT / "benchmarks" / "results"
    out = Path(args.out or results / f"throughput_{args.step}_{Path(args.model).name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.step in ("prefill", "kernels"):
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
