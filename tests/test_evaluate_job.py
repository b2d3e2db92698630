"""End to end: ``python -m jobs.evaluate`` on a local Ray (actor pool), MLflow on sqlite, comparison."""
import json
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import torch

from jobs import evaluate as job
from pipelines.evaluate import discover_videos
from semanticgen.config import load_config
from semanticgen.metrics import VideoEvaluator
from semanticgen.video.mp4 import write_video

OTHERS = ["background_consistency", "aesthetic_quality", "motion_smoothness", "imaging_quality"]


@pytest.fixture(scope="module")
def dino(tmp_path_factory):
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "dino"
    ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=37), add_pooling_layer=False).save_pretrained(path)
    return path


def flat(values, size=32):
    return np.stack([np.full((size, size, 3), v, np.uint8) for v in values])


def texture():
    blocks = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.kron(blocks, np.ones((8, 8, 1), np.uint8))              # 8x8 blocks: the codec keeps them


@pytest.fixture()
def media(tmp_path):
    vids, ref = tmp_path / "videos", tmp_path / "reference"
    write_video(vids / "static.mp4", flat([90] * 12), fps=8)
    tex = texture()
    static_then_flicker = np.stack([tex] * 8 + [255 - tex if i % 2 else tex for i in range(12)])
    write_video(vids / "nested" / "flicker.mp4", static_then_flicker, fps=8)
    (vids / "broken.mp4").write_bytes(b"\x00garbage" * 64)
    (vids / "notes.txt").write_text("not a video")
    write_video(ref / "real.mp4", flat([40] * 10), fps=8)
    return vids, ref


def overrides(tmp_path, dino):
    return [f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db", f"run.work_dir={tmp_path}",
            "ray.progress_bars=false", "evaluate.num_actors=1", f"evaluate.weights.dino={dino}",
            "evaluate.metrics=[temporal_flickering,linear_interp_smoothness,subject_consistency,"
            "background_consistency,aesthetic_quality,motion_smoothness,imaging_quality]"]


def test_evaluate_job_table_mlflow_and_compare(ray_local, tmp_path, media, dino, capsys):
    vids, ref = media
    out = tmp_path / "out"
    ov = overrides(tmp_path, dino)
    code = job.main(["--config", "tiny", "--videos", str(vids), "--out", str(out), "--reference", str(ref), *ov])
    assert code == 0
    printed = capsys.readouterr().out
    run_id = printed.split("mlflow run: ")[1].split()[0]
    assert "Short videos — VBench (paper Table 1)" in printed and "SemanticGen (paper)" in printed

    table = pq.read_table(out / "metrics.parquet")
    rows = {r["video_id"]: r for r in table.to_pylist()}
    assert list(rows) == ["broken.mp4", "nested/flicker.mp4", "static.mp4"]          # one row per video
    assert "broken.mp4" in rows["broken.mp4"]["error"] and rows["broken.mp4"]["temporal_flickering"] is None
    static = rows["static.mp4"]
    assert static["error"] is None and static["num_frames"] == 12 and static["fps"] == 8.0
    assert static["setting"] == "short" and static["backend"] == "builtin"
    assert static["temporal_flickering"] == 1.0 and static["drift_temporal_flickering"] == 0.0
    assert static["subject_consistency"] == pytest.approx(1.0, abs=1e-6)
    assert static["not_computed"] == OTHERS
    for m in OTHERS:
        assert static[m] is None and static[f"drift_{m}"] is None

    # the actor's numbers equal an in-process evaluation of the same file (same models, same formulas)
    local = VideoEvaluator(load_config("tiny", ov).evaluate).evaluate_path(str(vids / "nested" / "flicker.mp4"))
    flick = rows["nested/flicker.mp4"]
    for m in ["temporal_flickering", "linear_interp_smoothness", "subject_consistency", "drift_temporal_flickering",
              "drift_subject_consistency", "drift_mean"]:
        assert flick[m] == pytest.approx(local[m], abs=1e-6), m
    ideal = abs(1.0 - (255 - np.abs(255 - 2 * texture().astype(float)).mean()) / 255)     # static start vs inverting end
    assert flick["drift_temporal_flickering"] == pytest.approx(ideal, abs=0.02)

    csv = pacsv.read_csv(out / "metrics.csv")                # computed columns only: no empty metric columns
    assert csv.num_rows == 3 and csv.column("not_computed").to_pylist()[2] == ";".join(OTHERS)
    assert not any(c.startswith(("background", "aesthetic", "motion", "imaging", "drift_background"))
                   for c in csv.column_names)
    assert pq.read_table(out / "reference" / "metrics.parquet").num_rows == 1

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == "semanticgen/eval"
    assert run.data.params["evaluate.drift_fraction"] == "0.15"
    assert run.data.params["eval.videos_dir"] == str(vids)
    m = run.data.metrics
    assert m["videos"] == 3 and m["videos_failed"] == 1 and m["short/videos"] == 2 and "long/videos" not in m
    assert m["short/temporal_flickering"] == pytest.approx((1.0 + flick["temporal_flickering"]) / 2)
    pairs = (11 * 1.0 + 19 * flick["subject_consistency"]) / 30          # 12 and 20 frames: VBench's pair weighting
    assert m["short/subject_consistency"] == pytest.approx(pairs, abs=1e-9)
    assert m["video/nested/flicker.mp4/temporal_flickering"] == pytest.approx(flick["temporal_flickering"])
    assert m["video/static.mp4/drift_subject_consistency"] == pytest.approx(static["drift_subject_consistency"])
    assert m["ref/short/temporal_flickering"] == 1.0
    assert not any(k.split("/")[-1].startswith(("background", "aesthetic", "motion", "imaging")) for k in m)
    tag = run.data.tags["not_computed"]
    assert "background_consistency: no local weights (evaluate.weights.clip_b32)" in tag
    assert "motion_smoothness: not available in the built-in backend" in tag
    assert run.data.tags["settings"] == "short" and run.data.tags["backend"] == "builtin"
    arts = {a.path for a in client.list_artifacts(run_id, "metrics")}
    assert {"metrics/metrics.parquet", "metrics/metrics.csv", "metrics/per_video.json", "metrics/metric_docs.json",
            "metrics/paper_table.txt"} <= arts
    local_dir = client.download_artifacts(run_id, "metrics", str(tmp_path / "arts"))
    per_video = json.loads((Path(local_dir) / "per_video.json").read_text())
    assert len(per_video["data"]) == 3 and "background_consistency" not in per_video["columns"]
    docs = json.loads((Path(local_dir) / "metric_docs.json").read_text())
    by_metric = {r[0]: dict(zip(docs["columns"], r)) for r in docs["data"]}
    assert by_metric["temporal_flickering"]["better"] == "higher" and by_metric["drift_mean"]["better"] == "lower"
    assert by_metric["subject_consistency"]["range"] == "0–1"

    # a second run (the reference folder alone), then both runs in the paper's layout, and the output folders
    assert job.main(["--config", "tiny", "--videos", str(ref), "--out", str(tmp_path / "out2"), *ov]) == 0
    run2 = capsys.readouterr().out.split("mlflow run: ")[1].split()[0]
    assert job.main(["--config", "tiny", *ov[:1], "--compare", run_id, run2]) == 0
    cmp_runs = capsys.readouterr().out
    header = next(li for li in cmp_runs.splitlines() if li.startswith("method"))
    assert header.split() == ["method", "videos", "Subject", "Background", "Flicker", "Motion", "Imaging",
                              "Aesthetic"]
    paper = next(li for li in cmp_runs.splitlines() if li.startswith("SemanticGen (paper)"))
    assert paper.split()[2:] == ["-", "97.79", "97.68", "98.47", "99.17", "65.23", "64.60"]
    first = next(li for li in cmp_runs.splitlines() if li.startswith(f"eval-tiny:{run_id[:8]}"))
    assert first.split()[1:6] == ["2", f"{100 * pairs:.2f}", "-", f"{100 * m['short/temporal_flickering']:.2f}", "-"]
    assert "Δdrift^M" in cmp_runs and "99.55" in cmp_runs                     # the long table with its paper row
    compare_runs = client.search_runs([run.info.experiment_id], "tags.compared_runs LIKE '%'")
    assert len(compare_runs) == 1 and compare_runs[0].data.tags["compared_runs"] == f"{run_id},{run2}"

    assert job.main(["--compare-dirs", str(out), str(tmp_path / "out2"), "--table", "all"]) == 0
    cmp_dirs = capsys.readouterr().out
    line = next(li for li in cmp_dirs.splitlines() if li.startswith("short/subject_consistency "))
    assert line.split()[1:] == [f"{pairs:.4f}", "1.0000"]
    assert "background_consistency" not in cmp_dirs                  # never computed: no row, no number


