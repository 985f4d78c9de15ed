"""One training file from several corpus files (``ieforge corpus mix``).

``ieforge corpus build`` and ``ieforge distill build`` both write ieforge corpus lines
(:class:`~ieforge.corpus.build.CorpusExample`), which ``ieforge train sft`` reads; SFT reads one file. Mixing
reads every file (a bad line stops with its file and line), refuses an id that two lines share and any
line recorded as coming from a held-out dataset (:mod:`ieforge.corpus.heldout`), and shuffles the lines
with the seed. The order depends only on the lines and the seed, not on the order of the files.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from ieforge.corpus.build import CorpusExample, read_corpus
from ieforge.corpus.heldout import check_training_name
from ieforge.errors import InputError


def mix_corpora(paths: Sequence[str | Path], seed: int = 0) -> list[CorpusExample]:
    """The lines of every corpus file in ``paths``, validated and shuffled (see the module docs)."""
    if not paths:
        raise InputError("give at least one corpus file to mix")
    seen: dict[str, Path] = {}
    examples: list[CorpusExample] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise InputError(f"{path}: no such corpus file")
        for e in read_corpus(path):
            if e.id in seen:
                raise InputError(f"{path}: example id '{e.id}' is also in {seen[e.id]}")
            reason = check_training_name(e.dataset)
            if reason is not None:
                raise InputError(f"{path}: example '{e.id}' comes from dataset '{e.dataset}': {reason}")
            seen[e.id] = path
            examples.append(e)
    examples.sort(key=lambda e: e.id)
    random.Random(seed).shuffle(examples)
    return examples
