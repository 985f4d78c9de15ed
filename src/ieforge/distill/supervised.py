"""Supervised NER training sets as annotation sources of the student data, beside teacher annotations.

A labelled NER file (CoNLL-2003, WNUT-17, NCBI-disease, BC5CDR train, or any file ``ieforge eval ner``
reads: BIO/CoNLL columns, InstructUIE JSON, ieforge JSONL) becomes :class:`PassageAnnotation` records,
so that :func:`ieforge.distill.build.build_examples` writes its UniversalNER conversations like those of a
teacher:

- types get natural-language names: the built-in tag names of the eval runner
  (:func:`ieforge.data.dataset_labels`: CoNLL ``PER`` is ``person``, ``ORG`` ``organization``, BC5CDR
  ``Chemical`` ``chemical`` ...), except that the catch-all type (CoNLL's ``MISC``, ``else``) is called
  ``miscellaneous``, a name a question can use;
- with ``max_chars``, consecutive sentences are packed into passages of at most that many characters
  (a repeated sentence once), as ``ieforge distill passages`` packs texts; otherwise each sentence is a
  passage;
- each passage's negatives are the dataset's types it does not contain: the annotation is complete for
  the dataset's own types only, so it is marked partial (``complete=False``) and gets no types sampled
  from other sources (a CoNLL ``location`` may well be a ``country``);
- ``limit`` passages are drawn per dataset with the seed.

Held-out data is refused by name and path (:mod:`ieforge.corpus.heldout`): zero-shot test sets (CrossNER,
MIT, SemEval-2010 Task 8, CoNLL04, Few-NERD) and test splits.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from ieforge.corpus.heldout import check_training_name, refusal
from ieforge.distill.annotations import AnnotatedEntity, PassageAnnotation, dedupe_entities
from ieforge.errors import InputError
from ieforge.grounding import find_mentions

CATCH_ALL_NAME = "miscellaneous"
"""what the catch-all type of a supervised set (``MISC``, ``misc``, ``else``) is called in training data"""


def check_source(flag: str, name: str, path: str | Path) -> None:
    """Raise :class:`InputError` (one line naming ``flag``) when ``name`` at ``path`` is held out of
    training."""
    reason = refusal(name, path)
    if reason is not None:
        raise InputError(f"{flag} {name}={path}: refused, never trained on: {reason}")


def parse_dataset_spec(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` of ``--dataset`` (the file must exist); one :class:`InputError` line otherwise."""
    from ieforge.evaluate.runner import parse_data_spec

    try:
        return parse_data_spec(spec)
    except InputError as exc:
        raise InputError(str(exc).replace("--data ", "--dataset ", 1)) from None


def read_supervised(
    name: str,
    path: str | Path,
    *,
    max_chars: int | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> list[PassageAnnotation]:
    """The passages of the labelled NER file ``path`` (dataset ``name``) as annotations (see the module
    docs), ``limit`` of them drawn with ``seed`` (None: all), in file order. Deterministic."""
    from ieforge.evaluate.runner import CATCH_ALL_TYPES, load_ner_dataset

    check_source("--dataset", name, path)
    data = load_ner_dataset(name, path, keep_catch_all=True)
    rename = {t: CATCH_ALL_NAME if t.lower() in CATCH_ALL_TYPES else t for t in data.labels}
    types = list(dict.fromkeys(rename.values()))
    sentences: list[tuple[str, list[AnnotatedEntity]]] = []
    for ex in data.examples:
        if ex.entities is not None:
            ents = [
                AnnotatedEntity(start=e.start, end=e.end, text=e.text, type=rename.get(e.label, e.label))
                for e in ex.entities
            ]
        else:  # UniversalNER files: strings without offsets, grounded here
            ents = [
                AnnotatedEntity(start=s, end=e, text=ex.text[s:e], type=rename.get(label, label))
                for label, strings in ex.strings.items()
                for string in strings
                for s, e in find_mentions(ex.text, string)
            ]
        sentences.append((ex.text, ents))
    passages = _pack(sentences, max_chars) if max_chars else _distinct(sentences)
    indexed = list(enumerate(passages))
    if limit is not None and len(indexed) > limit:
        indexed = sorted(random.Random(f"{seed}:{name}").sample(indexed, limit), key=lambda p: p[0])
    out = []
    for i, (text, ents) in indexed:
        present = {e.type for e in ents}
        out.append(
            PassageAnnotation(
                id=f"{name}:{i}",
                text=text,
                entities=dedupe_entities(ents),
                negatives=[t for t in types if t not in present],
                complete=False,
                teacher=f"{name} (gold)",
            )
        )
    return out


def read_supervised_sets(
    specs: Iterable[tuple[str, str | Path]],
    *,
    max_chars: int | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> list[PassageAnnotation]:
    """:func:`read_supervised` of every ``(name, path)``; every source is checked before any is read."""
    specs = list(specs)
    for name, path in specs:
        check_source("--dataset", name, path)
    return [
        ann
        for name, path in specs
        for ann in read_supervised(name, path, max_chars=max_chars, limit=limit, seed=seed)
    ]


Sentence = tuple[str, list[AnnotatedEntity]]


def _distinct(sentences: Sequence[Sentence]) -> list[Sentence]:
    seen: set[str] = set()
    out = []
    for text, ents in sentences:
        if text.strip() and text not in seen:
            seen.add(text)
            out.append((text, ents))
    return out


def _pack(sentences: Sequence[Sentence], max_chars: int) -> list[Sentence]:
    """Consecutive distinct sentences joined by a space into passages of at most ``max_chars`` characters
    (a longer sentence is a passage of its own), entity offsets moved with them."""
    out: list[Sentence] = []
    text = ""
    ents: list[AnnotatedEntity] = []
    for sentence, found in _distinct(sentences):
        if text and len(text) + 1 + len(sentence) <= max_chars:
            shift = len(text) + 1
            text = f"{text} {sentence}"
            ents += [e.model_copy(update={"start": e.start + shift, "end": e.end + shift}) for e in found]
            continue
        if text:
            out.append((text, ents))
        text, ents = sentence, list(found)
    if text:
        out.append((text, ents))
    return out


def check_annotation_file(path: str | Path) -> None:
    """Raise :class:`InputError` when an annotation file's path names a zero-shot test set (annotations
    of CrossNER passages, say)."""
    for part in Path(path).parts:
        reason = check_training_name(Path(part).stem)
        if reason is not None:
            raise InputError(f"--annotations {path}: refused, never trained on: {reason}")
