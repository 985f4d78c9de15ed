"""Planning batches that share a prompt prefix, for backends that can reuse a key/value cache.

Many IE prompts differ only at their end: UniversalNER asks one question per entity type after the same
text, and relation questions about several pairs of one sentence start with that sentence. A backend that
encodes the common prefix once and runs only the differing suffixes saves most of the prompt work. The
plan here is backend-agnostic: it sees token ids, never a model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

# prompts must share this many tokens beyond what every prompt of the call shares to be grouped together
MIN_SHARED_TOKENS = 8


@dataclass(frozen=True)
class PrefixGroup:
    """Prompts whose first ``shared`` tokens are equal (``rows`` index the caller's prompts)."""

    rows: tuple[int, ...]
    shared: int


@dataclass(frozen=True)
class PromptBatch:
    """Prompt groups run (and decoded) together; each group's shared prefix is encoded once."""

    groups: tuple[PrefixGroup, ...]

    @property
    def rows(self) -> tuple[int, ...]:
        return tuple(r for g in self.groups for r in g.rows)


@dataclass
class Usage:
    """What a backend computed, summed over its calls (reset with :meth:`reset`)."""

    prompt_tokens: int = 0
    """tokens of the prompts as asked (what an unshared, unpadded run would encode)"""
    prefill_tokens: int = 0
    """positions actually run through the model for prompts, padding included"""
    generated_tokens: int = 0
    """tokens decoded (forced answer prefixes not counted)"""
    forward_passes: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.prompt_tokens = self.prefill_tokens = self.generated_tokens = self.forward_passes = 0
        self.extra.clear()

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "prefill_tokens": self.prefill_tokens,
            "generated_tokens": self.generated_tokens,
            "forward_passes": self.forward_passes,
            **self.extra,
        }


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def plan_batches(
    prompts: Sequence[Sequence[int]], batch_size: int, *, share: bool = True
) -> list[PromptBatch]:
    """Split prompts (token ids) into batches of at most ``batch_size`` rows.

    With ``share``, prompts that share a prefix longer than what all prompts share (by at least
    :data:`MIN_SHARED_TOKENS`) form a group whose prefix is encoded once; the other prompts are sorted by
    length, so that little padding is needed, and grouped by batch (sharing what they have in common).
    Groups are packed whole into batches where they fit. A group's ``shared`` length stays at least one
    token short of its shortest prompt, so every row has a token left to run, and is 0 for a group of
    one. Without ``share`` every batch is one length-sorted group with ``shared=0``.
    """
    size = max(1, batch_size)
    n = len(prompts)
    if n == 0:
        return []
    runs: list[list[int]] = []
    singles: list[int] = list(range(n))
    if share and n > 1:
        order = sorted(range(n), key=lambda i: list(prompts[i]))
        everyone = min(common_prefix_length(prompts[order[0]], prompts[i]) for i in order)
        singles = []
        run = [order[0]]
        for prev, cur in itertools.pairwise(order):
            if common_prefix_length(prompts[prev], prompts[cur]) < everyone + MIN_SHARED_TOKENS:
                runs.append(run)
                run = []
            run.append(cur)
        runs.append(run)
        singles = [r[0] for r in runs if len(r) == 1]
        runs = [r for r in runs if len(r) > 1]
    singles.sort(key=lambda i: (len(prompts[i]), i))
    chunks = [r[b : b + size] for r in runs for b in range(0, len(r), size)]
    chunks += [singles[b : b + size] for b in range(0, len(singles), size)]
    batches: list[list[PrefixGroup]] = []
    filled = size
    for rows in chunks:
        group = PrefixGroup(rows=tuple(rows), shared=_shared_length(prompts, rows) if share else 0)
        if filled + len(rows) > size:
            batches.append([])
            filled = 0
        batches[-1].append(group)
        filled += len(rows)
    return [PromptBatch(groups=tuple(b)) for b in batches]


def _shared_length(prompts: Sequence[Sequence[int]], rows: Sequence[int]) -> int:
    if len(rows) < 2:
        return 0
    first = prompts[rows[0]]
    shared = min(common_prefix_length(first, prompts[r]) for r in rows)
    return max(0, min(shared, min(len(prompts[r]) for r in rows) - 1))


@dataclass
class Forest:
    """Token sequences merged into a prefix tree, to be run in one forward pass.

    Node ``k`` holds ``tokens[k]`` at position ``depths[k]`` and sees only itself and its ancestors
    (``parents[k]`` is -1 at a root; a parent always comes before its children). A sequence's token
    at index ``t`` is scored by the next-token distribution of the node holding its token ``t - 1``:
    ``scored[i]`` lists those (node, token) pairs for sequence ``rows[i]`` of the caller.
    """

    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    scored: list[list[tuple[int, int]]] = field(default_factory=list)
    _children: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.tokens)

    def _known(self, sequence: Sequence[int]) -> list[int]:
        """The nodes that already hold the longest start of ``sequence``, root first."""
        path: list[int] = []
        for token in sequence:
            child = self._children.get((path[-1] if path else -1, token))
            if child is None:
                break
            path.append(child)
        return path

    def new_nodes(self, sequence: Sequence[int]) -> int:
        """How many nodes adding ``sequence`` would create."""
        return len(sequence) - len(self._known(sequence))

    def add(self, row: int, sequence: Sequence[int], start: int) -> None:
        """Add caller's sequence ``row``, whose tokens from index ``start`` (at least 1) are scored."""
        path = self._known(sequence)
        for depth in range(len(path), len(sequence)):
            parent = path[-1] if path else -1
            path.append(len(self.tokens))
            self._children[(parent, sequence[depth])] = path[-1]
            self.tokens.append(sequence[depth])
            self.parents.append(parent)
            self.depths.append(depth)
        self.rows.append(row)
        self.scored.append([(path[t - 1], sequence[t]) for t in range(start, len(sequence))])


def plan_forests(sequences: Sequence[Sequence[int]], starts: Sequence[int], max_nodes: int) -> list[Forest]:
    """Pack sequences (each scored from its index in ``starts``, at least 1) into prefix trees of at
    most ``max_nodes`` nodes; a sequence longer than that gets a tree of its own. Sequences are taken
    in sorted order, so that those sharing a prefix land in the same tree and share its nodes."""
    if len(sequences) != len(starts):
        raise ValueError("one start per sequence")
    for seq, start in zip(sequences, starts):
        if not 1 <= start <= len(seq):
            raise ValueError(f"a sequence of {len(seq)} tokens cannot be scored from index {start}")
    forests: list[Forest] = []
    current = Forest()
    for row in sorted(range(len(sequences)), key=lambda i: list(sequences[i])):
        seq = sequences[row]
        if len(current) and len(current) + current.new_nodes(seq) > max_nodes:
            forests.append(current)
            current = Forest()
        current.add(row, seq, starts[row])
    if current.rows:
        forests.append(current)
    return forests
