"""The training plan of ``--dry-run`` and the analytic memory model, without building any real-size weights."""
import re

import pytest

from jobs import train_latent, train_semantic
from semanticgen.config import load_config
from semanticgen.models.registry import get_size
from semanticgen.parallel.memory import GB, Step, block_bytes_per_token, estimate


def dry_run(main, *args):
    with pytest.raises(SystemExit) as e:
        main(["--store", "/nonexistent/store", "--name", "r", "--dry-run", *args])
    return e.value.code


def test_long_plan_shards_every_block_and_splits_the_sequence(capsys):
    assert dry_run(train_latent.main, "--config", "long") == 0
    out = capsys.readouterr().out
    plan = out[out.index("plan (latent stage)"):]
    layers = get_size("wan-1.3b").layers
    units = int(re.search(r"fsdp_units=(\d+)", plan).group(1))
    assert units >= layers and units == layers + 2 + 1 + 1        # blocks, two fp32 time units, compressor, root
    assert "world_size=8 mesh=data×context=4×2" in plan and "precision=bf16" in plan
    per_sample, per_gpu = (int(x) for x in re.search(r"tokens per sample: (\d+) .*per GPU: (\d+)", plan).groups())
    assert per_sample > 241 * 30 * 52 and 0.5 * per_sample <= per_gpu < 0.55 * per_sample   # half, plus a halo
    assert "halo exchange" in plan and "flash_attn_varlen_func" in plan
    gb = float(re.search(r"estimated peak memory per GPU: ([\d.]+) GB", plan).group(1))
    assert 20 < gb < 80 and "fits train.gpu_memory_gb=80" in plan


def test_ddp_plan_has_no_fsdp_units_and_a_full_long_sequence_does_not_fit(capsys):
    assert dry_run(train_latent.main, "--config", "long", "train.parallel=ddp", "train.context_parallel=1") == 0
    plan = capsys.readouterr().out
    assert "fsdp_units=0" in plan and "DOES NOT FIT train.gpu_memory_gb=80" in plan


@pytest.mark.parametrize("args,message", [
    (["train.context_parallel=3"], "train.context_parallel"),                              # 8 workers
    (["models.latent_dit.attention=full", "train.context_parallel=8"], "12 heads"),        # Ulysses
    (["models.latent_dit.swin_window=64", "train.context_parallel=8"], "at least 8 Swin windows"),
])
def test_impossible_splits_stop_before_any_work(args, message, capsys):
    assert dry_run(train_latent.main, "--config", "long", *args) == 2
    assert message in capsys.readouterr().err


def test_semantic_stage_plan(capsys):
    assert dry_run(train_semantic.main, "--config", "short") == 0
    plan = capsys.readouterr().out
    assert "plan (semantic stage)" in plan and f"fsdp_units={get_size('semantic-base').layers + 2 + 1}" in plan


def test_memory_model_matches_the_real_scale_arithmetic():
    """Saved block inputs under checkpointing = layers × tokens × width × 2 bytes (DESIGN §7: ≈37 GB for the
    Wan-1.3B size at 60 s, ≈160 GB at 14B width), states = 16 bytes per parameter over the FSDP ranks."""
    tokens = 241 * 30 * 52 + 24_500                       # DESIGN §7's VAE + z_sem tokens of 60 s at 480p
    for name, design_gb in (("wan-1.3b", 37), ("wan-14b", 160)):
        size = get_size(name)
        step = Step(size=size, tokens=tokens, params=10**9, block_params=10**7, root_params=10**8, shards=8)
        parts = estimate(step)
        assert parts["saved"] == size.layers * tokens * size.dim * 2
        assert parts["saved"] / 1e9 == pytest.approx(design_gb, rel=0.05)
        assert parts["states"] == 16 * 10**9 / 8
    size = get_size("wan-1.3b")      # fp32 per-token block activations: 22 widths (+1 for Swin) + 2 FFN hidden + RoPE
    assert block_bytes_per_token(size, "fp32", swin=False) == 4 * (22 * 1536 + 2 * 8960 + 2 * 128) + 8 * 12
    assert block_bytes_per_token(size, "fp32", swin=True) - block_bytes_per_token(size, "fp32", swin=False) == 4 * 1536
    assert block_bytes_per_token(size, "bf16", swin=False) < block_bytes_per_token(size, "fp32", swin=False)


def test_presets_train_on_gpus_and_tiny_stays_on_cpu():
    tiny, short, long, big = (load_config(p) for p in ("tiny", "short", "long", "long-14b"))
    assert not tiny.train.use_gpu and tiny.train.precision == "fp32"
    for cfg in (short, long, big):
        tc = cfg.train
        assert tc.use_gpu and tc.precision == "bf16" and tc.parallel == "fsdp" and tc.activation_checkpointing
    assert (long.train.context_parallel, big.train.context_parallel) == (2, 8)
    assert big.models.latent_dit.size == "wan-14b" and big.train.num_workers == 16
    assert GB == 1024 ** 3
