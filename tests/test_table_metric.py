"""Cell-level scores of on-demand IE tables: header/cell normalization, row alignment, edge cases."""

from __future__ import annotations

import itertools
import random

import pytest

from ieforge.evaluate import PRF, table_cell_prf
from ieforge.evaluate.tables import _max_weight_assignment


def test_hand_computed_table() -> None:
    gold = [
        {"Name": "Alice Smith", "Age": "30", "City": "Paris"},
        {"Name": "Bob", "Age": "25", "City": "London"},
    ]
    pred = [
        # aligned with Bob's row: name and age right, city wrong -> 2 of 3
        {" name ": "Bob", "AGE": "25", "city": "Berlin"},
        # aligned with Alice's row: "alice smith." and "The Paris" normalize to gold; age wrong -> 2 of 3
        {"Name": "alice smith.", "Age": "31", "City": "The Paris"},
        # a row too many: its two cells are wrong; the empty age cell is no cell
        {"Name": "Carol", "Age": "", "Country": "France"},
    ]
    # tp 4; predicted cells 3 + 3 + 2 = 8 -> fp 4; gold cells 6 -> fn 2
    result = table_cell_prf([gold], [pred])
    assert result == PRF(tp=4, fp=4, fn=2)
    assert result.precision == pytest.approx(1 / 2)
    assert result.recall == pytest.approx(2 / 3)


def test_rows_are_aligned_for_the_most_correct_cells() -> None:
    # correct cells per (gold row, predicted row): g1-p1 3, g1-p2 2, g2-p1 2, g2-p2 0.
    # Greedy (g1-p1 first) would get 3 + 0; the best alignment g1-p2, g2-p1 gets 2 + 2 = 4.
    gold = [
        {"A": "a1", "B": "b1", "C": "c1", "D": "d1", "E": "e1"},
        {"F": "f1", "G": "g1", "H": "h1"},
    ]
    pred = [
        {"A": "a1", "B": "b1", "C": "c1", "F": "f1", "G": "g1"},
        {"D": "d1", "E": "e1", "H": "h2"},
    ]
    # tp 4; predicted cells 5 + 3 = 8, gold cells 5 + 3 = 8
    assert table_cell_prf([gold], [pred]) == PRF(tp=4, fp=4, fn=4)


def test_duplicate_rows_and_cells() -> None:
    row = {"Name": "Bob", "Age": "25"}
    # the copy of the row finds no second gold row: its cells are false positives
    assert table_cell_prf([[row]], [[row, row]]) == PRF(tp=2, fp=2, fn=0)
    # the same header and text twice within a row (after normalization) is one cell
    assert table_cell_prf([[row]], [[{"Name": "Bob", " name": "bob.", "Age": "25"}]]) == PRF(tp=2)
    # two equal gold rows need two predicted rows
    assert table_cell_prf([[row, row]], [[row]]) == PRF(tp=2, fp=0, fn=2)


def test_headers_must_agree() -> None:
    # same text under another header is wrong; headers differ only by case and outer spaces otherwise
    gold = [[{"Founded": "1998", "Founder": "Larry Page"}]]
    pred = [[{"founded ": "Larry Page", " FOUNDER": "larry page"}]]
    assert table_cell_prf(gold, pred) == PRF(tp=1, fp=1, fn=1)


def test_several_tables_are_micro_averaged_and_kept_apart() -> None:
    gold = [[{"City": "Paris"}], [{"City": "Rome"}, {"City": "Oslo"}]]
    # table 0's prediction names a city of table 1: wrong there; table 1 gets one of two
    pred = [[{"City": "Rome"}], [{"City": "Oslo"}]]
    result = table_cell_prf(gold, pred)
    assert result == PRF(tp=1, fp=1, fn=2)
    assert result.f1 == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))


def test_empty_tables_and_length_mismatch() -> None:
    gold = [{"Name": "Bob", "Age": "25"}]
    assert table_cell_prf([], []) == PRF()
    assert table_cell_prf([[]], [[]]) == PRF()
    assert table_cell_prf([gold], [[]]) == PRF(fn=2)
    assert table_cell_prf([[]], [gold]) == PRF(fp=2)
    # empty cells count on neither side
    assert table_cell_prf([[{"Name": "Bob", "Age": " "}]], [[{"Name": "bob", "Age": "-"}]]) == PRF(tp=1)
    assert table_cell_prf([gold], [gold]).f1 == 1.0
    with pytest.raises(ValueError, match="1 gold tables but 2 predicted"):
        table_cell_prf([gold], [gold, gold])


def test_assignment_is_optimal_on_random_matrices() -> None:
    rng = random.Random(0)
    for _ in range(300):
        rows, cols = rng.randint(0, 5), rng.randint(0, 5)
        weights = [[rng.choice([0, 0, 1, 2, 3, 5]) for _ in range(cols)] for _ in range(rows)]
        pairs = _max_weight_assignment(weights)
        assert len(pairs) == min(rows, cols)
        assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)
        if rows <= cols:
            best = max(
                (
                    sum(weights[i][j] for i, j in enumerate(perm))
                    for perm in itertools.permutations(range(cols), rows)
                ),
                default=0,
            )
        else:
            best = max(
                sum(weights[i][j] for j, i in enumerate(perm))
                for perm in itertools.permutations(range(rows), cols)
            )
        assert sum(weights[i][j] for i, j in pairs) == best
