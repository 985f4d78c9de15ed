"""LoRA adapters that ship inside the ieforge package, and the settings an adapter folder recommends.

A shipped adapter is a folder under ``ieforge/models/adapters/`` holding what ``ieforge train sft``
writes (``adapter_config.json``, ``adapter_model.safetensors``, ``ieforge-train.json``), its model card
(``README.md``) and ``ieforge-defaults.json``: the NER prompt it was trained with and the two-stage
typing reading it was measured best with. Any adapter folder (one you trained yourself, say) may carry
that file too; :class:`~ieforge.Extractor` reads it when no prompt or typing is given.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ieforge.errors import InputError
from ieforge.models.catalogue import ModelDefaults, find_entry, is_named

DEFAULTS_FILE = "ieforge-defaults.json"


class ShippedAdapter(BaseModel):
    name: str
    aliases: list[str] = []
    base: str
    """catalogue name of the base model"""
    description: str
    folder: str
    """folder name under ``ieforge/models/adapters``"""

    def path(self) -> Path:
        return Path(str(resources.files("ieforge.models").joinpath("adapters").joinpath(self.folder)))


SHIPPED: list[ShippedAdapter] = [
    ShippedAdapter(
        name="ieforge-ner",
        aliases=["smollm2-135m-ner"],
        base="smollm2-135m",
        description="SmolLM2-135M-Instruct + ieforge NER LoRA (in the package)",
        folder="ner-smollm2-135m",
    )
]


def find_adapter(name: str) -> ShippedAdapter | None:
    return next((a for a in SHIPPED if is_named(name, a.name, a.aliases)), None)


def model_defaults(spec: str) -> ModelDefaults:
    """The defaults recorded for a model name or folder: a catalogue model's, a shipped adapter's, or
    the ``ieforge-defaults.json`` of a local folder; empty for anything else."""
    entry = find_entry(spec)
    if entry is not None:
        return entry.ner
    adapter = find_adapter(spec)
    folder = adapter.path() if adapter is not None else Path(spec).expanduser()
    path = folder / DEFAULTS_FILE
    try:
        if not path.is_file():
            return ModelDefaults()
        return ModelDefaults.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise InputError(f"{path}: not a valid {DEFAULTS_FILE}: {str(exc).splitlines()[0]}") from None
