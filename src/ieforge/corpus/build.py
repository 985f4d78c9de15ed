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
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, Field

from ieforge._validation import read_model_lines
from ieforge.corpus.formats import ANSWER_PREFIX, Style, as_json, compact, explained, json_keys
from ieforge.corpus.heldout import (
    CASIE_EVAL_MAX_ID,
    FEWREL_EVAL_PER_RELATION,
    check_training_source,
)
from ieforge.corpus.relations import (
    RelationCase,
    fewrel_cases,
    most_options,
    none_rate,
    relation_question,
    scierc_cases,
    webnlg_cases,
)
from ieforge.corpus.typing import CATCH_ALL, TYPING_PROMPT, TypingSource, typing_conversation
from ieforge.data import (
    DocumentExample,
    EventExample,
    read_casie,
    read_fewrel,
    read_rams,
    read_scierc,
    read_webnlg,
)
from ieforge.data.ondemand import TableCase, build_webnlg_cases
from ieforge.errors import InputError
from ieforge.grounding import chunk_text
from ieforge.models.base import Message
from ieforge.prompts import NERPrompt, load_chat_prompt, load_ner_prompt, load_typing_prompt
from ieforge.schemas.relations import RelationSchema, load_relation_schema

Family = Literal["ner", "re", "ed", "eae", "table", "typing"]
FAMILIES: tuple[str, ...] = ("ner", "re", "ed", "eae", "table", "typing")
Split = Literal["train", "heldout"]


class TaskTurns(NamedTuple):
    """A task example: the conversation before the answer, the answer, its style, its gold tuples and
    the answer prefix the task writes itself (None: the style's usual one)."""

    messages: list[Message]
    answer: str
    style: Style
    gold: list[tuple[str, ...]]
    prefix: str | None = None


NER_PROMPT = "uniner-json"
TABLE_PROMPT = "rows"
NO_RELATION = "no relation"
"""the none option of the instruction-pool relation questions"""
TYPING_PREFIX = load_typing_prompt(TYPING_PROMPT).assistant_prefix
"""the answer cue the typing task writes itself (``Answer:``): encoded with the prompt in training"""


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
    family_limits: dict[str, int | None] = field(default_factory=dict)
    """examples per dataset of a family (``re``, ``typing`` ...), instead of ``limit_per_dataset``; 0 leaves
    the family out, None takes all"""
    task_shares: dict[str, float] = field(default_factory=lambda: {"re": 0.85})
    """``task_share`` of a family, where it differs"""
    re_vanilla_share: float = 0.15
    """share of relation task questions asked in the vanilla form (label list) instead of QA4RE"""
    re_max_options: int = 20
    """most options of a relation question, the none option included"""
    typing_max_options: int = 16
    """most options of an entity-typing question, the none option included"""
    typing_questions: int = 3
    """most typing questions per conversation (1 to this many)"""


