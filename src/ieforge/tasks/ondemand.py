"""On-demand information extraction: a user's instruction and column headers -> a table.

One question per chunk of the text gives the instruction, the headers (as a JSON list) and asks for a
JSON list of row objects. Cells are located in the text where they were copied from it (the first
cell of a row anywhere, the others nearest to it); a cell the model wrote itself (a count, a
normalized date) is kept ungrounded. Rows found in several chunks are merged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence

from ieforge.errors import InputError
from ieforge.grounding import Chunk
from ieforge.models.base import Backend
from ieforge.prompts import ChatPrompt
from ieforge.prompts.parsers import ParsedString
from ieforge.prompts.structured import parse_rows
from ieforge.tasks._answers import (
    ChunkProgress,
    answers_per_text,
    chunk_budget,
    chunker,
    count_phrase,
    generate_answers,
    phrase_in_chunk,
    span_score,
    task_prompt,
)
from ieforge.types import ParseStats, Phrase, TableResult, TableRow

DEFAULT_MAX_NEW_TOKENS = 256
DEFAULT_PROMPT = "rows"


def clean_headers(headers: Sequence[str]) -> list[str]:
    """Headers stripped, blank ones dropped, each once (ignoring case); at least one is required."""
    out: list[str] = []
    for header in headers:
        header = header.strip()
        if header and header.casefold() not in {h.casefold() for h in out}:
            out.append(header)
    if not out:
        raise InputError("give at least one column header")
    return out


class TableTask:
    """Fill a table with given headers from texts, following a free instruction."""

    def __init__(
        self,
        backend: Backend,
        *,
        prompt: str | ChatPrompt = DEFAULT_PROMPT,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        batch_size: int = 8,
        max_chunk_tokens: int | None = None,
    ) -> None:
        self.backend = backend
        self.prompt = task_prompt(prompt, "table", ["rows"])
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        skeleton = self.prompt.chat(text="", instruction="x" * 200, headers="x" * 60)
        self._chunks = chunker(backend, chunk_budget(backend, skeleton, max_new_tokens, max_chunk_tokens))

    def run(self, text: str, instruction: str, headers: Sequence[str]) -> TableResult:
        return next(self.run_many([text], [instruction], [headers]))

    def run_many(
        self,
        texts: Sequence[str],
        instructions: Sequence[str],
        headers: Sequence[Sequence[str]],
        *,
        on_done: Callable[[int], None] | None = None,
        texts_per_batch: int = 4,
        on_chunk: ChunkProgress | None = None,
    ) -> Iterator[TableResult]:
        """One result per (text, instruction, headers), in order; several texts share generation batches.
        ``on_chunk`` hears of each chunk as it is answered (see :data:`ChunkProgress`)."""
        if not (len(texts) == len(instructions) == len(headers)):
            raise ValueError("texts, instructions and headers must have the same length")
        cleaned = [clean_headers(h) for h in headers]
        for i, instruction in enumerate(instructions):
            if not instruction.strip():
                raise InputError(f"empty instruction (item {i})")
        answers = answers_per_text(
            len(texts),
            lambda i: self._chunks(texts[i]),
            lambda i, chunk: self.prompt.chat(
                text=chunk.text,
                instruction=instructions[i].strip(),
                headers=json.dumps(cleaned[i], ensure_ascii=False),
            ),
            lambda chats, on_answer: generate_answers(
                self.backend, self.prompt, chats, self.max_new_tokens, self.batch_size, on_answer
            ),
            texts_per_batch,
            on_chunk,
        )
        for i, pairs in answers:
            stats = ParseStats()
            rows: dict[tuple[tuple[str, str], ...], TableRow] = {}
            for chunk, gen in pairs:
                stats.answers += 1
                parsed = parse_rows(gen.text, cleaned[i])
                if not parsed.ok:
                    stats.unparsed += 1
                    continue
                for cells in parsed.rows:
                    row = read_row(chunk, cleaned[i], cells, stats)
                    if row is None:
                        continue
                    row.score = span_score(gen, list(cells.values()))
                    key = tuple(sorted((h, p.text.casefold()) for h, p in row.cells.items()))
                    if key not in rows or (row.score or 0) > (rows[key].score or 0):
                        rows[key] = row
            yield TableResult(
                text=texts[i],
                instruction=instructions[i].strip(),
                headers=cleaned[i],
                rows=list(rows.values()),
                stats=stats,
                model=self.backend.name,
                prompt=self.prompt.id,
            )
            if on_done is not None:
                on_done(1)


def read_row(
    chunk: Chunk, headers: Sequence[str], cells: dict[str, ParsedString], stats: ParseStats
) -> TableRow | None:
    """One parsed row as a :class:`TableRow` in header order (None when every cell is blank)."""
    out: dict[str, Phrase] = {}
    anchor: tuple[int, int] | None = None
    for header in headers:
        item = cells.get(header)
        if item is None or not item.value.strip():
            continue
        phrase = phrase_in_chunk(chunk, item.value, anchor)
        count_phrase(stats, phrase)
        if anchor is None and phrase.start is not None and phrase.end is not None:
            anchor = (phrase.start, phrase.end)
        out[header] = phrase
    return TableRow(cells=out) if out else None
