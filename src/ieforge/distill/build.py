"""Student training data from teacher annotations, in UniversalNER's conversation format.

Each passage becomes one conversation: the text once, then one question per entity type
(``What describes {type} in the text?`` in the published ``uniner`` prompt), each answered with the JSON
list of that type's strings. Every type the teacher found is asked; negative types are asked too and
answered ``[]``: the types the teacher said are absent, plus, for passages the teacher annotated
completely, ``negatives`` types sampled from all types in proportion to how many passages have them.
The order of the questions is shuffled. The result is an ieforge corpus file that
``ieforge train sft`` trains on with the loss on every answer.

A share of the passages (``all_types_share``, chosen by a stable hash of the text and the seed) is written
instead as one question for every type at once (prompt ``uniner-json-all``: the types in a shuffled order,
answered with one JSON object mapping each asked type to its strings, ``[]`` for the negatives), the
conversation and answer :meth:`~ieforge.prompts.NERPrompt.chat_all` and
:meth:`~ieforge.prompts.NERPrompt.answer_all` render, exactly what :class:`~ieforge.tasks.ner.NERTask`
sends and reads. Negatives are cheap there (a key and ``[]`` each), so those passages get
``all_types_negatives`` sampled types. Supervised NER training sets (CoNLL-2003, WNUT-17, NCBI-disease,
BC5CDR ...) come in as annotations too (:mod:`ieforge.distill.supervised`).

Annotations whose id names a held-out dataset (a passage id ``crossner_ai:3``, say) are refused
(:mod:`ieforge.corpus.heldout`): zero-shot test data never enters training files.

Annotations of the same passage text from several files (two teachers, say) are merged first.

With ``typing_questions`` > 0, each conversation also teaches two-stage NER's typing step
(:mod:`ieforge.tasks.entity_typing`, prompt ``typing-mc``): after the type questions come that many
multiple-choice questions about spans of the passage, answered with an option letter. The options are
the span's type among sampled distractor types (2 to ``max_typing_options`` in all, as many as a dataset's
type list), shuffled, "none of these" last. The answer is none when the span's type was left out of the
options (``typing_none_share`` of the questions about entities) and for spans that are not entities
(taken from completely annotated passages only, since in a partial annotation an unlabelled span may be
an entity).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ieforge.corpus.build import CorpusExample, Split, ner_conversation, stable_fraction
from ieforge.corpus.heldout import check_training_name
from ieforge.corpus.typing import non_entity_span
from ieforge.distill.annotations import (
    AnnotatedEntity,
    PassageAnnotation,
    dedupe_entities,
    strings_by_type,
)
from ieforge.errors import InputError
from ieforge.grounding import chunk_text
from ieforge.models.base import Message
from ieforge.prompts import NERPrompt, TypingPrompt, load_ner_prompt, load_typing_prompt

DEFAULT_STUDENT_PROMPT = "uniner"
ALL_TYPES_PROMPT = "uniner-json-all"
DEFAULT_NEGATIVES = 5
"""frequency-sampled negative types per completely annotated passage (GNER: negatives carry zero-shot
transfer); ``ieforge distill build`` used 2 before, which ``--negatives 2`` still gives"""
DEFAULT_ALL_TYPES_NEGATIVES = 10
GRAMMATICAL_TYPES = frozenset(
    {
        "adjective",
        "adverb",
        "article",
        "conjunction",
        "determiner",
        "interjection",
        "noun",
        "noun phrase",
        "preposition",
        "pronoun",
        "punctuation",
        "exclamation mark",
        "question mark",
        "verb",
        "verb phrase",
        "word",
    }
)
"""part-of-speech labels small teachers give words when asked for entities; left out by default"""


@dataclass
class DistillConfig:
    negatives: int = DEFAULT_NEGATIVES
    """frequency-sampled negative types per completely annotated passage"""
    seed: int = 0
    prompt: str = DEFAULT_STUDENT_PROMPT
    """the NER prompt whose conversation the student learns (and is later evaluated with)"""
    max_chars: int | None = None
    """passages longer than this are split on sentence boundaries into pieces of at most this many
    characters (None: never); pieces without any entity are left out"""
    heldout_share: float = 0.0
    """share of passages put in the held-out split (by a stable hash of the text)"""
    drop_types: frozenset[str] = GRAMMATICAL_TYPES
    """entity types left out of the data (their entities are neither asked for nor sampled)"""
    typing_questions: int = 0
    """multiple-choice typing questions added to each conversation (0: none; see the module docs)"""
    typing_prompt: str = "typing-mc"
    max_typing_options: int = 14
    """most types offered in a typing question (the none option not counted)"""
    typing_none_share: float = 0.25
    """share of typing questions about an entity whose own type is not offered"""
    all_types_share: float = 0.0
    """share of passages written as one question for every type (``all_types_prompt``) instead of one
    question per type (0: none, the conversations of earlier versions)"""
    all_types_negatives: int = DEFAULT_ALL_TYPES_NEGATIVES
    """frequency-sampled negative types of a completely annotated passage asked in that form"""
    all_types_prompt: str = ALL_TYPES_PROMPT


@dataclass
class _Piece:
    source: PassageAnnotation
    start: int
    text: str
    entities: list[AnnotatedEntity]
    known: set[str]
    """every type whose presence in the piece is known (present ones and known-absent ones)"""


def merge_annotations(annotations: Iterable[PassageAnnotation]) -> list[PassageAnnotation]:
    """One annotation per distinct passage text: entities united, negatives that another teacher found
    present dropped, complete when any of them is, teachers joined with ``+``. Passages whose
    annotation failed (``error``) without entities are left out."""
    merged: dict[str, PassageAnnotation] = {}
    for ann in annotations:
        if ann.error is not None and not ann.entities:
            continue
        old = merged.get(ann.text)
        if old is None:
            merged[ann.text] = ann.model_copy(deep=True)
            continue
        old.entities = dedupe_entities([*old.entities, *ann.entities])
        old.negatives = list(dict.fromkeys([*old.negatives, *ann.negatives]))
        old.complete = old.complete or ann.complete
        if ann.teacher and ann.teacher not in old.teacher.split("+"):
            old.teacher = f"{old.teacher}+{ann.teacher}" if old.teacher else ann.teacher
    for ann in merged.values():
        present = {e.type for e in ann.entities}
        ann.negatives = [t for t in ann.negatives if t not in present]
    return list(merged.values())


def _without(ann: PassageAnnotation, types: frozenset[str]) -> PassageAnnotation:
    if not types:
        return ann
    return ann.model_copy(
        update={
            "entities": [e for e in ann.entities if e.type not in types],
            "negatives": [t for t in ann.negatives if t not in types],
        }
    )


def type_frequencies(annotations: Sequence[PassageAnnotation]) -> Counter[str]:
    """How many passages have each type."""
    return Counter(t for ann in annotations for t in {e.type for e in ann.entities})


def _pieces(ann: PassageAnnotation, max_chars: int | None) -> list[_Piece]:
    known = {e.type for e in ann.entities} | set(ann.negatives)
    if max_chars is None or len(ann.text) <= max_chars:
        return [_Piece(ann, 0, ann.text, list(ann.entities), known)]
    out = []
    for chunk in chunk_text(ann.text, max_chars, len, overlap_sentences=0):
        inside = [
            e.model_copy(update={"start": e.start - chunk.start, "end": e.end - chunk.start})
            for e in ann.entities
            if chunk.start <= e.start and e.end <= chunk.end
        ]
        out.append(_Piece(ann, chunk.start, chunk.text, inside, known))
    # Pieces of a split passage with no entity would only repeat its negative questions.
    return [p for p in out if p.entities] or out[:1]


def _sample_negatives(
    freq: Counter[str], exclude: set[str], k: int, rng: random.Random, types: Sequence[str]
) -> list[str]:
    """``k`` distinct types, not in ``exclude``, drawn with probability proportional to frequency
    (weighted sampling without replacement by exponential keys)."""
    if k <= 0:
        return []
    keyed = [(rng.random() ** (1.0 / freq[t]), t) for t in types if t not in exclude]
    keyed.sort(reverse=True)
    return [t for _, t in keyed[:k]]


def build_examples(
    annotations: Iterable[PassageAnnotation], config: DistillConfig | None = None
) -> list[CorpusExample]:
    """The student's training conversations (see the module docs), deterministic for a seed."""
    config = config or DistillConfig()
    prompt, whole_prompt = _student_prompts(config)
    typing = load_typing_prompt(config.typing_prompt)
    annotations = list(annotations)
    for ann in annotations:
        reason = check_training_name(ann.id.split(":", 1)[0])
        if reason is not None:
            raise InputError(f"annotation {ann.id}: refused, never trained on: {reason}")
    merged = [_without(ann, config.drop_types) for ann in merge_annotations(annotations)]
    freq = type_frequencies(merged)
    types = sorted(freq)
    rng = random.Random(config.seed)
    out: list[CorpusExample] = []
    for ann in merged:
        split: Split = "heldout" if stable_fraction("distill", ann.text) < config.heldout_share else "train"
        for k, piece in enumerate(_pieces(ann, config.max_chars)):
            by_type = strings_by_type(piece.entities)
            absent = sorted(piece.known - set(by_type))
            whole = (
                config.all_types_share > 0
                and stable_fraction("distill-all-types", str(config.seed), ann.text, str(piece.start))
                < config.all_types_share
            )
            k_neg = config.all_types_negatives if whole else config.negatives
            sampled = _sample_negatives(freq, piece.known, k_neg, rng, types) if ann.complete else []
            asked = sorted(by_type) + absent + sampled
            if not asked:
                continue
            rng.shuffle(asked)
            if whole:
                messages = list(whole_prompt.chat_all(piece.text, asked))
                messages.append({"role": "assistant", "content": whole_prompt.answer_all(asked, by_type)})
                gold = [[t, s] for t in asked for s in by_type.get(t, [])]
            else:
                messages = ner_conversation(prompt, piece.text, asked, by_type)
                gold = [[s] for s in by_type.get(asked[-1], [])]
            turns = (
                typing_turns(piece, ann.complete, freq, types, rng, config, typing)
                if config.typing_questions > 0
                else []
            )
            messages += turns
            digest = hashlib.sha256(ann.text.encode("utf-8")).hexdigest()[:12]
            out.append(
                CorpusExample(
                    id=f"distill:{digest}:{k}",
                    dataset=ann.teacher or "teacher",
                    source_id=f"{ann.id}" if piece.start == 0 else f"{ann.id}@{piece.start}",
                    family="ner",
                    kind="task",
                    style="types" if whole else "list",
                    split=split,
                    messages=[{"role": m["role"], "content": m["content"]} for m in messages],
                    gold=[[turns[-1]["content"]]] if turns else gold,
                    assistant_prefix=(whole_prompt if whole else prompt).assistant_prefix,
                )
            )
    rng.shuffle(out)
    return out


