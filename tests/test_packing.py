"""Packed SFT (ieforge.train.packing): bins, rows, the loss against each conversation alone with the real
SmolLM2-135M, and a run killed at a random moment that resumes to the same adapter as an uninterrupted
run. The training conversations are built from the WNUT-17 excerpt in tests/data."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SMALL_MODEL
from hypothesis import given, settings
from hypothesis import strategies as st

from ieforge.data import read_bio
from ieforge.prompts import load_ner_prompt
from ieforge.train.common import latest_checkpoint
from ieforge.train.packing import PROGRESS, PackedCollator, pack, packed_rows

DATA = Path(__file__).parent / "data"


@given(st.lists(st.integers(1, 60), max_size=80), st.integers(10, 100))
@settings(max_examples=200, deadline=None)
def test_pack_places_every_item_once_within_capacity(lengths: list[int], capacity: int) -> None:
    bins = pack(lengths, capacity)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    for b in bins:
        assert len(b) == 1 or sum(lengths[i] for i in b) <= capacity
    assert pack(lengths, capacity) == bins  # deterministic


def test_pack_fills_bins_best_first() -> None:
    # 6 and 4 fill one bin exactly; 5, 3 and 2 fill the other
    assert sorted(map(sorted, pack([6, 5, 4, 3, 2], 10))) == [[0, 2], [1, 3, 4]]
    assert pack([12, 3], 10) == [[0], [1]]  # too long for any bin: a bin of its own


def test_rows_restart_positions_and_never_train_a_first_token() -> None:
    rows = packed_rows([([1, 2, 3], [1, 1, 1]), ([4, 5], [0, 1]), ([6, 7, 8, 9], [0, 0, 1, 1])], 9)
    assert len(rows) == 1
    row = rows[0]
    assert row["input_ids"] == [6, 7, 8, 9, 1, 2, 3, 4, 5]
    assert row["position_ids"] == [0, 1, 2, 3, 0, 1, 2, 0, 1]
    assert row["loss_mask"] == [0, 0, 1, 1, 0, 1, 1, 0, 1]
    batch = PackedCollator(pad_token_id=0)([row, {"input_ids": [1], "position_ids": [0], "loss_mask": [0]}])
    assert batch["input_ids"].shape == (2, 9)
    # targets are the trained tokens, read from the position before each
    assert batch["targets"].tolist() == [8, 9, 2, 3, 5]
    assert batch["source"][1].tolist() == [1, 2, 4, 5, 7]
    assert batch["tokens"] == 10


def _conversations(n: int) -> list[list[dict[str, str]]]:
    """UniversalNER conversations (one question per type, the gold strings as answers) about real
    WNUT-17 sentences."""
    prompt = load_ner_prompt("uniner-json")
    out = []
    for ex in read_bio(DATA / "wnut17_train_excerpt.conll")[:n]:
        gold: dict[str, list[str]] = {}
        for e in ex.entities:
            gold.setdefault(e.label, []).append(e.text)
        types = [*sorted(gold), "person", "location"]
        messages = list(prompt.chat(ex.text, types[0])[:-1])
        for t in dict.fromkeys(types):
            messages.append({"role": "user", "content": prompt.question.format(text=ex.text, label=t)})
            messages.append({"role": "assistant", "content": "[" + json.dumps(gold.get(t, []))[1:]})
        out.append(messages)
    return out


def _write_corpus(path: Path, n: int) -> Path:
    with path.open("w") as f:
        for i, messages in enumerate(_conversations(n)):
            record = {"id": f"wnut-{i}", "dataset": "wnut17", "source_id": str(i), "family": "ner"}
            record |= {"kind": "task", "style": "json", "messages": messages, "assistant_prefix": "["}
            f.write(json.dumps(record) + "\n")
    return path


@pytest.mark.model
@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_packed_loss_equals_each_conversation_alone(small_backend, attention: str) -> None:  # type: ignore[no-untyped-def]
    import torch

    from ieforge.train.common import encode_chat, load_trainable
    from ieforge.train.packing import packed_loss

    model, tokenizer = load_trainable(SMALL_MODEL, dtype="float32")
    model.eval()
    model.set_attn_implementation(attention)
    rows = [encode_chat(tokenizer, m, prefix="[") for m in _conversations(6)]
    expected, count = 0.0, 0
    with torch.no_grad():
        for ids, mask in rows:
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            labels = torch.tensor([t if m else -100 for t, m in zip(ids, mask)])[1:]
            expected += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            count += int((labels != -100).sum())
        packed = packed_rows(rows, 1024)
        assert len(packed) < len(rows)  # several conversations share a row
        batch = PackedCollator(tokenizer.pad_token_id)(packed)
        assert int(batch["targets"].numel()) == count
        total = packed_loss(model, batch, num_items=1).item()
    assert total == pytest.approx(expected, rel=1e-5)


def test_a_checkpoint_cut_off_while_saving_is_skipped(tmp_path: Path) -> None:
    good = tmp_path / "checkpoint-2"
    good.mkdir()
    (good / "trainer_state.json").write_text('{"global_step": 2}')
    torn = tmp_path / "checkpoint-3"
    torn.mkdir()
    (torn / "trainer_state.json").write_text('{"global_st')
    (tmp_path / "checkpoint-4").mkdir()  # killed before its state was written
    assert latest_checkpoint(tmp_path) == str(good)


_TRAIN = """
import sys
from ieforge.train.sft import SFTSettings, train_sft
train_sft(SFTSettings(model=sys.argv[1], corpus=sys.argv[2], out=sys.argv[3], max_steps=6, save_steps=1,
                      batch_size=1, pack_tokens=512, max_length=512, logging_steps=1, dtype="float32",
                      bf16=False))
"""


def _train(out: Path, corpus: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", _TRAIN, SMALL_MODEL, str(corpus), str(out)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.model
def test_a_run_killed_at_a_random_moment_resumes_to_the_same_adapter(
    tmp_path: Path,
    model_home: Path,
    small_backend,  # type: ignore[no-untyped-def]
) -> None:
    from safetensors.torch import load_file

    corpus = _write_corpus(tmp_path / "corpus.jsonl", 24)
    env = {**os.environ, "IEFORGE_HOME": str(model_home)}
    whole = tmp_path / "whole"
    proc = _train(whole, corpus, env)
    assert proc.wait() == 0, proc.stderr.read().decode() if proc.stderr else ""

    cut = tmp_path / "cut"
    proc = _train(cut, corpus, env)
    # kill it at a random moment after its second checkpoint began
    while not (cut / "checkpoints" / "checkpoint-2").exists() and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 1.0))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed, not finished
    resumed = _train(cut, corpus, env)
    assert resumed.wait() == 0, resumed.stderr.read().decode() if resumed.stderr else ""

    a = load_file(str(whole / "adapter_model.safetensors"))
    b = load_file(str(cut / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] - b[key]).abs().max().item() < 1e-6, key
    record = json.loads((cut / "ieforge-train.json").read_text())
    assert record["resumed_from"] is not None and record["steps"] == 6
    run = record["run"]
    assert run["sessions"] == 2 and run["global_step"] == 6
    assert run["tokens"] == json.loads((whole / "ieforge-train.json").read_text())["run"]["tokens"]
    last = Path(latest_checkpoint(cut / "checkpoints") or "")
    assert json.loads((last / PROGRESS).read_text())["global_step"] == 6
