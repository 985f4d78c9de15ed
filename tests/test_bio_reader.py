"""BIO column reader and the built-in label maps, on small fixtures and on the real benchmark files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import DATA

from ieforge.data import DATASET_LABELS, NERExample, dataset_labels, read_bio, read_instructuie_ner
from ieforge.errors import InputError


def _real(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared benchmark data not found: {path}")
    return path


def _write(tmp_path: Path, content: str, name: str = "sample.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    return path


def _spans(ex: NERExample) -> list[tuple[str, str]]:
    return [(e.text, e.label) for e in ex.entities]


def _grounded(ex: NERExample) -> bool:
    return all(ex.text[e.start : e.end] == e.text for e in ex.entities)


# --- fixtures written to tmp_path -------------------------------------------------------------------


def test_two_columns_iob2(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "SVM\tB-algorithm\nwas\tO\ninvented\tO\nby\tO\nVladimir\tB-researcher\nVapnik\tI-researcher\n.\tO\n"
        "\n"
        "Python\tB-programlang\n",
    )
    first, second = read_bio(path)
    assert first.id == "sample-0" and second.id == "sample-1"
    assert first.text == "SVM was invented by Vladimir Vapnik ."
    assert [(e.start, e.end, e.text, e.label) for e in first.entities] == [
        (0, 3, "SVM", "algorithm"),
        (20, 35, "Vladimir Vapnik", "researcher"),
    ]
    # an entity on the last token of the file, with no blank line after it, is kept
    assert second.text == "Python" and _spans(second) == [("Python", "programlang")]


def test_conll2003_layout_with_docstart(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n\n"
        "-DOCSTART- -X- -X- O\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER",
    )
    examples = read_bio(path)
    assert [ex.text for ex in examples] == ["EU rejects German call", "Peter Blackburn"]
    assert _spans(examples[0]) == [("EU", "ORG"), ("German", "MISC")]
    assert _spans(examples[1]) == [("Peter Blackburn", "PER")]
    assert [ex.id for ex in examples] == ["sample-0", "sample-1"]


def test_tag_first_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "O\twhat\nB-Actor\tsteve\nI-Actor\tmcqueen\nO\tmovies\n\nB-Genre\tdrama\n")
    first, second = read_bio(path, tag_first=True)
    assert first.text == "what steve mcqueen movies"
    assert _spans(first) == [("steve mcqueen", "Actor")]
    assert _spans(second) == [("drama", "Genre")]


def test_iob1_inside_tag_opens_an_entity(tmp_path: Path) -> None:
    # IOB1: I- starts an entity; B- only separates two touching entities of the same type
    path = _write(tmp_path, "Jan I-PER\nSmit I-PER\nPiet B-PER\nsaw O\nthe O\nHague I-LOC\nUtrecht I-ORG\n")
    (ex,) = read_bio(path)
    assert _spans(ex) == [("Jan Smit", "PER"), ("Piet", "PER"), ("Hague", "LOC"), ("Utrecht", "ORG")]
    assert _grounded(ex)


def test_bioes_and_bilou(tmp_path: Path) -> None:
    bioes = _write(
        tmp_path, "New\tB-LOC\nYork\tI-LOC\nCity\tE-LOC\nand\tO\nParis\tS-LOC\nRome\tS-LOC\n", "e.txt"
    )
    (ex,) = read_bio(bioes)
    assert _spans(ex) == [("New York City", "LOC"), ("Paris", "LOC"), ("Rome", "LOC")]
    bilou = _write(tmp_path, "New\tB-LOC\nYork\tL-LOC\nParis\tU-LOC\nRome\tU-LOC\n", "u.txt")
    (ex,) = read_bio(bilou)
    assert _spans(ex) == [("New York", "LOC"), ("Paris", "LOC"), ("Rome", "LOC")]
    # an entity that is closed by E- does not absorb a following I- of the same type
    after_end = _write(tmp_path, "a\tB-X\nb\tE-X\nc\tI-X\n", "x.txt")
    assert _spans(read_bio(after_end)[0]) == [("a b", "X"), ("c", "X")]


def test_label_map_renames_and_keeps_unmapped(tmp_path: Path) -> None:
    path = _write(tmp_path, "Java\tB-programlang\nby\tO\nOracle\tB-organisation\nin\tO\nUS\tB-country\n")
    (ex,) = read_bio(path, label_map={"programlang": "program language", "organisation": "organization"})
    assert _spans(ex) == [("Java", "program language"), ("Oracle", "organization"), ("US", "country")]


def test_hyphenated_types_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "wnut.conll"
    path.write_bytes("\ufeffStar\tB-creative-work\r\nWars\tI-creative-work\r\n\r\nok\tO\r\n".encode())
    first, second = read_bio(path)
    assert first.text == "Star Wars" and _spans(first) == [("Star Wars", "creative-work")]
    assert second.text == "ok" and second.entities == []


def test_offsets_with_unusual_characters(tmp_path: Path) -> None:
    # U+2028 and U+0085 end lines for str.splitlines(); here they are part of a token
    path = _write(tmp_path, "Zoë\tB-PER\nwatched\u200bwas\tO\na\u2028b\u0085c\tB-X\n🎸\tO\nKöln\tB-LOC\n")
    (ex,) = read_bio(path)
    assert ex.text == "Zoë watched\u200bwas a\u2028b\u0085c 🎸 Köln"
    assert _spans(ex) == [("Zoë", "PER"), ("a\u2028b\u0085c", "X"), ("Köln", "LOC")]
    assert _grounded(ex)


def test_empty_file_and_blank_lines_only(tmp_path: Path) -> None:
    assert read_bio(_write(tmp_path, "")) == []
    assert read_bio(_write(tmp_path, "\n \n\t\n", "blank.txt")) == []


# --- errors -------------------------------------------------------------------------------------------


def test_wrong_number_of_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "EU NNP B-NP B-ORG\nrejects VBZ O\n")
    with pytest.raises(
        InputError, match=r"sample\.txt: line 2: 3 columns, but the first token line \(line 1\)"
    ):
        read_bio(path)
    tabs = _write(tmp_path, "a\tO\n\nb\tB-X\textra\n", "tabs.txt")
    with pytest.raises(InputError, match=r"tabs\.txt: line 3: 3 columns.* has 2"):
        read_bio(tabs)


def test_line_without_the_files_separator(tmp_path: Path) -> None:
    path = _write(tmp_path, "a\tO\nb B-X\n")
    with pytest.raises(
        InputError, match=r"sample\.txt: line 2: 1 column, but the first token line \(line 1\) has 2"
    ):
        read_bio(path)


def test_single_column(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"sample\.txt: line 2: expected a token and a tag.*one column"):
        read_bio(_write(tmp_path, "\nlonely\n"))


def test_unknown_tag_prefix(tmp_path: Path) -> None:
    path = _write(tmp_path, "a\tO\nb\tX-PER\n")
    with pytest.raises(InputError, match=r"sample\.txt: line 2: tag 'X-PER' is neither O nor PREFIX-TYPE"):
        read_bio(path)


@pytest.mark.parametrize("tag", ["B-", "PER", "o", "B"])
def test_malformed_tags(tmp_path: Path, tag: str) -> None:
    path = _write(tmp_path, f"x\tO\n\ny\t{tag}\n")
    with pytest.raises(InputError, match=rf"line 3: tag '{tag}' is neither"):
        read_bio(path)


def test_empty_token(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"sample\.txt: line 1: empty token"):
        read_bio(_write(tmp_path, "\tB-PER\n"))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.txt: cannot read BIO file"):
        read_bio(tmp_path / "missing.txt")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Köln\tB-LOC\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.txt: not UTF-8 text \(byte 1\)"):
        read_bio(latin)


# --- label maps ----------------------------------------------------------------------------------------


def test_dataset_labels_overrides_and_copies() -> None:
    labels = dataset_labels("crossner_ai", {"programlang": "programming language", "extra": "extra type"})
    assert labels["programlang"] == "programming language" and labels["extra"] == "extra type"
    assert labels["misc"] == "else"
    labels["misc"] = "changed"
    assert DATASET_LABELS["crossner_ai"]["programlang"] == "program language"
    assert DATASET_LABELS["crossner_ai"]["misc"] == "else"
    assert dataset_labels("conll2003") == {
        "PER": "person",
        "LOC": "location",
        "ORG": "organization",
        "MISC": "else",
    }
    with pytest.raises(
        InputError, match=r"unknown NER dataset 'ontonotes'; built-in label maps: bc5cdr, conll2003, "
    ):
        dataset_labels("ontonotes")


@pytest.mark.parametrize("name", ["crossner_ai", "crossner_literature", "crossner_music", "conll2003"])
def test_label_names_match_the_instructuie_copies(name: str) -> None:
    published = json.loads(_real(name, "instructuie_format", "labels.json").read_text(encoding="utf-8"))
    assert sorted(set(DATASET_LABELS[name].values())) == sorted(published)


# --- the real files ------------------------------------------------------------------------------------

# (folder, file, sentences as listed in shared/data/README.md, entities = number of B- tags in the file)
REAL_FILES = [
    ("crossner_ai", "train.txt", 100, 532),
    ("crossner_ai", "dev.txt", 350, 1549),
    ("crossner_ai", "test.txt", 431, 1809),
    ("crossner_literature", "train.txt", 100, 541),
    ("crossner_literature", "dev.txt", 400, 2130),
    ("crossner_literature", "test.txt", 416, 2266),
    ("crossner_music", "train.txt", 100, 648),
    ("crossner_music", "dev.txt", 380, 2679),
    ("crossner_music", "test.txt", 465, 3336),
    ("conll2003", "train.txt", 14041, 23499),
    ("conll2003", "valid.txt", 3250, 5942),
    ("conll2003", "test.txt", 3453, 5648),
    ("wnut17", "wnut17train.conll", 3394, 1975),
    ("wnut17", "emerging.dev.conll", 1009, 836),
    ("wnut17", "emerging.test.annotated", 1287, 1079),
    ("ncbi_disease", "train.tsv", 5424, 5134),
    ("ncbi_disease", "devel.tsv", 923, 787),
    ("ncbi_disease", "test.tsv", 940, 960),
    ("bc5cdr", "train.tsv", 4560, 9385),
    ("bc5cdr", "devel.tsv", 4581, 9593),
    ("bc5cdr", "test.tsv", 4797, 9809),
]


@pytest.mark.parametrize(("folder", "name", "sentences", "entities"), REAL_FILES)
def test_real_file(folder: str, name: str, sentences: int, entities: int) -> None:
    labels = dataset_labels(folder)
    examples = read_bio(_real(folder, name), label_map=labels)
    assert len(examples) == sentences
    assert sum(len(ex.entities) for ex in examples) == entities
    assert all(_grounded(ex) for ex in examples)
    assert all(ex.text and "  " not in ex.text for ex in examples)
    # every raw tag of the file has a natural-language name: only mapped names come out
    assert {e.label for ex in examples for e in ex.entities} == set(labels.values())
    assert len({ex.id for ex in examples}) == sentences


def test_real_conll2003_test_known_sentences() -> None:
    examples = read_bio(_real("conll2003", "test.txt"), label_map=dataset_labels("conll2003"))
    first = examples[0]
    assert first.id == "test-0"
    assert first.text == "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT ."
    # the well-known gold error of CoNLL-2003 (CHINA tagged as a person) is read as it is
    assert [(e.start, e.end, e.text, e.label) for e in first.entities] == [
        (9, 14, "JAPAN", "location"),
        (31, 36, "CHINA", "person"),
    ]
    assert Counter(e.label for ex in examples for e in ex.entities) == {
        "location": 1668,
        "organization": 1661,
        "person": 1617,
        "else": 702,
    }


def test_real_crossner_matches_its_instructuie_copy() -> None:
    """Same sentences and labels as the InstructUIE copy, which only lacks some sentence-final entities."""
    ours = read_bio(_real("crossner_ai", "test.txt"), label_map=dataset_labels("crossner_ai"))
    copy = read_instructuie_ner(_real("crossner_ai", "instructuie_format", "test.json"))
    assert [ex.text for ex in ours] == [ex.text for ex in copy]
    missing = []
    for a, b in zip(ours, copy):
        mine = {(e.start, e.end, e.label) for e in a.entities}
        theirs = {(e.start, e.end, e.label) for e in b.entities}
        assert theirs <= mine
        missing += [(a.text, span) for span in mine - theirs]
    assert len(missing) == 5
    assert all(end == len(text) for text, (_, end, _) in missing)
