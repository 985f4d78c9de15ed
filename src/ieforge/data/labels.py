"""Natural-language names for the raw entity tags of the NER benchmarks.

A zero-shot model is asked about an entity type by its name, so the raw tags of the column files
(``programlang``, ``MISC``, ``Chemical``) are renamed before use. Each map covers every tag that occurs
in the dataset's files, so that a read never leaves a raw tag behind.

The names follow the re-formatted benchmark copies that published zero-shot results were measured on:
the InstructUIE/GLiNER ``instructuie_format`` files for CrossNER and CoNLL-2003, which agree with the
UniversalNER CrossNER test questions for every type those ask about. In particular:

* ``programlang`` is ``program language`` (not "programming language"), the string in both the
  InstructUIE labels and the UniversalNER questions, so gold and predictions keyed by type line up
  with :func:`ieforge.data.read_uniner`;
* the catch-all ``misc``/``MISC`` type is ``else``, as in the InstructUIE copies (UniversalNER does not
  ask about it at all);
* ``organisation`` takes the American spelling ``organization``, and compound tags are split into words
  (``musicalartist`` is ``musical artist``).

WNUT-17, NCBI-disease and BC5CDR have no re-formatted copy here; their tags are lower-cased and the
hyphen of ``creative-work`` becomes a space. Pass ``overrides`` to :func:`dataset_labels` to choose other
names, e.g. ``{"programlang": "programming language"}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ieforge.errors import InputError

_CROSSNER_SHARED = {
    "country": "country",
    "location": "location",
    "misc": "else",
    "organisation": "organization",
    "person": "person",
}

DATASET_LABELS: dict[str, dict[str, str]] = {
    "crossner_ai": {
        **_CROSSNER_SHARED,
        "algorithm": "algorithm",
        "conference": "conference",
        "field": "field",
        "metrics": "metrics",
        "product": "product",
        "programlang": "program language",
        "researcher": "researcher",
        "task": "task",
        "university": "university",
    },
    "crossner_literature": {
        **_CROSSNER_SHARED,
        "award": "award",
        "book": "book",
        "event": "event",
        "literarygenre": "literary genre",
        "magazine": "magazine",
        "poem": "poem",
        "writer": "writer",
    },
    "crossner_music": {
        **_CROSSNER_SHARED,
        "album": "album",
        "award": "award",
        "band": "band",
        "event": "event",
        "musicalartist": "musical artist",
        "musicalinstrument": "musical instrument",
        "musicgenre": "music genre",
        "song": "song",
    },
    "conll2003": {
        "LOC": "location",
        "MISC": "else",
        "ORG": "organization",
        "PER": "person",
    },
    "wnut17": {
        "corporation": "corporation",
        "creative-work": "creative work",
        "group": "group",
        "location": "location",
        "person": "person",
        "product": "product",
    },
    "ncbi_disease": {
        "Disease": "disease",
    },
    "bc5cdr": {
        "Chemical": "chemical",
        "Disease": "disease",
    },
}
"""raw tag -> natural-language entity type, per dataset (keys are the folder names under shared/data)"""


def dataset_labels(name: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return a fresh copy of the built-in tag map of dataset ``name`` with ``overrides`` applied on top.

    ``overrides`` maps raw tags to the names you want instead; a tag the dataset does not have is
    added as given. An unknown dataset name raises :class:`InputError` listing the known ones.
    """
    if name not in DATASET_LABELS:
        known = ", ".join(sorted(DATASET_LABELS))
        raise InputError(f"unknown NER dataset {name!r}; built-in label maps: {known}")
    labels = dict(DATASET_LABELS[name])
    if overrides:
        labels.update(overrides)
    return labels
