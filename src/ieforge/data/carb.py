"""CaRB open IE benchmark: a sentence file and a gold extraction file.

``dev.txt``/``test.txt`` hold one tokenized sentence per line. ``gold/dev.tsv`` holds one extraction per
line, tab separated::

    SENTENCE<TAB>RELATION<TAB>ARG1<TAB>ARG2[<TAB>ARG3 ...]

The extractions of a sentence are normally on consecutive lines, but the gold file does not always
spell a sentence exactly as the sentence file does (some copies end in a space), and the same
sentence can come back later under another spelling. So the gold lines are matched to sentences by
their words, whitespace ignored, wherever they are in the file.
"""

from __future__ import annotations

from pathlib import Path

from ieforge.data._common import read_text
from ieforge.data.examples import OpenIEExample, OpenIEExtraction
from ieforge.errors import InputError


def _words(sentence: str) -> str:
    return " ".join(sentence.split())


def read_carb(sentences_path: str | Path, gold_path: str | Path) -> list[OpenIEExample]:
    """Read CaRB sentences with their gold extractions, one :class:`OpenIEExample` per sentence.

    Examples follow the sentence file (ids ``STEM-INDEX``; blank lines are skipped) and a sentence
    without gold lines gets no extractions. The fields of a gold line are stripped of surrounding
    spaces; empty argument fields at the end of a line are dropped, while an empty one followed by a
    filled one is kept as ``""`` so that later arguments keep their position. A gold line with no
    relation or no argument, a gold sentence missing from the sentence file, or a sentence listed
    twice raises :class:`InputError` naming the file and the line.
    """
    sentences_path, gold_path = Path(sentences_path), Path(gold_path)
    examples: list[OpenIEExample] = []
    index: dict[str, tuple[int, OpenIEExample]] = {}
    for number, line in enumerate(read_text(sentences_path, "CaRB sentence file").split("\n"), start=1):
        sentence = line.rstrip("\r")
        if not sentence.strip():
            continue
        key = _words(sentence)
        if key in index:
            raise InputError(
                f"{sentences_path}: line {number}: the sentence of line {index[key][0]} again; "
                "gold extractions could not tell the two apart"
            )
        example = OpenIEExample(id=f"{sentences_path.stem}-{len(examples)}", text=sentence)
        index[key] = (number, example)
        examples.append(example)

    for number, line in enumerate(read_text(gold_path, "CaRB gold file").split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise InputError(
                f"{gold_path}: line {number}: expected SENTENCE<TAB>RELATION<TAB>ARG1[<TAB>ARG2 ...], "
                f"found {len(fields)} field{'' if len(fields) == 1 else 's'}"
            )
        found = index.get(_words(fields[0]))
        if found is None:
            raise InputError(f"{gold_path}: line {number}: sentence not in {sentences_path}: {fields[0]!r}")
        relation = fields[1].strip()
        arguments = [field.strip() for field in fields[2:]]
        while arguments and not arguments[-1]:
            arguments.pop()
        if not relation:
            raise InputError(f"{gold_path}: line {number}: empty relation field")
        if not arguments:
            raise InputError(f"{gold_path}: line {number}: every argument field is empty")
        found[1].extractions.append(OpenIEExtraction(relation=relation, arguments=arguments))
    return examples
