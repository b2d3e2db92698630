"""Bodies of the 2-rank gloo FSDP2 tests (``torch.multiprocessing`` spawn, no Ray): the stage-1 model sharded
per DiT block with activation checkpointing, resumed from a full-state checkpoint, and with context parallelism
on a data × context mesh."""
import io

import torch
import torch.distributed as dist

from cp_worker import init
from semanticgen.config import load_config
from semanticgen.models.build import Stage1Model
from semanticgen.parallel.mesh import ParallelDims, enable_context_parallel, init_context_group
from semanticgen.train.parallel import apply_activation_checkpointing, count_fsdp_modules, full_state_dict, wrap
from semanticgen.train.trainer import Trainer, full_tensor

CPU = torch.device("cpu")


def config(*extra):
    return load_config("tiny", ["models.latent_dit.attention=swin", "models.latent_dit.swin_window=2",
                                "train.lr=0.01", "train.warmup_steps=1", "train.ema_decay=0.5", *extra])


def batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    return {"latents": torch.randn(1, 16, 5, 4, 6, generator=g), "sem": torch.randn(1, 3, 1, 2, 64, generator=g),
            "text": torch.randn(1, 4, 32, generator=g), "text_mask": torch.tensor([[True, True, True, False]])}


def build(cfg, mode="fsdp", cg=None):
    """The trainer of a stage-1 model: ``mode`` fsdp (sharded over the process group) or None (plain, this rank)."""
    torch.manual_seed(0)                                   # same initial weights on every rank
    model = Stage1Model(cfg)
    apply_activation_checkpointing(model.latent_dit)
    if cg is not None:
        enable_context_parallel(model, cg)
    return Trainer(cfg, wrap(model, mode, CPU, cfg.train.precision) if mode else model, CPU)


def steps(trainer, seeds, rng_seed=None):
    if rng_seed is not None:
        torch.manual_seed(rng_seed)
    for s in seeds:
        trainer.train_micro(batch(s))


def saved(state: dict) -> dict:
    """What a checkpoint gives back: the state through ``torch.save`` / ``torch.load(weights_only=True)``."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def run(rank: int, world: int, port: int) -> None:
    init(rank, world, port)
    resume(rank, "bf16")
    context_parallel(world)
    dist.destroy_process_group()


def resume(rank: int, precision: str) -> None:
    """Per-block units are counted; a run resumed from a checkpoint after 3 steps equals the uninterrupted run."""
    cfg = config(f"train.precision={precision}")
    trainer = build(cfg)
    layers = len(trainer.model.latent_dit.blocks)
    # every block, the two fp32 time embeddings, the fp32 compressor, the root
    assert count_fsdp_modules(trainer.model) == layers + 2 + 1 + 1, count_fsdp_modules(trainer.model)
    seen = {}

    def record(name, weight):
        def hook(module, args):
            seen.setdefault(name, weight(module).dtype)       # returns None: the inputs stay as they are
        return hook
    q = trainer.model.latent_dit.blocks[0]._checkpoint_wrapped_module.self_attn.q     # inside the checkpointed unit
    q.register_forward_pre_hook(record("block", lambda m: m.weight))
    trainer.model.latent_dit.time_embedding.register_forward_pre_hook(record("time", lambda m: m[0].weight))
    steps(trainer, [10 * rank + i for i in range(3)], rng_seed=100 + rank)
    state, rng = [saved(trainer.state_dict())], torch.get_rng_state()
    dist.broadcast_object_list(state, src=0)   # rank 0 holds the gathered state; every rank reads its checkpoint
    state = state[0]
    steps(trainer, [10 * rank + i for i in range(3, 5)])
    uninterrupted = full_state_dict(trainer.model)
    resumed = build(cfg)
    resumed.load_state_dict(state, 3)
    torch.set_rng_state(rng)
    steps(resumed, [10 * rank + i for i in range(3, 5)])
    again = full_state_dict(resumed.model)
    assert uninterrupted.keys() == again.keys() and not any("_checkpoint_wrapped" in k for k in again)
    for k in uninterrupted:
        torch.testing.assert_close(again[k], uninterrupted[k], rtol=0, atol=0)
    block = torch.bfloat16 if precision == "bf16" else torch.float32   # bf16 parameters in blocks, fp32 time
    assert seen == {"block": block, "time": torch.float32}, seen


def context_parallel(world: int) -> None:
    """FSDP2 over both ranks of a 1 × 2 (data × context) mesh: the loss and the (reduced) gradients of a stage-1
    step equal those of one unsharded rank computing the whole sequence."""
    cfg = config()
    sharded = build(cfg, "fsdp", init_context_group(ParallelDims(world, 2), "cpu")).model
    alone = build(cfg, None).model                          # the whole sequence, unsharded, on this rank alone
    out = {}
    for name, model in (("sharded", sharded), ("alone", alone)):
        torch.manual_seed(7)                                # same data and noise on both context ranks
        loss, _, _ = model(batch(1))
        loss.backward()
        out[name] = (loss.detach(), {n.replace("_checkpoint_wrapped_module.", ""): full_tensor(p.grad)
                                     for n, p in model.named_parameters()})
    (la, ga), (lb, gb) = out["sharded"], out["alone"]
    torch.testing.assert_close(la, lb, rtol=1e-6, atol=1e-7)
    assert ga.keys() == gb.keys()
    for k in ga:
        torch.testing.assert_close(ga[k], gb[k], rtol=1e-5, atol=1e-7, msg=k)
