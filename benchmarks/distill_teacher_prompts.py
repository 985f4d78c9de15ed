"""Compare the teacher's answers under two prompts on the same passages: how many (entity, type) pairs,
how many of their strings are not in the passage, how many part-of-speech "types", how many types.

Usage (from the repository root), as `distill_uniner.sh teacher-prompts` runs it:
    python benchmarks/distill_teacher_prompts.py runs/distill/annotations.jsonl \
        runs/distill/annotations_open-json.jsonl --out benchmarks/results/distill_teacher_prompts.json
Only passages present in every file are counted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ieforge.distill import read_annotations
from ieforge.distill.build import GRAMMATICAL_TYPES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out")
    args = ap.parse_args()
    runs = {f: {a.id: a for a in read_annotations(f)} for f in args.files}
    common = sorted(set.intersection(*(set(r) for r in runs.values())))
    rows = []
    for f, anns in runs.items():
        picked = [anns[i] for i in common]
        pairs = sum(a.stats.pairs for a in picked)
        ungrounded = sum(a.stats.ungrounded for a in picked)
        entities = [e for a in picked for e in a.entities]
        rows.append(
            {
                "file": Path(f).name,
                "prompt": picked[0].prompt if picked else "",
                "passages": len(picked),
                "pairs": pairs,
                "ungrounded": ungrounded,
                "ungrounded_share": ungrounded / pairs if pairs else 0.0,
                "entities": len(entities),
                "part_of_speech_entities": sum(1 for e in entities if e.type in GRAMMATICAL_TYPES),
                "types": len({e.type for e in entities}),
            }
        )
    print("| prompt | passages | pairs | not in passage | entities | part-of-speech types | types |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['prompt']} | {r['passages']} | {r['pairs']} | {r['ungrounded']} "
            f"({100 * r['ungrounded_share']:.0f}%) | {r['entities']} | {r['part_of_speech_entities']} "
            f"| {r['types']} |"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
