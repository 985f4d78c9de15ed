"""QA4RE vs the vanilla RE instruction on the SemEval-2010 Task 8 dev slice, per catalogue model.

For each model a fresh subprocess loads it once and classifies the first ``--limit`` examples of the dev
slice (ids 7201-8000 of the training file) with every configuration in ``--configs``:

  qa4re-letters   QA4RE prompt, answer read from one forward pass (option-letter probabilities)
  qa4re-generate  QA4RE prompt, answer generated and its letter parsed
  vanilla         vanilla RE instruction, label generated and parsed

Metric: micro-F1 over the 18 directed relation labels, `Other` excluded (the QA4RE convention). Also
reported: the share of the most frequent predicted label (a collapsed reading predicts one label for
everything), the mean probability mass on option letters, unreadable answers, and pairs per second.

    python benchmarks/re_semeval.py --limit 200 --out benchmarks/results/re_semeval.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from common import add_common_args, run_worker

CONFIGS = {
    "qa4re-letters": ("qa4re", "letters"),
    "qa4re-generate": ("qa4re", "generate"),
    "vanilla": ("vanilla", "generate"),
}


def worker(args: argparse.Namespace) -> list[dict[str, object]]:
    import torch

    from ieforge.data import read_semeval
    from ieforge.evaluate import relation_prf
    from ieforge.models import load_model
    from ieforge.tasks.relations import RelationQuery, RelationTask

    torch.set_num_threads(args.threads)
    backend = load_model(args.model)
    path = Path(args.data_dir) / "semeval2010_task8" / "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT"
    examples = read_semeval(path)[: args.limit]
    queries = [RelationQuery(e.text, e.head, e.tail) for e in examples]
    gold = [e.label for e in examples]
    rows: list[dict[str, object]] = []
    for config in args.configs:
        method, reading = CONFIGS[config]
        task = RelationTask(
            backend, schema="semeval", method=method, reading=reading, batch_size=args.batch_size
        )  # type: ignore[arg-type]
        t = time.perf_counter()
        rels = list(task.run_many(queries))
        dt = time.perf_counter() - t
        pred = [r.label for r in rels]
        prf = relation_prf(gold, pred, "Other")
        with_none = relation_prf(gold, pred, "Other", keep_none=True)
        top_label, top_n = Counter(pred).most_common(1)[0]
        masses = [r.choice_mass for r in rels if r.choice_mass is not None]
        rows.append(
            {
                "model": args.model,
                "config": config,
                "prompt": task.prompt.id,
                "examples": len(examples),
                "f1": prf.f1,
                "precision": prf.precision,
                "recall": prf.recall,
                "f1_with_other": with_none.f1,
                "top_label": top_label,
                "top_label_share": top_n / len(pred),
                "letter_mass": sum(masses) / len(masses) if masses else None,
                "unreadable": sum(not r.answered for r in rels),
                "pairs_per_second": len(examples) / dt,
            }
        )
        print(
            f"  {args.model} {config}: F1 {100 * prf.f1:.1f}  top {top_label} {top_n}/{len(pred)}  "
            f"{len(examples) / dt:.2f} pairs/s",
            file=sys.stderr,
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, out_name="re_semeval.json", limit=800, batch_size=8)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    args = ap.parse_args()
    args.configs = args.configs.split(",")
    if args.worker:
        print(json.dumps(worker(args)))
        return
    rows: list[dict[str, object]] = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for model in args.models.split(","):
        got = run_worker(__file__, args, model, "--configs", ",".join(args.configs))
        if got is None:
            continue
        rows.extend(got)
        out.write_text(json.dumps({"limit": args.limit, "runs": rows}, indent=1))
    print(markdown(rows))


def markdown(rows: list[dict[str, object]]) -> str:
    lines = [
        "| model | reading | F1 (no Other) | P / R | top label share | letter mass | unreadable | pairs/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mass = "-" if r["letter_mass"] is None else f"{100 * float(r['letter_mass']):.0f}%"  # type: ignore[arg-type]
        lines.append(
            f"| {r['model']} | {r['config']} | {100 * float(r['f1']):.1f} | "  # type: ignore[arg-type]
            f"{100 * float(r['precision']):.1f} / {100 * float(r['recall']):.1f} | "  # type: ignore[arg-type]
            f"{r['top_label']} {100 * float(r['top_label_share']):.0f}% | {mass} | {r['unreadable']} | "  # type: ignore[arg-type]
            f"{float(r['pairs_per_second']):.2f} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
