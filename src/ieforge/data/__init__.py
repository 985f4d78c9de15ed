"""Readers for benchmark file formats: NER into :class:`NERExample`, relation classification into
:class:`REExample`."""

from ieforge.data.fewrel import read_fewrel
from ieforge.data.instructuie import NERExample, read_instructuie_ner
from ieforge.data.semeval import REExample, parse_entity_markup, read_semeval

__all__ = [
    "NERExample",
    "REExample",
    "parse_entity_markup",
    "read_fewrel",
    "read_instructuie_ner",
    "read_semeval",
]
