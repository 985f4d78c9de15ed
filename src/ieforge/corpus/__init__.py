"""The alignment corpus: annotated IE datasets turned into chat instruction examples (ADELIE)."""

from ieforge.corpus.build import (
    CorpusConfig,
    CorpusExample,
    build_corpus,
    corpus_stats,
    read_corpus,
    write_corpus,
)
from ieforge.corpus.formats import answer_f1, read_answer

__all__ = [
    "CorpusConfig",
    "CorpusExample",
    "answer_f1",
    "build_corpus",
    "corpus_stats",
    "read_answer",
    "read_corpus",
    "write_corpus",
]
