"""Bodies of the multi-process (gloo, ``torch.multiprocessing`` spawn) context-parallel tests.

Every rank builds the same model and inputs from one seed and computes (a) the reference — the whole sequence
on this rank alone — and (b) its part under context parallelism. Outputs must equal the reference; the mean
over ranks of the parameter and input gradients (what DDP/FSDP reduction gives) must equal the reference's.
"""
import os

import torch
import torch.distributed as dist

from semanticgen.config.models import DiTConfig
from semanticgen.models import LatentDiT, SemanticDiT
from semanticgen.parallel.comm import context_group
from semanticgen.parallel.mesh import enable_context_parallel

# float64 models, but the adaLN time modulation is computed in fp32 by design: sums over tokens split across
# ranks round differently at ~1e-7 relative (a wrong or missing contribution is O(1))
TOL = dict(rtol=1e-5, atol=1e-6)


def init(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)


def grads_of(model, inputs, out, g):
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.autograd.grad(out, params + inputs, g, allow_unused=True)


def mean_over_ranks(t, cg):
    t = t.clone()
    dist.all_reduce(t, group=cg.group)
    return t / cg.size


def check_case(model, call, inputs, cg, calls_seen):
    """``call(model)`` → output; compares context parallel over ``cg`` with the whole sequence on this rank."""
    enable_context_parallel(model, context_group(1))
    ref = call(model)
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(7), dtype=ref.dtype)
    ref_grads = grads_of(model, inputs, ref, g)
    enable_context_parallel(model, cg)
    out = call(model)
    torch.testing.assert_close(out, ref, **TOL)
    for a, b in zip(grads_of(model, inputs, out, g), ref_grads):
        if b is None:
            assert a is None
            continue
        torch.testing.assert_close(mean_over_ranks(a, cg), b, **TOL)
    with torch.no_grad():                                    # generation: forward only
        torch.testing.assert_close(call(model), ref, **TOL)
    calls_seen.append(tuple(out.shape))


def latent_cases(world: int):
    """(attention, T_w, latent T, H, W, z_sem grid): full (Ulysses), Swin with ragged windows (shifted and not)."""
    if world == 2:
        return [("full", 2, 5, 4, 6, (3, 1, 2)), ("swin", 2, 7, 4, 4, (3, 1, 2)), ("swin", 4, 9, 2, 6, (5, 1, 3))]
    return [("full", 2, 6, 2, 4, (3, 1, 2)), ("swin", 2, 13, 2, 4, (7, 1, 2))]


def run(rank: int, world: int, port: int) -> None:
    """4 processes: context groups of 2 ranks ({0, 1} and {2, 3}, side by side), then one group of 4."""
    init(rank, world, port)
    pairs = [dist.new_group([0, 1]), dist.new_group([2, 3])]
    check_group(context_group(2, pairs[rank // 2]))
    check_group(context_group(4))
    dist.destroy_process_group()


def check_group(cg) -> None:
    seen = []
    for attention, window, T, H, W, sem in latent_cases(cg.size):
        torch.manual_seed(0)
        model = LatentDiT(DiTConfig(size="tiny", attention=attention, swin_window=window), 4, 6, 16,
                          attn_backend="sdpa").double()
        for p in model.head.parameters():                    # non-zero head: outputs depend on every layer
            torch.nn.init.normal_(p, std=0.1)
        x = torch.randn(2, 4, T, H, W, dtype=torch.float64, requires_grad=True)
        z = torch.randn(2, *sem, 6, dtype=torch.float64, requires_grad=True)
        text = torch.randn(2, 5, 16, dtype=torch.float64, requires_grad=True)
        t = torch.tensor([0.3, 0.8], dtype=torch.float64)
        text_mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
        sem_mask = torch.rand(2, *sem, generator=torch.Generator().manual_seed(3)) < 0.7
        for masks in ((None, None), (text_mask, sem_mask)):
            check_case(model, lambda m: m(x, t, text, masks[0], z, masks[1]), [x, z, text], cg, seen)
    torch.manual_seed(0)
    sdit = SemanticDiT(DiTConfig(size="tiny"), 6, 16, attn_backend="sdpa").double()
    torch.nn.init.normal_(sdit.head.head.weight, std=0.1)
    zt = torch.randn(2, 5 if cg.size == 2 else 7, 2, 3, 6, dtype=torch.float64, requires_grad=True)
    text = torch.randn(2, 4, 16, dtype=torch.float64)
    check_case(sdit, lambda m: m(zt, torch.tensor([0.2, 0.6], dtype=torch.float64), text), [zt], cg, seen)
    assert len(seen) == 2 * len(latent_cases(cg.size)) + 1
