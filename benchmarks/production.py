"""Corpus runs end to end, the way a user runs them: `ieforge run` on the same NER corpus in this process,
through the OpenAI-compatible backend against `ieforge serve` on loopback (clean, and behind a proxy that
fails a share of the requests), and on Ray Data with one and two workers.

Each configuration is one `ieforge run` command, one after the other in the same session; the figures
are the run's own summary line (documents per second, excluding model loading) and the command's wall
time (including it). The proxy is the test suite's fault-injecting proxy (tests/faultproxy.py).

    python benchmarks/production.py run --limit 40 --configs local,openai,openai-faults,ray:1,ray:2
    python benchmarks/production.py table benchmarks/results/production_smollm2.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, ROOT

LABELS = "algorithm,field,researcher,organisation"
# 3 requests in 10 fail once: a rate limit, a server error, a dropped connection
FAULTS = ["ok", "429", "ok", "ok", "500", "ok", "ok", "drop", "ok", "ok"]
SUMMARY = re.compile(r"wrote (\d+) records to .*? in ([\d.]+) s \(([\d.]+) docs/s\); (\d+) errors", re.S)


def _corpus(path: Path, data_dir: str, limit: int) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from ieforge.data import read_bio

    examples = read_bio(Path(data_dir) / "crossner_ai" / "test.txt")[:limit]
    path.write_text(
        "".join(json.dumps({"id": f"ai-{i}", "text": e.text}) + "\n" for i, e in enumerate(examples))
    )
    return len(examples)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ieforge(*args: str) -> list[str]:
    return [sys.executable, "-c", "from ieforge.cli import main; main()", *args]


def _serve(model: str, threads: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    proc = subprocess.Popen(
        _ieforge("--threads", str(threads), "serve", "--model", model, "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc, port
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("ieforge serve did not come up")


def _one(config: str, args: argparse.Namespace, corpus: Path, out: Path) -> dict[str, Any]:
    common = ["run", "--task", "ner", "--labels", LABELS, "-i", str(corpus), "-o", str(out)]
    common += ["--max-new-tokens", str(args.max_new_tokens)]
    server = proxy = None
    extra: dict[str, Any] = {}
    try:
        if config == "local":
            cmd = _ieforge("--threads", str(args.threads), *common, "--model", args.model)
        elif config.startswith("openai"):
            server, port = _serve(args.model, args.threads)
            url = f"http://127.0.0.1:{port}/v1"
            if config == "openai-faults":
                sys.path.insert(0, str(ROOT / "tests"))
                from faultproxy import FaultProxy

                proxy = FaultProxy(port, FAULTS, cycle=True).__enter__()
                url = proxy.url
            cmd = _ieforge(*common, "--model", f"openai:{args.model}", "--base-url", url)
        elif config.startswith("ray:"):
            workers = int(config.split(":")[1])
            cmd = _ieforge(*common, "--model", args.model, "--engine", "ray", "--workers", str(workers))
        else:
            raise SystemExit(f"unknown configuration {config}")
        start = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
        wall = time.perf_counter() - start
        if proxy is not None:
            actions = proxy.actions()
            extra = {"requests": len(actions), "faults": sum(a != "ok" for a in actions)}
    finally:
        if proxy is not None:
            proxy.__exit__(None, None, None)
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
    m = SUMMARY.search(res.stderr)
    if res.returncode != 0 or m is None:
        raise SystemExit(f"{config} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    return {
        "config": config,
        "written": int(m.group(1)),
        "seconds": float(m.group(2)),
        "docs_per_s": float(m.group(3)),
        "errors": int(m.group(4)),
        "wall_s": round(wall, 1),
        "unique_ids": len({r["id"] for r in lines}),
        "entities": sum(len(r.get("entities", [])) for r in lines),
        **extra,
    }


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        n = _corpus(corpus, args.data_dir, args.limit)
        rows = []
        for config in args.configs.split(","):
            row = _one(config, args, corpus, Path(tmp) / f"{config.replace(':', '_')}.jsonl")
            print(json.dumps(row), flush=True)
            rows.append(row)
    result = {"model": args.model, "documents": n, "labels": LABELS.split(","), "configs": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    table(result)


def table(result: dict[str, Any]) -> None:
    base = next((r for r in result["configs"] if r["config"] == "local"), result["configs"][0])
    print(
        f"{result['model']}, {result['documents']} CrossNER AI test sentences, {len(result['labels'])} types"
    )
    print("| configuration | docs/s | vs local | run s | wall s (with loading) | errors | documents |")
    print("|---|---|---|---|---|---|---|")
    for r in result["configs"]:
        ratio = r["docs_per_s"] / base["docs_per_s"] if base["docs_per_s"] else 0
        faults = f" ({r['faults']} of {r['requests']} requests failed)" if "faults" in r else ""
        print(
            f"| {r['config']}{faults} | {r['docs_per_s']:.2f} | {ratio:.2f}x | {r['seconds']:.1f} | "
            f"{r['wall_s']:.1f} | {r['errors']} | {r['unique_ids']}/{r['written']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("run")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--limit", type=int, default=40)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--configs", default="local,openai,openai-faults,ray:1,ray:2")
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "production_smollm2.json"))
    t = sub.add_parser("table")
    t.add_argument("path")
    args = parser.parse_args()
    if args.step == "run":
        run(args)
    else:
        table(json.loads(Path(args.path).read_text()))


if __name__ == "__main__":
    main()
