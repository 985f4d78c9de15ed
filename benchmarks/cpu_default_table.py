"""Print the issue-10 tables from the reports `cpu_default.sh` wrote: NER single- vs two-stage for every
catalogue model and the shipped adapter, QA4RE on SemEval, and the side-by-side speed run.

Usage (from the repository root): python benchmarks/cpu_default_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CROSSNER = ["crossner_ai", "crossner_literature", "crossner_music"]
COLUMNS = [*CROSSNER, "conll2003"]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def first_k_avg(report: dict, k: int) -> float | None:  # type: ignore[type-arg]
    """CrossNER average F1 over the first ``k`` sentences of each domain (rows measured on more sentences
    compared with those measured on fewer); None when the run has fewer."""
    from ieforge.evaluate import span_prf
    from ieforge.evaluate.runner import load_ner_dataset
    from ieforge.types import Entity

    f1s = []
    for d in report["datasets"]:
        if d["name"] not in CROSSNER:
            continue
        if d["examples"] < k:
            return None
        gold = {x.id: x.entities or [] for x in load_ner_dataset(d["name"], d["path"]).examples}
        preds = d["predictions"][:k]
        prf = span_prf([gold[p["id"]] for p in preds], [[Entity(**e) for e in p["entities"]] for p in preds])
        f1s.append(prf.f1)
    return sum(f1s) / len(f1s)


def ner_rows(k: int = 12) -> list[str]:
    rows = [
        "| run | model | NER | sentences per dataset | AI | literature | music | **CrossNER avg** "
        f"| CrossNER avg, first {k} | CoNLL-2003 | CrossNER P / R | s / sentence |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(RESULTS.glob("cpu_default_*.json")):
        skip = ("cpu_default_re_", "cpu_default_speed", "cpu_default_dev_")  # (dev: the tune step's table)
        if path.stem.startswith(skip) or path.stem.endswith("_record"):
            continue
        report = json.loads(path.read_text())
        by = {d["name"]: d for d in report["datasets"]}
        cross = [by[k] for k in CROSSNER if k in by]
        avg = sum(d["scores"]["f1"] for d in cross) / len(cross)
        tp = sum(d["scores"]["tp"] for d in cross)
        fp = sum(d["scores"]["fp"] for d in cross)
        fn = sum(d["scores"]["fn"] for d in cross)
        examples = sum(d["examples"] for d in report["datasets"])
        computed = sum(d["computed"] for d in report["datasets"])
        seconds = sum(d["seconds"] for d in report["datasets"])
        speed = f"{seconds / examples:.2f}" if computed == examples else "(cached)"
        f1 = [_pct(by[k]["scores"]["f1"]) if k in by else "-" for k in COLUMNS]
        rows.append(
            f"| {path.stem.removeprefix('cpu_default_')} | {report['model']} | "
            f"{', '.join(report['prompts'])} | {cross[0]['examples']} | "
            f"{' | '.join(f1[:3])} | **{100 * avg:.1f}** | {_pct(first_k_avg(report, k))} | {f1[3]} | "
            f"{_pct(tp / max(1, tp + fp))} / {_pct(tp / max(1, tp + fn))} | {speed} |"
        )
    return rows


def re_rows() -> list[str]:
    rows = [
        "| model | reading | pairs | F1 (no Other) | P / R | top label share |",
        "|---|---|---|---|---|---|",
    ]
    for path in sorted(RESULTS.glob("cpu_default_re_*.json")):
        report = json.loads(path.read_text())
        (d,) = report["datasets"]
        s = d["scores"]
        rows.append(
            f"| {report['model']} | {', '.join(report['prompts'])} | {d['examples']} | {_pct(s['f1'])} | "
            f"{_pct(s['precision'])} / {_pct(s['recall'])} | {d.get('top_label')} "
            f"{_pct(d.get('top_label_share'))}% |"
        )
    return rows


def speed_rows() -> list[str]:
    path = RESULTS / "cpu_default_speed.json"
    if not path.is_file():
        return []
    runs = json.loads(path.read_text())["runs"]
    base = runs[0]["seconds_per_sentence"]
    rows = [
        "| model | NER | CrossNER avg F1 | s / sentence | vs today's default | peak RSS GB |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        s = r["seconds_per_sentence"]
        rows.append(
            f"| {r['model']} | {r['prompt']} | {100 * r['avg_f1']:.1f} | {s:.2f} | {s / base:.2f}x "
            f"| {r['peak_rss_gb']:.1f} |"
        )
    return rows


def main() -> None:
    import sys

    sys.path.insert(0, str(RESULTS.parents[1] / "src"))
    for block in (ner_rows(), re_rows(), speed_rows()):
        if len(block) > 2:
            print("\n".join(block) + "\n")


if __name__ == "__main__":
    main()
