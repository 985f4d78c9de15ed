"""QA4RE vs the vanilla RE instruction on SemEval-2010 Task 8 and FewRel, per catalogue model.

For each model a fresh subprocess loads it once and classifies the examples with every configuration in
``--configs``:

  qa4re-letters   QA4RE prompt, answer read from one forward pass (option-letter probabilities); the
                  same passes also give "qa4re-letters+calibrated" (divided by the content-free prior;
                  identical to RelationTask(calibrate=True) when every label has one template)
  qa4re-generate  QA4RE prompt, answer generated and its letter parsed
  vanilla         vanilla RE instruction, label generated and parsed
  qa4re-3shot     qa4re-letters after 3 solved questions (distinct labels, seed 0) from training data
  qa4re-verify    one yes/no question per option sentence (prompt qa4re-verify), ranked by P(yes)
  vanilla-score   vanilla instruction, each label scored in full as the reply (restricted decoding)
  qa4re-reversed  qa4re-letters with the relation options in reverse order (none still last): does
                  the chosen option follow its label or its position?
  qa4re-perm4     qa4re-letters asked 4 times with the relation options rotated by a quarter each time
                  (none still last), label probabilities averaged (RelationTask(permutations=4))

Every scored reading (all but the two generated ones) also reports "+calibrated" from the same passes.

Data: ``semeval`` = the dev slice (ids 7201-8000 of the training file; demonstrations from ids 1-7200);
``fewrel`` = the first ``--per-relation`` instances of each of the 16 val_wiki relations (demonstrations
from the last 100 instances of each relation). ``--limit`` caps the number of examples.

Metric: micro-F1 over the positive labels, the none label excluded (the QA4RE convention). Also
reported: the share of the most frequent predicted label (a collapsed reading predicts one label for
everything), the mean probability mass on option letters, unreadable answers, and pairs per second.

    python benchmarks/re_qa4re.py --dataset semeval --limit 800 --out benchmarks/results/re_semeval.json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path

from common import add_common_args, run_worker

# config -> (method, reading, demonstrations, options in reverse order, option-order permutations)
CONFIGS = {
    "qa4re-letters": ("qa4re", "letters", 0, False, 1),
    "qa4re-generate": ("qa4re", "generate", 0, False, 1),
    "vanilla": ("vanilla", "generate", 0, False, 1),
    "qa4re-3shot": ("qa4re", "letters", 3, False, 1),
    "qa4re-verify": ("qa4re", "verify", 0, False, 1),
    "vanilla-score": ("vanilla", "score", 0, False, 1),
    "qa4re-reversed": ("qa4re", "letters", 0, True, 1),
    "qa4re-perm4": ("qa4re", "letters", 0, False, 4),
}


def load(args: argparse.Namespace) -> tuple[str, list, list]:  # type: ignore[type-arg]
    """(schema, evaluated examples, demonstration pool) of the chosen dataset."""
    from ieforge.data import read_fewrel, read_semeval

    root = Path(args.data_dir)
    if args.dataset == "semeval":
        folder = root / "semeval2010_task8"
        examples = read_semeval(folder / "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT")
        pool = [e for e in read_semeval(folder / "TRAIN_FILE.TXT") if int(e.id) <= 7200]
        return "semeval", examples[: args.limit], pool
    every = read_fewrel(root / "fewrel" / "val_wiki.json", relation_names=root / "fewrel" / "pid2name.json")
    examples = [e for e in every if int(e.id.rsplit("-", 1)[1]) < args.per_relation]
    pool = [e for e in every if int(e.id.rsplit("-", 1)[1]) >= 600]
    return "fewrel", examples[: args.limit], pool


def worker(args: argparse.Namespace) -> list[dict[str, object]]:
    import torch

    from ieforge.evaluate import relation_prf
    from ieforge.models import load_model
    from ieforge.schemas.relations import load_relation_schema
    from ieforge.tasks.relations import RelationQuery, RelationTask, pick_demonstrations

    torch.set_num_threads(args.threads)
    backend = load_model(args.model)
    schema, examples, pool = load(args)
    queries = [RelationQuery(e.text, e.head, e.tail, e.head_type, e.tail_type) for e in examples]
    gold = [e.label for e in examples]
    rows: list[dict[str, object]] = []
    for config in args.configs:
        method, reading, shots, reverse, permutations = CONFIGS[config]
        solved = [(RelationQuery(e.text, e.head, e.tail, e.head_type, e.tail_type), e.label) for e in pool]
        demos = pick_demonstrations(solved, shots)
        demo_ids = [e.id for e, pair in zip(pool, solved) if any(pair is d for d in demos)]
        base = load_relation_schema(schema)
        if reverse:
            base = base.model_copy(update={"labels": base.labels[::-1], "option_order": "schema"})
        task = RelationTask(
            backend,
            schema=base,
            method=method,  # type: ignore[arg-type]
            reading=reading,  # type: ignore[arg-type]
            batch_size=args.batch_size,
            demonstrations=demos,
            permutations=permutations,
        )
        none = task.schema.none_label
        backend.usage.reset()  # type: ignore[attr-defined]
        t = time.perf_counter()
        masses: list[float] = []
        unreadable = 0
        if task.reading == "generate":
            rels = list(task.run_many(queries))
            readings = {config: [r.label for r in rels]}
            unreadable = sum(not r.answered for r in rels)
        else:  # the same passes give the plain and the calibrated reading
            probs = task.label_probabilities(queries, calibrated=True)
            readings = {
                config: [max(p.raw, key=p.raw.__getitem__) for p in probs],
                config + "+calibrated": [max(c, key=c.__getitem__) for p in probs if (c := p.calibrated)],
            }
            masses = [p.mass for p in probs]
        dt = time.perf_counter() - t
        usage = backend.usage.as_dict()  # type: ignore[attr-defined]
        for name, pred in readings.items():
            prf = relation_prf(gold, pred, none)
            with_none = relation_prf(gold, pred, none, keep_none=True)
            top_label, top_n = Counter(pred).most_common(1)[0]
            rows.append(
                {
                    "model": args.model,
                    "dataset": args.dataset,
                    "config": name,
                    "prompt": task.prompt.id,
                    "demonstrations": demo_ids,
                    "examples": len(examples),
                    "f1": prf.f1,
                    "precision": prf.precision,
                    "recall": prf.recall,
                    "f1_with_none": with_none.f1,
                    "top_label": top_label,
                    "top_label_share": top_n / len(pred),
                    "letter_mass": sum(masses) / len(masses) if masses else None,
                    "unreadable": unreadable,
                    "pairs_per_second": len(examples) / dt,
                    "seconds": dt,
                    "usage": usage,
                    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
                }
            )
            print(
                f"  {args.model} {args.dataset} {name}: F1 {100 * prf.f1:.1f}  top {top_label} "
                f"{top_n}/{len(pred)}  {len(examples) / dt:.2f} pairs/s",
                file=sys.stderr,
                flush=True,
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, out_name="re_semeval.json", limit=800, batch_size=8)
    ap.add_argument("--dataset", choices=["semeval", "fewrel"], default="semeval")
    ap.add_argument("--per-relation", type=int, default=10, help="FewRel instances per relation")
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
        got = run_worker(
            __file__,
            args,
            model,
            "--configs",
            ",".join(args.configs),
            "--dataset",
            args.dataset,
            "--per-relation",
            str(args.per_relation),
        )
        if got is None:
            continue
        rows.extend(got)
        out.write_text(json.dumps({"dataset": args.dataset, "limit": args.limit, "runs": rows}, indent=1))
    print(markdown(rows))


def markdown(rows: list[dict[str, object]]) -> str:
    lines = [
        "| model | data | reading | F1 (no none) | P / R | top label | letter mass | unreadable | pairs/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mass = "-" if r["letter_mass"] is None else f"{100 * float(r['letter_mass']):.0f}%"  # type: ignore[arg-type]
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['config']} | {100 * float(r['f1']):.1f} | "  # type: ignore[arg-type]
            f"{100 * float(r['precision']):.1f} / {100 * float(r['recall']):.1f} | "  # type: ignore[arg-type]
            f"{r['top_label']} {100 * float(r['top_label_share']):.0f}% | {mass} | {r['unreadable']} | "  # type: ignore[arg-type]
            f"{float(r['pairs_per_second']):.2f} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
