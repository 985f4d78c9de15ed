"""What the training corpus never reads: zero-shot test sets and evaluation splits.

A model trained on ieforge's corpus is measured on data it has not seen. The corpus builder (and
``ieforge distill passages``, which reads datasets the same way) refuses these sources by their name and
path, with one :class:`~ieforge.errors.InputError` line:

- every CrossNER domain, MIT Movie and MIT Restaurant, SemEval-2010 Task 8 (all splits, the dev slice
  too), CoNLL04 and Few-NERD: zero-shot tests of the trained model;
- RAMS and CaRB except a training split (their dev splits are ieforge's evaluation sets, their test
  splits zero-shot tests);
- any file whose name marks it as a test split (``test.txt``, ``test_triples.json``,
  ``emerging.test.annotated`` ...): test splits are for evaluation;
- a file in SemEval's ``<e1>``/``<e2>`` markup, whatever its name.

Evaluation documents inside a training source are left out where the source is read (see
:data:`CASIE_EVAL_MAX_ID` and :data:`FEWREL_EVAL_PER_RELATION`). :func:`normalized_text` is the
normalization by which tests compare sentences (NFC, case folded, whitespace collapsed).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from ieforge.errors import InputError

CASIE_EVAL_MAX_ID = 561
"""CASIE articles with a numeric id up to this one (the 200 lowest-numbered of the 1000: 4 .. 561) are
evaluation documents: the events benchmark reads the first articles in numeric order. The corpus never
trains on them."""
FEWREL_EVAL_PER_RELATION = 100
"""the first instances of each FewRel relation (index below this) are evaluation instances: the QA4RE
benchmark reads the first ``--per-relation`` of each. The corpus never trains on them."""

_TOKEN = re.compile(r"[a-z0-9]+")
_SEMEVAL_MARKUP = re.compile(r"<e1>.*</e1>.*<e2>|<e2>.*</e2>.*<e1>")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _zero_shot_reason(tokens: list[str]) -> str | None:
    """Why a name or path with these tokens is a zero-shot test set (None: it is not one)."""
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.startswith("crossner"):
            return "CrossNER (every domain) is a zero-shot test set"
        if (tok == "mit" and nxt in ("movie", "restaurant")) or tok in ("mitmovie", "mitrestaurant"):
            return "MIT Movie and MIT Restaurant are zero-shot test sets"
        if tok.startswith(("restaurant", "trivia10k13")) or tok in ("engtrain", "engtest"):
            return "MIT Movie and MIT Restaurant are zero-shot test sets"
        if tok.startswith("semeval"):
            return "SemEval-2010 Task 8 (every split, the dev slice too) is a zero-shot test set"
        if tok in ("conll04", "conll2004") or (tok == "conll" and nxt in ("04", "2004")):
            return "CoNLL04 is a zero-shot test set"
        if tok == "fewnerd" or (tok == "few" and nxt == "nerd"):
            return "Few-NERD is a zero-shot test set"
    return None


def refusal(name: str, path: str | Path) -> str | None:
    """Why the corpus must not read dataset ``name`` at ``path`` (None: it may)."""
    path = Path(path)
    where = [_tokens(name)] + [_tokens(part) for part in path.parts]
    for tokens in where:
        reason = _zero_shot_reason(tokens)
        if reason is not None:
            return reason
    file_tokens = _tokens(path.name)
    every = {tok for tokens in where for tok in tokens}
    for dataset, label in (("rams", "RAMS"), ("carb", "CaRB")):
        if dataset in every and "train" not in file_tokens:
            return f"{label}'s dev split is an evaluation set and its test split a zero-shot test set"
    if "test" in file_tokens:
        return "test splits are evaluation data"
    if path.is_file() and _has_semeval_markup(path):
        return "the file is in SemEval-2010 Task 8's <e1>/<e2> markup (a zero-shot test set)"
    return None


def _has_semeval_markup(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return False
    return any(_SEMEVAL_MARKUP.search(line) for line in head.splitlines())


def check_training_source(name: str, path: str | Path) -> None:
    """Raise :class:`InputError` when ``name`` at ``path`` is held out of training (see the module docs)."""
    reason = refusal(name, path)
    if reason is not None:
        raise InputError(f"--data {name}={path}: refused, never trained on: {reason}")


def check_training_name(name: str) -> str | None:
    """Why a dataset recorded as ``name`` in a corpus line is held out (None: it is not)."""
    return _zero_shot_reason(_tokens(name))


def normalized_text(text: str) -> str:
    """``text`` in Unicode NFC, case folded, with every run of whitespace one space, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def text_hash(text: str) -> str:
    """A stable hash of :func:`normalized_text` (sentences compare equal when their hashes do)."""
    return hashlib.sha256(normalized_text(text).encode("utf-8")).hexdigest()[:20]
