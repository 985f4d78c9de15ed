"""Print the issue-7 tables (student before / after distillation, teacher, speed) from the reports
`distill_uniner.sh` wrote.

Usage (from the repository root): python benchmarks/distill_table.py [--run runs/distill]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from align_table import RESULTS, ner_rows, records, times

REPORTS = [
    ("SmolLM2-135M base, published `uniner` prompt", "distill_ner_base-uniner.json"),
    ("SmolLM2-135M base, `uniner-json` (issue 6)", "align_ner_base.json"),
    ("SmolLM2-135M distilled student, `uniner`", "distill_ner_student.json"),
    ("teacher Qwen2.5-Coder-1.5B, `uniner-json`", "distill_ner_teacher.json"),
]


def speed_rows() -> list[str]:
    path = RESULTS / "distill_speed.json"
    if not path.is_file():
        return []
    runs = json.loads(path.read_text())["runs"]
    rows = [
        "| model | prompt | CrossNER avg F1 | s / sentence | sentences / s | peak RSS GB |",
        "|---|---|---|---|---|---|",
    ]
    slowest = max(r["seconds_per_sentence"] for r in runs)
    for r in runs:
        s = r["seconds_per_sentence"]
        rows.append(
            f"| {r['model']} | {r['prompt']} | {100 * r['avg_f1']:.1f} | {s:.1f} ({slowest / s:.1f}x) "
            f"| {1 / s:.2f} | {r['peak_rss_gb']:.1f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", default="runs/distill")
    run = Path(parser.parse_args().run)
    for block in (ner_rows(REPORTS), speed_rows(), records(run, ("student",)), times(run)):
        if block:
            print("\n".join(block) + "\n")


if __name__ == "__main__":
    main()
