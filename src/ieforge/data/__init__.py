"""Readers for benchmark file formats, all into :class:`ieforge.data.NERExample`."""

from ieforge.data.instructuie import NERExample, read_instructuie_ner

__all__ = ["NERExample", "read_instructuie_ner"]
