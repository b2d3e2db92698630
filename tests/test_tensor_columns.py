import pyarrow as pa
import pytest
import torch

from semanticgen.store.tensor_columns import pack, tensor_fields, unpack_row


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int64", "uint8"])
def test_round_trip_through_parquet(tmp_path, dtype):
    import pyarrow.parquet as pq

    t = (torch.randn(3, 4, 5) * 10).to(getattr(torch, dtype))
    row = {"clip_id": "a", **pack("x", t)}
    schema = pa.schema([("clip_id", pa.string()), *tensor_fields("x")])
    pq.write_table(pa.Table.from_pylist([row], schema=schema), tmp_path / "t.parquet")
    back = pq.read_table(tmp_path / "t.parquet").to_pylist()[0]
    out = unpack_row(back, "x")
    assert out.dtype == t.dtype and out.shape == t.shape
    assert torch.equal(out, t)


def test_cast_on_pack():
    t = torch.tensor([1.0, 2.5, -3.25])
    row = pack("x", t, "float16")
    assert row["x_dtype"] == "float16" and len(row["x"]) == 6
    assert torch.equal(unpack_row(row, "x").float(), t)
