"""Progress inside a long document (issue 23): the backend tells a task as each answer is done, the task
tells its caller as every question about one more chunk of a text is answered, and a corpus run shows
it on its progress bar ("document ID: chunk i/k"). Run with the real SmolLM2-135M on texts cut into
small chunks; what is checked is that every chunk is told, in order, once, and that telling changes no
result, never what the model extracts."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ieforge import Extractor
from ieforge.models import Backend
from ieforge.tasks.events import EventTask
from ieforge.tasks.ner import NERTask
from ieforge.tasks.openie import OpenIETask

pytestmark = pytest.mark.model

LABELS = ["person"]
CHUNK_TOKENS = 40  # three CoNLL sentences make four chunks
TOKENS = 4  # answers are not looked at


@pytest.fixture(scope="module")
def texts(conll_test: list[dict[str, Any]]) -> list[str]:
    """A long text (three CoNLL sentences) and a short one (one sentence)."""
    sentences = [r["sentence"] for r in conll_test[3:6]]
    return [" ".join(sentences), sentences[0]]


def _told(seen: list[tuple[int, int, int]], text: int) -> list[tuple[int, int]]:
    return [(done, total) for i, done, total in seen if i == text]


def _every_chunk(k: int) -> list[tuple[int, int]]:
    return [(done, k) for done in range(1, k + 1)]


def test_ner_tells_every_chunk_in_order_and_changes_no_result(
    small_backend: Backend, texts: list[str]
) -> None:
    task = NERTask(small_backend, max_chunk_tokens=CHUNK_TOKENS, max_new_tokens=TOKENS)
    chunks = [len(task.chunks(t, LABELS)) for t in texts]
    assert chunks[0] >= 3 and chunks[1] == 1
    plain = list(task.run_many(texts, LABELS, texts_per_batch=1))
    seen: list[tuple[int, int, int]] = []
    # one text per backend call: the second is told under its index in texts, not in its call
    told = list(task.run_many(texts, LABELS, texts_per_batch=1, on_chunk=lambda *c: seen.append(c)))
    assert told == plain
    for i, k in enumerate(chunks):
        assert _told(seen, i) == _every_chunk(k)
        assert told[i].stats.answers == k * len(LABELS)


def test_openie_and_event_triggers_tell_every_chunk(small_backend: Backend, texts: list[str]) -> None:
    """Open IE stands for the tasks that share its helper (tables); events count their trigger questions."""
    openie = OpenIETask(small_backend, max_chunk_tokens=CHUNK_TOKENS, max_new_tokens=TOKENS)
    seen: list[tuple[int, int, int]] = []
    results = list(openie.run_many(texts[::-1], on_chunk=lambda *c: seen.append(c)))
    assert _told(seen, 0) == [(1, 1)]
    assert _told(seen, 1) == _every_chunk(results[1].stats.answers) and results[1].stats.answers >= 3

    events = EventTask(
        small_backend,
        "casie",
        detection="joint",
        max_chunk_tokens=CHUNK_TOKENS,
        max_new_tokens=TOKENS,
        argument_max_new_tokens=1,
    )
    k = len(events._chunks(texts[0]))
    seen = []
    list(events.run_many(texts[::-1], on_chunk=lambda *c: seen.append(c)))
    assert _told(seen, 0) == [(1, 1)] and _told(seen, 1) == _every_chunk(k) and k >= 3


def test_corpus_run_shows_each_chunk_of_a_long_document(
    small_backend: Backend, texts: list[str], tmp_path: Path
) -> None:
    from ieforge.cli import _with_progress
    from ieforge.runs import execute, make_job, plan_run

    corpus, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = ["long", "short"]
    corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in zip(ids, texts)))
    ex = Extractor(small_backend, max_chunk_tokens=CHUNK_TOKENS, max_new_tokens=TOKENS)
    k = len(ex._ner_task().chunks(texts[0], LABELS))
    plan = plan_run(corpus, out, make_job("ner", labels=LABELS))
    screen = io.StringIO()
    summary = _with_progress(
        plan,
        lambda advance, on_chunk: execute(plan, ex, on_written=advance, on_chunk=on_chunk),
        console=Console(file=screen, force_terminal=True, width=300),
    )
    assert (summary.written, summary.errors) == (2, 0)
    shown = screen.getvalue()
    for done in range(1, k + 1):
        assert f"document long: chunk {done}/{k}" in shown
    assert "document short" not in shown  # one chunk: nothing to say
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in written] == ids
    assert [r["stats"]["answers"] for r in written] == [k, 1]


def test_a_server_backend_tells_each_chunk_from_its_threads(small_backend: Backend, texts: list[str]) -> None:
    """An OpenAI-compatible backend answers from several threads; every chunk is still told once, in order."""
    from conftest import serving

    from ieforge.models.openai import OpenAIBackend
    from ieforge.serve import create_app

    with serving(create_app(Extractor(small_backend))) as url:
        remote = OpenAIBackend("smollm2-135m", base_url=f"{url}/v1", concurrency=4)
        openie = OpenIETask(remote, max_chunk_tokens=CHUNK_TOKENS, max_new_tokens=TOKENS)
        seen: list[tuple[int, int, int]] = []
        (result,) = openie.run_many([texts[0]], on_chunk=lambda *c: seen.append(c))
    assert _told(seen, 0) == _every_chunk(result.stats.answers) and result.stats.answers >= 3
