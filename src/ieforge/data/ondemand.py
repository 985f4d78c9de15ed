"""On-demand information extraction cases: a text, an instruction asking for a table, the table's headers
and the gold table, built deterministically from real benchmark sentences.

A :class:`TableCase` is scored with :func:`ieforge.evaluate.table_cell_prf` (its ``rows`` are the gold
table). Cases are derived from two annotated sources, so that the gold needs no new annotation:

* **WebNLG** (:func:`build_webnlg_cases`): the triples of a sentence are grouped by relation, and each
  relation listed in :data:`WEBNLG_TABLES` gives one case whose rows are that relation's triples,
  ``{subject header: subject, object header: object}``, e.g. "List each person mentioned and where they
  were born." with headers ``["person", "birth place"]``.
* **CoNLL-2003** (:func:`build_conll_cases`): a "names" table of the people, organizations and
  locations of a sentence with their kind (``["name", "kind"]``, kind one of ``person``,
  ``organization``, ``location``), and a "person" table listing the people (``["person"]``).

Every cell under a *copied* header (:attr:`TableCase.copied_headers`, all headers unless declared
otherwise) is a string copied from the text and must occur in it verbatim; this is checked whenever a
case is built or read. Cells under other headers (the CoNLL ``kind`` column) are fixed words that need
not occur in the text.

:func:`build_table_cases` draws a seeded, balanced sample from the test splits found under a data folder
(the shared ``webnlg`` and ``conll2003`` folders); :func:`read_table_cases` and
:func:`write_table_cases` keep cases in a JSONL file, one case per line.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from ieforge.data._common import check_unique_ids, read_jsonl
from ieforge.data.bio import read_bio
from ieforge.data.labels import dataset_labels
from ieforge.data.webnlg import read_webnlg
from ieforge.errors import InputError
from ieforge.evaluate.metrics import normalize_answer
from ieforge.types import Mention


class TableCase(BaseModel):
    """One on-demand IE request with its gold table.

    ``rows`` maps headers to cell strings; a row may leave a header out, but may not use one that is
    not in ``headers``. ``copied_headers`` (default: every header) names the columns whose cells are
    copied from ``text``: each such cell must be a non-empty substring of ``text``. Cells of the other
    headers are free strings (a category word, say). ``kind`` names the instruction family the case
    belongs to (``"webnlg-birthPlace"``, ``"conll-names"`` ...), and ``source`` where its text comes
    from (``"webnlg:test:17"`` = record 17 of the WebNLG test file).
    """

    id: str
    text: str
    instruction: str
    headers: list[str]
    rows: list[dict[str, str]]
    source: str
    copied_headers: list[str] = Field(default_factory=list)
    kind: str = ""

    @model_validator(mode="before")
    @classmethod
    def _copied_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "copied_headers" not in data:
            data = {**data, "copied_headers": list(data.get("headers") or [])}
        return data

    @model_validator(mode="after")
    def _check(self) -> TableCase:
        if not self.text:
            raise ValueError("empty 'text'")
        if not self.headers or len(set(self.headers)) != len(self.headers):
            raise ValueError(f"'headers' must be a non-empty list of distinct names, got {self.headers!r}")
        headers = set(self.headers)
        extra = [h for h in self.copied_headers if h not in headers]
        if extra:
            raise ValueError(f"copied header {extra[0]!r} is not among the headers {self.headers!r}")
        copied = set(self.copied_headers)
        for r, row in enumerate(self.rows):
            for header, cell in row.items():
                if header not in headers:
                    raise ValueError(f"row {r}: header {header!r} is not among the headers {self.headers!r}")
                if header in copied and (not cell or cell not in self.text):
                    raise ValueError(f"row {r}: {header!r} cell {cell!r} does not occur verbatim in the text")
        return self


def read_table_cases(path: str | Path) -> list[TableCase]:
    """Read cases from a JSONL file, one :class:`TableCase` object per line.

    A line that is not valid JSON, not a valid case (a copied cell missing from its text, say), or
    whose id occurred before raises :class:`InputError` naming the file and the line (or the id).
    """
    path = Path(path)
    cases: list[TableCase] = []
    for lineno, record in read_jsonl(path, "table cases file"):
        if not isinstance(record, dict):
            raise InputError(f"{path}: line {lineno}: expected a JSON object, got {type(record).__name__}")
        try:
            cases.append(TableCase.model_validate(record))
        except ValidationError as exc:
            raise InputError(f"{path}: line {lineno}: {_first_error(exc)}") from None
    check_unique_ids(path, [c.id for c in cases])
    return cases


def write_table_cases(cases: Iterable[TableCase], path: str | Path) -> None:
    """Write cases as JSONL (UTF-8, one case per line), the format :func:`read_table_cases` reads."""
    path = Path(path)
    lines = [json.dumps(case.model_dump(mode="json"), ensure_ascii=False) + "\n" for case in cases]
    path.write_text("".join(lines), encoding="utf-8")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


@dataclass(frozen=True)
class TableKind:
    """An instruction family: its name, its wording, its headers and which headers hold copied text."""

    kind: str
    instruction: str
    headers: tuple[str, ...]
    copied_headers: tuple[str, ...] | None = None
    """None: every header is copied from the text"""

    def case(self, index: int, text: str, rows: list[dict[str, str]], source: str) -> TableCase:
        copied = self.headers if self.copied_headers is None else self.copied_headers
        return TableCase(
            id=f"{self.kind}-{index:04d}",
            text=text,
            instruction=self.instruction,
            headers=list(self.headers),
            rows=rows,
            source=source,
            copied_headers=list(copied),
            kind=self.kind,
        )


def _webnlg(relation: str, kind: str, instruction: str, subject: str, obj: str) -> tuple[str, TableKind]:
    return relation, TableKind(f"webnlg-{kind}", instruction, (subject, obj))


WEBNLG_TABLES: dict[str, TableKind] = dict(
    [
        _webnlg(
            "birthPlace",
            "birthPlace",
            "List each person mentioned and where they were born.",
            "person",
            "birth place",
        ),
        _webnlg(
            "deathPlace",
            "deathPlace",
            "List each person mentioned and the place where they died.",
            "person",
            "death place",
        ),
        _webnlg(
            "country",
            "country",
            "For every place, organisation or other thing that the text puts in a country, give its name "
            "and that country.",
            "name",
            "country",
        ),
        _webnlg(
            "capital",
            "capital",
            "List each country or region mentioned together with its capital city.",
            "country",
            "capital",
        ),
        _webnlg(
            "leaderName",
            "leaderName",
            "List each place mentioned and the people named as its leaders, one leader per row.",
            "place",
            "leader",
        ),
        _webnlg(
            "ethnicGroup",
            "ethnicGroup",
            "List each place mentioned and the ethnic groups said to live there, one group per row.",
            "place",
            "ethnic group",
        ),
        _webnlg(
            "cityServed",
            "cityServed",
            "List each airport mentioned and the city it serves.",
            "airport",
            "city served",
        ),
        _webnlg(
            "operatingOrganisation",
            "operatingOrganisation",
            "List each airport or air base mentioned and the organisation that operates it.",
            "airport",
            "operator",
        ),
        _webnlg(
            "creator",
            "creator",
            "List each fictional character mentioned and the people who created it, one creator per row.",
            "character",
            "creator",
        ),
        _webnlg(
            "ingredient",
            "ingredient",
            "List each dish mentioned and its ingredients, one ingredient per row.",
            "dish",
            "ingredient",
        ),
        _webnlg(
            "publisher",
            "publisher",
            "List each book or journal mentioned and the company that publishes it.",
            "publication",
            "publisher",
        ),
        _webnlg(
            "author",
            "author",
            "List each book mentioned and who wrote it, one author per row.",
            "book",
            "author",
        ),
        _webnlg(
            "was a crew member of",
            "crewMember",
            "List each astronaut mentioned and the space mission they flew on as a crew member.",
            "astronaut",
            "mission",
        ),
        _webnlg(
            "league",
            "league",
            "List each sports club mentioned and the league it plays in.",
            "club",
            "league",
        ),
    ]
)
"""WebNLG relations turned into tables: relation -> instruction family (subject header, object header)."""

CONLL_NAMES = TableKind(
    "conll-names",
    "List the people, organizations and places named in the text, with what each one is "
    "(person, organization or location).",
    ("name", "kind"),
    copied_headers=("name",),
)
CONLL_PERSONS = TableKind("conll-person", "List every person mentioned in the text.", ("person",))
CONLL_TABLES: tuple[TableKind, ...] = (CONLL_NAMES, CONLL_PERSONS)

_CONLL_KINDS = {"person": "person", "organization": "organization", "location": "location"}
"""entity labels (after :func:`dataset_labels`) kept in the names table, and the word for each"""
MIN_TOKENS = 6
"""CoNLL sentences shorter than this are skipped"""
MIN_LOWERCASE_WORDS = 3
"""CoNLL sentences need this many lower-case words, which leaves out headlines, score lines and lists"""
MAX_ROWS = 8
"""CoNLL tables with more rows than this (long team sheets) are skipped"""
_UNKNOWN = "UNK"
"""the token WebNLG's preprocessing put in place of some words"""


