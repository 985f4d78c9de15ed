"""Corpus runs: a task over a JSONL file of any size, resumable, shardable, on one process or on Ray.

>>> from ieforge.extractor import Extractor  # doctest: +SKIP
>>> from ieforge.runs import make_job, plan_run, execute  # doctest: +SKIP
>>> plan = plan_run("corpus.jsonl", "out.jsonl", make_job("ner", labels=["person"]))  # doctest: +SKIP
>>> execute(plan, Extractor("smollm2-135m")).written  # doctest: +SKIP
"""

from ieforge.runs.jobs import TASKS, Job, make_job
from ieforge.runs.jsonl import parse_shard
from ieforge.runs.local import RunPlan, RunSummary, execute, plan_run

__all__ = ["TASKS", "Job", "RunPlan", "RunSummary", "execute", "make_job", "parse_shard", "plan_run"]
