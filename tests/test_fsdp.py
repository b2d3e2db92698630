"""FSDP2 on 2 gloo ranks (``torch.multiprocessing`` spawn, no Ray), bodies in ``fsdp_worker.py``: every DiT block is
its own FSDP unit (counted) under activation checkpointing; bf16 mixed precision computes blocks with bf16
parameters and the time embedding in fp32; a run resumed from a checkpoint (through ``torch.save``/``load``)
equals the uninterrupted one bit for bit; FSDP on a data × context mesh trains what one unsharded rank trains."""
import torch.multiprocessing as mp

import fsdp_worker
from test_context_parallel import free_port


def test_fsdp_per_block_mixed_precision_resume_and_context_parallel():
    mp.spawn(fsdp_worker.run, args=(2, free_port()), nprocs=2, join=True)
