"""Build an IE instruction corpus from annotated datasets (ADELIE's IEInstruct recipe).

Every annotated example becomes one chat-format instruction example. Two families of examples are mixed:

- **instruction** examples (ADELIE): an instruction drawn from a pool of paraphrases
  (``instructions.yaml``), the label options, the text, and an answer written mostly in the compact
  ``[Answer]: ...`` style, some as JSON and some explanation-first; a share of them is preceded by
  solved examples of the same dataset as earlier turns (few-shot);
- **task** examples: the exact conversations ieforge's own tasks send (the ``uniner-json`` NER
  conversation with one question per type, QA4RE multiple-choice relation questions, on-demand table
  questions), so that a model trained on the corpus is used through :class:`ieforge.Extractor` as is.

The run is deterministic for a seed; each example records the dataset and source example it came from,
and a stable hash of the source example puts a share of them in a held-out split. No general
(non-IE) instruction data ships with ieforge or is on this machine; mix some in with your own JSONL.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from ieforge._validation import read_model_lines
from ieforge.corpus.formats import ANSWER_PREFIX, Style, as_json, compact, explained, json_keys
from ieforge.data import (
    DocumentExample,
    EventExample,
    REExample,
    TripleExample,
    read_casie,
    read_fewrel,
    read_rams,
    read_scierc,
    read_semeval,
    read_webnlg,
)
from ieforge.data.ondemand import TableCase, build_webnlg_cases
from ieforge.errors import InputError
from ieforge.grounding import chunk_text
from ieforge.models.base import Message
from ieforge.prompts import NERPrompt, build_re_question, load_chat_prompt, load_ner_prompt, load_re_prompt
from ieforge.schemas.relations import load_relation_schema

Family = Literal["ner", "re", "ed", "eae", "table"]
Split = Literal["train", "heldout"]
TaskTurns = tuple[list[Message], str, Style, list[tuple[str, ...]]]
"""a task example: the conversation before the answer, the answer, its style and its gold tuples"""

NER_PROMPT = "uniner-json"
QA4RE_PROMPT = "qa4re"
TABLE_PROMPT = "rows"
RELATION_SCHEMAS = {"semeval": "semeval", "fewrel": "fewrel"}
"""datasets whose labels are a built-in relation schema: these get QA4RE task examples"""


class CorpusExample(BaseModel):
    """One instruction example: a conversation whose last assistant turn is the answer."""

    id: str
    dataset: str
    source_id: str
    """the id of the annotated example it was made from"""
    family: Family
    kind: Literal["instruction", "task"]
    style: Style
    """how the final answer is written (see :mod:`ieforge.corpus.formats`)"""
    shots: int = 0
    split: Split = "train"
    messages: list[dict[str, str]]
    """chat turns ``{role, content}``"""
    gold: list[list[str]] = Field(default_factory=list)
    """the final answer's content as string tuples, for scoring samples against it"""
    assistant_prefix: str | None = None
    """what the task writes at the start of every answer itself (its prompt's ``assistant_prefix``);
    None: the usual one of the style (:data:`ieforge.corpus.formats.ANSWER_PREFIX`)"""

    @property
    def prefix(self) -> str:
        """The answer prefix training and sampling encode with the prompt (see ``assistant_prefix``)."""
        if self.assistant_prefix is not None:
            return self.assistant_prefix
        return ANSWER_PREFIX.get(self.style, "")

    @property
    def prompt(self) -> list[Message]:
        """The conversation up to the final answer."""
        return [{"role": m["role"], "content": m["content"]} for m in self.messages[:-1]]

    @property
    def answer(self) -> str:
        return str(self.messages[-1]["content"])


@dataclass
class CorpusConfig:
    """How the corpus is mixed. Shares are probabilities per source example."""

    seed: int = 0
    limit_per_dataset: int | None = 1000
    """source examples drawn per dataset (None: all)"""
    task_share: float = 0.5
    """share of examples in ieforge's own task format, where the dataset has one"""
    json_share: float = 0.15
    explain_share: float = 0.15
    fewshot_share: float = 0.1
    max_shots: int = 2
    heldout_share: float = 0.05
    max_ner_types: int = 8
    """questions per NER task conversation: every type present, then absent types up to this number"""
    max_text_chars: int = 1500


@dataclass
class _Item:
    """A source example made ready for rendering."""

    source_id: str
    family: Family
    text: str
    options: list[str]
    gold: list[tuple[str, ...]]
    slots: dict[str, str] = field(default_factory=dict)
    task: Callable[[random.Random, CorpusConfig], TaskTurns] | None = None


