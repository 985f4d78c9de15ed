"""JSONL corpus runs: validation with file:line errors, resume without loss or duplicates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ieforge.errors import InputError
from ieforge.runs.jsonl import done_ids, read_records, run_jsonl


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def upper(records: list[dict]) -> Iterator[dict]:  # type: ignore[type-arg]
    for r in records:
        yield {**r, "upper": r["text"].upper()}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": 3}', "missing or non-string field 'text'"),
        ('{"id": 1, "text": "dup"}', "duplicate id 1"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    f = write(tmp_path / "docs.jsonl", ['{"id": 1, "text": "a"}', "", line])
    with pytest.raises(InputError) as info:
        read_records(f)
    assert str(info.value).startswith(f"{f}:3: ")
    assert message in str(info.value)


def test_missing_id_defaults_to_line_number(tmp_path: Path) -> None:
    f = write(tmp_path / "docs.jsonl", ['{"text": "a"}', '{"text": "b", "id": "x"}'])
    assert [r["id"] for r in read_records(f)] == [1, "x"]


def test_run_then_resume_after_torn_write(tmp_path: Path) -> None:
    inp = write(tmp_path / "in.jsonl", [json.dumps({"id": i, "text": f"t{i} é"}) for i in range(5)])
    out = tmp_path / "out.jsonl"
    assert run_jsonl(inp, out, upper) == 5
    full = out.read_text(encoding="utf-8").splitlines()
    # simulate a run killed while writing the fourth record
    out.write_text("\n".join(full[:3]) + "\n" + full[3][:10], encoding="utf-8")
    assert done_ids(out) == {"0", "1", "2"}
    seen: list[int] = []

    def tracking(records: list[dict]) -> Iterator[dict]:  # type: ignore[type-arg]
        seen.extend(r["id"] for r in records)
        yield from upper(records)

    assert run_jsonl(inp, out, tracking) == 2
    assert seen == [3, 4]
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == full
    assert run_jsonl(inp, out, tracking) == 0


def test_output_that_is_not_results_is_refused(tmp_path: Path) -> None:
    inp = write(tmp_path / "in.jsonl", ['{"id": 1, "text": "a"}'])
    out = write(tmp_path / "out.jsonl", ["hello"])
    with pytest.raises(InputError, match=r"out\.jsonl:1"):
        run_jsonl(inp, out, upper)
