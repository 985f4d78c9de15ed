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
from ieforge.corpus.heldout import check_training_source, normalized_text, text_hash
from ieforge.corpus.mix import mix_corpora

__all__ = [
    "CorpusConfig",
    "CorpusExample",
    "answer_f1",
    "build_corpus",
    "check_training_source",
    "corpus_stats",
    "mix_corpora",
    "normalized_text",
    "read_answer",
    "read_corpus",
    "text_hash",
    "write_corpus",
]
