"""Corpus runs on Ray Data (``ieforge run --engine ray``, the ``ieforge[ray]`` extra).

The driver (this process) checks the input, keeps the output file and writes every result the moment it
arrives, exactly as a local run does, so resuming and sharding work the same. Ray workers each load one
model (an :class:`~ieforge.extractor.Extractor` built from ``model_options``) and map chunks of
documents through the job. Records travel as JSON lines, so an output record is byte for byte what the
local engine writes for the same results.

On a cluster, pass ``address`` (or set ``RAY_ADDRESS``); every worker node needs ieforge and the model
(a catalogue package, a path present on every node, or ``openai:NAME`` with a ``base_url`` that points
at vLLM servers).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from ieforge.errors import InputError
from ieforge.runs.jobs import Job, Record
from ieforge.runs.local import MAX_FAILURES_IN_A_ROW, RunPlan, RunSummary, guarded, write_results


class _Worker:
    """A Ray actor: one model, many chunks."""

    def __init__(
        self, job: Job, model_options: dict[str, Any], threads: int | None, max_chars: int | None = None
    ) -> None:
        from ieforge.extractor import Extractor
        from ieforge.models.threads import set_threads

        if threads:
            set_threads(threads)
        self.job = job
        self.max_chars = max_chars
        self.extractor = Extractor(**model_options)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        records = [json.loads(line) for line in batch["line"]]
        out = [
            json.dumps(rec, ensure_ascii=False)
            for rec in guarded(self.job, self.extractor, records, max_chars=self.max_chars)
        ]
        return {"line": out}


def execute_ray(
    plan: RunPlan,
    model_options: dict[str, Any],
    *,
    workers: int = 1,
    cpus_per_worker: int | None = None,
    chunk_size: int = 32,
    address: str | None = None,
    on_written: Callable[[Record], None] | None = None,
    max_failures_in_a_row: int = MAX_FAILURES_IN_A_ROW,
) -> RunSummary:
    """Run the plan's pending records on a Ray Data pipeline of ``workers`` model actors.

    ``model_options`` are :class:`~ieforge.extractor.Extractor` keyword arguments (``model``, ``device``,
    ``dtype``, ``batch_size``, ``max_new_tokens``, ``prompt``, ``base_url``). A local Ray instance
    starts when none is running and no ``address`` is given; ``cpus_per_worker`` defaults to the
    instance's CPUs divided among the workers.
    """
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'ieforge[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    logging.getLogger("ray").setLevel(logging.ERROR)
    if cpus_per_worker is None:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        cpus_per_worker = max(1, cpus // max(1, workers))
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # results come back in input order
    context.enable_progress_bars = False

    lines = [{"line": json.dumps(rec, ensure_ascii=False)} for rec in plan.records()]
    if not lines:
        plan.close()
        return RunSummary()
    dataset = ray.data.from_items(lines).map_batches(
        _Worker,
        fn_constructor_kwargs={
            "job": plan.job,
            "model_options": model_options,
            "threads": cpus_per_worker,
            "max_chars": plan.max_chars,
        },
        batch_size=chunk_size,
        batch_format="numpy",
        concurrency=workers,
        num_cpus=cpus_per_worker,
    )

    def results() -> Iterator[Record]:
        for row in dataset.iter_rows():
            yield json.loads(row["line"])

    return write_results(plan, results(), on_written=on_written, max_failures_in_a_row=max_failures_in_a_row)
