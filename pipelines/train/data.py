"""Training data from the feature store: one shape bucket, packed tensors → padded torch batches."""
from __future__ import annotations

import collections
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from safetensors.torch import load

from semanticgen.store.schema import NULL_TEXT_FILE
from semanticgen.store.table import Table
from semanticgen.store.tensor_columns import unpack

log = logging.getLogger("semanticgen.train")


def tensor_cols(*names: str) -> List[str]:
    return [c for n in names for c in (n, f"{n}_shape", f"{n}_dtype")]


def largest_bucket(table: Table, names: Sequence[str]) -> Tuple[List[str], Tuple]:
    """Clip ids of the most common combination of tensor shapes (a batch needs equal shapes)."""
    t = table.read(columns=["clip_id", *[f"{n}_shape" for n in names]]).to_pylist()
    if not t:
        raise RuntimeError(f"{table.uri} is empty: run the previous stage first")
    key = lambda r: tuple(tuple(r[f"{n}_shape"]) for n in names)   # noqa: E731
    counts = collections.Counter(key(r) for r in t)
    best, n = counts.most_common(1)[0]
    if len(counts) > 1:
        log.warning("training on the largest shape bucket %s (%d of %d clips); other buckets: %s",
                    best, n, len(t), dict(counts.most_common()[1:6]))
    return [r["clip_id"] for r in t if key(r) == best], best


def bucket_dataset(cfg, table: Table, shape_names: Sequence[str], tensor_names: Sequence[str]):
    """(clip ids, shapes, Ray Dataset of ``tensor_names``) for the table's largest shape bucket."""
    from pipelines.store_read import read_rows

    ids, shapes = largest_bucket(table, shape_names)
    ds = read_rows(table, ["clip_id", *tensor_cols(*tensor_names)], ids, cfg.ray.read_cpus, cfg.ray.read_tasks)
    return ids, shapes, ds


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

