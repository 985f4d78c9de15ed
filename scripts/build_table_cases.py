"""Write the on-demand IE table cases (ieforge.data.ondemand.build_table_cases) to a JSONL file.

Usage (from the repository root):

    python scripts/build_table_cases.py DATA_DIR OUT.jsonl [--n 15] [--seed 0]

DATA_DIR is the shared benchmark data folder holding ``webnlg`` and ``conll2003``. The cases hold
sentences of those datasets, so write them outside the repository (the benchmarks build them at run
time instead of reading a copy).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from ieforge.data.ondemand import build_table_cases, write_table_cases
from ieforge.errors import InputError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build on-demand IE table cases from WebNLG and CoNLL-2003.")
    parser.add_argument("data_dir", type=Path, help="folder holding webnlg/ and conll2003/")
    parser.add_argument("out", type=Path, help="JSONL file to write")
    parser.add_argument("--n", type=int, default=15, help="cases per source (default 15)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("--n must be >= 0")
    try:
        cases = build_table_cases(args.data_dir, n_per_source=args.n, seed=args.seed)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_table_cases(cases, args.out)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    kinds = Counter(case.kind for case in cases)
    print(f"wrote {len(cases)} cases to {args.out}")
    for kind, count in sorted(kinds.items()):
        print(f"  {kind}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
