"""Training data from a store table: every clip in bucketed batches (:mod:`.buckets`), packed tensors → torch batches."""
from __future__ import annotations

import logging
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from safetensors.torch import load

from semanticgen.store.schema import NULL_TEXT_FILE
from semanticgen.store.table import Table
from semanticgen.store.tensor_columns import unpack

log = logging.getLogger("semanticgen.train")


def tensor_cols(*names: str) -> List[str]:
    return [c for n in names for c in (n, f"{n}_shape", f"{n}_dtype")]


def bucketed_source(cfg, table: Table, shape_names: Sequence[str], tensor_names: Sequence[str], token_fn):
    """Every clip of ``table`` as bucketed batches (``semanticgen.train.sampler``): buckets by the shapes of
    ``shape_names``, batch size per bucket from ``train.batch_size`` / ``train.batch_tokens`` (``token_fn(shapes)``
    tokens per clip), planned for the ``num_workers / context_parallel`` data-parallel ranks."""
    from semanticgen.store.buckets import build_index
    from semanticgen.train.sampler import BucketPlan, batch_sizes

    from .buckets import BucketedSource

    tc = cfg.train
    index = build_index(table, shape_names, token_fn)
    sizes = batch_sizes(index.tokens, tc.batch_size, tc.batch_tokens)
    plan = BucketPlan(index.bucket_of, sizes, seed=tc.shuffle_seed + cfg.run.seed,
                      data_size=tc.num_workers // tc.context_parallel)
    counts = index.counts()
    log.info("%s: %d clips in %d shape buckets, %d batches per epoch (%d rounds of %d data ranks): %s", table.uri,
             len(index), len(counts), plan.per_epoch, plan.rounds_per_epoch, plan.data_size,
             ", ".join(f"{index.labels[b] or b} {'/'.join('x'.join(map(str, s)) for s in index.buckets[b])}: "
                       f"{n} clips x{sizes[b]}" for b, n in enumerate(counts)))
    return BucketedSource(index, plan, tuple(tensor_cols(*tensor_names)), table.fs, cfg.ray.read_cpus,
                          cfg.ray.read_tasks, cfg.ray.progress_bars)


def stack(batch: Dict[str, np.ndarray], name: str) -> torch.Tensor:
    return torch.stack([unpack(b, s, d).float() for b, s, d in
                        zip(batch[name], batch[f"{name}_shape"], batch[f"{name}_dtype"])])


def pad_text(batch: Dict[str, np.ndarray], null_text: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Captions padded to the longest in the batch (+ mask), and the empty prompt padded alike."""
    embs = [unpack(b, s, d).float() for b, s, d in zip(batch["text"], batch["text_shape"], batch["text_dtype"])]
    L = max(max(e.shape[0] for e in embs), 1 if null_text is None else null_text.shape[0])
    D = embs[0].shape[1]
    text = torch.zeros(len(embs), L, D)
    mask = torch.zeros(len(embs), L, dtype=torch.bool)
    for i, e in enumerate(embs):
        text[i, : e.shape[0]], mask[i, : e.shape[0]] = e, True
    out = {"text": text, "text_mask": mask}
    if null_text is not None:
        nt = torch.zeros(1, L, D)
        nm = torch.zeros(1, L, dtype=torch.bool)
        nt[0, : null_text.shape[0]], nm[0, : null_text.shape[0]] = null_text.float(), True
        out.update(null_text=nt, null_mask=nm)
    return out


def read_null_text(store: str) -> Optional[torch.Tensor]:
    table = Table(store, "features")
    try:
        with table.fs.open_input_stream(f"{table.path}/{NULL_TEXT_FILE}") as f:
            return load(f.read())["text"]
    except (FileNotFoundError, OSError):
        return None