def _student_prompts(config: DistillConfig) -> tuple[NERPrompt, NERPrompt]:
    """The per-type prompt and the all-types prompt of the configuration, checked."""
    if not 0.0 <= config.all_types_share <= 1.0:
        raise InputError(f"the all-types share is a number from 0 to 1, not {config.all_types_share}")
    if config.negatives < 0 or config.all_types_negatives < 0:
        raise InputError("the number of negative types cannot be negative")
    prompt = load_ner_prompt(config.prompt)
    if prompt.asks_all:
        raise InputError(
            f"prompt {prompt.id} asks for every type at once: give it as the all-types prompt "
            "(with a share of all-types passages), the student prompt asks one question per type"
        )
    whole = load_ner_prompt(config.all_types_prompt)
    if not whole.asks_all:
        raise InputError(f"the all-types prompt {whole.id} asks one question per type, not all at once")
    return prompt, whole


def typing_turns(
    piece: _Piece,
    complete: bool,
    freq: Counter[str],
    types: Sequence[str],
    rng: random.Random,
    config: DistillConfig,
    prompt: TypingPrompt,
) -> list[Message]:
    """Up to ``config.typing_questions`` solved typing questions about spans of ``piece`` (user and
    assistant turns; see the module docs)."""
    if prompt.parser != "option_letter":
        raise ValueError(f"typing questions are multiple-choice: '{prompt.id}' is a {prompt.parser} prompt")
    types_of: dict[str, set[str]] = {}
    for e in piece.entities:
        types_of.setdefault(e.text, set()).add(e.type)
    spans: list[tuple[str, str | None]] = [(text, rng.choice(sorted(ts))) for text, ts in types_of.items()]
    if complete:
        other = non_entity_span(piece.text, [(e.start, e.end) for e in piece.entities], rng, tries=10)
        if other is not None:
            spans.append((other, None))
    rng.shuffle(spans)
    turns: list[Message] = []
    for text, gold in spans[: config.typing_questions]:
        own = types_of.get(text, set())
        n = rng.randint(2, max(2, config.max_typing_options))
        # distractors: first the piece's other types (related ones, as in a dataset's type list), then
        # types drawn by frequency
        near = sorted({e.type for e in piece.entities} - own)
        rng.shuffle(near)
        offered = near[: n - 1]
        offered += _sample_negatives(freq, own | set(offered), n - 1 - len(offered), rng, types)
        if gold is not None and rng.random() >= config.typing_none_share:
            offered.append(gold)
        else:
            gold = None
        rng.shuffle(offered)
        block, letters = prompt.choices(offered)
        answer = letters[offered.index(gold)] if gold is not None else letters[-1]
        question = prompt.chat(text=piece.text, span=text, options=block)[-1]
        turns.append({"role": "user", "content": question["content"]})
        turns.append({"role": "assistant", "content": f"{prompt.assistant_prefix} {answer}".strip()})
    return turns


