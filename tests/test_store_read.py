"""Streaming selected store rows through Ray Data: exactly the asked rows and columns, in part order."""
import pyarrow as pa
import pytest

from pipelines.store_read import read_rows
from semanticgen.store.table import Table

SCHEMA = pa.schema([("clip_id", pa.string()), ("x", pa.int64()), ("big", pa.binary())])


def store(tmp_path, parts=5, per=7):
    t = Table(str(tmp_path / "s"), "features", SCHEMA)
    for p in range(parts):
        t.write_part(f"p{p}", [{"clip_id": f"c{p}-{i}", "x": p * 100 + i, "big": b"\0" * 64} for i in range(per)])
    return t


@pytest.mark.parametrize("num_cpus,max_tasks", [(1.0, None), (0.25, 2)])
def test_exact_rows_columns_and_order(ray_local, tmp_path, num_cpus, max_tasks):
    t = store(tmp_path)
    wanted = [f"c{p}-{i}" for p in (0, 2, 4) for i in (1, 3, 6)] + ["not-there"]
    ds = read_rows(t, ["clip_id", "x"], wanted, num_cpus, max_tasks)
    ds.context.execution_options.preserve_order = True
    rows = ds.take_all()
    assert [r["clip_id"] for r in rows] == wanted[:-1]                 # part order, then row order
    assert [r["x"] for r in rows] == [p * 100 + i for p in (0, 2, 4) for i in (1, 3, 6)]
    assert set(rows[0]) == {"clip_id", "x"}                            # the projection reached the scan


def test_empty_table_is_a_clear_error(ray_local, tmp_path):
    with pytest.raises(RuntimeError, match="no parts"):
        read_rows(Table(str(tmp_path / "e"), "z_sem", SCHEMA), ["clip_id"], ["a"])
