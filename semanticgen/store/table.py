"""Per-source atomic, idempotent Parquet parts of a store table + its manifest.

Layout: ``<store>/<table>/<key>.parquet`` holds every row of one source (or one
unit of work). A part is written to a hidden temp name and renamed into place,
so a crash never leaves half a source visible; readers (pyarrow.dataset, Ray
Data with ``file_extensions=["parquet"]``) ignore hidden and ``_`` files.
``<store>/<table>/_manifest.json`` records schema version, config hash and counts.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from typing import Dict, Iterable, List, Optional, Set

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ..io.uri import filesystem, is_local_fs
from .rows import part_key
from .schema import SCHEMA_VERSION, TABLES

MANIFEST = "_manifest.json"


class Table:
    """One table of a store (``clips``, ``errors``, ``features``, ``z_sem`` ...); its schema comes from
    :data:`.schema.TABLES` unless given."""

    def __init__(self, store: str, name: str, schema: Optional[pa.Schema] = None):
        self.store = store.rstrip("/")
        self.name = name
        self.schema = schema if schema is not None else TABLES.get(name)
        self.uri = f"{self.store}/{name}"
        self.fs, self.path = filesystem(self.uri)
        self.fs.create_dir(self.path, recursive=True)

    # ---- parts -------------------------------------------------------------------------------
    def part_path(self, key: str) -> str:
        return f"{self.path}/{key}.parquet"

    def keys(self) -> Set[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        out = set()
        for i in infos:
            base = os.path.basename(i.path)
            if i.type == pafs.FileType.File and base.endswith(".parquet") and not base.startswith((".", "_")):
                out.add(base[: -len(".parquet")])
        return out

    def has(self, key: str) -> bool:
        return self.fs.get_file_info(self.part_path(key)).type == pafs.FileType.File

    def write_part(self, key: str, rows: List[dict] | pa.Table) -> int:
        """Atomically (re)place the part ``key``; returns the number of rows written."""
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=self.schema)
        final = self.part_path(key)
        if not is_local_fs(self.fs):            # object stores: a single PUT is atomic
            pq.write_table(table, final, filesystem=self.fs)
            return table.num_rows
        tmp = f"{self.path}/.tmp-{key}-{uuid.uuid4().hex[:8]}.parquet"
        pq.write_table(table, tmp, filesystem=self.fs)
        os.replace(tmp, final)
        return table.num_rows

    def write_rows(self, rows: List[dict], prefix: str = "") -> str:
        """Write ``rows`` (each with a ``clip_id``) as one part named after their clip ids; returns the key.
        The same clips always land in the same part, so a re-run replaces instead of duplicating."""
        key = part_key((r["clip_id"] for r in rows), prefix)
        self.write_part(key, rows)
        return key

    def delete_part(self, key: str) -> None:
        if self.has(key):
            self.fs.delete_file(self.part_path(key))

    def clean_temp(self) -> int:
        """Remove temp files left by a killed writer."""
        n = 0
        for i in self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True)):
            if os.path.basename(i.path).startswith(".tmp-"):
                self.fs.delete_file(i.path)
                n += 1
        return n

    # ---- reading -----------------------------------------------------------------------------
    def files(self) -> List[str]:
        return sorted(self.part_path(k) for k in self.keys())

    def read(self, columns: Optional[List[str]] = None, filter=None) -> pa.Table:
        """The table (``columns`` only; ``filter``: a pyarrow dataset expression pushed into the scan)."""
        files = self.files()
        if not files:
            if self.schema is None:
                return pa.table({})
            return self.schema.empty_table() if columns is None else self.schema.empty_table().select(columns)
        ds = pads.dataset(files, filesystem=self.fs, format="parquet", schema=self.schema)
        return ds.to_table(columns=columns, filter=filter)

    def count(self) -> int:
        files = self.files()
        return pads.dataset(files, filesystem=self.fs, format="parquet").count_rows() if files else 0

    # ---- manifest ----------------------------------------------------------------------------
    def write_manifest(self, config_hash: str, counts: Dict[str, int], extra: Optional[dict] = None) -> dict:
        doc = {"table": self.name, "schema_version": SCHEMA_VERSION, "config_hash": config_hash,
               "counts": counts, "parts": len(self.keys()), "updated_unix": time.time(), **(extra or {})}
        data = json.dumps(doc, indent=2, sort_keys=True).encode()
        final = f"{self.path}/{MANIFEST}"
        if not is_local_fs(self.fs):
            with self.fs.open_output_stream(final) as f:
                f.write(data)
        else:
            tmp = f"{self.path}/.tmp-manifest-{uuid.uuid4().hex[:8]}"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, final)
        return doc

    def read_manifest(self) -> Optional[dict]:
        try:
            with self.fs.open_input_stream(f"{self.path}/{MANIFEST}") as f:
                return json.loads(f.read().decode())
        except (FileNotFoundError, OSError):
            return None


def parquet_files(tables: Iterable[Table]) -> List[str]:
    return [f for t in tables for f in t.files()]
