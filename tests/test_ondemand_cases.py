"""On-demand IE table cases built from WebNLG and CoNLL-2003: grounding, grouping, sampling, JSONL."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import DATA
from pydantic import ValidationError

from ieforge.data.ondemand import (
    WEBNLG_TABLES,
    TableCase,
    build_conll_cases,
    build_table_cases,
    build_webnlg_cases,
    read_table_cases,
    write_table_cases,
)
from ieforge.errors import InputError


def _webnlg(path: Path, records: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _conll(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    """A CoNLL-2003 file: ``word POS chunk NER`` lines, a -DOCSTART- line, blank lines between sentences."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["-DOCSTART- -X- -X- O", ""]
    for sentence in sentences:
        lines += [f"{word} NNP B-NP {tag}" for word, tag in sentence]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _tagged(text: str) -> list[tuple[str, str]]:
    """``"Ann/B-PER Lee/I-PER met ..."`` -> (word, tag) pairs; words without a tag are O."""
    pairs = []
    for item in text.split():
        word, _, tag = item.partition("/")
        pairs.append((word, tag or "O"))
    return pairs


WEBNLG_RECORDS: list[dict[str, object]] = [
    {
        "text": "Elliot See , born in Dallas , was a crew member of Gemini 9 .",
        "triple_list": [
            ["Elliot See", "birthPlace", "Dallas"],
            ["Elliot See", "was a crew member of", "Gemini 9"],
            ["Elliot See", "status", "Deceased"],  # not a mapped relation (and not in the text)
        ],
    },
    {
        # the second creator triple is duplicated; the birthPlace object is not in the text
        "text": "Baymax was created by Duncan Rouleau and Steven T. Seagle , who comes from Chicago .",
        "triple_list": [
            ["Baymax", "creator", "Duncan Rouleau"],
            ["Baymax", "creator", "Steven T. Seagle"],
            ["Baymax", "creator", "Steven T. Seagle"],
            ["Steven T. Seagle", "birthPlace", "Chicago , Illinois"],
        ],
    },
    {
        # one of the two leaders is not in the text: the whole leaderName table is dropped
        "text": "Italy , whose capital is Rome , is led by Sergio Mattarella .",
        "triple_list": [
            ["Italy", "leaderName", "Sergio Mattarella"],
            ["Italy", "leaderName", "Matteo Renzi"],
            ["Italy", "capital", "Rome"],
        ],
    },
    {
        # a cell that is only punctuation, and a stray comma the exact-match data kept in a subject
        "text": "The book `` Aenir '' was written by Garth Nix . Akita , Japan has a mall .",
        "triple_list": [["Aenir", "author", "``"], ["Akita ,", "country", "Japan"]],
    },
    {
        "text": "Adirondack Regional Airport serves Lake Placid and UNK .",
        "triple_list": [["Adirondack Regional Airport", "cityServed", "Lake Placid"]],
    },
]


def test_webnlg_cases_group_triples_by_relation_and_copy_cells_from_the_text(tmp_path: Path) -> None:
    cases = build_webnlg_cases(_webnlg(tmp_path / "test_triples.json", WEBNLG_RECORDS))
    by_id = {case.id: case for case in cases}
    assert list(by_id) == [
        "webnlg-birthPlace-0000",
        "webnlg-crewMember-0000",
        "webnlg-creator-0001",
        "webnlg-capital-0002",
        "webnlg-country-0003",
    ]
    birth = by_id["webnlg-birthPlace-0000"]
    assert birth.headers == ["person", "birth place"] == birth.copied_headers
    assert birth.instruction == WEBNLG_TABLES["birthPlace"].instruction
    assert birth.rows == [{"person": "Elliot See", "birth place": "Dallas"}]
    assert birth.source == "webnlg:test:0" and birth.kind == "webnlg-birthPlace"
    # one case per (sentence, relation), its rows in file order, duplicate triples once
    assert by_id["webnlg-creator-0001"].rows == [
        {"character": "Baymax", "creator": "Duncan Rouleau"},
        {"character": "Baymax", "creator": "Steven T. Seagle"},
    ]
    assert by_id["webnlg-crewMember-0000"].rows == [{"astronaut": "Elliot See", "mission": "Gemini 9"}]
    # a dangling comma is trimmed, the cell still copied from the text
    assert by_id["webnlg-country-0003"].rows == [{"name": "Akita", "country": "Japan"}]
    for case in cases:
        for row in case.rows:
            assert all(cell in case.text for cell in row.values())


