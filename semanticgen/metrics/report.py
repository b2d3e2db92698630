"""Side-by-side text table of every summary metric across runs or output folders (``--table all``)."""
from __future__ import annotations

from typing import List, Mapping

from ..config.evaluate import METRICS
from .table import SETTINGS, metric_columns


def _order(keys) -> List[str]:
    canon = ["videos", "videos_failed"] + [f"{s}/{c}" for s in SETTINGS for c in ["videos", *metric_columns(METRICS)]]
    known = [k for k in canon if k in keys]
    return known + sorted(k for k in keys if k not in canon)


def format_comparison(columns: Mapping[str, Mapping[str, float]], digits: int = 4) -> str:
    """``{column label: {metric: value}}`` → aligned table, one row per metric ('-' where absent)."""
    labels = list(columns)
    keys = _order({k for col in columns.values() for k in col})
    cells: List[List[str]] = [["metric"] + labels]
    for k in keys:
        row = [k]
        for lab in labels:
            v = columns[lab].get(k)
            row.append("-" if v is None else f"{v:.{digits}f}")
        cells.append(row)
    return "\n".join(align(cells))


def align(cells: List[List[str]]) -> List[str]:
    """Rows of text cells → aligned lines (first column left, others right), a rule under the header row."""
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