def build_webnlg_cases(path: str | Path, limit: int | None = None) -> list[TableCase]:
    """One case per (sentence, relation of :data:`WEBNLG_TABLES`) of a WebNLG (CasRel-format) file.

    A sentence's triples with that relation become the rows, in file order, duplicates dropped; each
    cell is the text at the triple's span (``text[span.start:span.end]``), without a stray comma,
    colon or opening bracket at its ends (the exact-match data sometimes keeps one). The relation is
    skipped for the sentence unless every one of its triples is grounded: subject and object both found
    verbatim, at spans that do not overlap, with cells that are not empty once normalized. Sentences
    with an ``UNK`` token (a word the preprocessing replaced, in about one test sentence in ten) are
    left out altogether.

    Cases come in file order, then in the order of :data:`WEBNLG_TABLES`; ids are
    ``webnlg-KIND-RECORD``, sources ``webnlg:SPLIT:RECORD`` (split = file stem without ``_triples``).
    ``limit`` stops after that many cases.
    """
    path = Path(path)
    split = path.stem.removesuffix("_triples")
    cases: list[TableCase] = []
    for index, example in enumerate(read_webnlg(path)):
        if _UNKNOWN in example.text.split(" "):
            continue
        groups: dict[str, list[dict[str, str]]] = {}
        skipped: set[str] = set()
        for triple in example.triples:
            table = WEBNLG_TABLES.get(triple.relation)
            if table is None or triple.relation in skipped:
                continue
            subject, obj = triple.subject_span, triple.object_span
            cells = None
            if subject is not None and obj is not None and not _overlap(subject, obj):
                cells = (
                    _tidy(example.text[subject.start : subject.end]),
                    _tidy(example.text[obj.start : obj.end]),
                )
            if cells is None or not all(normalize_answer(cell) for cell in cells):
                skipped.add(triple.relation)
                groups.pop(triple.relation, None)
                continue
            row = dict(zip(table.headers, cells))
            rows = groups.setdefault(triple.relation, [])
            if row not in rows:
                rows.append(row)
        for relation, table in WEBNLG_TABLES.items():
            if relation in groups:
                cases.append(table.case(index, example.text, groups[relation], f"webnlg:{split}:{index}"))
                if limit is not None and len(cases) >= limit:
                    return cases
    return cases


