"""Shared plumbing of the benchmark scripts: paths, common flags, one subprocess per model."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("IEFORGE_DATA", ROOT.parent / "shared" / "data"))
ALL_MODELS = "smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b"


def add_common_args(ap: argparse.ArgumentParser, *, out_name: str, limit: int, batch_size: int) -> None:
    ap.add_argument("--models", default=ALL_MODELS)
    ap.add_argument("--limit", type=int, default=limit)
    ap.add_argument("--batch-size", type=int, default=batch_size)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / out_name))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)


def run_worker(script: str, args: argparse.Namespace, model: str, *extra: str) -> Any | None:
    """Run ``script --worker`` for one model in a fresh process; its last stdout line is JSON."""
    cmd = [sys.executable, script, "--worker", "--model", model, "--limit", str(args.limit)]
    cmd += ["--batch-size", str(args.batch_size), "--threads", str(args.threads), "--data-dir", args.data_dir]
    cmd += extra
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print(f"{model} {' '.join(extra)}: failed (exit {proc.returncode})", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])
