"""Shared-prefix batching on the real SmolLM2-135M: the same answers as running every prompt in full.

Identity is checked in float32: in bfloat16 a different batch shape changes the rounding of sums, which
can flip a near-tie between two tokens (the benchmark reports how often that happens).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import shared_data

from ieforge.data import read_semeval
from ieforge.models import load_model
from ieforge.models.base import Chat, Generation
from ieforge.models.transformers import TransformersBackend
from ieforge.prompts import load_ner_prompt
from ieforge.tasks.ner import NERTask
from ieforge.tasks.relations import RelationQuery, RelationTask
from ieforge.types import Mention

pytestmark = pytest.mark.model

LABELS = ["algorithm", "conference", "person", "programming language", "university"]


@pytest.fixture(scope="module")
def fp32(model_home: Path) -> Iterator[TransformersBackend]:
    backend = load_model("smollm2-135m", dtype="fp32")
    assert isinstance(backend, TransformersBackend)
    yield backend
    backend.share_prefix = True


@pytest.fixture(scope="module")
def ai_texts() -> list[str]:
    rows = json.loads(shared_data("crossner_ai", "instructuie_format", "test.json").read_text())
    return [r["sentence"] for r in rows[:3]]


def _generate(
    backend: TransformersBackend,
    chats: list[Chat],
    share: bool,
    batch_size: int,
    prompt_name: str = "uniner-json",
) -> list[Generation]:
    backend.share_prefix = share
    backend.usage.reset()
    prompt = load_ner_prompt(prompt_name)
    return backend.generate(
        chats,
        max_new_tokens=24,
        assistant_prefix=prompt.assistant_prefix,
        stop=prompt.stop,
        batch_size=batch_size,
    )


# uniner-json repeats its answer-format sentence in every question; uniner-json-once states it once
# with the text, so far less of each prompt is left to run per type
@pytest.mark.parametrize(
    ("prompt_name", "computed_share"), [("uniner-json", 0.6), ("uniner-json-once", 0.35)]
)
def test_shared_prefix_generation_matches_running_each_prompt(
    fp32: TransformersBackend, ai_texts: list[str], prompt_name: str, computed_share: float
) -> None:
    prompt = load_ner_prompt(prompt_name)
    chats = [prompt.chat(text, label) for text in ai_texts for label in LABELS]
    full = _generate(fp32, chats, share=False, batch_size=4, prompt_name=prompt_name)
    full_usage = fp32.usage.as_dict()
    shared = _generate(fp32, chats, share=True, batch_size=16, prompt_name=prompt_name)
    shared_usage = fp32.usage.as_dict()
    assert [g.text for g in shared] == [g.text for g in full]
    for a, b in zip(shared, full):
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-3)
        assert a.token_spans == b.token_spans
        assert a.finished == b.finished
    # each text is read once for its five questions
    assert shared_usage["prompt_tokens"] == full_usage["prompt_tokens"]
    assert shared_usage["prefill_tokens"] < computed_share * full_usage["prompt_tokens"]
    # answers that end early leave the batch: fewer tokens decoded than rows x steps
    assert full_usage["generated_tokens"] <= len(chats) * 24


def test_generation_matches_transformers_generate_one_prompt_at_a_time(
    fp32: TransformersBackend, ai_texts: list[str]
) -> None:
    import torch

    prompt = load_ner_prompt("uniner-json")
    chats = [prompt.chat(ai_texts[0], label) for label in LABELS[:3]]
    ours = _generate(fp32, chats, share=True, batch_size=8)
    for chat, gen in zip(chats, ours):
        enc = fp32.tokenizer(fp32.render(chat) + "[", return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            ref = fp32.model.generate(
                **enc,
                max_new_tokens=24,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                eos_token_id=fp32.stop_ids,
                pad_token_id=fp32.tokenizer.pad_token_id,
            )
        text = "[" + fp32.tokenizer.decode(ref[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        assert text.startswith(gen.text)
        assert gen.text.endswith("]") or not gen.finished or len(gen.text) == len(text)


def test_ner_results_are_the_same_with_and_without_sharing(
    fp32: TransformersBackend, ai_texts: list[str]
) -> None:
    results = {}
    for share in (False, True):
        fp32.share_prefix = share
        task = NERTask(fp32, max_new_tokens=24, batch_size=16)
        results[share] = list(task.run_many(ai_texts, LABELS))
    for a, b in zip(results[True], results[False]):
        assert a.stats == b.stats
        assert [(e.start, e.end, e.label) for e in a.entities] == [
            (e.start, e.end, e.label) for e in b.entities
        ]
        assert [e.score for e in a.entities] == pytest.approx([e.score for e in b.entities], abs=1e-4)


def test_relation_letters_over_pairs_of_one_sentence_share_the_sentence(fp32: TransformersBackend) -> None:
    text = "The kitchen was attached to the house by a narrow corridor built by the carpenter."
    spans = [(4, 11), (32, 37), (50, 58), (73, 82)]
    mentions = [Mention(start=s, end=e, text=text[s:e]) for s, e in spans]
    queries = [RelationQuery(text=text, head=h, tail=t) for h in mentions for t in mentions if h != t]
    probs: dict[bool, list[dict[str, float]]] = {}
    prefill: dict[bool, int] = {}
    for share in (False, True):
        fp32.share_prefix = share
        fp32.usage.reset()
        task = RelationTask(fp32, schema="semeval", batch_size=16)
        probs[share] = [p.raw for p in task.label_probabilities(queries)]
        prefill[share] = fp32.usage.prefill_tokens
    # the published prompt marks the pair inside the sentence, so only the text before the first
    # marked mention is common to the pairs
    assert prefill[True] < prefill[False]
    for a, b in zip(probs[True], probs[False]):
        assert a.keys() == b.keys()
        for label in a:
            assert a[label] == pytest.approx(b[label], abs=1e-4)


def test_generated_relations_of_several_batches_decode_in_one_call(fp32: TransformersBackend) -> None:
    # run_many hands the backend several batches per call (ordered by length, decoded continuously);
    # in float32 every pair gets the answer it gets alone
    fp32.share_prefix = True
    pairs = read_semeval(shared_data("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT"))[:8]
    queries = [RelationQuery(e.text, e.head, e.tail) for e in pairs]
    task = RelationTask(fp32, schema="semeval", reading="generate", batch_size=4, max_new_tokens=12)
    fp32.usage.reset()
    together = list(task.run_many(queries))
    prefill_together = fp32.usage.prefill_tokens
    fp32.usage.reset()
    per_batch = [r for b in (0, 4) for r in task.run_many(queries[b : b + 4])]
    # one call orders all eight prompts by length: less padding than two calls of four
    assert prefill_together < fp32.usage.prefill_tokens
    alone = [task.run(q) for q in queries]
    assert [(r.label, r.answered) for r in together] == [(r.label, r.answered) for r in alone]
    assert [r.label for r in per_batch] == [r.label for r in alone]


def test_each_prompt_keeps_its_own_token_limit(fp32: TransformersBackend, ai_texts: list[str]) -> None:
    prompt = load_ner_prompt("uniner-json")
    chats = [prompt.chat(ai_texts[1], label) for label in LABELS[:3]]
    fp32.share_prefix = True
    limits = [1, 4, 9]
    together = fp32.generate(chats, max_new_tokens=limits, assistant_prefix="[", batch_size=8)
    for chat, limit, gen in zip(chats, limits, together):
        (alone,) = fp32.generate([chat], max_new_tokens=limit, assistant_prefix="[")
        assert len(gen.token_logprobs) <= limit
        assert gen.text == alone.text
    with pytest.raises(ValueError, match="3 prompts"):
        fp32.generate(chats, max_new_tokens=[1, 2])


def test_continuous_decoding_joins_batches_and_keeps_every_answer(
    fp32: TransformersBackend, ai_texts: list[str]
) -> None:
    """With batches of 4, the next batch joins the rows still decoding once half have ended: fewer
    forward passes than decoding batch after batch, and every answer as when generated alone."""
    from ieforge.models.prefix import plan_batches

    prompt = load_ner_prompt("uniner-json")
    chats = [prompt.chat(text, label) for text in ai_texts for label in LABELS]
    together = _generate(fp32, chats, share=False, batch_size=4)
    passes = fp32.usage.forward_passes
    alone = _generate(fp32, chats, share=False, batch_size=1)
    assert [g.text for g in together] == [g.text for g in alone]
    for a, b in zip(together, alone):
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-3)
    ids = [fp32._prompt_ids(fp32.render(c) + prompt.assistant_prefix) for c in chats]
    batch_by_batch = sum(
        max(len(together[i].token_logprobs) for i in batch.rows)
        for batch in plan_batches(ids, 4, share=False)
    )
    assert passes < batch_by_batch
