"""CaRB open IE reader: small fixtures for every error path, and the real dev files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_data

from ieforge.data import OpenIEExample, OpenIEExtraction, read_carb
from ieforge.errors import InputError

S1 = "Earlier this year , President Bush made a final offer on the minimum wage ."
S2 = "The villages were located close to industrial sites ."
S3 = "Nothing was extracted from this one ."


def _write(tmp_path: Path, content: str | bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _read(tmp_path: Path, sentences: str, gold: str) -> list[OpenIEExample]:
    return read_carb(_write(tmp_path, sentences, "dev.txt"), _write(tmp_path, gold, "gold.tsv"))


def test_carb_sentences_with_extractions(tmp_path: Path) -> None:
    gold = (
        f"{S1}\tmade a final offer on\tPresident Bush\tthe minimum wage\tEarlier this year\n"
        f"{S1}\tis\tBush\tPresident\n"
        f"{S2} \twere located close to \tthe villages \t industrial sites\n"  # spaces around fields
        f"{S1}\thas\tBush\ta final offer\t\n"  # back to S1 later in the file; empty last field
    )
    first, second, third = _read(tmp_path, f"{S1}\n{S2}\n{S3}\n", gold)
    assert [ex.id for ex in (first, second, third)] == ["dev-0", "dev-1", "dev-2"]
    assert first.text == S1 and second.text == S2
    assert first.extractions == [
        OpenIEExtraction(
            relation="made a final offer on",
            arguments=["President Bush", "the minimum wage", "Earlier this year"],
        ),
        OpenIEExtraction(relation="is", arguments=["Bush", "President"]),
        OpenIEExtraction(relation="has", arguments=["Bush", "a final offer"]),
    ]
    assert second.extractions == [
        OpenIEExtraction(relation="were located close to", arguments=["the villages", "industrial sites"])
    ]
    assert third.extractions == []


def test_carb_empty_arguments(tmp_path: Path) -> None:
    gold = f"{S1}\tis heating up\tCompetition\t\n{S1}\tis going on\tThe profit\t\tC: Mr. Mills said\n"
    (ex,) = _read(tmp_path, S1 + "\n", gold)
    # a trailing empty argument is dropped, an empty one before a filled one keeps its place
    assert [e.arguments for e in ex.extractions] == [["Competition"], ["The profit", "", "C: Mr. Mills said"]]


def test_carb_blank_lines_crlf_and_bom(tmp_path: Path) -> None:
    sentences = "\ufeff" + f"{S1}\r\n\r\n{S2}\r\n"
    gold = f"\n{S2}\tdid\tx\ty\r\n\n"
    first, second = _read(tmp_path, sentences, gold)
    assert first.text == S1 and first.id == "dev-0" and second.id == "dev-1"
    assert second.extractions == [OpenIEExtraction(relation="did", arguments=["x", "y"])]


@pytest.mark.parametrize(
    ("gold", "message"),
    [
        (
            f"{S1}\tmade\n",
            "gold.tsv: line 1: expected SENTENCE<TAB>RELATION<TAB>ARG1[<TAB>ARG2 ...], found 2 fields",
        ),
        ("just a sentence\n", "found 1 field"),
        (f"{S1}\tis\tBush\n{S3} extra\tis\tx\n", "gold.tsv: line 2: sentence not in"),
        (f"{S1}\t \tBush\tPresident\n", "gold.tsv: line 1: empty relation field"),
        (f"{S1}\tis\t \t\n", "gold.tsv: line 1: every argument field is empty"),
    ],
)
def test_carb_gold_errors(tmp_path: Path, gold: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        _read(tmp_path, f"{S1}\n{S2}\n", gold)
    assert message in str(info.value) and str(tmp_path) in str(info.value)


def test_carb_sentence_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"dev\.txt: line 3: the sentence of line 1 again"):
        _read(tmp_path, f"{S1}\n{S2}\n{S1}  \n", "")
    with pytest.raises(InputError, match="cannot read CaRB sentence file"):
        read_carb(tmp_path / "missing.txt", tmp_path / "missing.tsv")
    with pytest.raises(InputError, match="cannot read CaRB gold file"):
        read_carb(_write(tmp_path, S1, "dev.txt"), tmp_path / "missing.tsv")
    with pytest.raises(InputError, match=r"gold\.tsv: not UTF-8 text"):
        read_carb(_write(tmp_path, S1, "dev.txt"), _write(tmp_path, b"\xff\tx\ty", "gold.tsv"))


def test_real_carb_dev() -> None:
    gold_path = shared_data("carb", "gold", "dev.tsv")
    examples = read_carb(shared_data("carb", "dev.txt"), gold_path)
    assert len(examples) == 641
    assert sum(len(ex.extractions) for ex in examples) == 2548
    assert all(ex.text and ex.text == ex.text.strip() for ex in examples)
    assert all(e.relation and e.arguments and e.arguments[0] for ex in examples for e in ex.extractions)
    # three dev sentences have no gold extraction at all
    assert sum(not ex.extractions for ex in examples) == 3
    # the gold file spells 20 sentences with a trailing space, and 3 sentences both ways, in two blocks
    spellings: dict[str, set[str]] = {}
    for line in gold_path.read_text(encoding="utf-8").splitlines():
        sentence = line.split("\t", 1)[0]
        spellings.setdefault(sentence.strip(), set()).add(sentence)
    assert len(spellings) == 638
    assert sum(len(v) == 2 for v in spellings.values()) == 3
    assert sum(s != s.strip() for v in spellings.values() for s in v) == 20
    counts = Counter(len(e.arguments) for ex in examples for e in ex.extractions)
    # 56 lines leave the second argument empty; one leaves it empty but fills a third
    assert counts[1] == 56 and sum(counts.values()) == 2548
    assert sum("" in e.arguments for ex in examples for e in ex.extractions) == 1