@dataclass
class _Item:
    """A source example made ready for rendering."""

    source_id: str
    family: Family
    text: str
    options: list[str]
    gold: list[tuple[str, ...]]
    slots: dict[str, str] = field(default_factory=dict)
    task: Callable[[random.Random, CorpusConfig], TaskTurns | None] | None = None
    none: bool = False
    """a relation case without a relation (sampled in proportion, see :func:`sample_family`)"""
    most: int = 0
    """the most options a relation question about it can have (the none option included)"""
    task_only: bool = False
    """no instruction-pool form (typing questions)"""


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
    """Read one annotated dataset into corpus items, choosing the reader by name (then by file).

    Held-out sources are refused (:func:`ieforge.corpus.heldout.check_training_source`); evaluation
    documents inside a training source are left out (CASIE, FewRel: see :mod:`ieforge.corpus.heldout`)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"--data {name}: no such file or folder: {path}")
    check_training_source(name, path)
    key = name.lower()
    if key == "scierc":
        docs = read_scierc(path)
        schema = load_relation_schema("scierc")
        ner = [it for doc in docs for it in _document_items(doc)]
        return ner + [_relation_item(c, schema) for c in scierc_cases(docs)]
    if key == "webnlg":
        schema = load_relation_schema("webnlg")
        cases = webnlg_cases(read_webnlg(path))
        return [_relation_item(c, schema) for c in cases] + [_table_item(c) for c in build_webnlg_cases(path)]
    if key in ("casie", "rams"):
        events = read_casie(path, fix_offsets=True) if key == "casie" else read_rams(path)
        if key == "casie":
            events = [ex for ex in events if not _casie_eval_document(ex.id)]
        types = sorted({e.subtype or e.type for ex in events for e in ex.events})
        return [it for ex in events for it in _event_items(ex, types, detect=key == "casie")]
    if key.startswith("fewrel"):
        return _fewrel_items(path)
    from ieforge.evaluate.runner import load_ner_dataset  # NER files of every known format

    data = load_ner_dataset(name, path, keep_catch_all=True)
    labels = [t for t in data.labels if t.lower() not in CATCH_ALL]
    items: list[_Item] = []
    for ex in data.examples:
        entities = ex.entities or []
        kept = [e for e in entities if e.label.lower() not in CATCH_ALL]
        items.append(_ner_item(ex.id, ex.text, [(e.text, e.label) for e in kept], labels))
        if kept:
            source = TypingSource(
                id=ex.id,
                text=ex.text,
                entities=tuple((e.start, e.end, e.label) for e in kept),
                taken=tuple((e.start, e.end) for e in entities),
                types=tuple(labels),
            )
            items.append(_typing_item(source))
    return items


def _casie_eval_document(ident: str) -> bool:
    return ident.isdigit() and int(ident) <= CASIE_EVAL_MAX_ID


def _fewrel_items(path: Path) -> list[_Item]:
    names = path.parent / "pid2name.json"
    examples = read_fewrel(path, relation_names=names if names.is_file() else None)
    schema = load_relation_schema("fewrel")
    unknown = sorted({ex.label for ex in examples} - set(schema.labels))
    if unknown:
        raise InputError(
            f"{path}: relation '{unknown[0]}' is not in the fewrel schema (it describes FewRel 1.0 "
            "val_wiki.json, read with the pid2name.json beside it)"
        )
    kept = [ex for ex in examples if int(ex.id.rsplit("-", 1)[1]) >= FEWREL_EVAL_PER_RELATION]
    return [_relation_item(c, schema) for c in fewrel_cases(kept)]


def _ner_item(source_id: str, text: str, gold: list[tuple[str, str]], labels: Sequence[str]) -> _Item:
    item = _Item(source_id, "ner", text, list(labels), [(a, b) for a, b in gold])
    item.task = lambda rng, config: _ner_task(item, rng, config.max_ner_types)
    return item


def _document_items(doc: DocumentExample) -> Iterator[_Item]:
    labels = sorted({"task", "method", "metric", "material", "other scientific term", "generic"})
    yield _ner_item(doc.id, doc.text, [(e.text, _words(e.label)) for e in doc.entities], labels)


def _words(label: str) -> str:
    """A label as lower-case words: ``birthPlace`` -> ``birth place``, ``USED-FOR`` -> ``used for``,
    ``OtherScientificTerm`` -> ``other scientific term``."""
    if not label.isupper():
        label = "".join(" " + c if c.isupper() else c for c in label)
    return " ".join(label.replace("_", " ").replace("-", " ").lower().split())


def _relation_item(case: RelationCase, schema: RelationSchema) -> _Item:
    """A relation case: task questions (QA4RE, or vanilla for a share) over random option sets, or the
    instruction-pool form, its options the gold, the sentence's other relations, a few more labels and
    "no relation", as words."""
    rng = random.Random(case.id)
    others = [x for x in schema.labels if x not in case.labels and x not in case.near]
    shown = [*case.labels, *case.near, *rng.sample(others, min(6, len(others)))]
    gold = _words(case.labels[0]) if case.labels else NO_RELATION
    item = _Item(
        case.id,
        "re",
        case.text,
        [*sorted({_words(x) for x in shown}), NO_RELATION],
        [(gold,)],
        {"head": case.head.text, "tail": case.tail.text},
        none=not case.labels,
        most=most_options(case, schema, CorpusConfig.re_max_options),
    )

    def task(rng: random.Random, config: CorpusConfig) -> TaskTurns | None:
        vanilla = rng.random() < config.re_vanilla_share
        q = relation_question(case, schema, rng, max_options=config.re_max_options, vanilla=vanilla)
        if q is None:
            return None
        return TaskTurns(q.messages, q.answer, "label" if vanilla else "letter", [(q.answer,)])

    item.task = task
    return item


def _typing_item(source: TypingSource) -> _Item:
    """Entity-typing questions about spans of one annotated sentence (:mod:`ieforge.corpus.typing`)."""
    item = _Item(source.id, "typing", source.text, list(source.types), [], task_only=True)

    def task(rng: random.Random, config: CorpusConfig) -> TaskTurns | None:
        questions = rng.randint(1, max(1, config.typing_questions))
        messages, asked = typing_conversation(
            source, rng, questions=questions, max_options=config.typing_max_options
        )
        if not asked:
            return None
        return TaskTurns(
            messages[:-1], messages[-1]["content"], "letter", [(asked[-1].letter,)], TYPING_PREFIX
        )

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
        return TaskTurns(list(chat), answer, "rows", gold)

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
    return TaskTurns(messages[:-1], messages[-1]["content"], "list", [(s,) for s in by_type.get(last, [])])


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
    """Corpus examples for ``items`` of one dataset (see the module docs for the mix). An item whose
    task finds no question to ask (a relation case without a distractor, say) gives no example."""
    solved: dict[Family, list[tuple[str, str]]] = {}
    for n, item in enumerate(items):
        split: Split = (
            "heldout" if stable_fraction(dataset, item.source_id) < config.heldout_share else "train"
        )
        pooled = item.family in instruction_pools() and not item.task_only
        share = config.task_shares.get(item.family, config.task_share)
        prefix: str | None = None
        if item.task is not None and (not pooled or rng.random() < share):
            turns_ = item.task(rng, config)
            if turns_ is None:
                continue
            messages, answer, style, gold, prefix = turns_
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
            assistant_prefix=prefix,
        )


def sample_family(items: list[_Item], limit: int | None, rng: random.Random) -> list[_Item]:
    """Up to ``limit`` items of one family (None: all).

    Relation cases without a relation are taken in the proportion that puts the answer at every option
    position equally often: among the cases whose questions can have up to ``most`` options, a share
    :func:`~ieforge.corpus.relations.none_rate` of ``most`` are none cases (positive cases are left out
    where there are too few none cases). A ``limit`` then takes a uniform sample of that balanced set."""
    if not any(it.none for it in items):
        return items if limit is None or len(items) <= limit else rng.sample(items, limit)
    balanced: list[_Item] = []
    for most in sorted({it.most for it in items}):
        positives = [it for it in items if it.most == most and not it.none]
        nones = [it for it in items if it.most == most and it.none]
        rate = none_rate(most)
        if rate >= 1.0 or not positives:
            continue
        want_none = round(len(positives) * rate / (1.0 - rate))
        if want_none > len(nones):
            keep = (
                min(len(positives), round(len(nones) * (1.0 - rate) / rate)) if rate > 0 else len(positives)
            )
            positives = rng.sample(positives, keep)
            want_none = len(nones)
        balanced += positives + rng.sample(nones, want_none)
    if limit is not None and len(balanced) > limit:
        return rng.sample(balanced, limit)
    rng.shuffle(balanced)
    return balanced


def build_corpus(
    datasets: Iterable[tuple[str, str | Path]], config: CorpusConfig | None = None
) -> list[CorpusExample]:
    """Instruction examples from ``(name, path)`` datasets, mixed as ``config`` says.

    Names pick the reader: ``scierc``, ``webnlg``, ``casie``, ``rams`` (a train split), ``fewrel``, or
    any NER dataset name or file :func:`ieforge.evaluate.runner.load_ner_dataset` reads
    (``conll2003``, ``wnut17``, ``ncbi_disease``, ``bc5cdr``, InstructUIE JSON, JSONL ...). Held-out
    sources (CrossNER, MIT, SemEval, CoNLL04, Few-NERD, RAMS and CaRB dev/test, test splits) raise
    :class:`InputError`. Each family of a dataset is sampled on its own: ``config.family_limits`` or
    ``config.limit_per_dataset`` examples."""
    config = config or CorpusConfig()
    unknown = sorted(set(config.family_limits) - set(FAMILIES))
    if unknown:
        raise InputError(f"unknown family '{unknown[0]}' in the family limits (known: {', '.join(FAMILIES)})")
    out: list[CorpusExample] = []
    for name, path in datasets:
        rng = random.Random(f"{config.seed}:{name}")
        items = [
            it
            for it in dataset_items(name, path)
            if it.text.strip() and len(it.text) <= config.max_text_chars
        ]
        chosen: list[_Item] = []
        for family in FAMILIES:
            of_family = [it for it in items if it.family == family]
            limit = config.family_limits.get(family, config.limit_per_dataset)
            if of_family and limit != 0:
                chosen += sample_family(of_family, limit, rng)
        out.extend(render(name, chosen, config, rng))
    random.Random(config.seed).shuffle(out)
    return out


_OPTION_LINE = re.compile(r"^([A-Z]{1,2})\. ", re.M)
_LETTER_ANSWER = re.compile(r"^(?:Answer:)?\s*([A-Z]{1,2})\s*$")


def lettered_answers(example: CorpusExample) -> list[tuple[str, int, int]]:
    """Every multiple-choice answer of a lettered example: (letter, its position, the option count),
    read from each answered question's options block."""
    out: list[tuple[str, int, int]] = []
    if example.style != "letter":
        return out
    msgs = example.messages
    for i in range(1, len(msgs)):
        if msgs[i]["role"] != "assistant" or msgs[i - 1]["role"] != "user":
            continue
        letters = _OPTION_LINE.findall(msgs[i - 1]["content"])
        m = _LETTER_ANSWER.match(msgs[i]["content"])
        if letters and m and m.group(1) in letters:
            out.append((m.group(1), letters.index(m.group(1)), len(letters)))
    return out


