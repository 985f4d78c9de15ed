"""Distillation end to end with the real SmolLM2-135M as teacher and student on real data: passages from
CoNLL-2003 text -> teacher annotation (killed and resumed, one passage failing) -> training data with
real Pile-NER (ChatGPT) annotations -> SFT -> the student loads and extracts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SMALL_MODEL, shared_data
from typer.testing import CliRunner

from ieforge import Extractor
from ieforge.cli import app
from ieforge.corpus import read_corpus
from ieforge.distill import Teacher, annotate_file, read_annotations
from ieforge.models.base import Backend
from ieforge.train.common import encode_chat

pytestmark = pytest.mark.model
runner = CliRunner()
PILE_NER = ("pile_ner", "slimer_subset", "5pos_5neg_perNE_top391NEs_FalseDef", "validation.jsonl")


class Killed(BaseException):
    """Like Ctrl-C: not an error of one passage, the end of the run."""


class FaultyTeacher:
    """The real backend, killed at the ``kill_at``-th generation call, and failing every chat that holds
    ``poison`` (a passage the model cannot answer, say)."""

    def __init__(self, backend: Backend, kill_at: int = 10**6, poison: str = "\x00") -> None:
        self.backend, self.kill_at, self.poison, self.calls = backend, kill_at, poison, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.backend, name)

    def generate(self, chats, **kw):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls >= self.kill_at:
            raise Killed
        if any(self.poison in m["content"] for chat in chats for m in chat):
            raise RuntimeError("the server closed the connection")
        return self.backend.generate(chats, **kw)


@pytest.fixture(scope="module")
def passages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("distill") / "passages.jsonl"
    result = runner.invoke(
        app,
        [
            "distill",
            "passages",
            "--data",
            f"conll2003={shared_data('conll2003', 'train.txt')}",
            "--max-chars",
            "160",
            "--limit",
            "4",
            "--out",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"passages": 4' in result.output
    return path


def test_teacher_run_survives_a_kill_and_a_failing_passage(
    small_backend: Backend, passages: Path, tmp_path: Path
) -> None:
    records = [json.loads(x) for x in passages.read_text().splitlines()]
    poison = records[2]["text"]
    out = tmp_path / "annotations.jsonl"
    killed = FaultyTeacher(small_backend, kill_at=3, poison=poison)
    teacher = Teacher(killed, prompt="open-json", batch_size=1, max_new_tokens=24)  # type: ignore[arg-type]
    with pytest.raises(Killed):
        annotate_file(teacher, passages, out)
    assert len(out.read_text().splitlines()) == 2
    with out.open("a") as f:
        f.write('{"id": "conll2003:')  # the killed run's half-written line
    teacher = Teacher(
        FaultyTeacher(small_backend, poison=poison), prompt="open-json", batch_size=2, max_new_tokens=24
    )  # type: ignore[arg-type]
    counts = annotate_file(teacher, passages, out)
    assert counts["already_done"] == 2 and counts["written"] == 2 and counts["errors"] == 1
    anns = read_annotations(out)
    assert sorted(a.id for a in anns) == sorted(r["id"] for r in records)  # each passage exactly once
    failed = next(a for a in anns if a.text == poison)
    assert failed.error == "RuntimeError: the server closed the connection" and not failed.complete
    for a in anns:
        assert a.teacher == SMALL_MODEL and a.prompt == "open-json@1"
        for e in a.entities:
            assert a.text[e.start : e.end] == e.text and e.type == e.type.lower()
        assert a.stats.ungrounded + a.stats.bad_type <= a.stats.pairs
    again = annotate_file(teacher, passages, out)
    assert again["written"] == 0 and again["already_done"] == 4
    healed = Teacher(small_backend, prompt="open-json", max_new_tokens=24)
    again = annotate_file(healed, passages, out, retry_errors=True)
    assert (again["retried"], again["written"], again["already_done"], again["errors"]) == (1, 1, 3, 0)
    anns = read_annotations(out)
    assert sorted(a.id for a in anns) == sorted(r["id"] for r in records)
    assert all(a.error is None for a in anns)


def test_distillation_end_to_end(small_backend: Backend, passages: Path, tmp_path: Path) -> None:
    annotations = tmp_path / "teacher.jsonl"
    result = runner.invoke(
        app,
        [
            "distill",
            "annotate",
            "--teacher",
            SMALL_MODEL,
            "--passages",
            str(passages),
            "--out",
            str(annotations),
            "--shard",
            "0/2",
            "--max-new-tokens",
            "24",
        ],
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.output[result.output.index("{") :])["written"]
    assert 0 < written < 4 and len(read_annotations(annotations)) == written  # one shard of two

    pile = tmp_path / "pile.jsonl"
    lines = shared_data(*PILE_NER).read_text(encoding="utf-8").splitlines()[:12]
    pile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    train = tmp_path / "train.jsonl"
    result = runner.invoke(
        app,
        [
            "distill",
            "build",
            "--annotations",
            str(pile),
            "--annotations",
            str(annotations),
            "--max-chars",
            "300",
            "--out",
            str(train),
        ],
    )
    assert result.exit_code == 0, result.output
    examples = read_corpus(train)
    assert examples and all(e.prefix == "" for e in examples)
    assert any(e.dataset == "chatgpt (Pile-NER)" for e in examples)
    # every answer is trained on, "[" included, as the published prompt has the model write it
    ex = max(examples, key=lambda e: len(e.messages))
    ids, mask = encode_chat(small_backend.tokenizer, ex.messages, prefix=ex.prefix)  # type: ignore[attr-defined]
    trained = small_backend.tokenizer.decode([i for i, m in zip(ids, mask) if m])  # type: ignore[attr-defined]
    assert trained == "".join(f"{m['content']}<|im_end|>\n" for m in ex.messages if m["role"] == "assistant")

    student = tmp_path / "student"
    result = runner.invoke(
        app,
        [
            "train",
            "sft",
            "-m",
            SMALL_MODEL,
            "--corpus",
            str(train),
            "-o",
            str(student),
            "--max-steps",
            "2",
            "--batch-size",
            "2",
            "--max-length",
            "512",
        ],
    )
    assert result.exit_code == 0, result.output
    text = "Angela Merkel visited Paris ."
    found = Extractor(model=str(student), prompt="uniner", max_new_tokens=16).ner(text, ["person", "city"])
    assert found.prompt == "uniner@1" and found.stats.answers == 2
    for e in found.entities:
        assert text[e.start : e.end] == e.text
