"""Versioned prompt files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ieforge.errors import InputError
from ieforge.prompts import available_prompts, load_ner_prompt


def test_published_uniner_conversation() -> None:
    p = load_ner_prompt("uniner")
    assert p.id == "uniner@1"
    chat = p.chat("Barack Obama was born in Honolulu.", "person")
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
    assert chat[1]["content"] == "Text: Barack Obama was born in Honolulu."
    assert chat[2]["content"] == "I've read this text."
    assert chat[3]["content"] == "What describes person in the text?"
    assert p.assistant_prefix == ""


def test_braces_in_text_are_kept_verbatim() -> None:
    chat = load_ner_prompt("uniner-json").chat("f(x) = {x} {label}", "function")
    assert chat[1]["content"] == "Text: f(x) = {x} {label}"


def test_uniner_json_once_states_the_format_once_before_the_questions() -> None:
    p = load_ner_prompt("uniner-json-once")
    text = "Barack Obama was born in Honolulu."
    person, place = p.chat(text, "person"), p.chat(text, "location")
    # all but the question is the same for every type, so a shared prefix covers the format instruction
    assert person[:-1] == place[:-1]
    assert person[1]["content"].startswith(f"Text: {text}\n\n")
    assert "JSON list" in person[1]["content"]
    assert person[-1]["content"] == "What describes person in the text?"  # UniversalNER's own question
    assert (p.assistant_prefix, p.stop, p.parser) == ("[", ["]"], "string_list")


def test_available_and_unknown() -> None:
    assert {"uniner", "uniner-json", "uniner-json-once"} <= set(available_prompts("ner"))
    with pytest.raises(InputError, match="unknown NER prompt 'nope'"):
        load_ner_prompt("nope")


def test_prompt_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: mine\nversion: one\n")
    with pytest.raises(InputError, match=r"mine\.yaml: invalid prompt file"):
        load_ner_prompt(str(bad))
