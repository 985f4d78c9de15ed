"""The one progress bar every long ieforge run shows: description, bar, done/total, elapsed, ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second since the task started, e.g. ``3.20 docs/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or not task.completed:
            return Text("")
        return Text(f"{task.completed / elapsed:.2f} {self.unit}/s", style="progress.data.speed")


def progress_bar(
    *, enabled: bool = True, console: Console | None = None, unit: str | None = None, detail: bool = False
) -> Progress:
    """A rich progress bar on stderr (or ``console``); ``enabled=False`` draws nothing. With ``unit``
    (e.g. ``"docs"``) it also shows the rate; with ``detail``, each task's ``detail`` field as plain text
    (give every task one: ``add_task(..., detail="")``)."""
    columns: list[ProgressColumn] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    if unit is not None:
        columns.append(RateColumn(unit))
    if detail:
        columns.append(TextColumn("{task.fields[detail]}", markup=False))
    return Progress(*columns, console=console or Console(stderr=True), disable=not enabled)
