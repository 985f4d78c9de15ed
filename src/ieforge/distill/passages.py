"""Unlabelled passages for a teacher to annotate, made from the text of annotated datasets.

Only the texts are used, never their labels: consecutive texts of a dataset (the sentences of a CoNLL
document, say) are packed into passages of at most ``max_chars`` characters, repeated texts once; a
text longer than that is split on sentence boundaries. ``limit_per_dataset`` passages are drawn from
each dataset (seeded), so that small and large sources both contribute.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from ieforge.corpus.build import dataset_items
from ieforge.grounding import chunk_text

Passage = dict[str, str]


def pack_texts(texts: Iterable[str], max_chars: int) -> list[str]:
    """Consecutive distinct texts joined by a space into pieces of at most ``max_chars`` characters."""
    pieces: list[str] = []
    current = ""
    seen: set[str] = set()
    for raw in texts:
        text = " ".join(raw.split())
        if not text or text in seen:
            continue
        seen.add(text)
        parts = [c.text for c in chunk_text(text, max_chars, len, overlap_sentences=0)]
        for part in parts:
            if current and len(current) + 1 + len(part) <= max_chars:
                current = f"{current} {part}"
                continue
            if current:
                pieces.append(current)
            current = part
    if current:
        pieces.append(current)
    return pieces


def collect_passages(
    datasets: Iterable[tuple[str, str | Path]],
    *,
    max_chars: int = 500,
    min_chars: int = 40,
    limit_per_dataset: int | None = None,
    seed: int = 0,
) -> list[Passage]:
    """Passages ``{"id", "text", "source"}`` from the texts of ``(name, path)`` datasets (read as
    ``ieforge corpus build`` reads them), ``limit_per_dataset`` drawn per dataset (None: all)."""
    out: list[Passage] = []
    for name, path in datasets:
        texts = pack_texts((item.text for item in dataset_items(name, path)), max_chars)
        indexed = [(i, t) for i, t in enumerate(texts) if len(t) >= min_chars]
        if limit_per_dataset is not None and len(indexed) > limit_per_dataset:
            indexed = sorted(random.Random(f"{seed}:{name}").sample(indexed, limit_per_dataset))
        out.extend({"id": f"{name}:{i}", "text": t, "source": name} for i, t in indexed)
    return out
