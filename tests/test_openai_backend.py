"""The OpenAI-compatible backend's pure parts: spans from token strings, putting stop strings back,
reading options from top log-probabilities, and where the server and key come from."""

from __future__ import annotations

import math
import socket

import pytest

from ieforge.errors import ModelLoadError, ModelNotFoundError, RequestError
from ieforge.models import load_model
from ieforge.models.openai import (
    OPENAI_URL,
    OpenAIBackend,
    ServerToken,
    answer_start_scores,
    assemble_answer,
    match_options,
    resolve_api_key,
    resolve_base_url,
    server_root,
    spell_tokens,
    stop_to_append,
)

INF = -math.inf


def _tokens(*texts: str) -> list[ServerToken]:
    return [ServerToken(text=t, logprob=-0.1 * (k + 1)) for k, t in enumerate(texts)]


# ----- spans ------------------------------------------------------------------------------------------


def test_spans_join_the_token_strings() -> None:
    assert spell_tokens(_tokens("Hel", "lo", " world")) == ("Hello world", [(0, 3), (3, 5), (5, 11)])
    assert spell_tokens([]) == ("", [])


def test_a_character_split_across_tokens_belongs_to_the_token_that_completes_it() -> None:
    e_acute = "é".encode()
    tokens = [
        ServerToken("a", -0.1, b"a"),
        ServerToken("bytes:\\xc3", -0.2, e_acute[:1]),
        ServerToken("bytes:\\xa9", -0.3, e_acute[1:]),
        ServerToken("b", -0.4, b"b"),
    ]
    assert spell_tokens(tokens) == ("aéb", [(0, 1), (1, 1), (1, 2), (2, 3)])


# ----- stop strings -----------------------------------------------------------------------------------


def test_the_stop_string_is_put_back_when_it_ended_the_answer() -> None:
    stops = ["]"]
    assert stop_to_append('"a"]', "stop", stops) == ""  # the server kept it
    assert stop_to_append('"a"', "length", stops) == ""
    assert stop_to_append('"a"', "stop", []) == ""
    # vLLM's stop_reason: the stop string, or None / a token id for the end of turn
    assert stop_to_append('"a"', "stop", stops, stop_reason="]") == "]"
    assert stop_to_append('"a"', "stop", stops, stop_reason=None) == ""
    assert stop_to_append('"a"', "stop", stops, stop_reason=2) == ""
    # the tokens go on past the content: with the stop string, or with the end of turn
    assert stop_to_append('"a"', "stop", stops, spelled='"a"]') == "]"
    assert stop_to_append('"a"', "stop", stops, spelled='"a"]\n') == "]"
    assert stop_to_append('"a"', "stop", stops, spelled='"a"<|im_end|>') == ""
    # no sign either way: finish_reason="stop" is taken as the first stop string
    assert stop_to_append('"a"', "stop", stops, spelled='"a"') == "]"
    assert stop_to_append('"a"', "stop", stops) == "]"
    assert stop_to_append('["a"', "stop", ["]]", "]\n]"], spelled='["a"]\n]') == "]\n]"
    assert stop_to_append('["a"', "stop", ["]]", "]\n]"]) == "]]"


def test_an_answer_from_a_vllm_like_server() -> None:
    # the server strips the stop string but lists the token that completed it
    gen = assemble_answer("[", '"Obama"', "stop", ["]"], _tokens('"', "Obama", '"]'))
    assert gen.text == '["Obama"]'
    assert gen.token_spans == [(1, 2), (2, 7), (7, 9)]
    assert gen.token_logprobs == pytest.approx([-0.1, -0.2, -0.3])
    assert gen.finished


def test_end_of_turn_tokens_and_the_length_limit() -> None:
    gen = assemble_answer("", "Hi", "stop", [], _tokens("Hi", ""), stop_reason=None)
    assert (gen.text, gen.token_spans, gen.finished) == ("Hi", [(0, 2)], True)
    gen = assemble_answer("", "Hi there", "length", ["."], _tokens("Hi", " there"))
    assert (gen.text, gen.token_spans, gen.finished) == ("Hi there", [(0, 2), (2, 8)], False)
    gen = assemble_answer("{", "", "stop", ["}"], _tokens(""), stop_reason=None)
    assert (gen.text, gen.token_spans, gen.token_logprobs) == ("{", [], [])


def test_tokens_that_do_not_spell_the_answer_give_no_log_probabilities() -> None:
    # a server that trims leading whitespace: the spans shift onto the trimmed answer
    gen = assemble_answer("", "Paris", "stop", [], _tokens(" Paris"), stop_reason=None)
    assert (gen.text, gen.token_spans) == ("Paris", [(0, 5)])
    gen = assemble_answer("", "Paris", "stop", [], _tokens("London"), stop_reason=None)
    assert (gen.text, gen.token_spans, gen.token_logprobs) == ("Paris", [], [])
    gen = assemble_answer("[", '"x"', "stop", ["]"], None)
    assert (gen.text, gen.token_spans) == ('["x"]', [])


# ----- options ----------------------------------------------------------------------------------------


LETTERS = ["A", " A", "B", " B"]


