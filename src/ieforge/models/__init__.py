"""Model backends and how a model name becomes a loaded backend."""

from __future__ import annotations

import re
from pathlib import Path

from ieforge.errors import ModelNotFoundError
from ieforge.models.adapters import SHIPPED, find_adapter, model_defaults
from ieforge.models.base import Backend, Chat, Generation, Message
from ieforge.models.catalogue import (
    CATALOGUE,
    DEFAULT_MODEL,
    DEFAULT_NER_MODEL,
    CatalogueEntry,
    file_sha256,
    find_entry,
)
from ieforge.models.threads import apply_to_torch, set_threads, thread_count

__all__ = [
    "CATALOGUE",
    "DEFAULT_MODEL",
    "DEFAULT_NER_MODEL",
    "SHIPPED",
    "Backend",
    "CatalogueEntry",
    "Chat",
    "Generation",
    "Message",
    "load_model",
    "model_defaults",
    "set_threads",
    "thread_count",
]

LLAMACPP_SCHEME = "llamacpp:"
OPENAI_SCHEME = "openai:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def load_model(
    name_or_path: str | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    base_url: str | None = None,
) -> Backend:
    """Load a model by catalogue name, shipped adapter name (``ieforge-ner``: its base model with the
    LoRA merged), local GGUF file, local model or adapter directory, or Hugging Face hub id.

    Catalogue models are checked against their pinned sha256 before loading. ``llamacpp:NAME`` runs a
    catalogue model or GGUF file with llama.cpp instead (the ``ieforge[llamacpp]`` extra).
    ``openai:NAME`` is model NAME on an OpenAI-compatible server at ``base_url`` (else
    ``IEFORGE_BASE_URL``; see :mod:`ieforge.models.openai`).
    """
    from ieforge.models.transformers import TransformersBackend, cached_conversion

    name = (name_or_path or DEFAULT_MODEL).strip()
    if name.startswith(OPENAI_SCHEME):
        from ieforge.models.openai import OpenAIBackend

        return OpenAIBackend(name[len(OPENAI_SCHEME) :].strip(), base_url=base_url)
    if base_url is not None:
        raise ModelNotFoundError(f"base_url is for models on a server (openai:NAME), not '{name}'")
    if name.startswith(LLAMACPP_SCHEME):
        return _load_llamacpp(name[len(LLAMACPP_SCHEME) :].strip())
    apply_to_torch()
    adapter = find_adapter(name)
    if adapter is not None:
        backend = _load_adapter(adapter.path(), device=device, dtype=dtype)
        backend.name = adapter.name
        return backend
    entry = find_entry(name)
    if entry is not None:
        entry.verify()
        cached = cached_conversion(entry.sha256)
        if cached is not None:  # no need to join split parts again
            return TransformersBackend.from_pretrained(
                str(cached), name=entry.name, device=device, dtype=dtype
            )
        gguf = entry.weight_file()
        backend = TransformersBackend.from_gguf(
            gguf, sha256=entry.sha256, name=entry.name, device=device, dtype=dtype
        )
        if len(entry.files) > 1 and cached_conversion(entry.sha256) is not None:
            gguf.unlink(missing_ok=True)  # the joined copy of the parts is no longer needed
        return backend
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelNotFoundError(
                f"'{name}' is a file but not a .gguf file; pass a GGUF file or a model directory"
            )
        return TransformersBackend.from_gguf(
            path, sha256=file_sha256(path), name=path.name, device=device, dtype=dtype
        )
    if path.is_dir():
        if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
            return _load_adapter(path, device=device, dtype=dtype)
        ggufs = sorted(path.glob("*.gguf"))
        if not (path / "config.json").is_file() and not ggufs:
            raise ModelNotFoundError(
                f"{name} is a folder without a model: a model folder holds config.json with the weights "
                "(model.safetensors), one .gguf file, or a LoRA adapter (adapter_config.json)"
            )
        if not (path / "config.json").is_file() and len(ggufs) == 1:
            g = ggufs[0]
            return TransformersBackend.from_gguf(
                g, sha256=file_sha256(g), name=g.name, device=device, dtype=dtype
            )
        return TransformersBackend.from_pretrained(str(path), name=path.name, device=device, dtype=dtype)
    if path.suffix.lower() == ".gguf" or name.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"no such model file or directory: {name}")
    if _HUB_ID.match(name):
        return TransformersBackend.from_pretrained(name, name=name, device=device, dtype=dtype)
    known = ", ".join([*(e.name for e in CATALOGUE), *(a.name for a in SHIPPED)])
    raise ModelNotFoundError(
        f"unknown model '{name}': not a catalogue name ({known}), an existing path, or a hub id like org/name"
    )


def _load_llamacpp(name: str) -> Backend:
    """A catalogue model (its verified GGUF) or a GGUF file, run with llama.cpp."""
    from ieforge.models.llamacpp import LlamaCppBackend

    entry = find_entry(name or DEFAULT_MODEL)
    if entry is not None:
        return LlamaCppBackend.from_gguf(entry.weight_file(), name=f"{LLAMACPP_SCHEME}{entry.name}")
    path = Path(name).expanduser()
    if not path.is_file() or path.suffix.lower() != ".gguf":
        raise ModelNotFoundError(
            f"llama.cpp runs GGUF files: '{name}' is not a catalogue name or a .gguf file"
        )
    return LlamaCppBackend.from_gguf(path, name=f"{LLAMACPP_SCHEME}{path.name}")


def _load_adapter(path: Path, *, device: str, dtype: str) -> Backend:
    """A LoRA adapter directory (``ieforge train sft``): its base model, loaded as ieforge loads any
    model, with the adapter merged in. The base is the ``base_model`` of the directory's
    ``ieforge-train.json``, else the adapter config's ``base_model_name_or_path``."""
    import json

    record = path / "ieforge-train.json"
    base: str | None = None
    if record.is_file():
        base = json.loads(record.read_text()).get("base_model")
    if not base:
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelNotFoundError(f"{path}: a LoRA adapter that does not name its base model")
    backend = load_model(str(base), device=device, dtype=dtype)
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise ModelNotFoundError(
            f"{path} is a LoRA adapter; loading it needs 'peft' (pip install peft)"
        ) from exc
    model = getattr(backend, "model", None)
    if model is None:
        raise ModelNotFoundError(f"{path}: base model '{base}' is not a transformers model")
    merged = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    merged.eval()
    backend.model = merged  # type: ignore[attr-defined]
    backend.name = path.name
    return backend
