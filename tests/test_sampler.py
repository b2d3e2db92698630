"""The bucket plan (semanticgen.train.sampler): one bucket per batch, token budget, every clip once per epoch,
interleaving by share, determinism per seed, and every data rank stepping at every round."""
import collections

import numpy as np
import pytest

from semanticgen.train.sampler import BucketPlan, batch_sizes

# a corpus of 4 buckets of very different sizes (and an empty one): 37 + 11 + 5 + 1 clips, shuffled ids
COUNTS = [37, 11, 0, 5, 1]
BUCKET_OF = np.random.default_rng(7).permutation(np.repeat(np.arange(len(COUNTS)), COUNTS)).tolist()
TOKENS = [30, 75, 100, 135, 600]


def plan(world=1, seed=0, sizes=(4, 3, 2, 2, 1)):
    return BucketPlan(BUCKET_OF, list(sizes), seed=seed, data_size=world)


def test_batch_sizes_shrink_with_tokens():
    assert batch_sizes(TOKENS, 4, 0) == [4, 4, 4, 4, 4]                # no budget: batch_size for every bucket
    assert batch_sizes(TOKENS, 4, 300) == [4, 4, 3, 2, 1]             # 300 // tokens, within [1, batch_size]
    assert all(s * t <= 300 for s, t in zip(batch_sizes(TOKENS, 4, 300), TOKENS) if s > 1)


@pytest.mark.parametrize("epoch", [0, 1, 5])
def test_each_batch_is_one_bucket_and_each_clip_once_per_epoch(epoch):
    p = plan()
    batches = p.epoch(epoch)
    assert all(len({BUCKET_OF[c] for c in b}) == 1 for b in batches)            # uniform shapes within a batch
    ids = [c for b in batches for c in b]
    assert sorted(ids) == list(range(len(BUCKET_OF)))                          # every clip exactly once
    for b in batches:                                                          # full batches, remainders kept
        assert 1 <= len(b) <= p.sizes[BUCKET_OF[b[0]]]
    per_bucket = collections.Counter(BUCKET_OF[b[0]] for b in batches)
    assert per_bucket == {0: 10, 1: 4, 3: 3, 4: 1} and p.per_epoch == 18      # ceil(37/4), ceil(11/3), ...


def test_buckets_are_interleaved_by_share():
    """In every prefix of an epoch each bucket has used about its share of its batches (never bunched up)."""
    batches = plan().epoch(0)
    total = collections.Counter(BUCKET_OF[b[0]] for b in batches)
    done = collections.Counter()
    for i, b in enumerate(batches, 1):
        done[BUCKET_OF[b[0]]] += 1
        for k, n in total.items():
            assert abs(done[k] / n - i / len(batches)) <= 1 / n + 1 / len(batches) + 1e-9


def test_deterministic_per_seed_and_epoch():
    assert plan(seed=3).epoch(2) == plan(seed=3).epoch(2)
    assert plan(seed=3).epoch(2) != plan(seed=4).epoch(2)
    assert plan(seed=3).epoch(2) != plan(seed=3).epoch(3)                    # reshuffled every epoch


@pytest.mark.parametrize("world", [1, 2, 3, 4, 7])
def test_sharding_every_rank_steps_every_round_and_covers_the_epoch(world):
    p = plan(world)
    rounds = p.rounds_per_epoch
    assert rounds == -(-p.per_epoch // world)
    got = {r: list(p.rank_batches(r, 0, rounds)) for r in range(world)}
    assert all([k for k, _ in got[r]] == list(range(rounds)) for r in range(world))   # no rank ever idles
    first = [c for k in range(rounds) for r in range(world) for c in got[r][k][1]]
    stream = [c for b in p.epoch(0) + p.epoch(1) for c in b]
    assert first == stream[:len(first)]                                     # ranks deal the stream round by round
    epoch0 = {c for b in p.epoch(0) for c in b}
    assert epoch0 <= set(first) and len(epoch0) == len(BUCKET_OF)            # one epoch's rounds see every clip
    assert 0 <= rounds * world - p.per_epoch < world                      # the next epoch only fills the last round


def test_resume_position_gives_the_same_batches():
    p = plan(2)
    whole = list(p.rank_batches(1, 0, 30))
    assert list(p.rank_batches(1, 12, 18)) == whole[12:]                    # resume = start later in the plan


def test_a_plan_needs_clips():
    with pytest.raises(ValueError, match="no clips"):
        BucketPlan([], [2])
