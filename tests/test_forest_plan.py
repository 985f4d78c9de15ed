"""Prefix trees for scoring many continuations in one pass, and the per-chat continuation lists (no
model needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ieforge.models.base import continuation_lists
from ieforge.models.prefix import plan_forests

PROMPT = [1, 2, 3, 4, 5]


def _path(forest, node):  # type: ignore[no-untyped-def]
    """The tokens from the root down to ``node``."""
    out = []
    while node >= 0:
        out.append(forest.tokens[node])
        node = forest.parents[node]
    return out[::-1]


def test_shared_prompt_and_span_are_one_set_of_nodes() -> None:
    span = [40, 41]
    seqs = [[*PROMPT, *span, 9, t, 7] for t in (100, 101, 102)]
    (forest,) = plan_forests(seqs, [len(PROMPT)] * 3, 1000)
    # prompt + span + "is" once, then a type token and a full stop per statement
    assert len(forest) == len(PROMPT) + 3 + 3 * 2
    assert sorted(forest.rows) == [0, 1, 2]
    for row, scored in zip(forest.rows, forest.scored):
        seq = seqs[row]
        assert [tok for _, tok in scored] == seq[len(PROMPT) :]
        # each scored token is read off the node holding the token before it
        for t, (node, _) in enumerate(scored, start=len(PROMPT)):
            assert _path(forest, node) == seq[:t]


def test_budget_splits_between_sequences_and_keeps_long_ones_whole() -> None:
    seqs = [[*PROMPT, t, t + 1] for t in range(10, 20)]
    forests = plan_forests(seqs, [len(PROMPT)] * len(seqs), 12)
    assert sorted(r for f in forests for r in f.rows) == list(range(len(seqs)))
    assert all(len(f) <= 12 for f in forests) and len(forests) > 1
    (alone,) = plan_forests([list(range(30))], [29], 12)
    assert len(alone) == 30


def test_bad_starts_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be scored from index 0"):
        plan_forests([[1, 2]], [0], 10)
    with pytest.raises(ValueError, match="one start per sequence"):
        plan_forests([[1, 2]], [1, 1], 10)


@given(
    st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=8), min_size=1, max_size=12),
    st.integers(1, 30),
)
def test_every_sequence_is_a_root_path_and_parents_come_first(seqs: list[list[int]], budget: int) -> None:
    seqs = [[7, *s] for s in seqs]
    forests = plan_forests(seqs, [1] * len(seqs), budget)
    assert sorted(r for f in forests for r in f.rows) == list(range(len(seqs)))
    for f in forests:
        assert all(p < k for k, p in enumerate(f.parents))
        assert all(f.depths[k] == (0 if p < 0 else f.depths[p] + 1) for k, p in enumerate(f.parents))
        # no two nodes with one parent hold the same token
        assert len({(p, t) for p, t in zip(f.parents, f.tokens)}) == len(f)
        for row, scored in zip(f.rows, f.scored):
            assert len(scored) == len(seqs[row]) - 1
            last = scored[-1][0]
            assert _path(f, last) == seqs[row][:-1]


def test_continuation_lists() -> None:
    chats = [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]]
    assert continuation_lists(chats, ["x", "y"]) == [["x", "y"], ["x", "y"]]
    assert continuation_lists(chats, [["x"], ["y", "z"]]) == [["x"], ["y", "z"]]
    assert continuation_lists(chats, []) == [[], []]
    with pytest.raises(ValueError, match="one list per chat"):
        continuation_lists(chats, [["x"]])
    with pytest.raises(ValueError, match="one list per chat"):
        continuation_lists(chats, [["x"], "y"])
