"""Resumable JSONL results files (``ieforge.resumable``), driven as a user would: real files, real
processes killed with SIGKILL, a second run started on a file the first still writes, and the
command line's refusals before any model loads.

Texts carry U+2028, U+2029, U+0085 and form feeds: records are written with ``ensure_ascii=False``, so
these characters sit raw inside the lines, and any reader that splits on more than ``\\n`` breaks them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.errors import InputError
from ieforge.resumable import ResultsFile, check_run_paths
from ieforge.runs import execute, plan_run
from ieforge.runs.jsonl import done_ids, is_run_record

runner = CliRunner()
ODD = "\u2028\u2029\x85\x0c"  # line separators for str.splitlines(), ordinary characters in JSON strings

# a corpus run through the real runner whose job takes `delay` seconds per document (no model)
SLOW_RUN = """
import os, sys, time
from dataclasses import dataclass
from typing import ClassVar
from ieforge.runs import execute, plan_run
from ieforge.runs.jobs import Job

HOLD = sys.argv[4] if len(sys.argv) > 4 else None
written = 0

@dataclass(frozen=True)
class Slow(Job):
    task: ClassVar[str] = "slow"
    delay: float = 0.0

    def results(self, ex, records):
        global written
        for r in records:
            while written and HOLD and os.path.exists(HOLD):  # after the first document: wait for the test
                time.sleep(0.02)
            time.sleep(self.delay)
            written += 1
            yield {"upper": r["text"].upper()}

execute(plan_run(sys.argv[1], sys.argv[2], Slow(delay=float(sys.argv[3]))), None, chunk_size=1)
"""

# the evaluation cache written as `ieforge eval` writes it, slowly
SLOW_CACHE = """
import sys, time
from ieforge.evaluate.runner import PredictionCache

store = PredictionCache(sys.argv[1], "ner", "k" * 24)
store.load()
with store.writer() as add:
    for i in range(20):
        add(f"x{i}", {"entities": [{"text": f"a{sys.argv[2]}b{i}"}]})
        time.sleep(0.2)