def build_conll_cases(path: str | Path, limit: int | None = None) -> list[TableCase]:
    """Cases from a CoNLL-2003 column file (``word POS chunk NER``): a names table and a person table.

    A sentence qualifies when it has at least :data:`MIN_TOKENS` tokens and
    :data:`MIN_LOWERCASE_WORDS` all-lower-case words of two letters or more (so it is prose, not a
    headline or a results line).
    It gives a :data:`CONLL_NAMES` case ("name", "kind") when it names at least two distinct people,
    organizations or locations (MISC entities are not asked for and not counted), and a
    :data:`CONLL_PERSONS` case when it names at least two distinct people; a table with more than
    :data:`MAX_ROWS` rows is skipped. Rows follow the text, one per distinct (name, kind); the kind
    cells are the words ``person``, ``organization`` and ``location``, which are not copied from the
    text. Ids are ``conll-names-SENTENCE`` and ``conll-person-SENTENCE``, sources
    ``conll2003:SPLIT:SENTENCE`` with the sentence index of :func:`read_bio`. ``limit`` stops after
    that many cases.
    """
    path = Path(path)
    cases: list[TableCase] = []
    for index, example in enumerate(read_bio(path, label_map=dataset_labels("conll2003"))):
        tokens = example.text.split(" ")
        lowercase = sum(1 for token in tokens if len(token) > 1 and token.isalpha() and token.islower())
        if len(tokens) < MIN_TOKENS or lowercase < MIN_LOWERCASE_WORDS:
            continue
        names: list[dict[str, str]] = []
        for entity in example.entities:
            kind = _CONLL_KINDS.get(entity.label)
            row = {"name": entity.text, "kind": kind} if kind is not None else None
            if row is not None and row not in names:
                names.append(row)
        persons = [{"person": row["name"]} for row in names if row["kind"] == "person"]
        persons = [row for n, row in enumerate(persons) if row not in persons[:n]]
        source = f"conll2003:{path.stem}:{index}"
        for table, rows in ((CONLL_NAMES, names), (CONLL_PERSONS, persons)):
            if 2 <= len(rows) <= MAX_ROWS:
                cases.append(table.case(index, example.text, rows, source))
                if limit is not None and len(cases) >= limit:
                    return cases
    return cases


