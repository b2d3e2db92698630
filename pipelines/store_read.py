"""Stream selected rows of a Parquet store table through Ray Data, one task per part file.

The task list comes from the table's own part listing (no listing task), each task reads one part with
the clip-id filter and column projection pushed into pyarrow, and asks for ``num_cpus`` (a fraction
lets reads run beside a job driver and training workers on a small box). With
``preserve_order`` the rows come out in part order, so a training run's data position is exact.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from semanticgen.store.table import Table


class _ReadPart:
    def __init__(self, fs, columns: List[str], clip_ids: Sequence[str]):
        self.fs, self.columns = fs, list(columns)
        self.keep = pa.array(sorted(set(clip_ids)), pa.string())

    def __call__(self, batch: pa.Table) -> pa.Table:
        parts = [pads.dataset(path, filesystem=self.fs, format="parquet")
                 .to_table(columns=self.columns, filter=pc.field("clip_id").isin(self.keep))
                 for path in batch.column("path").to_pylist()]
        return pa.concat_tables(parts)


def read_rows(table: Table, columns: List[str], clip_ids: Sequence[str], num_cpus: float = 1.0,
              max_tasks: Optional[int] = None):
    """A Ray Dataset of ``columns`` for the rows whose ``clip_id`` is in ``clip_ids``; at most
    ``max_tasks`` reads at once (``None``: as many as the CPUs allow)."""
    import ray

    files = table.files()
    if not files:
        raise RuntimeError(f"{table.uri} has no parts: run the previous stage first")
    items = ray.data.from_items([{"path": f} for f in files], override_num_blocks=len(files))
    return items.map_batches(_ReadPart(table.fs, columns, clip_ids), batch_size=1, batch_format="pyarrow",
                             num_cpus=num_cpus, compute=ray.data.TaskPoolStrategy(size=max_tasks))
