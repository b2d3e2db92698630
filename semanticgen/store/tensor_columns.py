"""Tensors in Parquet: a flat binary column plus ``<name>_shape`` (list<int32>) and ``<name>_dtype``.

Bytes are little-endian, C-order. bfloat16 is stored as its raw 16-bit pattern with dtype
``"bfloat16"``. Readers (trainers streaming with Ray Data) rebuild tensors with :func:`unpack`.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np
import pyarrow as pa
import torch

_TORCH = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "int64": torch.int64,
          "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool}
STORE_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def tensor_fields(name: str) -> list:
    return [(name, pa.binary()), (f"{name}_shape", pa.list_(pa.int32())), (f"{name}_dtype", pa.string())]


def pack(name: str, t: torch.Tensor, dtype: str = "") -> Dict[str, object]:
    """Row fields for tensor ``t`` (cast to ``dtype`` — a torch dtype name — when given)."""
    t = t.detach().cpu()
    if dtype:
        t = t.to(_TORCH[dtype])
    dt = str(t.dtype).replace("torch.", "")
    raw = t.contiguous().view(torch.int16).numpy() if t.dtype == torch.bfloat16 else t.contiguous().numpy()
    return {name: np.ascontiguousarray(raw).astype(raw.dtype.newbyteorder("<"), copy=False).tobytes(),
            f"{name}_shape": list(t.shape), f"{name}_dtype": dt}


def unpack(buf: bytes, shape: Sequence[int], dtype: str) -> torch.Tensor:
    if dtype == "bfloat16":
        return torch.from_numpy(np.frombuffer(buf, dtype="<i2").copy()).view(torch.bfloat16).reshape(tuple(shape))
    arr = np.frombuffer(buf, dtype=np.dtype(dtype).newbyteorder("<")).reshape(tuple(shape))
    return torch.from_numpy(arr.astype(np.dtype(dtype), copy=True))


def unpack_row(row: dict, name: str) -> torch.Tensor:
    return unpack(row[name], row[f"{name}_shape"], row[f"{name}_dtype"])


def shape_of(row: dict, name: str) -> Tuple[int, ...]:
    return tuple(int(x) for x in row[f"{name}_shape"])
