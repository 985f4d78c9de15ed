"""Corpus runs without a model: checking, error records, retries, shards and resuming.

The jobs here are small Job subclasses the tests define (they transform text instead of calling a
model); the runner under test is the real one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ieforge.errors import InputError
from ieforge.runs import execute, make_job, plan_run
from ieforge.runs.jobs import Job, RelationJob, TableJob
from ieforge.runs.jsonl import drop_errors
from ieforge.runs.local import error_line


@dataclass(frozen=True)
class Shout(Job):
    """Upper-cases each text; a text containing 'boom' fails (the whole batch raises)."""

    task: ClassVar[str] = "shout"
    calls: list[int] | None = None  # batch sizes seen

    def check(self, record: dict[str, Any]) -> None:
        if record["text"] == "":
            raise InputError("empty text")

    def results(self, ex: Any, records: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.calls is not None:
            self.calls.append(len(records))
        for r in records:
            if "boom" in r["text"]:
                raise RuntimeError(f"cannot shout {r['text']!r}\nsecond line")
            yield {"shout": r["text"].upper()}


def corpus(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_a_failing_document_costs_only_itself(tmp_path: Path) -> None:
    calls: list[int] = []
    inp = corpus(tmp_path / "in.jsonl", ["a", "b", "boom", "c", "d"])
    plan = plan_run(inp, tmp_path / "out.jsonl", Shout(calls=calls))
    summary = execute(plan, None, chunk_size=4)  # type: ignore[arg-type]
    out = lines(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == ["d0", "d1", "d2", "d3", "d4"]
    assert [r.get("shout") for r in out] == ["A", "B", None, "C", "D"]
    assert out[2]["error"] == "RuntimeError: cannot shout 'boom'"
    assert out[2]["text"] == "boom"  # the input record is kept whole
    # the first chunk failed at its third record: the rest of it was retried one by one
    assert calls == [4, 1, 1, 1]
    assert (summary.written, summary.errors) == (5, 1)
    assert summary.messages == {"RuntimeError: cannot shout 'boom'": 1}


def test_retry_errors_runs_only_the_failed_documents_again(tmp_path: Path) -> None:
    inp = corpus(tmp_path / "in.jsonl", ["a", "boom", "c"])
    out = tmp_path / "out.jsonl"
    execute(plan_run(inp, out, Shout()), None)  # type: ignore[arg-type]
    # a plain rerun has nothing to do: error records count as done
    assert plan_run(inp, out, Shout()).pending == 0
    inp.write_text(inp.read_text().replace("boom", "fixed"))
    plan = plan_run(inp, out, Shout(), retry_errors=True)
    assert (plan.retried, plan.pending) == (1, 1)
    assert execute(plan, None).errors == 0  # type: ignore[arg-type]
    got = {r["id"]: r for r in lines(out)}
    assert len(lines(out)) == 3 and got["d1"]["shout"] == "FIXED" and "error" not in got["d1"]


def test_a_run_stops_when_everything_fails(tmp_path: Path) -> None:
    inp = corpus(tmp_path / "in.jsonl", ["boom"] * 8 + ["fine"])
    out = tmp_path / "out.jsonl"
    summary = execute(plan_run(inp, out, Shout()), None, max_failures_in_a_row=3)  # type: ignore[arg-type]
    assert summary.stopped is not None and "3 documents failed in a row" in summary.stopped
    assert summary.written == 3 and len(lines(out)) == 3


def test_check_fails_before_any_work_naming_file_and_line(tmp_path: Path) -> None:
    inp = corpus(tmp_path / "in.jsonl", ["a", "b", ""])
    with pytest.raises(InputError, match=r"in\.jsonl:3: empty text"):
        plan_run(inp, tmp_path / "out.jsonl", Shout())
    assert not (tmp_path / "out.jsonl").exists()
    inp.write_text('{"text": "a", "error": "mine"}\n')
    with pytest.raises(InputError, match=r"in\.jsonl:1: the field 'error' is kept"):
        plan_run(inp, tmp_path / "out.jsonl", Shout())


def test_shards_split_the_corpus_and_each_resumes_alone(tmp_path: Path) -> None:
    texts = [f"text {i}" for i in range(40)]
    inp = corpus(tmp_path / "in.jsonl", texts)
    parts = []
    for k in range(3):
        out = tmp_path / f"out{k}.jsonl"
        plan = plan_run(inp, out, Shout(), shard=(k, 3))
        execute(plan, None)  # type: ignore[arg-type]
        assert plan_run(inp, out, Shout(), shard=(k, 3)).pending == 0
        parts.append([r["id"] for r in lines(out)])
    every = [i for part in parts for i in part]
    assert sorted(every) == sorted(f"d{i}" for i in range(40)) and all(parts)


def test_a_torn_last_line_is_redone(tmp_path: Path) -> None:
    inp = corpus(tmp_path / "in.jsonl", ["a", "b", "c"])
    out = tmp_path / "out.jsonl"
    execute(plan_run(inp, out, Shout()), None)  # type: ignore[arg-type]
    full = out.read_text()
    out.write_text(full[: full.index("d2") + 5])  # killed while writing the third line
    plan = plan_run(inp, out, Shout())
    assert plan.pending == 1
    execute(plan, None)  # type: ignore[arg-type]
    assert out.read_text() == full


def test_drop_errors_keeps_every_other_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(
        '{"id": 1, "text": "a", "x": 1}\n'
        '{"id": 2, "text": "b", "error": "E"}\n'
        '{"id": 3, "text": "c", "x": 3}\n'
    )
    assert drop_errors(out) == 1
    assert [r["id"] for r in lines(out)] == [1, 3]
    assert drop_errors(out) == 0 and drop_errors(tmp_path / "missing.jsonl") == 0


def test_error_line_is_one_line() -> None:
    assert error_line(ValueError("first\nsecond")) == "ValueError: first"
    assert len(error_line(ValueError("x" * 2000))) == 500


def test_job_options_are_checked() -> None:
    with pytest.raises(InputError, match="ner needs entity types"):
        make_job("ner")
    with pytest.raises(InputError, match="unknown task 'nre'"):
        make_job("nre")
    with pytest.raises(InputError, match="method is qa4re or vanilla, not 'qa5re'"):
        make_job("re", method="qa5re")
    with pytest.raises(InputError, match="reading is letters, generate, verify or score, not 'guess'"):
        make_job("re", reading="guess")
    with pytest.raises(InputError, match="--detection"):
        make_job("events", detection="sometimes")


def test_record_checks_of_the_tasks() -> None:
    re_job = RelationJob()
    re_job.check({"text": "Ann met Bob.", "head": "Ann", "tail": "Bob"})
    re_job.check({"text": "Ann met Bob.", "head": [0, 3], "tail": [8, 11]})
    re_job.check({"text": "No pair here."})  # end-to-end extraction
    with pytest.raises(InputError, match="tail 'Cy' does not occur"):
        re_job.check({"text": "Ann met Bob.", "head": "Ann", "tail": "Cy"})
    with pytest.raises(InputError, match="give both head and tail"):
        re_job.check({"text": "Ann met Bob.", "head": "Ann"})
    table = TableJob(headers=("name",))
    with pytest.raises(InputError, match="no 'instruction'"):
        table.check({"text": "t"})
    table.check({"text": "t", "instruction": "List the names."})
    with pytest.raises(InputError, match="'headers' must be a list of strings"):
        table.check({"text": "t", "instruction": "List.", "headers": "name"})
