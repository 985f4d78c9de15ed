"""Instruction robustness: one model, one data set, several wordings of the same instruction.

The study asks how much a zero-shot score depends on the exact wording of the instruction, and whether
the vanilla relation-extraction framing (list the labels, ask for one) is more sensitive to it than the
QA framing (QA4RE: pick the lettered option sentence the text supports). Every wording is a versioned
prompt file: the original (variant 0) and its paraphrases ``<name>-p1``, ``<name>-p2``, .. in
``ieforge/prompts/re`` (``qa4re``, ``vanilla``) and ``ieforge/prompts/ner`` (``uniner-json``). A paraphrase
rewords only the instruction sentences; the parser, the placeholders, the entity markup and the answer
cue are the original's, so the variants differ in wording alone.

For each framing and variant the data is run once and scored; per framing the variant F1s are summarized
by their mean, standard deviation, minimum and maximum. The standard deviation is the *population* one
(``statistics.pstdev``, divisor n): the variants are the whole set of wordings studied, not a sample to
generalize from, and it stays defined (0.0) for a single variant.

Example (the QA framing read from the option letters, the vanilla framing generating its label)::

    from ieforge.data import read_semeval
    from ieforge.evaluate.robustness import run_re_robustness
    from ieforge.models import load_model

    backend = load_model("qwen2.5-coder-0.5b")
    dev = read_semeval("DEV_SUBSET_7201-8000_FROM_TRAIN.TXT")[:200]
    report = run_re_robustness(backend, dev, schema="semeval", variants=5)
    print(report.to_markdown())          # per-variant F1, P, R, top label, pairs/s; mean/std/min/max
    report.plot("robustness.png")        # needs matplotlib: pip install 'ieforge[plot]'
    open("robustness.json", "w").write(report.model_dump_json(indent=2))

NER works the same way over the ``uniner-json`` question and its paraphrases, scored by strict span F1::

    from ieforge.data import read_instructuie_ner
    from ieforge.evaluate.robustness import run_ner_robustness

    test = read_instructuie_ner("conll2003/instructuie_format/test.json")[:100]
    report = run_ner_robustness(backend, test, ["person", "location", "organization"], variants=4)
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, computed_field

from ieforge.data.instructuie import NERExample
from ieforge.data.semeval import REExample
from ieforge.errors import IEForgeError
from ieforge.evaluate.metrics import PRF, relation_prf, span_prf
from ieforge.models.base import Backend
from ieforge.prompts import available_prompts
from ieforge.schemas.relations import RelationSchema, available_relation_schemas, load_relation_schema
from ieforge.tasks.ner import DEFAULT_BATCH_SIZE as NER_BATCH_SIZE
from ieforge.tasks.ner import NERTask
from ieforge.tasks.relations import Reading, RelationQuery, RelationTask
from ieforge.types import ParseStats

Framing = Literal["qa4re", "vanilla", "ner"]
REFraming = Literal["qa4re", "vanilla"]
TEMPLATE_FRAMING = "qa4re-templates"
"""the framing name of the QA4RE runs that vary the option sentences (template sets) instead of the wording"""

# framing -> (prompt folder, the original prompt whose paraphrases are "<original>-p<k>")
_ORIGINAL: dict[str, tuple[str, str]] = {
    "qa4re": ("re", "qa4re"),
    "vanilla": ("re", "vanilla"),
    "ner": ("ner", "uniner-json"),
}
# how each relation framing is read unless told otherwise, and which readings it can have
_DEFAULT_READING: dict[str, Reading] = {"qa4re": "letters", "vanilla": "generate"}
_READINGS: dict[str, tuple[Reading, ...]] = {
    "qa4re": ("letters", "generate", "score"),
    "vanilla": ("generate", "score"),
}


class MissingDependencyError(IEForgeError, ImportError):
    """An optional dependency a feature needs is not installed."""


# ---------------------------------------------------------------------------------------------------------
# The instruction variants


def available_variants(framing: Framing) -> list[str]:
    """Every packaged wording of ``framing``'s instruction: the original first, then its paraphrases
    ``<original>-p1``, ``<original>-p2``, .. in number order."""
    if framing not in _ORIGINAL:
        raise ValueError(f"unknown framing '{framing}' (use {', '.join(_ORIGINAL)})")
    folder, original = _ORIGINAL[framing]
    pattern = re.compile(rf"{re.escape(original)}-p(\d+)")
    numbered: list[tuple[int, str]] = []
    for name in available_prompts(folder):
        m = pattern.fullmatch(name)
        if m is not None:
            numbered.append((int(m.group(1)), name))
    return [original, *(name for _, name in sorted(numbered))]


def prompt_variants(framing: Framing, n: int) -> list[str]:
    """The first ``n`` prompt names of ``framing`` (``qa4re``, ``vanilla`` or ``ner``): the original
    instruction (variant 0), then ``n - 1`` paraphrases.

    >>> prompt_variants("qa4re", 3)
    ['qa4re', 'qa4re-p1', 'qa4re-p2']
    """
    names = available_variants(framing)
    if not 1 <= n <= len(names):
        raise ValueError(
            f"{framing} has {len(names)} instruction variants (the original and {len(names) - 1} "
            f"paraphrases); asked for {n}"
        )
    return names[:n]


# ---------------------------------------------------------------------------------------------------------
# The report


class VariantResult(BaseModel):
    """The score of one instruction variant of one framing."""

    framing: str
    variant: int
    """0 for the original instruction, k for the paraphrase ``-pk``"""
    prompt: str
    """name@version of the prompt"""
    templates: str | None = None
    """the template-set framing: id of the relation schema whose option sentences were used"""
    reading: str
    """how the answers were read (relation tasks: e.g. ``letters``, ``generate``; NER: ``generate``)"""
    examples: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    top_label: str | None = None
    """the most frequent predicted relation label (None for NER)"""
    top_label_share: float | None = None
    """its share of the predictions: near 1.0 means the reading collapsed onto one label"""
    unanswered: int = 0
    """relation answers that could not be read (counted as the none label)"""
    parse: ParseStats | None = None
    """NER: what happened to the answers on the way to grounded spans"""
    seconds: float
    items_per_second: float
    """relation pairs (or NER texts) per second, model time included"""
    predictions: list[str] = []
    """relation labels predicted, aligned with the report's ``example_ids`` (empty for NER)"""

    @property
    def name(self) -> str:
        """The prompt id, and for the template-set framing the template set too."""
        return self.prompt if self.templates is None else f"{self.prompt} / {self.templates}"

    @classmethod
    def scored(cls, prf: PRF, **fields: object) -> VariantResult:
        """A result carrying ``prf``'s counts and its precision, recall and F1."""
        return cls.model_validate(
            {
                **fields,
                "tp": prf.tp,
                "fp": prf.fp,
                "fn": prf.fn,
                "precision": prf.precision,
                "recall": prf.recall,
                "f1": prf.f1,
            }
        )


