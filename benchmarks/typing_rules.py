"""Choose two-stage NER's typing threshold and flat setting from one evaluation run.

The run must keep every typed candidate (threshold 0, no flat): each entity's score is then the typing
probability of its type, so every threshold, with and without flat NER, can be scored from the same
predictions (strict span F1 against the dataset files the report names). Use it on dev splits; the
chosen setting is then measured on the test splits by its own run.

Usage (from the repository root):
  python benchmarks/typing_rules.py benchmarks/results/cpu_default_dev_qwen2.5-coder-0.5b-cloze-cal.json \
      [--out table.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ieforge.evaluate import span_prf
from ieforge.evaluate.runner import load_ner_dataset
from ieforge.tasks.ner import flatten_entities
from ieforge.types import Entity

THRESHOLDS = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report")
    parser.add_argument("--out", help="also write the table (markdown) here")
    args = parser.parse_args()
    report = json.loads(Path(args.report).read_text())
    if report["options"].get("typing_threshold") or report["options"].get("flat"):
        raise SystemExit("the run must keep every typed candidate (no --typing-threshold, no --flat)")
    data = []
    for d in report["datasets"]:
        gold = {x.id: x.entities or [] for x in load_ner_dataset(d["name"], d["path"]).examples}
        preds = [(p["id"], [Entity(**e) for e in p["entities"]]) for p in d["predictions"]]
        data.append((d["name"], [gold[i] for i, _ in preds], [ents for _, ents in preds]))
    names = [name for name, _, _ in data]
    crossner = [n for n in names if n.startswith("crossner")]
    lines = [
        f"Typing threshold and flat NER on `{Path(args.report).name}` ({report['prompts'][0]}, "
        f"{data[0][1].__len__()} sentences per dataset), strict span F1:",
        "",
        "| threshold | flat | " + " | ".join(names) + " | CrossNER avg |",
        "|---|---|" + "---|" * (len(names) + 1),
    ]
    for threshold in THRESHOLDS:
        for flat in (False, True):
            f1 = {}
            for name, gold, preds in data:
                kept = [[e for e in ents if (e.score or 0.0) >= threshold] for ents in preds]
                if flat:
                    kept = [flatten_entities(ents) for ents in kept]
                f1[name] = span_prf(gold, kept).f1
            avg = sum(f1[n] for n in crossner) / len(crossner) if crossner else float("nan")
            cells = " | ".join(f"{100 * f1[n]:.1f}" for n in names)
            lines.append(f"| {threshold:g} | {'yes' if flat else 'no'} | {cells} | {100 * avg:.1f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