def test_evaluate_job_no_scored_video_exits_1(ray_local, tmp_path, capsys):
    vids = tmp_path / "videos"
    write_video(vids / "one_frame.mp4", flat([90]), fps=8)            # flickering needs 2 frames
    (vids / "broken.mp4").write_bytes(b"\x00garbage" * 64)
    code = job.main(["--config", "tiny", "--videos", str(vids), "--out", str(tmp_path / "out"),
                     f"run.work_dir={tmp_path}", "mlflow.enabled=false", "evaluate.num_actors=1",
                     "evaluate.metrics=[temporal_flickering]"])
    captured = capsys.readouterr()
    assert code == 1
    assert f"error: no video in {vids} could be scored (2 found" in captured.err
    assert "temporal_flickering: needs at least 2 frames" in pq.read_table(tmp_path / "out" / "metrics.parquet"
                                                                          ).column("notes").to_pylist()[1]


def test_discovery_follows_symlinked_folders_and_warns_on_loops(tmp_path):
    real = tmp_path / "elsewhere" / "batch"
    write_video(real / "a.mp4", flat([10, 20]), fps=8)
    vids = tmp_path / "videos"
    write_video(vids / "top.mp4", flat([10, 20]), fps=8)
    (vids / "linked").symlink_to(real, target_is_directory=True)          # a folder reached through a symlink
    (real / "loop").symlink_to(real, target_is_directory=True)            # and a loop inside it
    paths, warnings = discover_videos(str(vids), [".mp4"])
    assert [p.relative_to(vids).as_posix() for p in paths] == ["linked/a.mp4", "top.mp4"]
    assert any("followed symlinked folder" in w and "linked" in w for w in warnings)
    assert any("symlink loop" in w and "loop" in w for w in warnings)


def test_evaluate_job_bad_inputs_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert job.main(["--videos", str(empty), "--out", str(tmp_path / "o"), "mlflow.enabled=false"]) == 2
    assert "no videos" in capsys.readouterr().err
    assert job.main(["--videos", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "videos folder not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        job.main(["--videos", str(empty), "--out", str(tmp_path / "o"), "evaluate.metrics=[fvd]"])
    assert e.value.code == 2 and "evaluate.metrics" in capsys.readouterr().err
