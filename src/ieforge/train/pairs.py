"""Preference pairs for DPO (ADELIE's IEFeedback recipe): sample the fine-tuned model several times per
corpus example at temperature 1, score every sample against the gold answer with the example's own
metric (tuple F1, see :func:`ieforge.corpus.answer_f1`; character similarity for the explanation of
explanation-first answers), and keep the best sample as *chosen* and the worst as *rejected* when their
scores differ by at least ``min_gap``. For a share of the pairs the gold answer is the chosen one.

The output JSONL is written as it goes (a :class:`~ieforge.resumable.ResultsFile`: locked while the run
lasts, each line synced) and a restarted run skips the examples already written.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ieforge._validation import read_model_lines
from ieforge.corpus import CorpusExample, answer_f1, read_corpus
from ieforge.errors import InputError
from ieforge.models.base import Backend, Message
from ieforge.resumable import ResultsFile

STOP: dict[str, tuple[str, ...]] = {"list": ("]",), "rows": ("}]", "}\n]")}
"""where the tasks stop answers of these styles (their prompts' ``stop``)"""


class PreferencePair(BaseModel):
    """One DPO example in TRL's conversational preference format."""

    id: str
    prompt: list[dict[str, str]]
    chosen: list[dict[str, str]]
    rejected: list[dict[str, str]]
    chosen_score: float
    rejected_score: float
    chosen_from: str
    """``sample`` or ``gold``"""
    prefix: str = ""
    """the assistant prefix the task writes itself (both answers start with it)"""
    samples: list[float]
    """the score of every sample, for inspection"""


@dataclass
class PairSettings:
    model: str
    corpus: str
    out: str
    samples: int = 5
    temperature: float = 1.0
    min_gap: float = 0.3
    """pairs whose chosen and rejected scores differ by less are dropped"""
    gold_share: float = 0.2
    """share of pairs that take the gold answer as chosen"""
    limit: int | None = 300
    """corpus examples sampled (seeded), None for all"""
    seed: int = 0
    batch_size: int = 20
    max_new_tokens: int = 192
    max_prompt_tokens: int = 384
    """examples with longer prompts are skipped (DPO would have to cut them)"""


def sample_score(example: CorpusExample, text: str) -> float:
    """How good a sampled answer is: tuple F1 against the gold; explanation-first answers average it
    with the character similarity of the explanation line."""
    f1 = answer_f1(example.style, text, example.gold)
    if example.style != "explain":
        return f1
    gold_why = example.answer.split("\n", 1)[0]
    why = text.split("\n", 1)[0]
    return 0.5 * f1 + 0.5 * difflib.SequenceMatcher(None, why, gold_why).ratio()


def answer_budget(backend: Backend, example: CorpusExample, cap: int) -> int:
    """New tokens a sample may use: twice the gold answer's length plus a margin, at most ``cap``."""
    return min(cap, 2 * backend.count_tokens(example.answer) + 16)


def make_pair(
    example: CorpusExample, texts: Sequence[str], settings: PairSettings, rng: random.Random
) -> tuple[PreferencePair | None, list[float]]:
    """The pair for one example from its samples (None when the best and worst are too close)."""
    scores = [sample_score(example, t) for t in texts]
    best = max(range(len(texts)), key=lambda i: scores[i])
    worst = min(range(len(texts)), key=lambda i: scores[i])
    chosen, chosen_score, source = texts[best], scores[best], "sample"
    if rng.random() < settings.gold_share:
        chosen, chosen_score, source = example.answer, 1.0, "gold"
    if chosen_score - scores[worst] < settings.min_gap or chosen == texts[worst]:
        return None, scores
    return (
        PreferencePair(
            id=example.id,
            prompt=[{"role": m["role"], "content": m["content"]} for m in example.prompt],
            chosen=[{"role": "assistant", "content": chosen}],
            rejected=[{"role": "assistant", "content": texts[worst]}],
            chosen_score=chosen_score,
            rejected_score=scores[worst],
            chosen_from=source,
            prefix=example.prefix,
            samples=scores,
        ),
        scores,
    )


def sample_answers(
    backend: Backend, examples: Sequence[CorpusExample], settings: PairSettings
) -> Iterator[tuple[CorpusExample, list[str]]]:
    """``settings.samples`` sampled answers per example, a few examples per generation batch (grouped
    by the assistant prefix and stop strings their style needs)."""
    per_batch = max(1, settings.batch_size // settings.samples)
    for b in range(0, len(examples), per_batch):
        group = examples[b : b + per_batch]
        texts: dict[str, list[str]] = {}
        by_style: dict[tuple[str, tuple[str, ...]], list[CorpusExample]] = {}
        for ex in group:
            key = (ex.prefix, STOP.get(ex.style, ()))
            by_style.setdefault(key, []).append(ex)
        for (prefix, stop), exs in by_style.items():
            chats: list[list[Message]] = [ex.prompt for ex in exs for _ in range(settings.samples)]
            budget = max(answer_budget(backend, ex, settings.max_new_tokens) for ex in exs)
            gens = backend.generate(
                chats,
                max_new_tokens=budget,
                temperature=settings.temperature,
                assistant_prefix=prefix,
                stop=stop,
                batch_size=settings.batch_size,
            )
            for k, ex in enumerate(exs):
                texts[ex.id] = [g.text for g in gens[k * settings.samples : (k + 1) * settings.samples]]
        for ex in group:
            yield ex, texts[ex.id]


def _prompt_tokens(backend: Backend, example: CorpusExample) -> int:
    return sum(backend.count_tokens(m["content"]) for m in example.prompt) + 8 * len(example.prompt)


def is_pairs_line(record: dict[str, Any]) -> bool:
    """The shape of a pairs file's lines: a pair, or a ``{"id", "dropped": true}`` line."""
    return "id" in record and (record.get("dropped") is True or "chosen" in record)


def pairs_file(path: str | Path, corpus: str | Path | None = None) -> ResultsFile:
    """A pairs file as a :class:`~ieforge.resumable.ResultsFile` (open it to lock and resume it)."""
    return ResultsFile(path, what="preference pair", shape=is_pairs_line, source=corpus)


def build_pairs(
    settings: PairSettings,
    backend: Backend | None = None,
    *,
    on_done: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Sample, score and write preference pairs; returns counts. Dropped examples are written to the
    same file as ``{"id", "dropped": true, "samples": [...]}`` lines so a restart skips them too."""
    if settings.samples < 2:
        raise InputError("--samples must be at least 2 to make a pair")
    examples = read_corpus(settings.corpus, split="train")
    rng = random.Random(settings.seed)
    if settings.limit is not None and len(examples) > settings.limit:
        examples = rng.sample(examples, settings.limit)
    with pairs_file(settings.out, settings.corpus) as out:
        seen = out.done_ids()
        todo = [ex for ex in examples if ex.id not in seen]
        if backend is None:
            from ieforge.models import load_model

            backend = load_model(settings.model)
        counts = {
            "examples": len(examples),
            "skipped_done": len(examples) - len(todo),
            "pairs": 0,
            "dropped": 0,
        }
        short = [ex for ex in todo if _prompt_tokens(backend, ex) <= settings.max_prompt_tokens]
        counts["prompt_too_long"] = len(todo) - len(short)
        todo = short
        if total is not None:
            total(len(todo))
        for ex, texts in sample_answers(backend, todo, settings):
            pair, scores = make_pair(ex, texts, settings, random.Random(f"{settings.seed}:{ex.id}"))
            if pair is None:
                out.append({"id": ex.id, "dropped": True, "samples": scores})
                counts["dropped"] += 1
            else:
                out.append(pair.model_dump(mode="json"))
                counts["pairs"] += 1
            if on_done is not None:
                on_done(1)
    return counts


def read_pairs(path: str | Path) -> list[PreferencePair]:
    """The pairs of a pairs file (dropped-example lines are skipped); a bad line names file and line."""
    return read_model_lines(
        path,
        PreferencePair,
        "preference pair",
        skip=lambda r: isinstance(r, dict) and r.get("dropped") is True,
    )
