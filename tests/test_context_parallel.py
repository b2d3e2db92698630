"""Context parallelism that follows the Swin windows: the split sequence computes what one rank computes.

Planning (which rank holds which tokens, what each shifted layer exchanges) is checked against brute-force
definitions here; the numbers on real gloo process groups (context groups of 2 and of 4 ranks, ``torch.multiprocessing`` spawn, no
Ray) in ``cp_worker.py``: outputs and the rank-mean of parameter/input gradients equal one rank's, for full
(Ulysses), Swin and shifted-Swin layers, with z_sem tokens, ragged windows, key masks and forward-only calls.
"""
import socket

import pytest
import torch
import torch.multiprocessing as mp

import cp_worker
from semanticgen.models.attention import swin_window_ids
from semanticgen.models.latent_dit import semantic_positions
from semanticgen.models.rope import grid_positions
from semanticgen.parallel.comm import ContextGroup
from semanticgen.parallel.sequence import frame_bounds, rank_loads, shard_sequence


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_split_sequence_equals_one_rank_forward_and_backward():
    """One spawn of 4 gloo ranks: two context groups of 2 side by side, then one group of 4 (middle ranks both
    send and receive halos)."""
    mp.spawn(cp_worker.run, args=(4, free_port()), nprocs=4, join=True)


def positions(T, H, W, sem):
    pos = grid_positions(T, H, W)
    return torch.cat([pos, semantic_positions(sem, (T, H, W))])[:, 0], T * H * W


@pytest.mark.parametrize("T,window,size", [(7, 2, 2), (9, 4, 2), (13, 2, 4), (30, 8, 3)])
def test_ranks_hold_whole_windows_and_their_z_sem_tokens(T, window, size):
    tpos, nv = positions(T, 2, 3, (5, 1, 2))
    unshifted = swin_window_ids(tpos, T, window, False)
    shards = [shard_sequence(tpos, nv, T, window, ContextGroup(None, r, size)) for r in range(size)]
    held = torch.cat([s.tokens for s in shards])
    assert sorted(held.tolist()) == list(range(tpos.numel()))          # every token exactly once
    for s in shards:
        wins = set(unshifted[s.tokens].tolist())
        for w in wins:                                                  # whole windows, z_sem included
            assert set(torch.nonzero(unshifted == w).flatten().tolist()) <= set(s.tokens.tolist())
        assert s.frames.start % window == 0
    assert shards[0].counts == tuple((s.frames.stop - s.frames.start) * 6 for s in shards)


def test_shifted_layer_exchanges_only_the_straddling_half_windows():
    T, window, size = 13, 2, 4
    tpos, nv = positions(T, 1, 2, (7, 1, 1))
    shifted = swin_window_ids(tpos, T, window, True)
    shards = [shard_sequence(tpos, nv, T, window, ContextGroup(None, r, size)) for r in range(size)]
    computed = []
    for r, s in enumerate(shards):
        halo = s.layers[1]
        if r == 0:
            assert halo.n_send == 0
        else:                                 # rank r sends the tokens of the window across its left boundary
            boundary_window = s.frames.start // window
            sent = s.tokens[halo.send_pos]
            assert set(shifted[sent].tolist()) == {boundary_window}
            assert halo.n_send == int((shifted[s.tokens] == boundary_window).sum())
        computed.append(halo.compute_ids)
        ids = shifted[halo.compute_ids]                         # each window computed here is complete
        for w in set(ids.tolist()):
            assert int((ids == w).sum()) == int((shifted == w).sum())
    assert sorted(torch.cat(computed).tolist()) == list(range(tpos.numel()))   # each token computed once


@pytest.mark.parametrize("window", [None, 2])
def test_planned_loads_are_what_the_shards_compute(window):
    T, size = 13, 4
    tpos, nv = positions(T, 2, 2, (7, 1, 2))
    shards = [shard_sequence(tpos, nv, T, window, ContextGroup(None, r, size)) for r in range(size)]
    computed = [s.tokens.numel() + (s.layers[1].n_recv if window else 0) for s in shards]
    assert rank_loads(tpos, nv, T, window, size) == computed


def test_too_few_windows_is_a_clear_error():
    assert frame_bounds(16, 8, 2) == [0, 8, 16]
    with pytest.raises(ValueError, match="at least 4 Swin windows"):
        frame_bounds(16, 8, 4)
    with pytest.raises(ValueError, match="at least 3 frames"):
        frame_bounds(2, None, 3)
