"""Shipped adapters and the defaults an adapter folder records, without loading a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ieforge import Extractor
from ieforge.errors import InputError
from ieforge.models import SHIPPED, model_defaults
from ieforge.models.adapters import DEFAULTS_FILE, find_adapter


def test_shipped_adapter_is_in_the_package_and_small() -> None:
    (adapter,) = SHIPPED
    assert find_adapter("ieforge-ner") is adapter and find_adapter("SmolLM2-135M-NER") is adapter
    folder = adapter.path()
    weights = folder / "adapter_model.safetensors"
    assert weights.is_file() and weights.stat().st_size <= 20 * 1024 * 1024
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == adapter.base == "smollm2-135m"
    record = json.loads((folder / "ieforge-train.json").read_text())
    assert record["base_model"] == "smollm2-135m" and record["config"]["seed"] == 0
    assert (folder / "README.md").is_file()  # the model card
    defaults = model_defaults("ieforge-ner")
    assert defaults.ner_prompt == "uniner"


def test_defaults_of_a_local_adapter_folder(tmp_path: Path) -> None:
    assert model_defaults(str(tmp_path)).ner_prompt is None
    (tmp_path / DEFAULTS_FILE).write_text(
        '{"ner_prompt": "uniner", "typing": "cloze", "typing_calibrate": true}'
    )
    d = model_defaults(str(tmp_path))
    assert (d.ner_prompt, d.typing, d.typing_calibrate) == ("uniner", "cloze", True)
    ex = Extractor(str(tmp_path))
    assert (ex.prompt, ex.typing, ex.typing_calibrate) == ("uniner", "cloze", True)
    ex = Extractor(str(tmp_path), prompt="uniner-json", typing="off", typing_calibrate=False)
    assert (ex.prompt, ex.typing, ex.typing_calibrate) == ("uniner-json", None, False)
    (tmp_path / DEFAULTS_FILE).write_text('{"ner_prompt": 3')
    with pytest.raises(InputError, match=rf"{DEFAULTS_FILE}: not a valid {DEFAULTS_FILE}"):
        model_defaults(str(tmp_path))


def test_models_without_defaults_get_ieforge_defaults() -> None:
    ex = Extractor("smollm2-135m")
    assert (ex.prompt, ex.typing, ex.typing_calibrate, ex.flat) == ("uniner-json", None, False, False)
    assert Extractor("org/some-model", typing="mc").typing == "mc"


def test_the_default_model_runs_ner_in_two_stages() -> None:
    """Qwen2.5-Coder-0.5B records the NER setting chosen on the dev splits; Extractor() takes it, and
    each part can still be overridden (nothing is loaded here)."""
    expected = ("uniner-json", "cloze", True, 0.5, True)
    for ex in (Extractor(), Extractor("qwen2.5-coder-0.5b"), Extractor("Qwen-0.5B")):
        assert (ex.prompt, ex.typing, ex.typing_calibrate, ex.typing_threshold, ex.flat) == expected
    single = Extractor(typing="off")
    assert (single.typing, single.flat) == (None, False)  # the recorded flat needs typing
    assert Extractor(typing_threshold=0.2, flat=False).typing_threshold == 0.2
    with pytest.raises(InputError, match="flat needs two-stage NER"):
        Extractor("smollm2-135m", flat=True)
    # another reading than the recorded one starts from ieforge's own typing options
    mc = Extractor(typing="mc")
    assert (mc.typing, mc.typing_calibrate, mc.typing_threshold, mc.flat) == ("mc", False, None, False)
    assert Extractor(typing="cloze").flat  # the recorded reading keeps its options
