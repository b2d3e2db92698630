"""End to end: ``python -m jobs.evaluate`` on a local Ray (actor pool), MLflow on sqlite, comparison."""
import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import torch

from jobs import evaluate as job
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

    table = pq.read_table(out / "metrics.parquet")
    rows = {r["video_id"]: r for r in table.to_pylist()}
    assert list(rows) == ["broken.mp4", "nested/flicker.mp4", "static.mp4"]          # one row per video
    assert "broken.mp4" in rows["broken.mp4"]["error"] and rows["broken.mp4"]["temporal_flickering"] is None
    static = rows["static.mp4"]
    assert static["error"] is None and static["num_frames"] == 12 and static["fps"] == 8.0
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

    csv = pacsv.read_csv(out / "metrics.csv")
    assert csv.num_rows == 3 and csv.column("not_computed").to_pylist()[2] == ";".join(OTHERS)
    assert pq.read_table(out / "reference" / "metrics.parquet").num_rows == 1

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == "semanticgen/eval"
    assert run.data.params["evaluate.drift_fraction"] == "0.15"
    assert run.data.params["eval.videos_dir"] == str(vids)
    m = run.data.metrics
    assert m["videos"] == 3 and m["videos_failed"] == 1
    assert m["temporal_flickering"] == pytest.approx((1.0 + flick["temporal_flickering"]) / 2)
    assert m["ref/temporal_flickering"] == 1.0
    assert not any(k.startswith(("background", "aesthetic", "motion", "imaging")) for k in m)
    assert run.data.tags["not_computed"] == ",".join(OTHERS)
    arts = {a.path for a in client.list_artifacts(run_id, "metrics")}
    assert {"metrics/metrics.parquet", "metrics/metrics.csv"} <= arts

    # a second run (the reference folder alone), then both runs / both output folders side by side
    assert job.main(["--config", "tiny", "--videos", str(ref), "--out", str(tmp_path / "out2"), *ov]) == 0
    run2 = capsys.readouterr().out.split("mlflow run: ")[1].split()[0]
    assert job.main(["--config", "tiny", *ov[:1], "--compare", run_id, run2]) == 0
    cmp_runs = capsys.readouterr().out
    line = next(li for li in cmp_runs.splitlines() if li.startswith("temporal_flickering "))
    assert line.split()[1:] == [f"{m['temporal_flickering']:.4f}", "1.0000"]
    line = next(li for li in cmp_runs.splitlines() if li.startswith("videos_failed "))
    assert line.split()[1:] == ["1.0000", "0.0000"]

    assert job.main(["--compare-dirs", str(out), str(tmp_path / "out2")]) == 0
    cmp_dirs = capsys.readouterr().out
    line = next(li for li in cmp_dirs.splitlines() if li.startswith("subject_consistency "))
    assert line.split()[1:] == [f"{m['subject_consistency']:.4f}", "1.0000"]
    assert "background_consistency" not in cmp_dirs                  # never computed: no row, no number


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
