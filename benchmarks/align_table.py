"""Print the issue-6 tables (base vs SFT vs SFT+DPO) from the reports `align_adelie.sh` wrote.

Usage (from the repository root): python benchmarks/align_table.py [--run runs/align]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
STAGES = ("base", "sft", "dpo")
CROSSNER = ("crossner_ai", "crossner_literature", "crossner_music")


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def ner_rows(reports: list[tuple[str, str]] | None = None) -> list[str]:
    """One row per ``(label, report file)`` (default: the alignment stages)."""
    reports = reports or [(stage, f"align_ner_{stage}.json") for stage in STAGES]
    head = (
        "| model | AI F1 | literature F1 | music F1 | **CrossNER avg F1** | CoNLL-2003 F1 | CrossNER P / R"
        " | strings not in text | s / sentence |"
    )
    rows = [head, "|" + "---|" * 9]
    for stage, name in reports:
        report = _load(name)
        if report is None:
            continue
        by = {d["name"]: d for d in report["datasets"]}
        cross = [by[n] for n in CROSSNER if n in by]
        f1s = [d["scores"]["f1"] for d in cross]
        tp = sum(d["scores"]["tp"] for d in cross)
        fp = sum(d["scores"]["fp"] for d in cross)
        fn = sum(d["scores"]["fn"] for d in cross)
        strings = sum(d["parse_stats"]["strings"] for d in cross)
        ungrounded = sum(d["parse_stats"]["ungrounded"] for d in cross)
        sentences = sum(d["computed"] for d in cross)
        seconds = sum(d["seconds"] for d in cross)
        cells = [
            stage,
            *(_pct(by[n]["scores"]["f1"]) if n in by else "-" for n in CROSSNER),
            f"**{_pct(sum(f1s) / len(f1s))}**" if f1s else "-",
            _pct(by["conll2003"]["scores"]["f1"]) if "conll2003" in by else "-",
            f"{_pct(tp / (tp + fp) if tp + fp else 0.0)} / {_pct(tp / (tp + fn) if tp + fn else 0.0)}",
            f"{ungrounded}/{strings}",
            f"{seconds / sentences:.1f}" if sentences else "-",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def re_rows() -> list[str]:
    rows = [
        "| model | SemEval dev F1 (QA4RE letters) | most-chosen label (share) | s / pair |",
        "|---|---|---|---|",
    ]
    for stage in STAGES:
        report = _load(f"align_re_{stage}.json")
        if report is None:
            continue
        d = report["datasets"][0]
        top = f"{d.get('top_label')} ({_pct(d.get('top_label_share'))}%)"
        rows.append(
            f"| {stage} | {_pct(d['scores']['f1'])} | {top} | {d['seconds'] / max(1, d['computed']):.2f} |"
        )
    return rows


def times(run: Path) -> list[str]:
    path = run / "times.tsv"
    if not path.is_file():
        return []
    rows = ["| step | wall time |", "|---|---|"]
    for line in path.read_text().splitlines():
        name, seconds = line.split("\t")
        rows.append(f"| {name} | {int(seconds) // 60} min {int(seconds) % 60} s |")
    return rows


def records(run: Path, stages: tuple[str, ...] = ("sft", "dpo")) -> list[str]:
    rows = ["| model | examples / pairs | steps | train loss | train time |", "|---|---|---|---|---|"]
    for stage in stages:
        path = run / stage / "ieforge-train.json"
        if not path.is_file():
            continue
        r = json.loads(path.read_text())
        data = r["data"].get("examples", r["data"].get("pairs"))
        rows.append(
            f"| {stage} | {data} | {r['steps']} | {r['train_loss']:.3f} | {r['train_seconds'] / 60:.1f} min |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", default="runs/align")
    run = Path(parser.parse_args().run)
    for block in (ner_rows(), re_rows(), records(run), times(run)):
        print("\n".join(block) + "\n")


if __name__ == "__main__":
    main()
