"""The llama.cpp backend on the real SmolLM2-135M GGUF. Needs the optional extra ``ieforge[llamacpp]``
(compiled from source, so CI does not install it); skipped when llama-cpp-python is absent."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from ieforge.errors import ModelNotFoundError
from ieforge.models import Backend, load_model
from ieforge.prompts import load_ner_prompt

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.model

TEXT = "Geoffrey Hinton and Yann LeCun spoke at NeurIPS in Vancouver about deep learning."
LABELS = ["person", "conference", "location", "field"]


@pytest.fixture(scope="module")
def llama(model_home: Path) -> Iterator[Backend]:
    backend = load_model("llamacpp:smollm2-135m")
    yield backend
    backend.prompt_cache = True  # type: ignore[attr-defined]


def test_chat_template_renders_like_the_transformers_backend(llama: Backend, small_backend: Backend) -> None:
    chat = load_ner_prompt("uniner-json").chat(TEXT, "person")
    assert llama.render(chat) == small_backend.render(chat)  # type: ignore[attr-defined]
    assert llama.name == "llamacpp:smollm2-135m"
    assert llama.context_length >= 2048


def test_prompt_cache_reads_the_text_once_and_changes_no_answer(llama: Backend) -> None:
    prompt = load_ner_prompt("uniner-json")
    chats = [prompt.chat(TEXT, label) for label in LABELS]
    answers, usage = {}, {}
    for cached in (False, True):
        llama.prompt_cache = cached  # type: ignore[attr-defined]
        llama.usage.reset()  # type: ignore[attr-defined]
        gens = llama.generate(chats, max_new_tokens=16, assistant_prefix="[", stop=["]"])
        answers[cached] = [g.text for g in gens]
        usage[cached] = llama.usage.as_dict()  # type: ignore[attr-defined]
        for g in gens:
            assert g.text.startswith("[")
            assert len(g.token_logprobs) == len(g.token_spans) > 0
            assert all(lp <= 0 for lp in g.token_logprobs)
    assert answers[True] == answers[False]
    assert usage[True]["prompt_tokens"] == usage[False]["prompt_tokens"]
    assert usage[True]["prefill_tokens"] < 0.6 * usage[False]["prefill_tokens"]


def test_scores_are_log_probabilities_over_the_options(llama: Backend) -> None:
    question = [{"role": "user", "content": "Is Paris in France? Answer yes or no."}]
    (row,) = llama.next_token_logprobs([question], ["yes", "no", "Yes", "No"])
    assert set(row) == {"yes", "no", "Yes", "No"}
    assert sum(math.exp(v) for v in row.values()) <= 1.0 + 1e-6
    (scores,) = llama.score_continuations([question], ["Yes", "Yes, it is."])
    assert scores[1] < scores[0] <= 0


def test_a_missing_gguf_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="GGUF"):
        load_model(f"llamacpp:{tmp_path / 'nothing.gguf'}")