def test_webnlg_grounding_rule_drops_a_relation_unless_every_triple_is_grounded(tmp_path: Path) -> None:
    cases = build_webnlg_cases(_webnlg(tmp_path / "test_triples.json", WEBNLG_RECORDS))
    kinds = {(case.source, case.kind) for case in cases}
    # "Chicago , Illinois" is not in sentence 1: no birthPlace case there, the creator case survives
    assert ("webnlg:test:1", "webnlg-birthPlace") not in kinds
    assert ("webnlg:test:1", "webnlg-creator") in kinds
    # "Matteo Renzi" is missing: no partial leaderName table, but the capital table is built
    assert ("webnlg:test:2", "webnlg-leaderName") not in kinds
    assert ("webnlg:test:2", "webnlg-capital") in kinds
    # an object that is only punctuation is not a usable cell
    assert ("webnlg:test:3", "webnlg-author") not in kinds
    # sentences with the UNK placeholder are left out
    assert not any(case.source == "webnlg:test:4" for case in cases)


def test_webnlg_grounding_rule_needs_separate_subject_and_object_spans(tmp_path: Path) -> None:
    records = [
        {
            "text": "Amsterdam airport serves the city of Amsterdam .",
            "triple_list": [["Amsterdam", "cityServed", "Amsterdam"]],
        }
    ]
    assert build_webnlg_cases(_webnlg(tmp_path / "t.json", records)) == []


def test_webnlg_limit(tmp_path: Path) -> None:
    path = _webnlg(tmp_path / "test_triples.json", WEBNLG_RECORDS)
    assert [c.id for c in build_webnlg_cases(path, limit=2)] == [c.id for c in build_webnlg_cases(path)][:2]


CONLL_SENTENCES = [
    # names: 2 PER, 1 ORG, 1 LOC (ORG twice: one row); also a person table
    _tagged(
        "Ann/B-PER Lee/I-PER of/O Reuters/B-ORG met/O Bob/B-PER Day/I-PER in/O Paris/B-LOC "
        "after/O Reuters/B-ORG said/O so/O ./O"
    ),
    # a MISC entity is not asked for: one person and one location, no person table
    _tagged("German/B-MISC striker/O Jan/B-PER Ode/I-PER moved/O to/O Berlin/B-LOC last/O week/O ./O"),
    # MISC only: nothing
    _tagged("The/O German/B-MISC and/O French/B-MISC teams/O were/O in/O good/O form/O ./O"),
    # under 6 tokens: nothing
    _tagged("Ann/B-PER Lee/I-PER beat/O Bob/B-PER Day/I-PER"),
    # a results line without lower-case words: nothing
    _tagged("Ann/B-PER Lee/I-PER (/O Chile/B-LOC )/O 1:19.54/O ;/O Bob/B-PER Day/I-PER 2/O"),
]


def test_conll_cases_names_with_kinds_and_persons(tmp_path: Path) -> None:
    cases = build_conll_cases(_conll(tmp_path / "test.txt", CONLL_SENTENCES))
    assert [case.id for case in cases] == ["conll-names-0000", "conll-person-0000", "conll-names-0001"]
    names, persons, second = cases
    assert names.headers == ["name", "kind"] and names.copied_headers == ["name"]
    assert names.rows == [
        {"name": "Ann Lee", "kind": "person"},
        {"name": "Reuters", "kind": "organization"},
        {"name": "Bob Day", "kind": "person"},
        {"name": "Paris", "kind": "location"},
    ]
    assert names.source == "conll2003:test:0"
    assert names.text == "Ann Lee of Reuters met Bob Day in Paris after Reuters said so ."
    assert persons.headers == ["person"] == persons.copied_headers
    assert persons.rows == [{"person": "Ann Lee"}, {"person": "Bob Day"}]
    assert second.rows == [{"name": "Jan Ode", "kind": "person"}, {"name": "Berlin", "kind": "location"}]
    assert build_conll_cases(tmp_path / "test.txt", limit=1) == [names]


def test_copied_cells_must_occur_in_the_text() -> None:
    case = TableCase(
        id="a",
        text="Ann met Bob.",
        instruction="List the people.",
        headers=["name", "kind"],
        rows=[{"name": "Ann", "kind": "person"}],
        source="test",
        copied_headers=["name"],
    )
    assert case.kind == ""
    with pytest.raises(ValidationError, match="does not occur verbatim"):
        TableCase(**{**case.model_dump(), "copied_headers": ["name", "kind"]})
    # copied_headers defaults to every header
    with pytest.raises(ValidationError, match="'kind' cell 'person' does not occur verbatim"):
        TableCase(**{k: v for k, v in case.model_dump().items() if k != "copied_headers"})
    with pytest.raises(ValidationError, match="not among the headers"):
        TableCase(**{**case.model_dump(), "rows": [{"name": "Ann", "age": "3"}]})


def test_jsonl_round_trip(tmp_path: Path) -> None:
    cases = build_webnlg_cases(_webnlg(tmp_path / "test_triples.json", WEBNLG_RECORDS))
    cases += build_conll_cases(_conll(tmp_path / "test.txt", CONLL_SENTENCES))
    path = tmp_path / "cases.jsonl"
    write_table_cases(cases, path)
    assert read_table_cases(path) == cases
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(cases)


