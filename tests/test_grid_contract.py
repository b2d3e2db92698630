"""One z_sem grid contract: the official processor (loaded from a hub-layout folder whose preprocessor_config.json
disagrees with our budget) gives exactly ``grid.semantic_grid`` for sources smaller and larger than the pixel
budget, and generation samples, per bucket, the grid the training clips of that bucket have."""
import numpy as np
import pytest

import hub_layouts as hub
from semanticgen.config import load_config
from semanticgen.encoders.clip_frames import crop_to_aspect
from semanticgen.encoders.grid import semantic_frame_count, semantic_grid, z_sem_grid
from semanticgen.encoders.semantic import SemanticEncoder, preprocess_frames
from semanticgen.encoders.vae import pick_bucket
from semanticgen.inference.shapes import TrainedBucket, TrainedBuckets, UncoveredSize

# (height, width) of decoded sources: below the tiny budget (12544 px = 112x112), around it, far above it
SOURCES = [(36, 64), (72, 128), (128, 72), (96, 96), (90, 160), (272, 640), (480, 854), (1080, 1920), (1920, 1080)]
FRAMES = (9, 33)


@pytest.fixture(scope="module")
def cfg():
    return load_config("tiny")


@pytest.fixture(scope="module")
def hub_qwen(tiny_model_dir, tmp_path_factory):
    from pathlib import Path

    return hub.qwen_hub_folder(Path(tiny_model_dir) / "qwen_vl", tmp_path_factory.mktemp("hubq") / "qwen")


def training_clips(cfg, processor):
    """(frames, bucket, grid from the processor, source) of one clip per source size and length."""
    fc = cfg.features
    out = []
    for i, (h, w) in enumerate(SOURCES):
        bucket = pick_bucket(h, w, fc.buckets)
        for f in FRAMES:
            n = semantic_frame_count(f, fc.vae_fps, fc.semantic_fps)
            clip = np.random.default_rng(i).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
            _, thw = preprocess_frames(processor, crop_to_aspect(clip, bucket[1] / bucket[0]))
            out.append((f, bucket, (int(thw[0][0]), int(thw[0][1]) // 2, int(thw[0][2]) // 2), (h, w)))
    return out


def test_processor_grid_is_the_contract_for_small_and_large_sources(cfg, hub_qwen):
    fc = cfg.features
    proc = SemanticEncoder.load_processor(str(hub_qwen), fc.semantic_min_pixels, fc.semantic_max_pixels)
    clips = training_clips(cfg, proc)
    for f, bucket, grid, src in clips:
        assert grid == semantic_grid(src, bucket, f, fc.vae_fps, fc.semantic_fps, fc.semantic_min_pixels,
                                     fc.semantic_max_pixels), (src, f)
        assert grid[1] * grid[2] <= fc.semantic_max_pixels // 784
    small = {g[1:] for f, b, g, s in clips if s[0] * s[1] < fc.semantic_max_pixels and b == (48, 80)}
    large = {g[1:] for f, b, g, s in clips if s[0] * s[1] > 4 * fc.semantic_max_pixels and b == (48, 80)}
    assert small != large                               # the processor never upscales a small source to the budget
    assert {g[0] for f, b, g, s in clips if f == 33} == {3} and {g[0] for f, b, g, s in clips if f == 9} == {1}


def test_the_hub_preprocessor_budget_would_change_the_grid(cfg, hub_qwen):
    """Why the budget is ours and explicit: loaded the old way, the hub file's max_pixels wins."""
    from transformers import Qwen2VLVideoProcessor

    fc = cfg.features
    naive = Qwen2VLVideoProcessor.from_pretrained(str(hub_qwen), cap_pixels_per_frame=True, size={
        "shortest_edge": fc.semantic_min_pixels, "longest_edge": fc.semantic_max_pixels})
    clip = np.zeros((2, 1080, 1800, 3), np.uint8)
    _, thw = preprocess_frames(naive, clip)
    ours = semantic_grid((1080, 1800), (48, 80), 9, fc.vae_fps, fc.semantic_fps, fc.semantic_min_pixels,
                         fc.semantic_max_pixels)
    assert (int(thw[0][1]) // 2) * (int(thw[0][2]) // 2) > 10 * ours[1] * ours[2]


def test_generation_uses_the_grid_training_clips_of_each_bucket_have(cfg, hub_qwen):
    fc = cfg.features
    proc = SemanticEncoder.load_processor(str(hub_qwen), fc.semantic_min_pixels, fc.semantic_max_pixels)
    clips = training_clips(cfg, proc)
    trained = TrainedBuckets(cfg, [TrainedBucket(f, b[0], b[1], g, 1) for f, b, g, _ in clips])
    votes: dict = {}                                   # spatial bucket → {(H', W'): clips}
    for f, b, g, _ in clips:
        votes.setdefault(b, {}).setdefault(g[1:], 0)
        votes[b][g[1:]] += 1
    for f, b, g, _ in clips:
        got, how = trained.grid(b[0], b[1], f)
        majority = max(votes[b], key=lambda hw: (votes[b][hw], hw))
        assert how == "trained" and got == (g[0], *majority), (f, b, g)
        if len(votes[b]) == 1:                         # one grid in the bucket: exactly the training clips' grid
            assert got == g
    got, _ = trained.grid(48, 80, 65)                  # longer than any training clip: allowed, same space
    assert got[0] == semantic_frame_count(65, fc.vae_fps, fc.semantic_fps) // 2 and got[1:] == trained.grid(48, 80, 33)[0][1:]


def test_uncovered_sizes_are_refused_unless_extrapolating(cfg):
    trained = TrainedBuckets(cfg, [TrainedBucket(17, 48, 80, (1, 3, 5), 4)])
    with pytest.raises(UncoveredSize, match="64x96 is not a trained frame size .*48x80.*generate.extrapolate"):
        trained.grid(64, 96, 17)
    ext = TrainedBuckets(load_config("tiny", ["generate.extrapolate=true"]), trained.buckets)
    grid, how = ext.grid(64, 96, 17)
    assert how == "extrapolated" and grid == z_sem_grid(ext.cfg, None, (64, 96), 17)


def test_compressed_vae_baseline_grid_is_the_vae_patch_grid():
    from semanticgen.models.build import vae_patch_grid

    cfg = load_config("tiny", ["models.compressor.input=vae"])
    assert z_sem_grid(cfg, (1080, 1920), (48, 80), 33) == vae_patch_grid((9, 6, 10)) == (9, 2, 3)
