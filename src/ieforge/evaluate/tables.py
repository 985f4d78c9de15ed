"""Cell-level scores for on-demand information extraction, where an instruction and a list of headers
ask for a table: rows of cells, each cell filed under a header.

A table is a list of rows and a row maps header names to cell strings. Headers are compared after
stripping surrounding whitespace and ignoring case (``" Name"`` and ``"name"`` are one header); cell
texts are compared after :func:`~ieforge.evaluate.metrics.normalize_answer` (lower case, no
punctuation, no articles, single spaces). A row is thus a set of (header, cell) pairs, and a predicted
cell is correct when the gold row it is aligned with holds the same pair.

Rows carry no key, so the gold and predicted rows of a table are first aligned one to one, choosing
the alignment with the most correct cells (an exact maximum-weight assignment computed with the
Hungarian method, written here because SciPy is not among the package's dependencies). Every cell of
a predicted row left without a gold row is a false positive, every cell of a gold row left without a
predicted row a false negative. Rows are not merged: a row predicted twice is aligned once and its copy
counts as wrong (unless there is a second gold row it fits), while a header repeated within a row with
the same normalized text is one cell. A cell whose text normalizes to nothing (``""``, ``"-"``,
``"the"``) is treated as absent on both sides: it is neither a cell to find nor a prediction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ieforge.evaluate.metrics import PRF, normalize_answer

Table = Sequence[Mapping[str, str]]
"""A table: its rows, each mapping a header to a cell string."""


def _cells(row: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    pairs = ((header.strip().casefold(), normalize_answer(cell)) for header, cell in row.items())
    return frozenset((header, cell) for header, cell in pairs if cell)


def _max_weight_assignment(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """A one-to-one pairing of rows and columns of ``weights`` with the largest total weight.

    Returns ``(row, column)`` pairs sorted by row; every row is paired when there are no more rows than
    columns, and every column otherwise. The matrix must be rectangular. This is the Hungarian method
    with row and column potentials, adding one row at a time along a shortest augmenting path, in
    O(rows² · columns) time.
    """
    rows = len(weights)
    cols = len(weights[0]) if rows else 0
    if any(len(line) != cols for line in weights):
        raise ValueError("weights must be a rectangular matrix")
    if rows == 0 or cols == 0:
        return []
    transposed = rows > cols
    cost = [[-float(w) for w in line] for line in weights]  # minimize cost = maximize weight
    if transposed:
        cost = [list(column) for column in zip(*cost)]
        rows, cols = cols, rows
    # Index 0 of the column arrays is a virtual column that holds the row being inserted.
    u = [0.0] * (rows + 1)  # row potentials (1-based)
    v = [0.0] * (cols + 1)  # column potentials (1-based)
    owner = [0] * (cols + 1)  # owner[j] = row (1-based) assigned to column j, 0 for none
    for row in range(1, rows + 1):
        owner[0] = row
        previous = [0] * (cols + 1)  # column before j on the shortest path found so far
        slack = [math.inf] * (cols + 1)
        done = [False] * (cols + 1)
        col = 0
        while owner[col] != 0:
            done[col] = True
            current, delta, nearest = owner[col], math.inf, 0
            for j in range(1, cols + 1):
                if done[j]:
                    continue
                reduced = cost[current - 1][j - 1] - u[current] - v[j]
                if reduced < slack[j]:
                    slack[j], previous[j] = reduced, col
                if slack[j] < delta:
                    delta, nearest = slack[j], j
            for j in range(cols + 1):
                if done[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    slack[j] -= delta
            col = nearest
        while col:  # flip the path: every column on it takes the row of the column before it
            before = previous[col]
            owner[col] = owner[before]
            col = before
    pairs = [(owner[j] - 1, j - 1) for j in range(1, cols + 1) if owner[j]]
    if transposed:
        pairs = [(c, r) for r, c in pairs]
    return sorted(pairs)


def _table_counts(gold: Table, pred: Table) -> PRF:
    gold_rows = [_cells(row) for row in gold]
    pred_rows = [_cells(row) for row in pred]
    weights = [[len(g & p) for p in pred_rows] for g in gold_rows]
    tp = sum(weights[i][j] for i, j in _max_weight_assignment(weights))
    return PRF(
        tp=tp,
        fp=sum(len(p) for p in pred_rows) - tp,
        fn=sum(len(g) for g in gold_rows) - tp,
    )


def table_cell_prf(gold: Sequence[Table], pred: Sequence[Table]) -> PRF:
    """Micro P/R/F1 over the cells of a corpus of tables, rows aligned to maximize correct cells.

    ``gold[i]`` and ``pred[i]`` are the gold and predicted tables for request ``i``; sequences of
    different lengths raise :class:`ValueError`. The module docstring gives the comparison of headers
    and cells, the row alignment and how empty and repeated cells count.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold tables but {len(pred)} predicted")
    total = PRF()
    for g, p in zip(gold, pred):
        total += _table_counts(g, p)
    return total
