"""The alignment pipeline end to end with the real SmolLM2-135M on real training data: corpus -> SFT
(resumed from a checkpoint) -> preference pairs -> DPO, each saved model loaded by the Extractor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SMALL_MODEL, shared_data
from typer.testing import CliRunner

from ieforge import Extractor
from ieforge.cli import app
from ieforge.corpus import read_corpus
from ieforge.train.common import encode_chat, read_record

pytestmark = pytest.mark.model
runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, model_home: Path) -> Path:
    path = tmp_path_factory.mktemp("align") / "corpus.jsonl"
    result = runner.invoke(
        app,
        [
            "corpus",
            "build",
            "--data",
            f"conll2003={shared_data('conll2003', 'train.txt')}",
            "--data",
            f"fewrel={shared_data('fewrel', 'val_wiki.json')}",
            "--data",
            f"casie={shared_data('casie', 'annotation')}",
            "--limit",
            "6",
            "--out",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"examples": 30' in result.output  # 6 per family: NER, typing, relations, ED, EAE
    return path


def test_assistant_mask_covers_exactly_the_answers(corpus: Path, small_backend) -> None:  # type: ignore[no-untyped-def]
    tokenizer = small_backend.tokenizer
    for ex in read_corpus(corpus)[:6]:
        ids, mask = encode_chat(tokenizer, ex.messages)
        trained = tokenizer.decode([i for i, m in zip(ids, mask) if m])
        answers = [m["content"] for m in ex.messages if m["role"] == "assistant"]
        assert trained == "".join(f"{a}<|im_end|>\n" for a in answers)
        ids, mask = encode_chat(tokenizer, ex.messages, last_only=True)
        assert tokenizer.decode([i for i, m in zip(ids, mask) if m]) == f"{answers[-1]}<|im_end|>\n"


def test_answers_are_cut_where_the_task_cuts_them(small_backend) -> None:  # type: ignore[no-untyped-def]
    """The task writes "[" and the model continues: training must not merge "[" into '["'."""
    tokenizer = small_backend.tokenizer
    chat = [
        {"role": "user", "content": "Text: EU rejects German call."},
        {"role": "assistant", "content": "I've read this text."},
        {"role": "user", "content": "What describes organization in the text?"},
        {"role": "assistant", "content": '["EU"]'},
    ]
    ids, mask = encode_chat(tokenizer, chat, prefix="[")
    prompt_ids = tokenizer(small_backend.render(chat[:-1]) + "[", add_special_tokens=False)["input_ids"]
    first = len(prompt_ids)
    assert ids[:first] == prompt_ids  # exactly the tokens the model sees at inference, "[" last
    assert tokenizer.decode(ids[first - 1 : first]) == "[" and mask[first - 1] == 0
    assert tokenizer.decode(ids[first:]) == '"EU"]<|im_end|>\n' and all(mask[first:])

    from ieforge.train.dpo import preference_text
    from ieforge.train.pairs import PreferencePair

    pair = PreferencePair(
        id="x",
        prompt=chat[:-1],
        chosen=[{"role": "assistant", "content": '["EU"]'}],
        rejected=[{"role": "assistant", "content": "[]"}],
        chosen_score=1.0,
        rejected_score=0.0,
        chosen_from="gold",
        prefix="[",
        samples=[0.0, 1.0],
    )
    texts = preference_text(tokenizer, pair)
    assert texts == {
        "prompt": small_backend.render(chat[:-1]) + "[",
        "chosen": '"EU"]<|im_end|>',
        "rejected": "]<|im_end|>",
    }


def test_sft_pairs_dpo_end_to_end(corpus: Path, tmp_path: Path) -> None:
    sft = tmp_path / "sft"
    common = ["--batch-size", "2", "--save-steps", "1", "--max-length", "384"]
    first = runner.invoke(
        app,
        [
            "train",
            "sft",
            "-m",
            SMALL_MODEL,
            "--corpus",
            str(corpus),
            "-o",
            str(sft),
            "--max-steps",
            "1",
            *common,
        ],
    )
    assert first.exit_code == 0, first.output
    assert (sft / "checkpoints" / "checkpoint-1").is_dir()
    # a second run with more steps resumes from the checkpoint instead of starting again
    second = runner.invoke(
        app,
        [
            "train",
            "sft",
            "-m",
            SMALL_MODEL,
            "--corpus",
            str(corpus),
            "-o",
            str(sft),
            "--max-steps",
            "2",
            *common,
        ],
    )
    assert second.exit_code == 0, second.output
    record = read_record(sft)
    assert record is not None and record["step"] == "sft" and record["steps"] == 2
    assert str(record["resumed_from"]).endswith("checkpoint-1")
    assert record["base_model"] == SMALL_MODEL and record["data"]["examples"] > 0
    assert (sft / "adapter_config.json").is_file()

    text = "Angela Merkel visited Paris ."
    result = Extractor(model=str(sft)).ner(text, ["person", "location"])
    for e in result.entities:  # whatever it finds is grounded in the text
        assert text[e.start : e.end] == e.text

    pairs = tmp_path / "pairs.jsonl"
    pair_args = ["train", "pairs", "-m", str(sft), "--corpus", str(corpus), "-o", str(pairs)]
    pair_args += ["--samples", "2", "--limit", "3", "--gold-share", "1", "--min-gap", "0.01"]
    made = runner.invoke(app, pair_args)
    assert made.exit_code == 0, made.output
    counts = json.loads(made.output[made.output.index("{") :])
    lines = [json.loads(x) for x in pairs.read_text().splitlines()]
    assert counts["pairs"] + counts["dropped"] == len(lines) == 3 - counts["prompt_too_long"]
    kept = [x for x in lines if not x.get("dropped")]
    assert kept, lines
    for p in kept:
        assert p["chosen_from"] == "gold" and p["chosen_score"] == 1.0 and p["rejected_score"] < 1.0
        assert p["prompt"][-1]["role"] == "user" and len(p["samples"]) == 2
    again = runner.invoke(app, pair_args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.output[again.output.index("{") :])["skipped_done"] == len(lines)
    assert len(pairs.read_text().splitlines()) == len(lines)  # nothing sampled twice

    dpo = tmp_path / "dpo"
    trained = runner.invoke(
        app, ["train", "dpo", "-m", str(sft), "--pairs", str(pairs), "-o", str(dpo), "--max-steps", "1"]
    )
    assert trained.exit_code == 0, trained.output
    record = read_record(dpo)
    assert record is not None and record["step"] == "dpo" and record["base_model"] == str(sft.resolve())
    result = Extractor(model=str(dpo)).ner(text, ["person", "location"])
    for e in result.entities:
        assert text[e.start : e.end] == e.text


def test_bad_inputs_fail_before_any_model_loads(tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["train", "sft", "-m", SMALL_MODEL, "--corpus", str(tmp_path / "no.jsonl"), "-o", "x"]
    )
    assert missing.exit_code == 2 and "no such corpus file" in missing.output
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"id": 1}\n')
    result = runner.invoke(
        app, ["train", "dpo", "-m", SMALL_MODEL, "--pairs", str(bad), "-o", str(tmp_path / "d")]
    )
    assert result.exit_code == 2 and "line 1: not a preference pair" in result.output