def test_jsonl_errors_name_the_file_and_line(tmp_path: Path) -> None:
    good = TableCase(
        id="a", text="Ann met Bob.", instruction="List the people.", headers=["person"], rows=[], source="x"
    )
    line = json.dumps(good.model_dump())
    path = tmp_path / "cases.jsonl"
    path.write_text(line + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cases\.jsonl: line 2: not valid JSON"):
        read_table_cases(path)
    bad = {**good.model_dump(), "id": "b", "rows": [{"person": "Carol"}]}
    path.write_text(line + "\n\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cases\.jsonl: line 3: .*'Carol' does not occur verbatim"):
        read_table_cases(path)
    path.write_text(line + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="'a' occurs twice"):
        read_table_cases(path)


def _data_dir(root: Path, webnlg_name: str = "test_triples.json", conll_name: str = "test.txt") -> Path:
    """A data folder with 12 candidate sentences for each of 3 WebNLG kinds and both CoNLL kinds."""
    facts = [("Person{} was born in Town{} .", "birthPlace"), ("Land{} has the capital Seat{} .", "capital")]
    facts.append(("Dish{} is made with Herb{} .", "ingredient"))
    records: list[dict[str, object]] = []
    for i in range(12):
        for template, relation in facts:
            text = template.format(i, i)
            words = text.split()
            records.append({"text": text, "triple_list": [[words[0], relation, words[-2]]]})
    _webnlg(root / "webnlg" / webnlg_name, records)
    sentences = []
    for i in range(12):
        sentences.append(_tagged(f"Club{i}/B-ORG signed/O a/O player/O from/O City{i}/B-LOC today/O ./O"))
        sentences.append(_tagged(f"Ann{i}/B-PER met/O Bob{i}/B-PER and/O Cy{i}/B-PER at/O home/O ./O"))
    _conll(root / "conll2003" / conll_name, sentences)
    return root


def test_build_table_cases_is_seeded_balanced_and_stable(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    cases = build_table_cases(data, n_per_source=7, seed=0)
    assert len(cases) == 14
    kinds = Counter(case.kind for case in cases)
    webnlg = [kinds["webnlg-birthPlace"], kinds["webnlg-capital"], kinds["webnlg-ingredient"]]
    assert sorted(webnlg) == [2, 2, 3]
    assert sum(webnlg) == 7
    # the person sentences also give names tables: each text is used once, both kinds are drawn
    assert sorted([kinds["conll-names"], kinds["conll-person"]]) == [3, 4]
    assert len({case.text for case in cases}) == len(cases)
    assert len({case.id for case in cases}) == len(cases)
    # stable order: source, then kind in mapping order, then position in the file
    kind_order = [*(table.kind for table in WEBNLG_TABLES.values()), "conll-names", "conll-person"]
    keys = [(kind_order.index(case.kind), int(case.source.rsplit(":", 1)[1])) for case in cases]
    assert keys == sorted(keys)
    assert build_table_cases(data, n_per_source=7, seed=0) == cases
    other = build_table_cases(data, n_per_source=7, seed=1)
    assert {c.id for c in other} != {c.id for c in cases}
    # more than there is: everything (each text once)
    assert len(build_table_cases(data, n_per_source=100)) == 36 + 24


def test_build_table_cases_falls_back_to_dev_and_reports_missing_files(tmp_path: Path) -> None:
    data = _data_dir(tmp_path / "dev", "val_triples.json", "valid.txt")
    cases = build_table_cases(data, n_per_source=3)
    assert {case.source.split(":")[1] for case in cases} == {"val", "valid"}
    with pytest.raises(InputError, match=r"none of test_triples\.json, val_triples\.json found"):
        build_table_cases(tmp_path / "empty")


@pytest.mark.skipif(not DATA.exists(), reason=f"shared benchmark data not found at {DATA}")
def test_cases_from_the_real_data() -> None:
    webnlg = build_webnlg_cases(DATA / "webnlg" / "test_triples.json")
    conll = build_conll_cases(DATA / "conll2003" / "test.txt")
    assert len(webnlg) > 300 and len(conll) > 300
    assert {case.kind for case in webnlg} == {table.kind for table in WEBNLG_TABLES.values()}
    for case in webnlg + conll:
        copied = set(case.copied_headers)
        assert case.rows
        for row in case.rows:
            assert set(row) == set(case.headers)
            for header, cell in row.items():
                if header in copied:
                    assert cell and cell in case.text, (case.id, header, cell)
    cases = build_table_cases(DATA, n_per_source=15)
    assert len(cases) == 30
    kinds = Counter(case.kind for case in cases)
    assert len(kinds) >= 10
    assert kinds["conll-names"] >= 5 and kinds["conll-person"] >= 5
    assert max(kinds[k] for k in kinds if k.startswith("webnlg")) <= 2
    assert build_table_cases(DATA, n_per_source=15) == cases
