"""Relation questions for the training corpus, built so that a model must read the options.

Each case is a sentence with a subject and an object mention and the relation labels that hold between
them (none: no relation). A question about it is ieforge's own QA4RE question (prompt ``qa4re``: one
option sentence per relation template, the none option last, answered with the option's letter) or, for a
share, the vanilla question (prompt ``vanilla``: the label names, answered with the label), rendered by
:func:`ieforge.prompts.build_re_question` exactly as :class:`ieforge.tasks.relations.RelationTask` renders
them, over a schema made of the offered labels only:

- the number of options ``n`` (the none option included) is random, from 2 to as many as the schema allows
  for the entity types (type constraints, where the data has types) or ``max_options``;
- the offered labels are the gold label and distractors in random order, the none option last. Distractors
  never include a label that may describe the same fact (:file:`overlaps.yaml`) or that the same subject
  and object strings hold elsewhere in the dataset; half of them, when the sentence has other relations,
  are those (a harder choice: the right relation between other mentions);
- the gold answer sits at each of the ``n`` positions equally often for every ``n``: a positive case draws
  ``n`` with weight ``(n - 1) / n`` and a none case with weight ``1 / n``, and the sampler takes none cases
  in the proportion that makes the two match (see :attr:`RelationCase.none_rate`). FewRel has no none
  instances: a FewRel case becomes one, with probability ``1 / n``, by leaving its gold label out of the
  options, as the brief for the corpus asks.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources

import yaml

from ieforge.data import DocumentExample, REExample, TripleExample
from ieforge.errors import InputError
from ieforge.models.base import Message
from ieforge.prompts import build_re_question, load_re_prompt
from ieforge.schemas.relations import RelationSchema
from ieforge.types import Mention

QA4RE_PROMPT = "qa4re"
VANILLA_PROMPT = "vanilla"


@dataclass(frozen=True)
class RelationCase:
    """A subject and an object mention of one sentence and the labels that hold between them."""

    id: str
    text: str
    head: Mention
    tail: Mention
    labels: tuple[str, ...]
    """the gold labels of the pair (empty: no relation)"""
    head_type: str | None = None
    tail_type: str | None = None
    exclude: frozenset[str] = frozenset()
    """labels never offered as distractors (the same strings hold them elsewhere in the dataset)"""
    near: tuple[str, ...] = ()
    """labels of the sentence's other pairs: preferred distractors"""
    none_by_omission: bool = False
    """with probability 1/n, leave the gold label out of the options so that none is the answer (FewRel)"""


@dataclass
class RelationQuestion:
    messages: list[Message]
    answer: str
    """the option letter (QA4RE) or the label (vanilla)"""
    label: str
    """the label the answer stands for (the schema's none label for none)"""
    options: int
    gold_position: int
    vanilla: bool = False
    offered: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def overlaps() -> dict[str, object]:
    """The groups of :file:`overlaps.yaml` (relations per schema, entity types, extra distractor types)."""
    raw = resources.files("ieforge.corpus").joinpath("overlaps.yaml").read_text("utf-8")
    data = yaml.safe_load(raw)
    if not isinstance(data, dict):
        raise InputError("corpus/overlaps.yaml: expected a mapping")
    return data


def overlap_map(groups: Iterable[Sequence[str]]) -> dict[str, frozenset[str]]:
    """Every member of a group -> the other members of all its groups."""
    out: dict[str, set[str]] = {}
    for group in groups:
        for a in group:
            out.setdefault(a, set()).update(b for b in group if b != a)
    return {k: frozenset(v) for k, v in out.items()}


@lru_cache(maxsize=16)
def relation_overlaps(schema: str) -> dict[str, frozenset[str]]:
    groups = overlaps().get("relations", {})
    if not isinstance(groups, dict):
        raise InputError("corpus/overlaps.yaml: 'relations' must map schema names to groups")
    return overlap_map(groups.get(schema, []))


def candidate_labels(case: RelationCase, schema: RelationSchema) -> list[str]:
    """The schema labels the case may be asked about: those allowed for its entity types (every label
    when a type is unknown, or when the constraints would leave out a gold label)."""
    allowed = schema.allowed_labels(case.head_type, case.tail_type)
    if any(label not in allowed for label in case.labels):
        allowed = list(schema.labels)
    return allowed


def distractor_labels(case: RelationCase, schema: RelationSchema) -> list[str]:
    """Labels that may be offered as wrong options for the case (see the module docs)."""
    near_overlaps = relation_overlaps(schema.name)
    banned = set(case.labels) | set(case.exclude)
    for label in case.labels:
        banned |= near_overlaps.get(label, frozenset())
    return [label for label in candidate_labels(case, schema) if label not in banned]