def test_options_are_read_from_the_top_tokens_spelled_exactly() -> None:
    top = [("A", -0.1), (" A", -2.0), ("B", -1.5), ("a", -0.7)]
    assert match_options(LETTERS, top) == {"A": -0.1, " A": -2.0, "B": -1.5, " B": INF}
    assert match_options(["a", "b"], top) == {"a": -0.7, "b": INF}
    # a token listed twice (the chosen one is also in the top list) counts once, at its best
    assert match_options(["A"], [("A", -0.3), ("A", -0.1)]) == {"A": -0.1}
    with pytest.raises(ValueError, match="no tokens"):
        match_options(["", "A"], top)


def test_a_longer_option_is_read_from_its_first_token() -> None:
    top = [("Y", -1.0), (" ", -0.5)]
    # tokenization unknown: the longest visible candidate the option starts with; never a lone space
    assert match_options(["Yes", " Yes"], top) == {"Yes": -1.0, " Yes": INF}
    # the server's tokenizer says " Yes" takes several tokens: its first may be the space
    assert match_options([" Yes"], top, several_tokens=lambda o: True) == {" Yes": -0.5}
    # ... or that "Yes" is one token, which is not in the list
    assert match_options(["Yes"], top, several_tokens=lambda o: False) == {"Yes": INF}


def test_options_sharing_a_first_token_share_its_score_unless_distinct() -> None:
    top = [("Yes", -1.0)]
    several = {"Yes": False, "Yesterday": True}.get
    assert match_options(["Yes", "Yesterday"], top, several_tokens=several) == {
        "Yes": -1.0,
        "Yesterday": -1.0,
    }
    assert match_options(["Yes", "Yesterday"], top, distinct=True, several_tokens=several) == {
        "Yes": -1.0,
        "Yesterday": INF,
    }


def test_without_log_probabilities_the_answer_picks_its_option() -> None:
    assert answer_start_scores(LETTERS, "A") == {"A": 0.0, " A": INF, "B": INF, " B": INF}
    assert answer_start_scores(LETTERS, " B.") == {"A": INF, " A": INF, "B": INF, " B": 0.0}
    assert answer_start_scores(["Yes", "No"], "Ye") == {"Yes": 0.0, "No": INF}
    assert answer_start_scores(LETTERS, "") == dict.fromkeys(LETTERS, INF)
    assert answer_start_scores(LETTERS, "C") == dict.fromkeys(LETTERS, INF)


# ----- server and key ---------------------------------------------------------------------------------


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("IEFORGE_BASE_URL", "OPENAI_BASE_URL", "IEFORGE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_server_url(no_env: pytest.MonkeyPatch) -> None:
    assert resolve_base_url("http://localhost:8000") == "http://localhost:8000/v1"
    assert resolve_base_url("http://localhost:8000/v1/") == "http://localhost:8000/v1"
    assert resolve_base_url("http://host/api") == "http://host/api"
    with pytest.raises(ModelLoadError, match="base_url"):
        resolve_base_url()
    with pytest.raises(ModelLoadError, match="not a server URL"):
        resolve_base_url("localhost:8000")
    assert resolve_base_url(api_key="sk-x") == OPENAI_URL
    no_env.setenv("OPENAI_API_KEY", "sk-x")
    assert resolve_base_url() == OPENAI_URL
    no_env.setenv("OPENAI_BASE_URL", "http://b:2/v1")
    assert resolve_base_url() == "http://b:2/v1"
    no_env.setenv("IEFORGE_BASE_URL", "http://a:1")
    assert resolve_base_url() == "http://a:1/v1"
    assert resolve_base_url("http://c:3/v1") == "http://c:3/v1"
    assert server_root("http://a:1/v1") == "http://a:1"
    assert server_root("http://a:1/api") == "http://a:1/api"


def test_the_api_key(no_env: pytest.MonkeyPatch) -> None:
    assert resolve_api_key() == "none"
    no_env.setenv("OPENAI_API_KEY", "sk-openai")
    assert resolve_api_key() == "sk-openai"
    no_env.setenv("IEFORGE_API_KEY", "sk-ieforge")
    assert resolve_api_key() == "sk-ieforge"
    assert resolve_api_key("sk-arg") == "sk-arg"


def test_load_model_openai_scheme(no_env: pytest.MonkeyPatch) -> None:
    backend = load_model("openai:my-model", base_url="http://127.0.0.1:8000")
    assert isinstance(backend, OpenAIBackend)
    assert (backend.name, backend.model, backend.base_url) == (
        "openai:my-model",
        "my-model",
        "http://127.0.0.1:8000/v1",
    )
    assert backend.extensions
    assert not OpenAIBackend("gpt-4o-mini", base_url=OPENAI_URL).extensions
    with pytest.raises(ModelNotFoundError, match="base_url"):
        load_model("smollm2-135m", base_url="http://127.0.0.1:8000")
    with pytest.raises(ModelLoadError, match="base_url"):
        load_model("openai:my-model")


def test_no_server_listening_is_one_request_error(no_env: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=5)
    with pytest.raises(RequestError, match=rf"127\.0\.0\.1:{port}/v1 \(model 'm'\): connection failed"):
        backend.generate([[{"role": "user", "content": "hi"}]], max_new_tokens=2)
    assert backend.generate([[{"role": "user", "content": "hi"}]], max_new_tokens=0)[0].text == ""