"""


def corpus(path: Path, n: int, odd: str = ODD) -> list[dict[str, Any]]:
    records = [{"id": f"d{i}", "text": f"doc {i}:{odd}end {i}"} for i in range(n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return records


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").split("\n") if line]


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def start(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(proc: subprocess.Popen[str], path: Path, lines: int, timeout: float = 60) -> None:
    """SIGKILL ``proc`` once ``path`` holds ``lines`` lines."""
    deadline = time.monotonic() + timeout
    while count_lines(path) < lines and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stderr:
        proc.stderr.close()


def torn(record: dict[str, Any]) -> bytes:
    """What a kill in the middle of writing ``record`` leaves: its line cut inside a multi-byte
    character of the odd separators."""
    line = json.dumps(record, ensure_ascii=False).encode("utf-8")
    return line[: line.index("\u2029".encode()) + 1]


# ----- foreign files and the input as output ----------------------------------------------------------------


def ieforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from ieforge.cli import main; main()", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_foreign_output_and_the_input_as_output_are_left_byte_for_byte(tmp_path: Path) -> None:
    corpus(tmp_path / "in.jsonl", 2)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"notes\nline two")  # the issue's `printf 'notes\nline two'`
    inp = (tmp_path / "in.jsonl").read_bytes()
    (tmp_path / "link.jsonl").symlink_to("in.jsonl")
    cases = [
        (["-i", "in.jsonl", "-o", "notes.txt"], "notes.txt:1: not a result line"),
        (["-i", "in.jsonl", "-o", "in.jsonl"], "in.jsonl is the input file too"),
    ]
    for files, message in cases:  # real processes, as the issue ran them
        res = ieforge(
            "run", "--task", "ner", "-l", "person", "--model", "no-such-model", *files, cwd=tmp_path
        )
        assert res.returncode == 2, res.stderr
        assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert "no-such-model" not in res.stderr  # refused before any model was looked up
    (tmp_path / "sub").mkdir()
    for files in (
        ["-i", f"{tmp_path}/in.jsonl", "-o", f"{tmp_path}/sub/../link.jsonl"],
        ["-i", f"{tmp_path}/link.jsonl", "-o", f"{tmp_path}/in.jsonl"],
    ):  # the same file by another name
        res = runner.invoke(app, ["ner", "-l", "person", "--model", "no-such-model", *files])
        assert res.exit_code == 2 and "is the input file too" in res.output, res.output
    assert notes.read_bytes() == b"notes\nline two"
    assert (tmp_path / "in.jsonl").read_bytes() == inp


@pytest.mark.parametrize(
    "content",
    [
        b"notes\nline two",
        b"line two",
        b"id,text\n1,a\n",
        b'{"id": 1, "text": "a"}\nnot json\n{"id": 2, "te',
        b'{"id": 1, "text": "a"}\n{"id": 2, "te\n',  # a torn line inside the file is no kill of ours
        b'{"id": 1, "text": "a"}\n{"name": "x"}',  # a whole object of another shape
        b'{"id": 1, "text": "a"}\n{"id": 2}}',
        b'[{"id": 1, "text": "a"}',
        "\ufeff".encode() + b'{"id": 1, "text": "a"}\n',
    ],
)
def test_results_file_refuses_what_it_did_not_write(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"out\.jsonl:\d+: not a result line.*left unchanged"):
        ResultsFile(path, shape=is_run_record).open()
    assert path.read_bytes() == content


def test_a_torn_line_is_cut_and_a_whole_last_record_kept(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    first = json.dumps({"id": 1, "text": f"a{ODD}b"}, ensure_ascii=False).encode() + b"\n"
    path.write_bytes(first + torn({"id": 2, "text": f"c{ODD}d"}))
    assert done_ids(path) == {"1"} and path.read_bytes() == first
    second = json.dumps({"id": 2, "text": "e"}).encode()
    path.write_bytes(first + second)  # a record that lost only its newline is whole: kept
    assert done_ids(path) == {"1", "2"} and path.read_bytes() == first + second + b"\n"


def test_folders_are_named_as_folders(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"text": "a"}\n')
    with pytest.raises(InputError, match="is a folder, not a file"):
        check_run_paths(tmp_path / "in.jsonl", tmp_path)
    with pytest.raises(InputError, match="is a folder, not a file"):
        check_run_paths(tmp_path, tmp_path / "out.jsonl")


# ----- one writer at a time ---------------------------------------------------------------------------


def test_a_second_run_on_one_output_fails_at_once_and_every_id_is_written_once(tmp_path: Path) -> None:
    records = corpus(tmp_path / "in.jsonl", 12, odd=" ")
    out = tmp_path / "out.jsonl"
    hold = tmp_path / "hold"
    hold.touch()  # the first run writes one document, then waits until the test removes this file
    first = start(script(tmp_path, "slow_run.py", SLOW_RUN), tmp_path / "in.jsonl", out, "0", hold)
    deadline = time.monotonic() + 60
    while count_lines(out) < 1 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    files = ["-i", "in.jsonl", "-o", "out.jsonl"]
    second = ieforge("run", "--task", "ner", "-l", "person", "--model", "no-such-model", *files, cwd=tmp_path)
    assert time.monotonic() - t0 < 20
    assert second.returncode == 2
    assert second.stderr.strip() == (
        "error: out.jsonl: another run is writing this file; wait for it to finish or write to another file"
    )
    assert first.poll() is None  # the first run was still writing when the second was refused
    # and the library refuses a second writer in another process too
    lib = subprocess.run(
        [sys.executable, "-c", f"from ieforge.resumable import done_ids; done_ids({str(out)!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert lib.returncode != 0 and "another run is writing this file" in lib.stderr
    assert count_lines(out) == 1
    hold.unlink()
    assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    assert [r["id"] for r in read_lines(out)] == [r["id"] for r in records]  # each exactly once


def test_the_lock_moves_with_a_rewritten_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": 1, "text": "a", "error": "E"}\n{"id": 2, "text": "b"}\n')
    with ResultsFile(out, shape=is_run_record) as results:
        assert results.drop() == 1  # a new file replaced the old one ...
        with pytest.raises(InputError, match="another run is writing this file"):
            ResultsFile(out, shape=is_run_record).open()  # ... and it is locked too
        results.append({"id": 1, "text": "a", "ok": True})
    assert [r["id"] for r in read_lines(out)] == [2, 1]
    assert not (tmp_path / "out.jsonl.tmp").exists()


# ----- U+2028 and friends survive kill + resume -----------------------------------------------------------


def test_odd_separators_survive_sigkill_and_resume_of_a_run(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    records = corpus(inp, 8)
    run = script(tmp_path, "slow_run.py", SLOW_RUN)
    kill_after(start(run, inp, out, "0.2"), out, 3)
    with out.open("ab") as f:  # the kill landed inside the next write
        f.write(torn({**records[count_lines(out)], "upper": "X"}))
    resumed = subprocess.run(
        [sys.executable, run, inp, out, "0"], capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    got = read_lines(out)
    assert [r["id"] for r in got] == [r["id"] for r in records]
    assert [r["text"] for r in got] == [r["text"] for r in records]
    assert all(r["upper"] == r["text"].upper() for r in got)


def test_odd_separators_survive_sigkill_and_resume_of_the_eval_cache(tmp_path: Path) -> None:
    from ieforge.evaluate.runner import PredictionCache

    cache = tmp_path / "cache"
    proc = start(script(tmp_path, "slow_cache.py", SLOW_CACHE), cache, ODD)
    store = PredictionCache(cache, "ner", "k" * 24)
    assert store.path is not None
    kill_after(proc, store.path, 3)
    with store.path.open("ab") as f:
        f.write(torn({"key": "k" * 24, "id": "x3", "prediction": {"entities": [{"text": f"a{ODD}b3"}]}}))
    known = store.load()
    assert known == {f"x{i}": {"entities": [{"text": f"a{ODD}b{i}"}]} for i in range(len(known))}
    assert len(known) >= 3  # nothing computed again
    with store.writer() as add:
        for i in range(len(known), 5):
            add(f"x{i}", {"entities": []})
    assert [r["id"] for r in read_lines(store.path)] == [f"x{i}" for i in range(5)]


class CutOff(BaseException):
    """Like a kill: not an error of one example, the end of the process."""


class CutAfter:
    """The real backend, cut off at its ``n+1``-th generation call."""

    def __init__(self, backend: Any, n: int) -> None:
        self.backend, self.left = backend, n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def generate(self, chats: Any, **kw: Any) -> Any:
        if self.left <= 0:
            raise CutOff
        self.left -= 1
        return self.backend.generate(chats, **kw)


@pytest.mark.model
def test_odd_separators_survive_kill_and_resume_of_preference_pairs(
    small_backend: Any, tmp_path: Path
) -> None:
    from ieforge.train.pairs import PairSettings, build_pairs, read_pairs

    corpus_file, out = tmp_path / "corpus.jsonl", tmp_path / "pairs.jsonl"
    examples = [
        {
            "id": f"ex{ODD}{i}",
            "dataset": "toy",
            "source_id": str(i),
            "family": "ner",
            "kind": "task",
            "style": "list",
            "messages": [
                {"role": "user", "content": f"List the people in: Ann{ODD}Bob met Cy {i}."},
                {"role": "assistant", "content": '"Ann", "Cy"]'},
            ],
            "gold": [["Ann"], ["Cy"]],
        }
        for i in range(3)
    ]
    corpus_file.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples), encoding="utf-8"
    )
    settings = PairSettings(
        "unused",
        str(corpus_file),
        str(out),
        samples=2,
        limit=None,
        batch_size=2,
        max_new_tokens=4,
        min_gap=0.0,
    )
    with pytest.raises(CutOff):  # one example per generation call: one written, then the kill
        build_pairs(settings, CutAfter(small_backend, 1))  # type: ignore[arg-type]
    assert count_lines(out) == 1
    with out.open("ab") as f:
        f.write(torn({"id": examples[1]["id"], "dropped": True, "samples": [0.0, 0.0]}))
    settings.batch_size = 4  # the rest in one generation call
    counts = build_pairs(settings, small_backend)
    assert counts["skipped_done"] == 1 and counts["pairs"] + counts["dropped"] == 2
    ids = [r["id"] for r in read_lines(out)]
    assert sorted(ids) == sorted(e["id"] for e in examples)  # each example exactly once
    for pair in read_pairs(out):  # what `ieforge train dpo` reads
        assert pair.prompt[0]["content"].startswith(f"List the people in: Ann{ODD}Bob")


@pytest.mark.model
def test_odd_separators_survive_kill_and_resume_of_teacher_annotation(
    small_backend: Any, tmp_path: Path
) -> None:
    from ieforge.distill import Teacher, annotate_file, read_annotations

    passages, out = tmp_path / "passages.jsonl", tmp_path / "annotations.jsonl"
    records = [{"id": f"p{i}", "text": f"Ann met Bob{ODD}Jones in Paris on day {i}."} for i in range(3)]
    passages.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    cut = Teacher(CutAfter(small_backend, 1), prompt="open-json", batch_size=1, max_new_tokens=6)  # type: ignore[arg-type]
    with pytest.raises(CutOff):
        annotate_file(cut, passages, out)
    assert count_lines(out) == 1
    with out.open("ab") as f:
        f.write(torn({**records[1], "entities": []}))
    teacher = Teacher(small_backend, prompt="open-json", batch_size=2, max_new_tokens=6)
    counts = annotate_file(teacher, passages, out)
    assert (counts["already_done"], counts["written"]) == (1, 2)
    anns = read_annotations(out)
    assert [a.id for a in anns] == [r["id"] for r in records]  # each passage exactly once, in order
    assert [a.text for a in anns] == [r["text"] for r in records]


# ----- the per-document size limit ------------------------------------------------------------------------


def test_a_document_over_the_size_limit_is_an_error_record_and_the_run_goes_on(tmp_path: Path) -> None:
    from test_runs import Shout

    inp = tmp_path / "in.jsonl"
    texts = ["short", "x" * 11, "y" * 12, "z" * 13, "fine", "boom"]
    inp.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out.jsonl"
    summary = execute(plan_run(inp, out, Shout(), max_chars=10), None, max_failures_in_a_row=2)  # type: ignore[arg-type]
    got = read_lines(out)
    assert [r["id"] for r in got] == list(range(6))
    assert [r.get("shout") for r in got] == ["SHORT", None, None, None, "FINE", None]
    assert got[1]["error"] == (
        "InputError: the text has 11 characters, more than the limit of 10 per document "
        "(raise it with --max-chars)"
    )
    assert got[1]["text"] == "x" * 11  # the record is kept whole
    # three documents over the limit in a row are no sign of a model that is down
    assert summary.stopped is None and (summary.written, summary.errors) == (6, 4)
    # a larger limit runs them: --retry-errors with --max-chars raised
    summary = execute(plan_run(inp, out, Shout(), max_chars=None, retry_errors=True), None)  # type: ignore[arg-type]
    assert summary.written == 4 and summary.errors == 1  # only "boom" fails now
    assert sorted(r["id"] for r in read_lines(out)) == list(range(6))


# ----- one clear line before any model loads ------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["-i", "in.jsonl", "-o", "folder"], "folder is a folder, not a file"),
        (["-i", "folder", "-o", "out.jsonl"], "folder is a folder, not a file"),
        (["-i", "empty.jsonl", "-o", "out.jsonl"], "no documents in empty.jsonl"),
        (["-i", "blank.jsonl", "-o", "out.jsonl"], "no documents in blank.jsonl"),
    ],
)
@pytest.mark.parametrize(
    "command", [["run", "--task", "ner", "-l", "person"], ["ner", "-l", "person"], ["openie"]]
)
def test_bad_files_fail_in_one_line_before_any_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], files: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "in.jsonl").write_text('{"id": 1, "text": "Ann met Bob."}\n')
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "blank.jsonl").write_text("\n\n")
    res = runner.invoke(app, [*command, "--model", "no-such-model", *files])
    assert res.exit_code == 2, res.output
    assert res.output.strip() == f"error: {message}"
    assert not (tmp_path / "out.jsonl").exists()
    assert sorted(os.listdir(tmp_path)) == ["blank.jsonl", "empty.jsonl", "folder", "in.jsonl"]
