"""Choose the default model by measurement: zero-shot NER on CrossNER dev with every catalogue model.

For each (model, prompt) a fresh subprocess loads the model (so peak RSS is per model), runs NER with all
entity types of the domain on the first ``--limit`` dev sentences of CrossNER AI, literature and music,
and scores strict span micro-F1 (offsets + type). As in the UniversalNER evaluation, the catch-all type
("else"/misc) is neither asked for nor scored.

    python benchmarks/ner_default_model.py --limit 20 --out benchmarks/results/ner_default_model.json

A model written ``MODEL@PROMPT`` in ``--models`` is run with that prompt only (a trained student with the
prompt it learned, say), the others with every prompt of ``--prompts``. ``PROMPT+READING`` runs two-stage
NER with that typing reading, e.g. ``ieforge-ner@uniner+mc``; append ``+cal`` for calibration, ``+t0.5``
for a typing threshold, ``+flat`` for flat NER and ``+prompt=NAME`` for another typing prompt
(``qwen2.5-coder-0.5b@uniner-json+cloze+cal+t0.5+flat``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from common import add_common_args, run_worker

DOMAINS = ["crossner_ai", "crossner_literature", "crossner_music"]


def worker(args: argparse.Namespace) -> dict[str, object]:
    import torch

    from ieforge.data import read_instructuie_ner
    from ieforge.evaluate import PRF, span_prf
    from ieforge.models import load_model
    from ieforge.tasks.ner import NERTask

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    backend = load_model(args.model)
    load_s = time.perf_counter() - t0
    prompt, *typing = args.prompt.split("+")
    task = NERTask(
        backend,
        prompt=prompt,
        batch_size=args.batch_size,
        typing=typing[0] if typing else None,
        typing_calibrate="cal" in typing[1:],
        typing_threshold=next((float(x[1:]) for x in typing[1:] if x.startswith("t")), None),
        flat="flat" in typing[1:],
        typing_prompt=next((x[7:] for x in typing[1:] if x.startswith("prompt=")), None),
    )
    out: dict[str, object] = {
        "model": args.model,
        "prompt": task.prompt_id,
        "load_seconds": load_s,
        "domains": {},
    }
    total, seconds, sentences = PRF(), 0.0, 0
    for domain in args.domains:
        folder = Path(args.data_dir) / domain / "instructuie_format"
        labels = [x for x in json.loads((folder / "labels.json").read_text()) if x != "else"]
        examples = read_instructuie_ner(folder / f"{args.split}.json")[: args.limit]
        t = time.perf_counter()
        results = list(task.run_many([e.text for e in examples], labels))
        dt = time.perf_counter() - t
        gold = [[s for s in e.entities if s.label in labels] for e in examples]
        prf = span_prf(gold, [r.entities for r in results])
        stats = {
            k: sum(getattr(r.stats, k) for r in results)
            for k in ("answers", "strings", "unparsed", "ungrounded")
        }
        out["domains"][domain] = {  # type: ignore[index]
            "sentences": len(examples),
            "types": len(labels),
            "seconds_per_sentence": dt / len(examples),
            "precision": prf.precision,
            "recall": prf.recall,
            "f1": prf.f1,
            **stats,
        }
        total += prf
        seconds += dt
        sentences += len(examples)
        print(
            f"  {args.model} {task.prompt_id} {domain}: F1 {100 * prf.f1:.1f} "
            f"({dt / len(examples):.1f} s/sentence)",
            file=sys.stderr,
            flush=True,
        )
    f1s = [d["f1"] for d in out["domains"].values()]  # type: ignore[attr-defined]
    out["avg_f1"] = sum(f1s) / len(f1s)
    out["micro"] = {"precision": total.precision, "recall": total.recall, "f1": total.f1}
    out["seconds_per_sentence"] = seconds / sentences
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, out_name="ner_default_model.json", limit=20, batch_size=16)
    ap.add_argument("--prompts", default="uniner,uniner-json")
    ap.add_argument("--domains", default=",".join(DOMAINS))
    ap.add_argument("--split", default="dev")
    ap.add_argument("--prompt", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.domains = args.domains.split(",")
    if args.worker:
        print(json.dumps(worker(args)))
        return
    rows = []
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    for spec in args.models.split(","):
        model, _, only = spec.partition("@")
        for prompt in [only] if only else args.prompts.split(","):
            row = run_worker(
                __file__,
                args,
                model,
                "--prompt",
                prompt,
                "--domains",
                ",".join(args.domains),
                "--split",
                args.split,
            )
            if row is None:
                continue
            rows.append(row)
            out_path.write_text(
                json.dumps({"split": args.split, "limit": args.limit, "runs": rows}, indent=1)
            )
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:  # type: ignore[type-arg]
    lines = [
        "| model | prompt | AI F1 | literature F1 | music F1 | avg F1 | micro P / R | s/sentence "
        "| peak RSS GB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d = r["domains"]
        f = [f"{100 * d[k]['f1']:.1f}" if k in d else "-" for k in DOMAINS]
        lines.append(
            f"| {r['model']} | {r['prompt']} | {' | '.join(f)} | {100 * r['avg_f1']:.1f} | "
            f"{100 * r['micro']['precision']:.1f} / {100 * r['micro']['recall']:.1f} | "
            f"{r['seconds_per_sentence']:.1f} | {r['peak_rss_gb']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