def corpus_stats(examples: Sequence[CorpusExample]) -> dict[str, Any]:
    """Counts by dataset, family, kind, style, split and shots, per family by dataset and by style, and
    for the multiple-choice answers of each family the gold letter histogram, the share of answers
    that are the last (none) option and the option counts (printed by ``ieforge corpus build``)."""
    by: dict[str, dict[str, Counter[str]]] = {"by_family_dataset": {}, "by_family_style": {}}
    letters: dict[str, Counter[str]] = {}
    counts: dict[str, Counter[int]] = {}
    last: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    for e in examples:
        by["by_family_dataset"].setdefault(e.family, Counter())[e.dataset] += 1
        by["by_family_style"].setdefault(e.family, Counter())[e.style] += 1
        for letter, position, n in lettered_answers(e):
            letters.setdefault(e.family, Counter())[letter] += 1
            counts.setdefault(e.family, Counter())[n] += 1
            answers[e.family] += 1
            last[e.family] += position == n - 1
    lettered = {
        family: {
            "answers": answers[family],
            "gold_letters": dict(sorted(letters[family].items(), key=lambda kv: (len(kv[0]), kv[0]))),
            "last_option_share": round(last[family] / answers[family], 3),
            "option_counts": dict(sorted(counts[family].items())),
        }
        for family in sorted(answers)
    }
    return {
        "examples": len(examples),
        "by_dataset": dict(Counter(e.dataset for e in examples)),
        "by_family": dict(Counter(e.family for e in examples)),
        "by_kind": dict(Counter(e.kind for e in examples)),
        "by_style": dict(Counter(e.style for e in examples)),
        "by_split": dict(Counter(e.split for e in examples)),
        "fewshot": sum(1 for e in examples if e.shots),
        **{key: {f: dict(c) for f, c in value.items()} for key, value in by.items()},
        "lettered": lettered,
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
