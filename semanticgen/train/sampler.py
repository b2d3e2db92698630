"""Bucketed batches over every clip: the plan of which clips form each micro-batch of each data-parallel rank.

- **One bucket per batch**: a batch holds clips of one shape bucket only (equal tensor shapes, no padding).
- **Token budget**: a bucket's batch size is ``batch_tokens // tokens per clip`` clipped to [1, ``batch_size``]
  (``batch_tokens=0``: ``batch_size``) — long or large buckets get small batches, as Open-Sora's bucket config.
- **Every clip exactly once per epoch**: each epoch permutes every bucket's clips and cuts them into batches; a
  bucket's remainder becomes one smaller batch, it is never dropped.
- **Buckets interleaved by share**: batch ``j`` of a bucket with ``n`` batches sorts at ``(j + u) / n`` (``u`` a
  random offset per bucket and epoch), so every bucket is spread evenly over the epoch in proportion to its share.
- **Deterministic per seed**: everything comes from ``numpy.random.default_rng([seed, epoch])``.
- **No idle worker**: the epochs are concatenated into one stream of batches and data rank ``r`` takes batches
  ``r, r + D, r + 2D, …`` (round ``k`` = batches ``kD … kD + D − 1``). Every rank has a batch at every round, so
  all ranks step together for as long as training runs; an epoch whose batch count is not a multiple of ``D``
  simply ends inside a round and the next epoch fills the rest of it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np


def batch_sizes(tokens: Sequence[int], batch_size: int, batch_tokens: int) -> List[int]:
    """Per bucket: ``batch_size``, or the token budget's share clipped to [1, batch_size]."""
    if batch_tokens <= 0:
        return [int(batch_size)] * len(tokens)
    return [max(1, min(int(batch_size), int(batch_tokens) // max(1, int(t)))) for t in tokens]


@dataclass
class BucketPlan:
    bucket_of: Sequence[int]             # bucket of each clip (0 … B−1)
    sizes: Sequence[int]                 # batch size of each bucket
    seed: int = 0
    data_size: int = 1                   # data-parallel ranks
    _cache: Dict[int, List[List[int]]] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if not len(self.bucket_of):
            raise ValueError("no clips to train on")
        self.bucket_of = np.asarray(self.bucket_of, dtype=np.int64)
        self.members = [np.flatnonzero(self.bucket_of == b) for b in range(len(self.sizes))]
        self.per_epoch = sum(math.ceil(len(m) / s) for m, s in zip(self.members, self.sizes) if len(m))

    @property
    def rounds_per_epoch(self) -> int:
        """Rounds (one batch per data rank) that cover one epoch."""
        return math.ceil(self.per_epoch / self.data_size)

    def epoch(self, epoch: int) -> List[List[int]]:
        """The batches of one epoch in order: lists of clip indices, one bucket each."""
        if epoch not in self._cache:
            if len(self._cache) > 4:
                self._cache.clear()
            self._cache[epoch] = self._plan(epoch)
        return self._cache[epoch]

    def _plan(self, epoch: int) -> List[List[int]]:
        rng = np.random.default_rng([int(self.seed), int(epoch)])
        keyed: List[Tuple[float, float, List[int]]] = []
        for members, size in zip(self.members, self.sizes):
            if not len(members):
                continue
            clips = rng.permutation(members)
            batches = [clips[i:i + size].tolist() for i in range(0, len(clips), size)]
            u = rng.random()
            keyed += [((j + u) / len(batches), rng.random(), b) for j, b in enumerate(batches)]
        keyed.sort(key=lambda x: (x[0], x[1]))
        return [b for _, _, b in keyed]

    def batch_at(self, g: int) -> Tuple[int, List[int]]:
        """(epoch, clip indices) of batch ``g`` of the stream of concatenated epochs."""
        e, i = divmod(int(g), self.per_epoch)
        return e, self.epoch(e)[i]

    def rank_batches(self, rank: int, start_round: int, n_rounds: int) -> Iterator[Tuple[int, List[int]]]:
        """(round, clip indices) of data rank ``rank`` for rounds ``start_round … start_round + n_rounds − 1``."""
        if not 0 <= rank < self.data_size:
            raise ValueError(f"rank {rank} outside 0..{self.data_size - 1}")
        for k in range(start_round, start_round + n_rounds):
            yield k, self.batch_at(k * self.data_size + rank)[1]