@lru_cache(maxsize=1)
def instruction_pools() -> dict[str, list[str]]:
    """The instruction paraphrases per family (``ner``, ``re``, ``ed``, ``eae``)."""
    raw = yaml.safe_load(resources.files("ieforge.corpus").joinpath("instructions.yaml").read_text("utf-8"))
    return {k: list(v) for k, v in raw.items() if isinstance(v, list)}


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) fixed by ``parts``: the held-out split does not move when the seed does."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# ----- reading datasets into items -------------------------------------------------------------


def dataset_items(name: str, path: str | Path) -> list[_Item]:
    """Read one annotated dataset into corpus items, choosing the reader by name (then by file)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"--data {name}: no such file or folder: {path}")
    key = name.lower()
    if key == "scierc":
        return [it for doc in read_scierc(path) for it in _document_items(doc)]
    if key == "webnlg":
        triples = read_webnlg(path)
        return [it for ex in triples for it in _triple_items(ex)] + [
            _table_item(c) for c in build_webnlg_cases(path)
        ]
    if key in ("casie", "rams"):
        events = read_casie(path, fix_offsets=True) if key == "casie" else read_rams(path)
        types = sorted({e.subtype or e.type for ex in events for e in ex.events})
        return [it for ex in events for it in _event_items(ex, types, detect=key == "casie")]
    if key.startswith("fewrel"):
        names = path.parent / "pid2name.json"
        exs = read_fewrel(path, relation_names=names if names.is_file() else None)
        return [_relation_item(ex, "fewrel") for ex in exs]
    if key.startswith("semeval"):
        return [_relation_item(ex, "semeval") for ex in read_semeval(path)]
    from ieforge.evaluate.runner import load_ner_dataset  # NER files of every known format

    data = load_ner_dataset(name, path)
    return [
        _ner_item(ex.id, ex.text, [(e.text, e.label) for e in ex.entities or []], data.labels)
        for ex in data.examples
    ]


def _ner_item(source_id: str, text: str, gold: list[tuple[str, str]], labels: Sequence[str]) -> _Item:
    item = _Item(source_id, "ner", text, list(labels), [(a, b) for a, b in gold])
    item.task = lambda rng, config: _ner_task(item, rng, config.max_ner_types)
    return item


def _document_items(doc: DocumentExample) -> Iterator[_Item]:
    labels = sorted({"task", "method", "metric", "material", "other scientific term", "generic"})
    yield _ner_item(doc.id, doc.text, [(e.text, _words(e.label)) for e in doc.entities], labels)
    rels = sorted(
        {"used for", "feature of", "hyponym of", "evaluate for", "part of", "compare", "conjunction"}
    )
    for k, r in enumerate(doc.relations):
        yield _Item(
            f"{doc.id}#r{k}",
            "re",
            doc.text,
            rels,
            [(_words(r.label),)],
            {"head": r.head.text, "tail": r.tail.text},
        )


def _words(label: str) -> str:
    """A label as lower-case words: ``birthPlace`` -> ``birth place``, ``USED-FOR`` -> ``used for``,
    ``OtherScientificTerm`` -> ``other scientific term``."""
    if not label.isupper():
        label = "".join(" " + c if c.isupper() else c for c in label)
    return " ".join(label.replace("_", " ").replace("-", " ").lower().split())


def _triple_items(ex: TripleExample) -> Iterator[_Item]:
    for k, t in enumerate(ex.triples):
        if t.subject_span is None or t.object_span is None:
            continue
        options = sorted({_words(x.relation) for x in ex.triples} | {_words(t.relation)})
        yield _Item(
            f"{ex.id}#t{k}",
            "re",
            ex.text,
            options,
            [(_words(t.relation),)],
            {"head": t.subject, "tail": t.object},
        )


def _relation_item(ex: REExample, schema_name: str) -> _Item:
    schema = load_relation_schema(RELATION_SCHEMAS[schema_name])
    item = _Item(
        ex.id,
        "re",
        ex.text,
        list(schema.all_labels),
        [(ex.label,)],
        {"head": ex.head.text, "tail": ex.tail.text},
    )
    prompt = load_re_prompt(QA4RE_PROMPT)

    def task(rng: random.Random, config: CorpusConfig) -> TaskTurns:
        n = len(schema.allowed_labels(ex.head_type, ex.tail_type))
        q = build_re_question(
            prompt,
            schema,
            ex.text,
            ex.head,
            ex.tail,
            ex.head_type,
            ex.tail_type,
            rotation=rng.randrange(max(1, n)),
        )
        letter = next(a for a, lab in q.options if lab == ex.label)
        return list(prompt.chat(q.text)), prompt.assistant_prefix + letter, "letter", [(letter,)]

    if ex.label in schema.all_labels:
        item.task = task
    return item


def _event_items(
    ex: EventExample, types: list[str], detect: bool = True, max_chars: int = 800
) -> Iterator[_Item]:
    """Event detection over pieces of at most ``max_chars`` characters (whole sentences, no overlap), and
    argument extraction for each event inside its piece."""
    for k, chunk in enumerate(chunk_text(ex.text, max_chars, len, overlap_sentences=0)):
        inside = [e for e in ex.events if chunk.start <= e.trigger.start and e.trigger.end <= chunk.end]
        if detect:
            gold: list[tuple[str, ...]] = [(e.trigger.text, e.subtype or e.type) for e in inside]
            yield _Item(f"{ex.id}#c{k}", "ed", chunk.text, types, gold)
        for j, e in enumerate(inside):
            args = [a for a in e.arguments if chunk.start <= a.span.start and a.span.end <= chunk.end]
            roles = sorted({a.role for a in args})
            if roles:
                yield _Item(
                    f"{ex.id}#c{k}e{j}",
                    "eae",
                    chunk.text,
                    roles,
                    [(a.role, a.span.text) for a in args],
                    {"event": e.subtype or e.type, "trigger": e.trigger.text},
                )


def _table_item(case: TableCase) -> _Item:
    prompt = load_chat_prompt("table", TABLE_PROMPT)
    gold: list[tuple[str, ...]] = [(h, row[h]) for row in case.rows for h in case.headers if row.get(h)]
    item = _Item(case.id, "table", case.text, list(case.headers), gold)

    def task(rng: random.Random, config: CorpusConfig) -> TaskTurns:
        chat = prompt.chat(
            text=case.text, instruction=case.instruction, headers=json.dumps(case.headers, ensure_ascii=False)
        )
        answer = json.dumps(
            [{h: row.get(h, "") for h in case.headers} for row in case.rows], ensure_ascii=False
        )
        return list(chat), answer, "rows", gold

    item.task = task
    return item


def _ner_task(item: _Item, rng: random.Random, max_types: int) -> TaskTurns:
    """The UniversalNER conversation in ieforge's ``uniner-json`` wording: the text once, then one
    question per type (every type present, then absent ones), answered with JSON lists."""
    by_type: dict[str, list[str]] = {}
    for text, label in item.gold:
        if text not in by_type.setdefault(label, []):
            by_type[label].append(text)
    present = [t for t in item.options if t in by_type] + sorted(set(by_type) - set(item.options))
    absent = [t for t in item.options if t not in by_type]
    rng.shuffle(absent)
    asked = present + absent[: max(0, max_types - len(present))]
    rng.shuffle(asked)
    if not asked:
        asked = list(item.options[:1])
    messages = ner_conversation(load_ner_prompt(NER_PROMPT), item.text, asked, by_type)
    last = asked[-1]
    return messages[:-1], messages[-1]["content"], "list", [(s,) for s in by_type.get(last, [])]


def ner_conversation(
    prompt: NERPrompt, text: str, asked: Sequence[str], by_type: Mapping[str, Sequence[str]]
) -> list[Message]:
    """The UniversalNER conversation about ``text`` in ``prompt``'s wording: its opening turns (the text
    once), then for each type of ``asked`` in order its question, answered with the JSON list of that
    type's strings (``[]`` for a type not in ``by_type``). The prompt's assistant prefix is part of
    every answer."""
    if not asked:
        raise ValueError("a conversation needs at least one entity type")
    messages: list[Message] = list(prompt.chat(text, asked[0])[:-1])
    for label in asked:
        messages.append({"role": "user", "content": prompt.question.format(text=text, label=label)})
        answer = json.dumps(list(by_type.get(label, [])), ensure_ascii=False)
        messages.append({"role": "assistant", "content": answer})
    return messages


# ----- rendering -------------------------------------------------------------------------------


def _instruction(item: _Item, rng: random.Random, style: Style) -> tuple[list[Message], str]:
    template = rng.choice(instruction_pools()[item.family])
    options = ", ".join(item.options)
    body = template.format(options=options, **item.slots)
    if style == "json":
        keys = json_keys(len(item.gold[0]) if item.gold else (1 if item.family == "re" else 2), item.family)
        body += f"\nAnswer in JSON with the keys {', '.join(keys)}."
    user = f"{body}\nText: {item.text}"
    if style == "compact":
        answer = compact(item.gold)
    elif style == "json":
        answer = as_json(item.gold, keys)
    else:
        answer = explained(item.gold, item.family)
    return [{"role": "user", "content": user}], answer


def _style(rng: random.Random, config: CorpusConfig) -> Style:
    x = rng.random()
    if x < config.json_share:
        return "json"
    if x < config.json_share + config.explain_share:
        return "explain"
    return "compact"


def render(
    dataset: str, items: Sequence[_Item], config: CorpusConfig, rng: random.Random
) -> Iterator[CorpusExample]:
    """Corpus examples for ``items`` of one dataset (see the module docs for the mix)."""
    solved: dict[Family, list[tuple[str, str]]] = {}
    for n, item in enumerate(items):
        split: Split = (
            "heldout" if stable_fraction(dataset, item.source_id) < config.heldout_share else "train"
        )
        pooled = item.family in instruction_pools()
        if item.task is not None and (not pooled or rng.random() < config.task_share):
            messages, answer, style, gold = item.task(rng, config)
            kind: Literal["instruction", "task"] = "task"
            shots = 0
        else:
            style = _style(rng, config)
            turns, answer = _instruction(item, rng, "compact" if style == "compact" else style)
            gold = item.gold
            kind = "instruction"
            pool = solved.setdefault(item.family, [])
            shots = 0
            messages = []
            if pool and rng.random() < config.fewshot_share:
                shots = min(len(pool), rng.randint(1, config.max_shots))
                for user, reply in rng.sample(pool, shots):
                    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
            messages += turns
            if split == "train" and len(pool) < 50 and style == "compact":
                pool.append((turns[0]["content"], answer))
        messages.append({"role": "assistant", "content": answer})
        yield CorpusExample(
            id=f"{dataset}:{item.source_id}:{item.family}:{n}",
            dataset=dataset,
            source_id=item.source_id,
            family=item.family,
            kind=kind,
            style=style,
            shots=shots,
            split=split,
            messages=[{"role": m["role"], "content": m["content"]} for m in messages],
            gold=[list(t) for t in gold],
        )


def build_corpus(
    datasets: Iterable[tuple[str, str | Path]], config: CorpusConfig | None = None
) -> list[CorpusExample]:
    """Instruction examples from ``(name, path)`` datasets, mixed as ``config`` says.

    Names pick the reader: ``scierc``, ``webnlg``, ``casie``, ``rams``, ``fewrel``, ``semeval``, or any
    NER dataset name or file :func:`ieforge.evaluate.runner.load_ner_dataset` reads (``conll2003``,
    ``wnut17``, ``ncbi_disease``, ``bc5cdr``, InstructUIE JSON, JSONL ...)."""
    config = config or CorpusConfig()
    out: list[CorpusExample] = []
    for name, path in datasets:
        rng = random.Random(f"{config.seed}:{name}")
        items = [
            it
            for it in dataset_items(name, path)
            if it.text.strip() and len(it.text) <= config.max_text_chars
        ]
        if config.limit_per_dataset is not None and len(items) > config.limit_per_dataset:
            items = rng.sample(items, config.limit_per_dataset)
        out.extend(render(name, items, config, rng))
    random.Random(config.seed).shuffle(out)
    return out


def corpus_stats(examples: Sequence[CorpusExample]) -> dict[str, Any]:
    """Counts by dataset, family, kind, style, split and shots (printed by ``ieforge corpus build``)."""
    return {
        "examples": len(examples),
        "by_dataset": dict(Counter(e.dataset for e in examples)),
        "by_family": dict(Counter(e.family for e in examples)),
        "by_kind": dict(Counter(e.kind for e in examples)),
        "by_style": dict(Counter(e.style for e in examples)),
        "by_split": dict(Counter(e.split for e in examples)),
        "fewshot": sum(1 for e in examples if e.shots),
    }


def write_corpus(examples: Iterable[CorpusExample], path: str | Path) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for e in examples:
            # a line without its own prefix is written as before the field existed (same bytes, same sha256)
            unset = {"assistant_prefix"} if e.assistant_prefix is None else None
            f.write(e.model_dump_json(exclude=unset) + "\n")
            n += 1
    return n


def read_corpus(path: str | Path, split: Split | None = None) -> list[CorpusExample]:
    """Read a corpus JSONL (only ``split``'s examples if given); a bad line names its file and line."""
    examples = read_model_lines(path, CorpusExample, "corpus example")
    return [e for e in examples if split is None or e.split == split]