_SOURCES: tuple[tuple[str, tuple[str, ...], Callable[[Path], list[TableCase]], tuple[str, ...]], ...] = (
    (
        "webnlg",
        ("test_triples.json", "val_triples.json"),
        build_webnlg_cases,
        tuple(table.kind for table in WEBNLG_TABLES.values()),
    ),
    (
        "conll2003",
        ("test.txt", "valid.txt"),
        build_conll_cases,
        tuple(table.kind for table in CONLL_TABLES),
    ),
)
"""folder, split files by preference (test, else dev), builder, instruction kinds in output order"""


def build_table_cases(data_dir: str | Path, n_per_source: int = 15, seed: int = 0) -> list[TableCase]:
    """A seeded sample of ``n_per_source`` cases from each of WebNLG and CoNLL-2003 under ``data_dir``.

    ``data_dir`` holds the ``webnlg`` and ``conll2003`` folders; the test split of each is used (the
    dev split when there is no test file, and :class:`InputError` when there is neither). The sample
    is balanced across the instruction kinds of a source: with ``random.Random(seed)`` the kinds are
    put in a random order and each kind's candidates shuffled, then the kinds take one case each in
    turn until ``n_per_source`` are chosen (a kind with no candidates left is passed over), never
    taking two cases with the same text. The same data and seed give the same cases; they are returned
    by source (WebNLG first), then kind (the order of :data:`WEBNLG_TABLES` and :data:`CONLL_TABLES`),
    then position in the file.
    """
    if n_per_source < 0:
        raise ValueError(f"n_per_source must be >= 0, got {n_per_source}")
    data_dir = Path(data_dir)
    rng = random.Random(seed)
    out: list[TableCase] = []
    for folder, files, builder, kinds in _SOURCES:
        candidates = [data_dir / folder / name for name in files]
        path = next((candidate for candidate in candidates if candidate.is_file()), None)
        if path is None:
            raise InputError(f"{data_dir / folder}: none of {', '.join(files)} found")
        chosen = _balanced_sample(builder(path), kinds, n_per_source, rng)
        out.extend(sorted(chosen, key=lambda case: (kinds.index(case.kind), _source_index(case))))
    return out


def _balanced_sample(
    cases: Sequence[TableCase], kinds: Sequence[str], n: int, rng: random.Random
) -> list[TableCase]:
    """Round-robin over the kinds in a shuffled order, each kind drawing from its shuffled candidates."""
    pools = {kind: [case for case in cases if case.kind == kind] for kind in kinds}
    for kind in kinds:
        rng.shuffle(pools[kind])
    order = list(kinds)
    rng.shuffle(order)
    chosen: list[TableCase] = []
    used_texts: set[str] = set()
    while len(chosen) < n and any(pools.values()):
        for kind in order:
            pool = pools[kind]
            while pool and pool[-1].text in used_texts:
                pool.pop()
            if pool and len(chosen) < n:
                case = pool.pop()
                chosen.append(case)
                used_texts.add(case.text)
    return chosen


def _source_index(case: TableCase) -> int:
    return int(case.source.rsplit(":", 1)[-1])


def _overlap(a: Mention, b: Mention) -> bool:
    return a.start < b.end and b.start < a.end


def _tidy(cell: str) -> str:
    """The cell without surrounding spaces or a dangling comma, semicolon, colon or bracket."""
    return cell.rstrip(" ,;:(").lstrip(" ,;:)")
