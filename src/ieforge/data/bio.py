"""CoNLL-style column files with one token per line and a BIO tag per token.

This covers the usual NER benchmark layouts::

    EU NNP B-NP B-ORG          CoNLL-2003: word, POS, chunk, NER tag (space separated)
    SVM<TAB>B-algorithm        CrossNER, WNUT-17, NCBI-disease, BC5CDR: token, tag
    B-Actor<TAB>steve          MIT Movie / Restaurant: tag first (found by itself)

A blank line ends a sentence and ``-DOCSTART-`` lines are skipped. Columns are split on tabs when the
first token line holds a tab, and on runs of spaces otherwise; every token line must then have as many
columns as that first one. The tag is the last column, unless more lines have a tag in the first column
than in the last (the layout MIT Movie and MIT Restaurant publish): then the file is read tag first.

Tags are ``O`` or ``PREFIX-TYPE``. IOB2 (``B-`` opens every entity) and IOB1 (``I-`` may open one,
``B-`` only separates two touching entities of the same type) are both read, as are the BIOES
(``E-`` ends, ``S-`` is a single token) and BILOU (``L-`` ends, ``U-`` is a single token) prefixes.
The reading is forgiving about sequences: an ``I-``/``E-``/``L-`` tag whose type differs from the open
entity starts a new entity instead of failing.

The sentence text is its tokens joined by single spaces, so every entity is grounded:
``text[e.start:e.end] == e.text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ieforge.data.instructuie import NERExample
from ieforge.errors import InputError
from ieforge.types import Entity

_DOCSTART = "-DOCSTART-"
_SPACES = re.compile(r"[ \f\v]+")
_ASCII_BLANK = " \t\r\f\v"
_OPEN = frozenset("BIESLU")
"""prefixes that can be read; B/I are IOB, E/S are BIOES, L/U are BILOU"""
_INSIDE = frozenset("IEL")
"""prefixes that continue an open entity of the same type"""
_CLOSE = frozenset("ESLU")
"""prefixes after which the entity is complete"""


def read_bio(
    path: str | Path,
    *,
    tag_first: bool | None = None,
    label_map: Mapping[str, str] | None = None,
) -> list[NERExample]:
    """Read a column file into one :class:`NERExample` per sentence, with ids ``FILESTEM-INDEX``.

    The tag is taken from the last column, or from the first one when ``tag_first`` is true; the token
    is the first column (the last one with ``tag_first``). Left as None, ``tag_first`` is found from
    the file: true when more token lines have a tag in the first column than in the last.
    ``label_map`` renames entity types, for example ``{"programlang": "program language"}`` (see
    :func:`ieforge.data.dataset_labels` for the built-in maps); a type missing from the map keeps its
    raw name. A line with the wrong number of columns, an empty token or a tag that is not ``O`` or
    ``PREFIX-TYPE`` with a known prefix raises :class:`InputError` naming the file and the line.
    """
    path = Path(path)
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read BIO file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None

    labels = dict(label_map) if label_map is not None else {}
    examples: list[NERExample] = []
    sentence: list[tuple[str, str, int]] = []
    use_tabs: bool | None = None
    width = 0
    width_line = 0
    rows: list[tuple[int, str, list[str]] | None] = []  # None: a sentence ends

    def flush() -> None:
        if sentence:
            examples.append(_example(f"{path.stem}-{len(examples)}", sentence, labels))
            sentence.clear()

    # split("\n") rather than splitlines(): the latter also breaks at characters such as U+2028 or
    # U+0085, which can occur inside a token
    for number, raw in enumerate(content.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip(_ASCII_BLANK):
            rows.append(None)
            continue
        ends = line.split()
        if (
            ends[0] == _DOCSTART
            or line.startswith(_DOCSTART)
            or (tag_first is not False and ends[-1] == _DOCSTART)
        ):
            rows.append(None)
            continue
        if use_tabs is None:
            use_tabs = "\t" in line
        fields = line.split("\t") if use_tabs else _SPACES.split(line.strip(" \f\v"))
        if width == 0:
            if len(fields) < 2:
                raise InputError(
                    f"{path}: line {number}: expected a token and a tag separated by "
                    f"{'a tab' if use_tabs else 'spaces'}, found one column: {line!r}"
                )
            width, width_line = len(fields), number
        elif len(fields) != width:
            raise InputError(
                f"{path}: line {number}: {len(fields)} column{'' if len(fields) == 1 else 's'}, "
                f"but the first token line (line {width_line}) has {width}: {line!r}"
            )
        rows.append((number, line, fields))
    if tag_first is None:
        tag_first = _tags_first(row[2] for row in rows if row is not None)
    for row in rows:
        if row is None:
            flush()
            continue
        number, line, fields = row
        token, tag = (fields[-1], fields[0]) if tag_first else (fields[0], fields[-1])
        tag = tag.strip(_ASCII_BLANK)
        if not token:
            raise InputError(f"{path}: line {number}: empty token: {line!r}")
        if tag != "O":
            prefix, sep, kind = tag.partition("-")
            if not sep or prefix not in _OPEN or not kind:
                raise InputError(
                    f"{path}: line {number}: tag {tag!r} is neither O nor PREFIX-TYPE with a prefix "
                    "among B, I, E, S, L, U"
                )
        sentence.append((token, tag, number))
    flush()
    return examples


def _is_tag(field: str) -> bool:
    tag = field.strip(_ASCII_BLANK)
    prefix, sep, kind = tag.partition("-")
    return tag == "O" or (bool(sep) and prefix in _OPEN and bool(kind))


def _tags_first(rows: Iterable[list[str]]) -> bool:
    """Whether the tags of these token lines are in the first column: more lines have a tag there than
    in the last column (a file with a bad line is then read, and the line named, as the rest of it)."""
    first = last = 0
    for fields in rows:
        first += _is_tag(fields[0])
        last += _is_tag(fields[-1])
    return first > last


def _example(ident: str, sentence: list[tuple[str, str, int]], labels: dict[str, str]) -> NERExample:
    """Join the tokens with single spaces and decode the tags into grounded entities."""
    starts: list[int] = []
    offset = 0
    for token, _, _ in sentence:
        starts.append(offset)
        offset += len(token) + 1
    text = " ".join(token for token, _, _ in sentence)

    entities: list[Entity] = []
    open_kind: str | None = None
    open_first = 0

    def close(last: int) -> None:
        nonlocal open_kind
        if open_kind is not None:
            start = starts[open_first]
            end = starts[last] + len(sentence[last][0])
            label = labels.get(open_kind, open_kind)
            entities.append(Entity(start=start, end=end, text=text[start:end], label=label))
            open_kind = None

    for i, (_, tag, _) in enumerate(sentence):
        if tag == "O":
            close(i - 1)
            continue
        prefix, _, kind = tag.partition("-")
        continues = prefix in _INSIDE and open_kind == kind
        if not continues:
            close(i - 1)
            open_kind, open_first = kind, i
        if prefix in _CLOSE:
            close(i)
    close(len(sentence) - 1)
    return NERExample(id=ident, text=text, entities=entities)
