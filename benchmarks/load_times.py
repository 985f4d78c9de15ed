"""First load (GGUF dequantization + caching) vs later loads (converted-model cache), per catalogue model.

Each load runs in a fresh process with a private, initially empty ``$IEFORGE_HOME``, so the first load does
the whole path (sha256 check, joining split files, transformers GGUF load, safetensors save) and the
second reads the cache.

    python benchmarks/load_times.py --out benchmarks/results/load_times.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = (
    "import time, resource; t = time.perf_counter(); from ieforge.models import load_model; "
    "load_model({name!r}); print(time.perf_counter() - t, "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2)"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load_times.json"))
    args = ap.parse_args()
    rows = []
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "IEFORGE_HOME": home, "OMP_NUM_THREADS": "2"}
            times = []
            for _ in range(2):
                proc = subprocess.run(
                    [sys.executable, "-c", CODE.format(name=name)], env=env, capture_output=True, text=True
                )
                if proc.returncode != 0:
                    raise SystemExit(f"{name}: {proc.stderr.strip().splitlines()[-1]}")
                seconds, rss = map(float, proc.stdout.split())
                times.append((seconds, rss))
        rows.append(
            {
                "model": name,
                "first_s": times[0][0],
                "first_rss_gb": times[0][1],
                "cached_s": times[1][0],
                "cached_rss_gb": times[1][1],
            }
        )
        print(f"{name}: first {times[0][0]:.1f} s, cached {times[1][0]:.1f} s", file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print("| model | first load, s | peak RSS GB | cached load, s | peak RSS GB | speed-up |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['first_s']:.1f} | {r['first_rss_gb']:.1f} | {r['cached_s']:.1f} | "
            f"{r['cached_rss_gb']:.1f} | {r['first_s'] / r['cached_s']:.0f}x |"
        )


if __name__ == "__main__":
    main()
