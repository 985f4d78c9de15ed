"""Chunking long texts with a real tokenizer: the old quadratic chunker vs the linear one, side by side.

The text is CoNLL-2003 train (its sentences joined by spaces, a blank line between documents), repeated
to each size. The tokenizer is SmolLM2-135M's (``smollm2-135m``), the budget that of the tasks (1024
tokens, one sentence of overlap). For each size: seconds and chunks of the old chunker (re-tokenizing the
growing chunk; only up to ``--old-up-to`` characters), of the new one with the offsets of one
tokenization (what the tasks use with a transformers model), and of the new one with a count per sentence
(what a backend without offsets gets; up to ``--counts-up-to``); and whether the new chunks equal the old
ones. ``tokenize s`` is one tokenization of the whole text, for scale. Texts: ``prose`` (sentences), and
``run-on`` (the same without sentence ends or line breaks, as a log or an OCR dump: chunks are then cut
between words).

    python benchmarks/chunking.py --sizes 50000,200000,1000000,5000000 --old-up-to 200000
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, ROOT

from ieforge.data import read_bio
from ieforge.grounding import Chunk, TokenSpans, chunk_text
from ieforge.models import load_model

sys.path.insert(0, str(ROOT / "tests"))
from chunk_reference import reference_chunks  # the old chunker (tests/chunk_reference.py)


def corpus_text(data_dir: Path, size: int, kind: str = "prose") -> str:
    """CoNLL-2003 train as running text, repeated to ``size`` characters; ``kind="run-on"`` takes out
    the sentence ends and line breaks (one sentence the length of the text: a log, an OCR dump)."""
    docs: list[list[str]] = [[]]
    for ex in read_bio(data_dir / "conll2003" / "train.txt"):
        docs[-1].append(ex.text)
        if len(docs[-1]) >= 12:  # the reader drops -DOCSTART-: paragraphs of 12 sentences instead
            docs.append([])
    base = "\n\n".join(" ".join(d) for d in docs if d)
    base = re.sub(r" ([.,;:!?])", r"\1", base)
    if kind == "run-on":
        base = re.sub(r"[.!?\n]+", " ", base)
    return (base * (size // len(base) + 1))[:size]


def timed(fn: Callable[[], list[Chunk]]) -> tuple[float, list[Chunk]]:
    t0 = time.perf_counter()
    chunks = fn()
    return time.perf_counter() - t0, chunks


def compare(
    text: str,
    budget: int,
    count: Callable[[str], int],
    spans: TokenSpans | None,
    run_old: bool,
    run_counts: bool,
) -> dict[str, Any]:
    """One row: one tokenization of ``text`` for scale, and the three chunkers on it."""
    t0 = time.perf_counter()
    tokens = count(text)
    t_tokenize = time.perf_counter() - t0
    t_new, new = timed(lambda: chunk_text(text, budget, count, token_spans=spans))
    t_plain: float | None = None
    plain: list[Chunk] | None = None
    if run_counts:
        t_plain, plain = timed(lambda: chunk_text(text, budget, count))
    t_old: float | None = None
    old: list[Chunk] | None = None
    if run_old:
        t_old, old = timed(lambda: reference_chunks(text, budget, count))
    if old is None:
        same = "n/a (old not run)"
    else:
        same = "yes" if new == old else f"{sum(a != b for a, b in zip(new, old))} of {len(new)} differ"
    if plain is not None and new != plain:
        same += "; offsets vs counts differ"
    return {
        "characters": len(text),
        "tokens": tokens,
        "tokenize_seconds": t_tokenize,
        "old_seconds": t_old,
        "new_seconds": t_new,
        "new_seconds_without_offsets": t_plain,
        "chunks": len(new),
        "old_chunks": None if old is None else len(old),
        "same": same,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="50000,200000,1000000,5000000", help="text sizes in characters")
    ap.add_argument("--old-up-to", type=int, default=200_000, help="time the old chunker up to this size")
    ap.add_argument("--kinds", default="prose,run-on", help="prose, run-on (no sentence ends)")
    ap.add_argument(
        "--counts-up-to", type=int, default=1_000_000, help="time the chunker without offsets up to this size"
    )
    ap.add_argument("--budget", type=int, default=1024, help="tokens per chunk")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA))
    ap.add_argument("--out", help="write the rows as JSON here")
    args = ap.parse_args()

    backend = load_model(args.model)
    count: Callable[[str], int] = backend.count_tokens
    spans = getattr(backend, "token_spans", None)
    rows = []
    print("| text | characters | tokens | tokenize s | old s | new s | new s, no offsets | chunks | same |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for kind, size in itertools.product(args.kinds.split(","), (int(s) for s in args.sizes.split(","))):
        text = corpus_text(Path(args.data_dir), size, kind)
        run_old, run_counts = size <= args.old_up_to, size <= args.counts_up_to
        row = {"text": kind, **compare(text, args.budget, count, spans, run_old, run_counts)}
        rows.append(row)
        old_s, plain_s = (
            "-" if row[k] is None else f"{row[k]:.1f}" for k in ("old_seconds", "new_seconds_without_offsets")
        )
        print(
            f"| {kind} | {size:,} | {row['tokens']:,} | {row['tokenize_seconds']:.1f} | {old_s} | "
            f"{row['new_seconds']:.1f} | {plain_s} | {row['chunks']} | {row['same']} |",
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(
            json.dumps({"model": args.model, "budget": args.budget, "rows": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
