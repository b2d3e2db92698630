"""Bucketed training input through Ray Data: each data rank streams exactly its planned batches from the store.

The driver builds a :class:`BucketedSource` (the table's :class:`~semanticgen.store.buckets.BucketIndex` and the
:class:`~semanticgen.train.sampler.BucketPlan`) and ships it to the workers inside the task. A worker asks it for
its rounds from its resume position on: a Ray Dataset of planned batches (ids only) whose read tasks
(``ray.read_cpus`` each, at most ``ray.read_tasks`` at once) fetch the rows of ``chunk`` batches at a time —
only the Parquet row groups that hold them, each part opened once per chunk — and emit one row per batch, in plan
order (``preserve_order``). Nothing is read for batches a resumed run has already trained on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from semanticgen.store.buckets import BucketIndex
from semanticgen.train.sampler import BucketPlan

CHUNK = 8                     # planned batches per read task


class _ReadBatches:
    """Ray Data callable: planned batches (per batch: clip indices, their part files, rows and ids) → one row per
    batch with the tensors of its clips as list columns."""

    def __init__(self, fs, files: Sequence[str], columns: Sequence[str]):
        self.fs, self.files, self.columns = fs, list(files), list(columns)

    def _read(self, f: int, rows: Sequence[int]) -> List[dict]:
        """The ``rows`` of part ``f``, reading only the row groups that hold them."""
        with self.fs.open_input_file(self.files[f]) as fh:
            pf = pq.ParquetFile(fh)
            sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)]
            starts = np.cumsum([0] + sizes)
            group = [int(np.searchsorted(starts, r, side="right") - 1) for r in rows]
            groups = sorted(set(group))
            t = pf.read_row_groups(groups, columns=["clip_id", *self.columns])
        base = dict(zip(groups, np.cumsum([0] + [sizes[g] for g in groups])))
        return [t.slice(int(base[g] + r - starts[g]), 1).to_pylist()[0] for r, g in zip(rows, group)]

    def __call__(self, batch: pa.Table) -> pa.Table:
        plans = batch.to_pylist()
        by_file: Dict[int, List[Tuple[int, str]]] = {}
        for p in plans:
            for f, r, cid in zip(p["file"], p["row"], p["ids"]):
                by_file.setdefault(int(f), []).append((int(r), cid))
        rows: Dict[str, dict] = {}
        for f, refs in by_file.items():
            for (r, cid), row in zip(refs, self._read(f, [r for r, _ in refs])):
                if row["clip_id"] != cid:
                    raise RuntimeError(f"{self.files[f]} changed since training started (row {r} is "
                                       f"{row['clip_id']}, expected {cid})")
                rows[cid] = row
        cols = {"round": [p["round"] for p in plans], "clip_index": [p["clips"] for p in plans]}
        for name in self.columns:
            cols[name] = [[rows[cid][name] for cid in p["ids"]] for p in plans]
        return pa.table(cols)


@dataclass
class BucketedSource:
    """What a worker needs to stream its bucketed batches (picklable; built on the driver)."""
    index: BucketIndex
    plan: BucketPlan
    columns: Tuple[str, ...]
    fs: object
    read_cpus: float = 1.0
    read_tasks: Optional[int] = None
    progress_bars: bool = False

    @property
    def total(self) -> int:
        return len(self.index)

    def dataset(self, rank: int, start_round: int, n_rounds: int):
        import ray

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True          # batches arrive in plan order
        ctx.enable_progress_bars = self.progress_bars
        ix = self.index
        items = [{"round": k, "clips": clips, "file": [ix.file_of[c] for c in clips],
                  "row": [ix.row_of[c] for c in clips], "ids": [ix.clip_ids[c] for c in clips]}
                 for k, clips in self.plan.rank_batches(rank, start_round, n_rounds)]
        ds = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // CHUNK)))
        read = _ReadBatches(self.fs, ix.files, self.columns)
        return ds.map_batches(read, batch_size=CHUNK, batch_format="pyarrow", num_cpus=self.read_cpus,
                              compute=ray.data.TaskPoolStrategy(size=self.read_tasks))

    def batches(self, rank: int, start_round: int, n_rounds: int, collate,
                prefetch: int = 2) -> Iterator[Tuple[int, List[int], dict]]:
        """(round, clip indices, collated batch) for data rank ``rank`` from ``start_round`` on."""
        if n_rounds <= 0:
            return
        ds = self.dataset(rank, start_round, n_rounds)
        for block in ds.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=prefetch):
            for row in block.to_pylist():
                yield row["round"], row["clip_index"], collate({k: row[k] for k in self.columns})
