"""Planning prompt batches that share a prefix, and the thread setting (no model needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ieforge.errors import IEForgeError
from ieforge.models import threads as threads_mod
from ieforge.models.prefix import MIN_SHARED_TOKENS, Usage, common_prefix_length, plan_batches

TEXT_A = list(range(100, 140))
TEXT_B = list(range(200, 230))


def questions(text: list[int], k: int) -> list[list[int]]:
    """A system prompt, the text, then question k (a distinct tail of varying length)."""
    return [[1, 2, 3, *text, 50 + q, *([60] * q)] for q in range(k)]


def test_questions_about_one_text_share_its_prefix() -> None:
    prompts = questions(TEXT_A, 5) + questions(TEXT_B, 4)
    batches = plan_batches(prompts, 16)
    assert len(batches) == 1
    groups = batches[0].groups
    assert sorted(sorted(g.rows) for g in groups) == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]
    shared = {len(g.rows): g.shared for g in groups}
    assert shared == {5: 3 + len(TEXT_A), 4: 3 + len(TEXT_B)}


def test_groups_are_split_at_the_batch_size_and_packed_whole() -> None:
    prompts = questions(TEXT_A, 5) + questions(TEXT_B, 4)
    batches = plan_batches(prompts, 4)
    assert all(len(b.rows) <= 4 for b in batches)
    assert sorted(r for b in batches for r in b.rows) == list(range(9))
    for b in batches:
        for g in b.groups:
            assert all(prompts[r][: g.shared] == prompts[g.rows[0]][: g.shared] for r in g.rows)


def test_unrelated_prompts_are_sorted_by_length_and_share_what_all_share() -> None:
    prompts = [[1, 2, 3, 9, 9, 9, 9], [1, 2, 3, 7], [1, 2, 3, 8, 8]]
    (batch,) = plan_batches(prompts, 8)
    (group,) = batch.groups
    assert group.rows == (1, 2, 0)
    assert group.shared == 3


def test_without_sharing_every_prompt_runs_in_full() -> None:
    prompts = questions(TEXT_A, 3)
    batches = plan_batches(prompts, 2, share=False)
    assert [b.rows for b in batches] == [(0, 1), (2,)]
    assert all(g.shared == 0 for b in batches for g in b.groups)


def test_a_lone_prompt_or_a_short_overlap_is_not_a_group() -> None:
    (batch,) = plan_batches([[5, 6, 7]], 8)
    assert batch.groups[0].shared == 0
    # sharing fewer than MIN_SHARED_TOKENS beyond what everyone shares does not form a group
    near = [[1, *range(MIN_SHARED_TOKENS - 1), 90], [1, *range(MIN_SHARED_TOKENS - 1), 91], [1, 99]]
    (batch,) = plan_batches(near, 8)
    assert len(batch.groups) == 1 and batch.groups[0].shared == 1


def test_identical_prompts_keep_a_token_to_run() -> None:
    (batch,) = plan_batches([[4, 5, 6], [4, 5, 6]], 8)
    assert batch.groups[0].shared == 2


@given(
    st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=12), min_size=1, max_size=30),
    st.integers(1, 9),
    st.booleans(),
)
def test_every_prompt_is_planned_once_within_the_batch_size(
    prompts: list[list[int]], size: int, share: bool
) -> None:
    batches = plan_batches(prompts, size, share=share)
    rows = [r for b in batches for r in b.rows]
    assert sorted(rows) == list(range(len(prompts)))
    for b in batches:
        assert len(b.rows) <= size
        for g in b.groups:
            assert 0 <= g.shared < min(len(prompts[r]) for r in g.rows)
            assert all(common_prefix_length(prompts[g.rows[0]], prompts[r]) >= g.shared for r in g.rows)


def test_usage_counts_reset() -> None:
    usage = Usage(prompt_tokens=5, prefill_tokens=3, generated_tokens=2, forward_passes=1)
    assert usage.as_dict()["prefill_tokens"] == 3
    usage.reset()
    assert usage.as_dict() == {
        "prompt_tokens": 0,
        "prefill_tokens": 0,
        "generated_tokens": 0,
        "forward_passes": 0,
    }


def test_threads_follow_the_environment_and_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    monkeypatch.setattr(threads_mod, "_chosen", None)
    monkeypatch.setenv("IEFORGE_THREADS", "1")
    assert threads_mod.thread_count() == 1
    monkeypatch.delenv("IEFORGE_THREADS")
    assert threads_mod.thread_count() == threads_mod.available_cores()
    try:
        assert threads_mod.set_threads(1) == 1
        assert torch.get_num_threads() == 1
    finally:
        threads_mod.set_threads(None)
        torch.set_num_threads(before)
    monkeypatch.setenv("IEFORGE_THREADS", "many")
    with pytest.raises(IEForgeError, match="IEFORGE_THREADS"):
        threads_mod.thread_count()
    with pytest.raises(IEForgeError, match="at least 1"):
        threads_mod.set_threads(0)


def test_token_limits_are_one_per_prompt() -> None:
    from ieforge.models.tokens import token_limits

    assert token_limits(5, 3) == [5, 5, 5]
    assert token_limits([1, 0, 3], 3) == [1, 0, 3]
    assert token_limits(-2, 1) == [0]
    with pytest.raises(ValueError, match="2 prompts"):
        token_limits([1], 2)