class FramingSummary(BaseModel):
    """How a framing's F1 varies over its instruction variants (F1 as a fraction, like the variants')."""

    framing: str
    variants: int
    mean: float
    std: float
    """population standard deviation (divisor n) over the variants"""
    min: float
    max: float
    best: str
    """prompt id (and template set) of the variant with the highest F1 (the first one on ties)"""
    worst: str
    """prompt id (and template set) of the variant with the lowest F1 (the first one on ties)"""

    @property
    def range(self) -> float:
        return self.max - self.min


def summarize(framing: str, results: Sequence[VariantResult]) -> FramingSummary:
    """Mean, population standard deviation, minimum and maximum of the F1 of ``results``."""
    if not results:
        raise ValueError(f"no variant results for framing '{framing}'")
    f1s = [r.f1 for r in results]
    best = max(results, key=lambda r: r.f1)
    worst = min(results, key=lambda r: r.f1)
    return FramingSummary(
        framing=framing,
        variants=len(results),
        mean=statistics.fmean(f1s),
        std=statistics.pstdev(f1s),
        min=min(f1s),
        max=max(f1s),
        best=best.name,
        worst=worst.name,
    )


class RobustnessReport(BaseModel):
    """Per-variant scores of one model on one data set, and their spread per framing.

    JSON-serializable (``model_dump_json``; ``summaries`` is included and recomputed on load).
    """

    task: Literal["re", "ner"]
    model: str
    """the backend's model name"""
    data: str = ""
    """what was evaluated: the relation schema id, or the NER entity types"""
    none_label: str | None = None
    """relation tasks: the label excluded from the F1"""
    labels: list[str] = []
    """NER: the entity types asked about"""
    metric: str
    example_ids: list[str]
    std: Literal["population"] = "population"
    """which standard deviation the summaries report"""
    results: list[VariantResult]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summaries(self) -> list[FramingSummary]:
        """One summary per framing, in the order the framings were run."""
        return [summarize(f, self.variants_of(f)) for f in self.framings]

    @property
    def framings(self) -> list[str]:
        return list(dict.fromkeys(r.framing for r in self.results))

    @property
    def prompts(self) -> list[str]:
        """Every prompt id (``name@version``) the report covers, in run order."""
        return [r.prompt for r in self.results]

    def variants_of(self, framing: str) -> list[VariantResult]:
        return [r for r in self.results if r.framing == framing]

    def summary(self, framing: str) -> FramingSummary:
        for s in self.summaries:
            if s.framing == framing:
                return s
        raise KeyError(f"no results for framing '{framing}' (have: {', '.join(self.framings)})")

    def to_markdown(self) -> str:
        """Two markdown tables (every variant; the spread per framing) and a note on the metric."""
        unit = "pairs/s" if self.task == "re" else "texts/s"
        lines = [
            f"Instruction robustness of `{self.model}` on {len(self.example_ids)} examples"
            + (f" ({self.data})" if self.data else "")
            + ".",
            "",
            f"| framing | variant | prompt | reading | F1 | P | R | top label | {unit} |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.results:
            top = "–" if r.top_label is None else f"{r.top_label} {_pct(r.top_label_share or 0.0, 0)}%"
            if self.task == "re" and r.unanswered:
                top += f" ({r.unanswered} unread)"
            lines.append(
                f"| {r.framing} | {r.variant} | `{r.name}` | {r.reading} | {_pct(r.f1)} | "
                f"{_pct(r.precision)} | {_pct(r.recall)} | {top} | {r.items_per_second:.2f} |"
            )
        lines += [
            "",
            "| framing | variants | mean F1 | std | min | max | best | worst |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in self.summaries:
            lines.append(
                f"| {s.framing} | {s.variants} | {_pct(s.mean)} | {_pct(s.std)} | {_pct(s.min)} | "
                f"{_pct(s.max)} | `{s.best}` | `{s.worst}` |"
            )
        lines += ["", f"F1, P, R in percent: {self.metric}. std: {self.std} (divisor n) over the variants."]
        return "\n".join(lines) + "\n"

    def plot(self, path: str | Path) -> Path:
        """Write a PNG: per framing, a box of its variant F1s with every variant drawn as a point (the
        original instruction as a star) and the mean as a diamond. Needs matplotlib (``ieforge[plot]``)."""
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise MissingDependencyError(
                "RobustnessReport.plot needs matplotlib, which is not installed: "
                "pip install 'ieforge[plot]' (or pip install matplotlib)"
            ) from None
        path = Path(path)
        framings = self.framings
        fig = Figure(figsize=(1.8 + 1.9 * max(1, len(framings)), 4.2), dpi=120)
        FigureCanvasAgg(fig)  # the Agg canvas, without pyplot or the global backend choice
        ax = fig.add_subplot(1, 1, 1)
        top = 0.0
        for x, framing in enumerate(framings):
            results = self.variants_of(framing)
            f1s = [100 * r.f1 for r in results]
            top = max(top, *f1s)
            ax.boxplot(f1s, positions=[x], widths=0.5, showfliers=False, manage_ticks=False)
            k = len(results)
            for i, (r, y) in enumerate(zip(results, f1s)):
                dx = -0.15 + 0.3 * i / (k - 1) if k > 1 else 0.0
                original = r.variant == 0
                ax.scatter(
                    [x + dx],
                    [y],
                    marker="*" if original else "o",
                    s=120 if original else 36,
                    color="tab:red" if original else "tab:blue",
                    zorder=3,
                    label="original" if original else "paraphrase",
                )
            ax.scatter([x], [statistics.fmean(f1s)], marker="D", s=30, color="black", zorder=4, label="mean")
        ax.set_xticks(range(len(framings)))
        ax.set_xticklabels([f"{f}\n({len(self.variants_of(f))} variants)" for f in framings])
        ax.set_xlim(-0.6, len(framings) - 0.4)
        ax.set_ylim(0, max(10.0, min(100.0, top * 1.15 + 2)))
        ax.set_ylabel("F1 (%)")
        ax.set_title(f"Instruction robustness: {self.model}, {len(self.example_ids)} examples", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        handles, names = ax.get_legend_handles_labels()
        unique = dict(zip(names, handles))
        ax.legend(list(unique.values()), list(unique), loc="upper right", fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
        return path


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}"


# ---------------------------------------------------------------------------------------------------------
# Running the study


def run_re_robustness(
    backend: Backend,
    examples: Sequence[REExample],
    *,
    schema: str | RelationSchema,
    framings: Sequence[REFraming] = ("vanilla", "qa4re"),
    variants: int = 5,
    reading: Reading | Mapping[str, Reading] | None = None,
    template_sets: Sequence[str | RelationSchema] = (),
    batch_size: int = 8,
    max_new_tokens: int = 24,
    progress: bool = True,
) -> RobustnessReport:
    """Classify ``examples`` once per (framing, instruction variant) and score every run.

    ``framings``: ``vanilla`` (the label question) and/or ``qa4re`` (the multiple-choice question).
    ``variants``: how many wordings per framing, the original included (see :func:`prompt_variants`).
    ``reading``: how answers are read, for every framing or per framing as a dict; by default QA4RE
    reads the option letters' probabilities (``letters``) and vanilla generates its label
    (``generate``); vanilla can also ``score`` whole labels, QA4RE can ``generate`` or ``score``.
    ``max_new_tokens`` caps a generated answer (the generate reading).
    ``template_sets``: other relation schemas with the same labels (e.g. ``semeval-t2``, ``semeval-t3``,
    see :func:`template_sets_of`); each adds a run of the original QA4RE question with its option
    sentences, reported as the framing ``qa4re-templates`` whose variant 0 is ``schema`` itself (the
    run of the ``qa4re`` framing's original wording, reused when that framing is run).
    The metric is micro-F1 over the positive labels (the schema's none label excluded). Everything is
    checked before the model runs: an unknown framing, reading or variant count, or a gold label not in
    the schema, raises :class:`ValueError`.
    """
    if not examples:
        raise ValueError("no examples to evaluate")
    rel_schema = schema if isinstance(schema, RelationSchema) else load_relation_schema(schema)
    unknown = sorted({e.label for e in examples} - set(rel_schema.all_labels))
    if unknown:
        raise ValueError(
            f"gold label '{unknown[0]}' is not in schema '{rel_schema.id}' ({len(unknown)} unknown labels)"
        )
    framings = list(dict.fromkeys(framings))
    if not framings:
        raise ValueError("no framings to run")
    for framing in framings:
        if framing not in _READINGS:
            raise ValueError(f"unknown relation framing '{framing}' (use vanilla or qa4re)")
    readings = _readings_for(framings, reading)
    sets = [rel_schema, *(load_template_set(rel_schema, s) for s in template_sets)] if template_sets else []
    qa_reading = (
        readings.get("qa4re")
        or _readings_for(["qa4re"], reading if isinstance(reading, str) else None)["qa4re"]
    )
    reuse_original = "qa4re" in framings  # the template framing's variant 0 is the qa4re framing's
    plan: list[tuple[str, int, RelationTask]] = []
    for framing in framings:
        for k, name in enumerate(prompt_variants(framing, variants)):
            task = RelationTask(
                backend,
                schema=rel_schema,
                method=framing,
                prompt=name,
                reading=readings[framing],
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
            )
            plan.append((framing, k, task))
    for k, template_set in enumerate(sets):
        if k == 0 and reuse_original:
            continue  # the same run as the qa4re framing's variant 0
        task = RelationTask(
            backend,
            schema=template_set,
            method="qa4re",
            prompt=_ORIGINAL["qa4re"][1],
            reading=qa_reading,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
        )
        plan.append((TEMPLATE_FRAMING, k, task))

    queries = [RelationQuery(e.text, e.head, e.tail, e.head_type, e.tail_type) for e in examples]
    gold = [e.label for e in examples]
    none = rel_schema.none_label
    results: list[VariantResult] = []
    with _progress_bar(progress, len(plan) * len(queries)) as (describe, advance):
        for run, k, task in plan:
            describe(f"{run} {task.prompt.id}" + (f" {task.schema.id}" if run == TEMPLATE_FRAMING else ""))
            start = time.perf_counter()
            relations = list(task.run_many(queries, on_done=advance))
            seconds = time.perf_counter() - start
            pred = [r.label for r in relations]
            top_label, top_n = Counter(pred).most_common(1)[0]
            results.append(
                VariantResult.scored(
                    relation_prf(gold, pred, none),
                    framing=run,
                    variant=k,
                    prompt=task.prompt.id,
                    templates=task.schema.id if run == TEMPLATE_FRAMING else None,
                    reading=task.variant,
                    examples=len(queries),
                    top_label=top_label,
                    top_label_share=top_n / len(pred),
                    unanswered=sum(not r.answered for r in relations),
                    seconds=seconds,
                    items_per_second=len(queries) / seconds if seconds > 0 else 0.0,
                    predictions=pred,
                )
            )
    if sets and reuse_original:
        original = next(r for r in results if r.framing == "qa4re" and r.variant == 0)
        at = next((i for i, r in enumerate(results) if r.framing == TEMPLATE_FRAMING), len(results))
        results.insert(
            at, original.model_copy(update={"framing": TEMPLATE_FRAMING, "templates": rel_schema.id})
        )
    return RobustnessReport(
        task="re",
        model=backend.name,
        data=rel_schema.id,
        none_label=none,
        metric=f"micro-F1 over the positive labels (the none label '{none}' excluded)",
        example_ids=[e.id for e in examples],
        results=results,
    )


def run_ner_robustness(
    backend: Backend,
    examples: Sequence[NERExample],
    labels: Sequence[str],
    *,
    variants: int = 4,
    batch_size: int = NER_BATCH_SIZE,
    max_new_tokens: int = 64,
    progress: bool = True,
) -> RobustnessReport:
    """Find ``labels`` entities in ``examples`` once per wording of the ``uniner-json`` question
    (``variants`` wordings, the original included) and score each run by strict span micro-F1
    (start, end and type must all match). Gold entities of types not in ``labels`` are left out, as
    nothing asked for them."""
    if not examples:
        raise ValueError("no examples to evaluate")
    asked = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
    if not asked:
        raise ValueError("at least one entity label is required")
    plan = [
        (k, NERTask(backend, prompt=name, batch_size=batch_size, max_new_tokens=max_new_tokens))
        for k, name in enumerate(prompt_variants("ner", variants))
    ]
    texts = [e.text for e in examples]
    gold = [[s for s in e.entities if s.label in asked] for e in examples]
    results: list[VariantResult] = []
    with _progress_bar(progress, len(plan) * len(texts)) as (describe, advance):
        for k, task in plan:
            describe(f"ner {task.prompt.id}")
            start = time.perf_counter()
            found = list(task.run_many(texts, asked, on_done=advance))
            seconds = time.perf_counter() - start
            stats = ParseStats()
            for res in found:
                stats.add(res.stats)
            results.append(
                VariantResult.scored(
                    span_prf(gold, [res.entities for res in found]),
                    framing="ner",
                    variant=k,
                    prompt=task.prompt.id,
                    reading="generate",
                    examples=len(texts),
                    parse=stats,
                    seconds=seconds,
                    items_per_second=len(texts) / seconds if seconds > 0 else 0.0,
                )
            )
    return RobustnessReport(
        task="ner",
        model=backend.name,
        data=", ".join(asked),
        labels=asked,
        metric="strict span micro-F1 (start, end and type all match)",
        example_ids=[e.id for e in examples],
        results=results,
    )


def template_sets_of(schema: str) -> list[str]:
    """The built-in alternative template sets of a built-in schema: ``semeval`` -> ``semeval-t2``, ..."""
    return [name for name in available_relation_schemas() if re.fullmatch(rf"{re.escape(schema)}-t\d+", name)]


def load_template_set(main: RelationSchema, other: str | RelationSchema) -> RelationSchema:
    """``other`` loaded, checked to offer exactly ``main``'s labels (a template set only rewords them)."""
    alt = other if isinstance(other, RelationSchema) else load_relation_schema(other)
    if set(alt.labels) != set(main.labels) or alt.none_label != main.none_label:
        raise ValueError(
            f"template set '{alt.id}' does not have the labels of schema '{main.id}' "
            "(a template set must offer the same labels and none label)"
        )
    return alt


def _readings_for(
    framings: Sequence[str], reading: Reading | Mapping[str, Reading] | None
) -> dict[str, Reading]:
    """The reading of each framing: the default, one reading for all, or a per-framing dict."""
    if reading is not None and not isinstance(reading, str):
        extra = sorted(set(reading) - set(framings))
        if extra:
            raise ValueError(f"reading given for framing '{extra[0]}', which is not run")
    out: dict[str, Reading] = {}
    for framing in framings:
        if reading is None:
            chosen = _DEFAULT_READING[framing]
        elif isinstance(reading, str):
            chosen = reading
        else:
            chosen = reading.get(framing, _DEFAULT_READING[framing])
        if chosen not in get_args(Reading):
            raise ValueError(f"unknown reading '{chosen}'")
        if chosen not in _READINGS[framing]:
            raise ValueError(
                f"the {framing} framing cannot use the '{chosen}' reading "
                f"(use {' or '.join(_READINGS[framing])})"
            )
        out[framing] = chosen
    return out


@contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[tuple[Callable[[str], None], Callable[[int], None]]]:
    """(set the description, advance by n) for a progress bar on stderr, or two no-ops."""
    if not enabled:
        yield (lambda _text: None), (lambda _n: None)
        return
    from ieforge._progress import progress_bar

    bar = progress_bar()
    task_id = bar.add_task("robustness", total=total)
    with bar:
        yield (
            lambda text: bar.update(task_id, description=text),
            lambda n: bar.advance(task_id, n),
        )