def distill_stats(
    annotations: Sequence[PassageAnnotation],
    examples: Sequence[CorpusExample],
    config: DistillConfig | None = None,
) -> dict[str, Any]:
    """What ``ieforge distill build`` prints: passages, types, entities, questions and the type
    frequency head and tail."""
    config = config or DistillConfig()
    everything = merge_annotations(annotations)
    merged = [_without(ann, config.drop_types) for ann in everything]
    freq = type_frequencies(merged)
    opening = len(load_ner_prompt(config.prompt).chat("", "x")) - 1
    questions = [m for ex in examples for m in ex.messages[opening:] if m["role"] == "assistant"]
    whole = [ex for ex in examples if ex.style == "types"]
    empty = sum(1 for m in questions if m["content"].strip() in ("[]", ""))
    cue = load_typing_prompt(config.typing_prompt).assistant_prefix
    typing = sum(1 for m in questions if config.typing_questions and m["content"].startswith(cue))
    return {
        "annotation_records": len(annotations),
        "passages": len(merged),
        "complete_passages": sum(1 for a in merged if a.complete),
        "failed_passages": sum(1 for a in annotations if a.error is not None),
        "by_teacher": dict(Counter(a.teacher for a in merged)),
        "conversations": len(examples),
        "by_split": dict(Counter(e.split for e in examples)),
        "entities": sum(len(a.entities) for a in merged),
        "entities_of_dropped_types": sum(len(a.entities) for a in everything)
        - sum(len(a.entities) for a in merged),
        "types": len(freq),
        "types_seen_once": sum(1 for n in freq.values() if n == 1),
        "questions": len(questions) - typing,
        "typing_questions": typing,
        "negative_questions": empty,
        "all_types_conversations": len(whole),
        "all_types_negative_types": sum(_empty_keys(ex.messages[opening + 1]["content"]) for ex in whole),
        "top_types": dict(freq.most_common(15)),
    }


def _empty_keys(answer: str) -> int:
    """How many types an all-types answer gives ``[]``."""
    try:
        data = json.loads(answer)
    except ValueError:
        return 0
    return sum(1 for v in data.values() if v == []) if isinstance(data, dict) else 0