def most_options(case: RelationCase, schema: RelationSchema, max_options: int) -> int:
    """The largest option count a question about the case can have (the none option included)."""
    distractors = len(distractor_labels(case, schema))
    if case.labels:
        return min(max_options, distractors + 2)
    return min(max_options, distractors + 1)


def none_rate(most: int) -> float:
    """The share of none answers that puts the gold answer at each position equally often when the
    option count is uniform on ``2 .. most``: the mean of ``1 / n``."""
    if most < 2:
        return 0.0
    return sum(1.0 / n for n in range(2, most + 1)) / (most - 1)


def _option_count(rng: random.Random, most: int, none: bool) -> int:
    """``n`` in ``2 .. most`` with weight ``1 / n`` (a none case) or ``(n - 1) / n`` (a positive one)."""
    counts = list(range(2, most + 1))
    weights = [1.0 / n if none else (n - 1.0) / n for n in counts]
    return rng.choices(counts, weights)[0]


def _pick_distractors(rng: random.Random, case: RelationCase, pool: list[str], k: int) -> list[str]:
    near = [label for label in dict.fromkeys(case.near) if label in pool]
    rng.shuffle(near)
    chosen = near[: k // 2]
    rest = [label for label in pool if label not in chosen]
    chosen += rng.sample(rest, min(k - len(chosen), len(rest)))
    return chosen


def _sub_schema(schema: RelationSchema, labels: list[str]) -> RelationSchema:
    """``schema`` restricted to ``labels`` in this order (no constraints), its none label kept."""
    keep = [*labels, schema.none_label]
    return RelationSchema(
        name=schema.name,
        version=schema.version,
        none_label=schema.none_label,
        labels=labels,
        templates={label: schema.templates[label] for label in keep},
    )


def relation_question(
    case: RelationCase,
    schema: RelationSchema,
    rng: random.Random,
    *,
    max_options: int = 20,
    vanilla: bool = False,
) -> RelationQuestion | None:
    """One question about ``case`` (see the module docs); None when the schema leaves no distractor."""
    pool = distractor_labels(case, schema)
    most = most_options(case, schema, max_options)
    if most < 2:
        return None
    gold: str | None
    if case.none_by_omission and case.labels:
        n = rng.randint(2, most)
        none = rng.random() < 1.0 / n
        gold = None if none else rng.choice(case.labels)
        offered = _pick_distractors(rng, case, pool, n - 1 if none else n - 2)
    elif case.labels:
        n = _option_count(rng, most, none=False)
        gold = rng.choice(case.labels)
        offered = _pick_distractors(rng, case, pool, n - 2)
    else:
        n = _option_count(rng, most, none=True)
        gold = None
        offered = _pick_distractors(rng, case, pool, n - 1)
    if gold is not None:
        offered.append(gold)
    rng.shuffle(offered)
    sub = _sub_schema(schema, offered)
    prompt = load_re_prompt(VANILLA_PROMPT if vanilla else QA4RE_PROMPT)
    q = build_re_question(prompt, sub, case.text, case.head, case.tail)
    label = gold if gold is not None else schema.none_label
    position = next(i for i, (_, lab) in enumerate(q.options) if lab == label)
    return RelationQuestion(
        messages=list(prompt.chat(q.text)),
        answer=prompt.assistant_prefix + q.options[position][0],
        label=label,
        options=len(q.options),
        gold_position=position,
        vanilla=vanilla,
        offered=offered,
    )


def strings_labels(cases: Iterable[RelationCase]) -> dict[tuple[str, str], set[str]]:
    """(subject, object) strings, case folded -> every label they hold in the cases."""
    out: dict[tuple[str, str], set[str]] = {}
    for c in cases:
        out.setdefault((c.head.text.casefold(), c.tail.text.casefold()), set()).update(c.labels)
    return out


def with_exclusions(cases: list[RelationCase]) -> list[RelationCase]:
    """The cases with ``exclude`` set to the labels their strings hold elsewhere in the same list."""
    held = strings_labels(cases)
    out = []
    for c in cases:
        others = held.get((c.head.text.casefold(), c.tail.text.casefold()), set()) - set(c.labels)
        out.append(replace(c, exclude=frozenset(others) | c.exclude))
    return out


# ----- cases from the datasets ------------------------------------------------------------------


def fewrel_cases(examples: Iterable[REExample]) -> list[RelationCase]:
    """One case per FewRel instance; each may become a none question by leaving its label out."""
    cases = [
        RelationCase(
            id=ex.id, text=ex.text, head=ex.head, tail=ex.tail, labels=(ex.label,), none_by_omission=True
        )
        for ex in examples
    ]
    return with_exclusions(cases)


_WORD = re.compile(r"[^\W_]")


def usable_mention(text: str, mention: Mention | None) -> bool:
    """Whether a mention found by string search is worth asking about: at least two letters or digits (a
    lone digit too), a whole-word occurrence, and not a name cut short (the exact-match WebNLG data
    sometimes keeps ``Alan`` of ``Alan Shepard``: a capitalized word right after it gives that away)."""
    if mention is None:
        return False
    if len(_WORD.findall(mention.text)) < 2 and not mention.text.strip().isdigit():
        return False
    if mention.start > 0 and text[mention.start - 1].isalnum():
        return False
    if mention.end < len(text) and text[mention.end].isalnum():
        return False
    after = text[mention.end :].split()
    return not (after and after[0][:1].isupper() and mention.text[-1:].isalpha())


def _overlap(a: Mention, b: Mention) -> bool:
    return a.start < b.end and b.start < a.end


def _key(m: Mention) -> tuple[int, int]:
    return (m.start, m.end)


def pair_cases(
    ident: str,
    text: str,
    related: Sequence[tuple[Mention, Mention, str]],
    mentions: Sequence[Mention],
    types: dict[tuple[int, int], str] | None = None,
) -> list[RelationCase]:
    """The cases of one sentence: one per related (subject, object) pair with all its labels, and one
    per ordered pair of other mentions with no relation in either direction (a none case; mentions that
    overlap those of a related pair count as related)."""
    types = types or {}
    by_pair: dict[tuple[tuple[int, int], tuple[int, int]], list[str]] = {}
    spans: dict[tuple[int, int], Mention] = {}
    for head, tail, label in related:
        spans[_key(head)], spans[_key(tail)] = head, tail
        labels = by_pair.setdefault((_key(head), _key(tail)), [])
        if label not in labels:
            labels.append(label)
    cases: list[RelationCase] = []
    for k, ((h, t), labels) in enumerate(by_pair.items()):
        near = tuple(x for pair, labs in by_pair.items() if pair != (h, t) for x in labs)
        cases.append(
            RelationCase(
                id=f"{ident}#p{k}",
                text=text,
                head=spans[h],
                tail=spans[t],
                labels=tuple(labels),
                head_type=types.get(h),
                tail_type=types.get(t),
                near=near,
            )
        )
    every = list({_key(m): m for m in mentions}.values())
    linked = [(spans[h], spans[t]) for h, t in by_pair] + [(spans[t], spans[h]) for h, t in by_pair]
    near_all = tuple(x for labs in by_pair.values() for x in labs)
    k = 0
    for head in every:
        for tail in every:
            if head is tail or _overlap(head, tail):
                continue
            # not a pair of a relation, nor one whose mentions overlap those of a related pair (the
            # nested "NAM" of "NAM and electrolaryngeal speech" is related as the whole is)
            if any(_overlap(head, h) and _overlap(tail, t) for h, t in linked):
                continue
            cases.append(
                RelationCase(
                    id=f"{ident}#n{k}",
                    text=text,
                    head=head,
                    tail=tail,
                    labels=(),
                    head_type=types.get(_key(head)),
                    tail_type=types.get(_key(tail)),
                    near=near_all,
                )
            )
            k += 1
    return cases


def webnlg_cases(examples: Iterable[TripleExample]) -> list[RelationCase]:
    """Cases of WebNLG sentences: every triple whose subject and object are usable, non-overlapping
    mentions (:func:`usable_mention`), and the none pairs among those mentions."""
    cases: list[RelationCase] = []
    for ex in examples:
        related: list[tuple[Mention, Mention, str]] = []
        for t in ex.triples:
            s, o = t.subject_span, t.object_span
            if s is None or o is None or not usable_mention(ex.text, s) or not usable_mention(ex.text, o):
                continue
            if not _overlap(s, o):
                related.append((s, o, t.relation))
        mentions = [m for h, t, _ in related for m in (h, t)]
        cases += pair_cases(ex.id, ex.text, related, mentions)
    return drop_doubtful_none(with_exclusions(cases))


def scierc_cases(docs: Iterable[DocumentExample]) -> list[RelationCase]:
    """Cases of SciERC sentences: every related pair (with the entity types) and every ordered pair of
    entities without a relation in either direction."""
    cases: list[RelationCase] = []
    for doc in docs:
        types = {(e.start, e.end): e.label for e in doc.entities}
        related = [(r.head, r.tail, r.label) for r in doc.relations]
        mentions = [Mention(start=e.start, end=e.end, text=e.text) for e in doc.entities]
        cases += pair_cases(doc.id, doc.text, related, mentions, types)
    return drop_doubtful_none(with_exclusions(cases))


def drop_doubtful_none(cases: list[RelationCase]) -> list[RelationCase]:
    """None cases whose subject and object strings hold a relation elsewhere in the data (either way
    round) are left out: the relation may well hold in this sentence too."""
    held = strings_labels(cases)
    out = []
    for c in cases:
        h, t = c.head.text.casefold(), c.tail.text.casefold()
        if not c.labels and (held.get((h, t)) or held.get((t, h))):
            continue
        out.append(c)
    return out
