"""SemEval-2010 Task 8 reader and the <e1>/<e2> entity markup, on the real files and on broken fixtures."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st

from ieforge.data import REExample, parse_entity_markup, read_semeval
from ieforge.errors import InputError
from ieforge.types import Mention

DEV = ("semeval2010_task8", "DEV_SUBSET_7201-8000_FROM_TRAIN.TXT")
TRAIN = ("semeval2010_task8", "TRAIN_FILE.TXT")


def _grounded(ex: REExample) -> bool:
    return ex.text[ex.head.start : ex.head.end] == ex.head.text and ex.text[ex.tail.start : ex.tail.end] == (
        ex.tail.text
    )


@pytest.fixture(scope="module")
def dev() -> list[REExample]:
    return read_semeval(shared_data(*DEV))


def test_dev_slice_counts(dev: list[REExample]) -> None:
    assert len(dev) == 800
    assert [ex.id for ex in dev] == [str(n) for n in range(7201, 8001)]
    labels = Counter(ex.label for ex in dev)
    assert labels["Other"] == 251
    assert labels["Cause-Effect(e2,e1)"] == 98
    assert labels["Entity-Origin(e1,e2)"] == 66
    assert labels["Message-Topic(e2,e1)"] == 1
    # the one Entity-Destination(e2,e1) of the whole training file is not in this slice
    assert len(labels) == 18 and "Entity-Destination(e2,e1)" not in labels
    assert all(_grounded(ex) for ex in dev)
    assert not any("<e1>" in ex.text or "</e2>" in ex.text for ex in dev)
    assert all(ex.head_type is None and ex.tail_type is None for ex in dev)


def test_dev_known_examples(dev: list[REExample]) -> None:
    first = dev[0]
    assert first.text == (
        "It makes the drive more comfortable by intelligently seeking out what the passengers inside the car "
        "prefer in terms of temperature, music, lighting etc."
    )
    assert first.head == Mention(start=74, end=84, text="passengers")
    assert first.tail == Mention(start=96, end=99, text="car")
    assert first.label == "Other"
    assert first.comment.startswith("Content-Container is excluded because people")
    last = dev[-1]
    assert (last.id, last.head.text, last.tail.text, last.label) == (
        "8000",
        "surgeon",
        "hole",
        "Product-Producer(e2,e1)",
    )
    assert last.comment == ""  # "Comment:" with nothing after it
    by_id = {ex.id: ex for ex in dev}
    house = by_id["7706"]  # quotes inside the sentence stay, only the surrounding pair goes
    assert house.text.startswith("A house that contains") and house.text.endswith(
        'a "B&B" (a Town or Country Home or a Farmhouse).'
    )
    assert (house.head.text, house.tail.text, house.label) == ("house", "bedrooms", "Component-Whole(e2,e1)")
    assert by_id["7300"].label == "Entity-Origin(e2,e1)"
    assert (by_id["7300"].head.text, by_id["7300"].tail.text) == ("ground", "thorns")


def test_train_file_matches_official_distribution(dev: list[REExample]) -> None:
    train = read_semeval(shared_data(*TRAIN))
    assert len(train) == 8000
    assert train[7200:] == dev  # the dev slice is copied verbatim from the training file
    relations = Counter(ex.label.split("(")[0] for ex in train)
    # TRAIN_DISTRIB.TXT of the official release
    assert relations == {
        "Other": 1410,
        "Cause-Effect": 1003,
        "Component-Whole": 941,
        "Entity-Destination": 845,
        "Product-Producer": 717,
        "Entity-Origin": 716,
        "Member-Collection": 690,
        "Message-Topic": 634,
        "Content-Container": 540,
        "Instrument-Agency": 504,
    }
    assert Counter(ex.label for ex in train)["Entity-Destination(e2,e1)"] == 1
    assert all(_grounded(ex) for ex in train)


# ---- entity markup


def test_markup_basic() -> None:
    text, head, tail = parse_entity_markup("The <e1>wheel</e1> of the <e2>car</e2>.")
    assert text == "The wheel of the car."
    assert head == Mention(start=4, end=9, text="wheel")
    assert tail == Mention(start=17, end=20, text="car")


@pytest.mark.parametrize(
    ("marked", "text", "head", "tail"),
    [
        ("<e1>Zürich</e1> liegt nahe <e2>Baden</e2>.", "Zürich liegt nahe Baden.", "Zürich", "Baden"),
        ("<e2>東京</e2>は<e1>日本</e1>の首都です。", "東京は日本の首都です。", "日本", "東京"),
        (
            "🚀 <e1>SpaceX</e1> 🚀 launched <e2>Crew‑9 🛰</e2>!",
            "🚀 SpaceX 🚀 launched Crew‑9 🛰!",
            "SpaceX",
            "Crew‑9 🛰",
        ),
        ("<e1>a</e1><e2>b</e2>", "ab", "a", "b"),
        ("<e1> spaced </e1> and <e2>\tx</e2>", " spaced  and \tx", "spaced", "x"),
        ("<e1>New <e2>York</e2></e1> City", "New York City", "New York", "York"),
        ("{<e1>x</e1>} <e2>{obj}</e2>", "{x} {obj}", "x", "{obj}"),
    ],
)
def test_markup_offsets(marked: str, text: str, head: str, tail: str) -> None:
    got_text, h, t = parse_entity_markup(marked)
    assert got_text == text
    assert (h.text, t.text) == (head, tail)
    assert got_text[h.start : h.end] == head and got_text[t.start : t.end] == tail


_plain = st.text(max_size=30).filter(lambda s: "<" not in s)
_entity = _plain.filter(lambda s: s.strip() != "")


@settings(max_examples=300, deadline=None)
@given(_plain, _entity, _plain, _entity, _plain, st.booleans())
def test_markup_round_trip(a: str, e1: str, b: str, e2: str, c: str, tail_first: bool) -> None:
    first, second = ("e2", e2), ("e1", e1)
    if not tail_first:
        first, second = second, first
    marked = f"{a}<{first[0]}>{first[1]}</{first[0]}>{b}<{second[0]}>{second[1]}</{second[0]}>{c}"
    text, head, tail = parse_entity_markup(marked)
    assert text == a + first[1] + b + second[1] + c
    assert (head.text, tail.text) == (e1.strip(), e2.strip())
    assert text[head.start : head.end] == head.text and text[tail.start : tail.end] == tail.text


@pytest.mark.parametrize(
    ("marked", "problem"),
    [
        ("no tags at all", "<e1> is missing"),
        ("<e1>a</e1> and b", "<e2> is missing"),
        ("<e1>a</e1> and <e2>b", "</e2> is missing"),
        ("</e1>a<e1> <e2>b</e2>", "</e1> comes before <e1>"),
        ("<e1>a</e1> <e1>b</e1> <e2>c</e2>", "<e1> occurs twice"),
        ("<e1>a</e1></e1> <e2>c</e2>", "</e1> occurs twice"),
        ("<e1> </e1> <e2>c</e2>", "<e1> marks no text"),
    ],
)
def test_markup_errors(marked: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_entity_markup(marked)


# ---- fixture files


def _write(tmp_path: Path, content: str, *, name: str = "sem.txt", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + content.encode("utf-8"))
    return path


GOOD = (
    '1\t"The <e1>wheel</e1> of the <e2>car</e2>."\n'
    "Component-Whole(e1,e2)\n"
    "Comment: a part\n"
    "\n"
    '2\t"<e1>Zoë</e1> moved to <e2>Köln</e2>."\n'
    "Other\n"
    "Comment:\n"
    "\n"
)


def test_crlf_bom_and_lf_read_the_same(tmp_path: Path) -> None:
    lf = read_semeval(_write(tmp_path, GOOD, name="lf.txt"))
    crlf = read_semeval(_write(tmp_path, GOOD.replace("\n", "\r\n"), name="crlf.txt", bom=True))
    assert lf == crlf
    assert [(ex.id, ex.label, ex.head.text, ex.tail.text) for ex in lf] == [
        ("1", "Component-Whole(e1,e2)", "wheel", "car"),
        ("2", "Other", "Zoë", "Köln"),
    ]
    assert lf[0].comment == "a part"


def test_lenient_layout(tmp_path: Path) -> None:
    # extra blank lines, a record without its comment line, no blank line at the very end
    content = '\n\n1\t"<e1>a</e1> b <e2>c</e2>"\nOther\n\n\n\n2\t"<e1>d</e1> <e2>e</e2>"\nOther\nComment: x'
    examples = read_semeval(_write(tmp_path, content))
    assert [ex.id for ex in examples] == ["1", "2"]
    assert read_semeval(_write(tmp_path, "", name="empty.txt")) == []


@pytest.mark.parametrize(
    ("content", "where", "problem"),
    [
        (GOOD.replace("<e1>wheel</e1>", "wheel"), "line 1", "<e1> is missing"),
        (GOOD.replace("<e2>Köln</e2>", "<e2>Köln"), "line 5", "</e2> is missing"),
        (GOOD.replace("Component-Whole(e1,e2)", "Component-Whole"), "line 2", "bad relation label"),
        (GOOD.replace("Component-Whole(e1,e2)", "Component-Whole(e1,e3)"), "line 2", "bad relation label"),
        (GOOD.replace("Other\n", "other relation\n"), "line 6", "bad relation label"),
        (GOOD + '3\t"<e1>x</e1> <e2>y</e2>"\n', "line 9", "record '3' is truncated"),
        (GOOD + '3\t"<e1>x</e1> <e2>y</e2>"\n\nOther\n', "line 9", "record '3' is truncated"),
        (GOOD.replace("Comment: a part\n", "a part\n"), "line 3", "expected a 'Comment:' line"),
        (GOOD.replace("Comment: a part\n\n", "Comment: a part\n"), "line 4", "expected a blank line"),
        (GOOD.replace("2\t", "1\t"), "line 5", "duplicate id '1' (first at line 1)"),
        (GOOD.replace("1\t", "1 "), "line 1", "expected 'id<TAB>\"sentence\"'"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path: Path, content: str, where: str, problem: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(InputError) as info:
        read_semeval(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert problem in message
    assert "\n" not in message


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.txt: cannot read SemEval file"):
        read_semeval(tmp_path / "missing.txt")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes('1\t"<e1>Zoë</e1> <e2>b</e2>"\nOther\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.txt: not UTF-8 text"):
        read_semeval(latin1)
