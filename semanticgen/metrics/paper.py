"""The paper's evaluation tables (SemanticGen, arXiv 2512.20619, Tables 1 and 2) beside our runs.

Reference lines are the paper's reported SemanticGen rows (values in %):
Table 1, short videos (VBench); Table 2, long videos (VBench-Long) with Δ_drift^M.

Δ_drift^M column: the paper reports one number without naming M; here it is ``drift_mean``, the
mean over the VBench metrics that ran of |M(first 15 %) − M(last 15 %)|, each M computed exactly
like its headline column (VBench-Long clips for long videos). The per-metric drifts are printed
below the table.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple

from .report import align

COLUMNS: List[Tuple[str, str]] = [("Subject", "subject_consistency"), ("Background", "background_consistency"),
                                  ("Flicker", "temporal_flickering"), ("Motion", "motion_smoothness"),
                                  ("Imaging", "imaging_quality"), ("Aesthetic", "aesthetic_quality")]
DRIFT = ("Δdrift^M", "drift_mean")
PAPER: Dict[str, Dict[str, float]] = {
    "short": {"subject_consistency": 97.79, "background_consistency": 97.68, "temporal_flickering": 98.47,
              "motion_smoothness": 99.17, "imaging_quality": 65.23, "aesthetic_quality": 64.60},
    "long": {"subject_consistency": 95.07, "background_consistency": 96.70, "temporal_flickering": 98.31,
             "motion_smoothness": 99.55, "imaging_quality": 70.47, "aesthetic_quality": 64.09, "drift_mean": 3.58},
}
TITLES = {"short": "Short videos — VBench (paper Table 1), % (higher is better)",
          "long": "Long videos — VBench-Long (paper Table 2), % (higher is better; Δdrift^M lower is better)"}


def _cell(v: Optional[float], scale: float = 100.0) -> str:
    return "-" if v is None else f"{v * scale:.2f}"


def setting_table(setting: str, runs: Mapping[str, Mapping[str, float]]) -> List[str]:
    """One setting's table: the paper's SemanticGen row, then one row per run (``setting/metric`` keys)."""
    cols = COLUMNS + ([DRIFT] if setting == "long" else [])
    header = ["method", "videos"] + [name for name, _ in cols]
    paper = PAPER[setting]
    rows = [["SemanticGen (paper)", "-"] + [_cell(paper.get(key), 1.0) for _, key in cols]]
    for label, agg in runs.items():
        n = agg.get(f"{setting}/videos")
        if n:
            rows.append([label, f"{int(n)}"] + [_cell(agg.get(f"{setting}/{key}")) for _, key in cols])
    return [TITLES[setting]] + align([header] + rows)


def drift_table(runs: Mapping[str, Mapping[str, float]]) -> List[str]:
    """Per-metric drift of the long setting (%), the numbers behind Δdrift^M."""
    header = ["method"] + [name for name, _ in COLUMNS]
    rows = [[label] + [_cell(agg.get(f"long/drift_{key}")) for _, key in COLUMNS]
            for label, agg in runs.items() if agg.get("long/videos")]
    return ["Δdrift per metric, long videos (%; lower is better)"] + align([header] + rows) if rows else []


def paper_table(runs: Mapping[str, Mapping[str, float]]) -> str:
    """Both settings in the paper's layout (a setting no run has is still shown with the paper's row)."""
    lines = setting_table("short", runs) + [""] + setting_table("long", runs)
    extra = drift_table(runs)
    return "\n".join(lines + ([""] + extra if extra else []))
