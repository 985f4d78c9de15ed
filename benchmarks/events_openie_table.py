"""Event extraction (CASIE, RAMS), open IE (CaRB) and on-demand tables with the catalogue models.

Every (model, benchmark) runs in a fresh subprocess that loads the model, runs the task on the first
``--limit`` items and scores them:

- ``casie``: the first N articles of ``casie/annotation`` in numeric file order (read with
  ``fix_offsets=True``), full pipeline (one trigger question per event type, then one argument question
  per trigger); Trig-I/C and Arg-I/C micro-F1 on the five subtypes.
- ``rams``: the first N documents of RAMS 1.0 dev. Two settings: arguments of the gold triggers
  (the RAMS task: Arg-I/C), and the full pipeline with one joint question over all 139 types
  (Trig-I/C and Arg-I/C).
- ``carb``: the first N sentences of CaRB dev; CaRB-protocol precision, recall and F1 at the best
  confidence threshold, and the area under the PR curve.
- ``table``: the on-demand cases built from WebNLG and CoNLL-2003 test sentences
  (``ieforge.data.ondemand.build_table_cases``, seed 0); cell-level micro-F1.

    python benchmarks/events_openie_table.py --bench casie,rams,carb,table --limit 10 \
        --out benchmarks/results/events_openie_table.json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from common import add_common_args, run_worker

BENCHES = ("casie", "rams", "carb", "table")


def _prf(p: Any) -> dict[str, float | int]:
    return {"p": 100 * p.precision, "r": 100 * p.recall, "f1": 100 * p.f1, "tp": p.tp, "fp": p.fp, "fn": p.fn}


def _event_scores(gold: list[Any], pred: list[Any]) -> dict[str, Any]:
    from ieforge.evaluate.events import event_prf, predicted_mentions

    s = event_prf(gold, [predicted_mentions(p) for p in pred])
    return {
        "trigger_identification": _prf(s.trigger_identification),
        "trigger_classification": _prf(s.trigger_classification),
        "argument_identification": _prf(s.argument_identification),
        "argument_classification": _prf(s.argument_classification),
    }


def _stats(results: list[Any]) -> dict[str, int]:
    from ieforge.types import ParseStats

    total = ParseStats()
    for r in results:
        total.add(r.stats)
    return total.model_dump()


def bench_casie(args: argparse.Namespace, backend: Any) -> dict[str, Any]:
    from ieforge.data import read_casie
    from ieforge.tasks.events import EventTask

    folder = Path(args.data_dir) / "casie" / "annotation"
    files = sorted(folder.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    examples = [read_casie(f, fix_offsets=True)[0] for f in files[: args.limit]]
    task = EventTask(backend, "casie", detection="per-type", batch_size=args.batch_size)
    t = time.perf_counter()
    results = list(task.run_many([e.text for e in examples]))
    seconds = time.perf_counter() - t
    return {
        "documents": [e.id for e in examples],
        "gold_events": sum(len(e.events) for e in examples),
        "predicted_events": sum(len(r.events) for r in results),
        "scores": _event_scores([e.events for e in examples], [r.events for r in results]),
        "stats": _stats(results),
        "prompt": task.prompt_id,
        "seconds": seconds,
        "seconds_per_document": seconds / max(1, len(examples)),
    }


def bench_rams(args: argparse.Namespace, backend: Any) -> dict[str, Any]:
    from ieforge.data import read_rams
    from ieforge.tasks.events import EventTask

    examples = read_rams(Path(args.data_dir) / "rams" / "dev.jsonlines")[: args.limit]
    out: dict[str, Any] = {"documents": len(examples), "gold_events": sum(len(e.events) for e in examples)}
    task = EventTask(backend, "rams", detection="joint", batch_size=args.batch_size)
    t = time.perf_counter()
    given = [[(ev.trigger, ev.type) for ev in e.events] for e in examples]
    results = list(task.arguments_many([e.text for e in examples], given))
    seconds = time.perf_counter() - t
    out["gold_triggers"] = {
        "scores": _event_scores([e.events for e in examples], [r.events for r in results]),
        "stats": _stats(results),
        "seconds_per_document": seconds / max(1, len(examples)),
    }
    t = time.perf_counter()
    results = list(task.run_many([e.text for e in examples]))
    seconds = time.perf_counter() - t
    out["pipeline"] = {
        "predicted_events": sum(len(r.events) for r in results),
        "scores": _event_scores([e.events for e in examples], [r.events for r in results]),
        "stats": _stats(results),
        "seconds_per_document": seconds / max(1, len(examples)),
    }
    out["prompt"] = task.prompt_id
    return out


def bench_carb(args: argparse.Namespace, backend: Any) -> dict[str, Any]:
    from ieforge.data import read_carb
    from ieforge.evaluate.openie import carb_scores, predicted_extractions
    from ieforge.tasks.openie import OpenIETask

    folder = Path(args.data_dir) / "carb"
    examples = read_carb(folder / "dev.txt", folder / "gold" / "dev.tsv")[: args.limit]
    task = OpenIETask(backend, batch_size=args.batch_size)
    t = time.perf_counter()
    results = list(task.run_many([e.text for e in examples], texts_per_batch=args.batch_size))
    seconds = time.perf_counter() - t
    scores = carb_scores(examples, [predicted_extractions(r.triples) for r in results])
    parts = [p for r in results for t_ in r.triples for p in (t_.subject, t_.relation, t_.object)]
    return {
        "sentences": len(examples),
        "gold": scores.gold,
        "predicted": scores.predicted,
        "precision": 100 * scores.precision,
        "recall": 100 * scores.recall,
        "f1": 100 * scores.f1,
        "auc": 100 * scores.auc,
        "threshold": scores.threshold,
        "grounded_parts": sum(p.grounded for p in parts if p.text) / max(1, sum(1 for p in parts if p.text)),
        "stats": _stats(results),
        "prompt": task.prompt.id,
        "seconds_per_sentence": seconds / max(1, len(examples)),
    }


def bench_table(args: argparse.Namespace, backend: Any) -> dict[str, Any]:
    from ieforge.data.ondemand import build_table_cases
    from ieforge.evaluate import PRF
    from ieforge.evaluate.tables import table_cell_prf
    from ieforge.tasks.ondemand import TableTask

    cases = build_table_cases(args.data_dir, n_per_source=max(1, args.limit // 2), seed=0)
    task = TableTask(backend, batch_size=args.batch_size)
    t = time.perf_counter()
    results = list(
        task.run_many(
            [c.text for c in cases],
            [c.instruction for c in cases],
            [c.headers for c in cases],
            texts_per_batch=args.batch_size,
        )
    )
    seconds = time.perf_counter() - t
    total = PRF()
    by_source: dict[str, PRF] = {}
    for case, res in zip(cases, results):
        prf = table_cell_prf([case.rows], [res.records()])
        total += prf
        kind = case.source.split(":")[0]
        by_source.setdefault(kind, PRF())
        by_source[kind] += prf
    return {
        "cases": len(cases),
        "cells": _prf(total),
        "by_source": {k: _prf(v) for k, v in sorted(by_source.items())},
        "stats": _stats(results),
        "prompt": task.prompt.id,
        "seconds_per_case": seconds / max(1, len(cases)),
    }


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from ieforge.models import load_model

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    backend = load_model(args.model)
    out: dict[str, Any] = {"model": args.model, "bench": args.bench, "limit": args.limit}
    out["load_seconds"] = time.perf_counter() - t0
    bench = {"casie": bench_casie, "rams": bench_rams, "carb": bench_carb, "table": bench_table}[args.bench]
    out.update(bench(args, backend))
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, out_name="events_openie_table.json", limit=10, batch_size=8)
    ap.add_argument("--bench", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    out_path = Path(args.out)
    rows: list[Any] = json.loads(out_path.read_text()) if out_path.exists() else []
    for model in args.models.split(","):
        for bench in args.bench.split(","):
            res = run_worker(__file__, args, model, "--bench", bench)
            if res is None:
                continue
            rows = [r for r in rows if not (r["model"] == model and r["bench"] == bench)] + [res]
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(json.dumps(rows, indent=2) + "\n")
            print(json.dumps(res)[:400], file=sys.stderr)


if __name__ == "__main__":
    main()
