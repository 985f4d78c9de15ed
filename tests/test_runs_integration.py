"""Corpus runs with the real SmolLM2 on CrossNER sentences: killed with SIGKILL at random moments and
restarted, every document ends up in the output exactly once with the answer an uninterrupted run
gives; the Ray engine writes what the local engine writes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL_MODEL, shared_data

pytestmark = pytest.mark.model

LABELS = "algorithm,field,researcher,organisation"


def crossner_corpus(path: Path, n: int) -> list[str]:
    from ieforge.data import read_bio

    examples = read_bio(shared_data("crossner_ai", "test.txt"))[:n]
    ids = [f"ai-{i}" for i in range(len(examples))]
    path.write_text(
        "".join(json.dumps({"id": i, "text": e.text}) + "\n" for i, e in zip(ids, examples)),
        encoding="utf-8",
    )
    return ids


def run_command(inp: Path, out: Path) -> list[str]:
    # one document per chunk: each answer is then independent of where a restart cut the corpus
    return [
        sys.executable,
        "-c",
        "from ieforge.cli import main; main()",
        "run",
        "--task",
        "ner",
        "--labels",
        LABELS,
        "--input",
        str(inp),
        "--output",
        str(out),
        "--model",
        SMALL_MODEL,
        "--dtype",
        "float32",
        "--max-new-tokens",
        "16",
        "--chunk-size",
        "1",
    ]


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def read_out(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def same_record(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Equal records; entity scores equal up to float32 rounding (threads may sum in another order)."""
    assert {k: v for k, v in a.items() if k != "entities"} == {k: v for k, v in b.items() if k != "entities"}
    assert [{**e, "score": None} for e in a["entities"]] == [{**e, "score": None} for e in b["entities"]]
    assert [e["score"] for e in a["entities"]] == pytest.approx([e["score"] for e in b["entities"]], abs=1e-4)


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(model_home: Path, tmp_path: Path) -> None:
    inp = tmp_path / "corpus.jsonl"
    ids = crossner_corpus(inp, 8)
    env = {**os.environ, "IEFORGE_HOME": str(model_home), "IEFORGE_THREADS": "2"}

    reference = tmp_path / "reference.jsonl"
    subprocess.run(run_command(inp, reference), env=env, check=True, capture_output=True, timeout=600)

    out = tmp_path / "out.jsonl"
    rng = random.Random(20261129)
    kills = 0
    for _ in range(3):
        before = count_lines(out)
        proc = subprocess.Popen(
            run_command(inp, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # kill after a random number of new lines (0: possibly while still loading) plus a random
        # fraction of a document's time, which lands some kills in the middle of a write
        wait_for = rng.randint(0, 2)
        deadline = time.monotonic() + 300
        while count_lines(out) < before + wait_for and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        assert proc.stderr is not None
        proc.stderr.close()
    assert kills >= 2
    done = subprocess.run(run_command(inp, out), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    got = read_out(out)
    assert sorted(r["id"] for r in got) == sorted(ids)  # every document, exactly once
    assert not any("error" in r for r in got)
    by_id = {r["id"]: r for r in got}
    for ref in read_out(reference):
        same_record(by_id[ref["id"]], ref)
        for e in ref["entities"]:
            assert ref["text"][e["start"] : e["end"]] == e["text"]


def test_ray_engine_writes_what_the_local_engine_writes(model_home: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from ieforge.extractor import Extractor
    from ieforge.runs import execute, make_job, plan_run
    from ieforge.runs.ray_engine import execute_ray

    inp = tmp_path / "corpus.jsonl"
    ids = crossner_corpus(inp, 10)
    job = make_job("ner", labels=LABELS.split(","))
    options = {"model": SMALL_MODEL, "dtype": "float32", "max_new_tokens": 16}

    local_out = tmp_path / "local.jsonl"
    execute(plan_run(inp, local_out, job), Extractor(**options), chunk_size=3)

    ray_out = tmp_path / "ray.jsonl"
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"IEFORGE_HOME": str(model_home)}},
    )
    try:
        # a first part of the corpus, then a resumed run for the rest
        half = tmp_path / "half.jsonl"
        half.write_text("".join(inp.read_text().splitlines(keepends=True)[:4]))
        execute_ray(plan_run(half, ray_out, job), options, workers=1, chunk_size=3)
        plan = plan_run(inp, ray_out, job)
        assert plan.pending == 6
        summary = execute_ray(plan, options, workers=1, chunk_size=3)
    finally:
        ray.shutdown()
    assert summary.written == 6 and summary.errors == 0
    assert [r["id"] for r in read_out(ray_out)] == ids
    local = {r["id"]: r for r in read_out(local_out)}
    for rec in read_out(ray_out):
        same_record(rec, local[rec["id"]])
