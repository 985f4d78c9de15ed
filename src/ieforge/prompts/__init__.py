"""Versioned prompt templates, stored as YAML data beside the parsers that read their answers.

A result records ``name@version`` of its prompt, so every number can be traced to the exact wording.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from ieforge.errors import InputError
from ieforge.models.base import Chat, Message


class Turn(BaseModel):
    role: str
    content: str


class NERPrompt(BaseModel):
    """A conversation asking one question per entity type about a text."""

    name: str
    version: int
    task: str
    parser: str
    system: str = ""
    turns: list[Turn]
    question: str
    assistant_prefix: str = ""
    stop: list[str] = []
    """strings that end an answer (kept in the answer text)"""

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    def chat(self, text: str, label: str) -> Chat:
        msgs: list[Message] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        for t in self.turns:
            msgs.append({"role": t.role, "content": t.content.format(text=text, label=label)})
        msgs.append({"role": "user", "content": self.question.format(text=text, label=label)})
        return msgs


def available_prompts(task: str) -> list[str]:
    folder = resources.files("ieforge.prompts").joinpath(task)
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


@lru_cache(maxsize=64)
def load_ner_prompt(name: str) -> NERPrompt:
    """Load a packaged NER prompt by name (``uniner``, ``uniner-json``) or from a YAML file path."""
    if Path(name).is_file():
        source, raw = name, Path(name).read_text(encoding="utf-8")
    else:
        path = resources.files("ieforge.prompts").joinpath("ner").joinpath(f"{name}.yaml")
        if not path.is_file():
            raise InputError(
                f"unknown NER prompt '{name}' (available: {', '.join(available_prompts('ner'))})"
            )
        source, raw = f"ner/{name}.yaml", path.read_text(encoding="utf-8")
    try:
        return NERPrompt.model_validate(yaml.safe_load(raw))
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).strip().splitlines()
        raise InputError(f"{source}: invalid prompt file: {' '.join(first[:3])}") from None
