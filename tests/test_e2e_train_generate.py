"""Stage 1 → z_sem → stage 2 on 2 gloo workers, then generation, from a real (tiny) feature store."""
import os

import numpy as np
import pyarrow.dataset as pads
import pytest
from mlflow.tracking import MlflowClient

from jobs import generate
from semanticgen.config import load_config
from semanticgen.train.state import load_checkpoint
from semanticgen.video.mp4 import read_video


@pytest.fixture(scope="module")
def trained(trained_pair):
    """The session's trained tiny pair (``conftest.trained_pair``: mixed corpus, 2 gloo workers, runs s1/s2)."""
    s = trained_pair
    cfg = load_config("tiny", [*s["common"], f"features.models_dir={s['models']}"])
    return {**s, "cfg": cfg, "common": [*s["common"], *s["train"]]}


def runs(work, stage):
    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    exp = client.get_experiment_by_name(f"semanticgen/{stage}")
    return client, client.search_runs([exp.experiment_id])


@pytest.mark.parametrize("stage,metric,artifact", [("latent", "kl", ".mp4"), ("semantic", "flow_loss", ".png")])
def test_training_runs_are_in_mlflow_and_loss_falls(trained, stage, metric, artifact):
    client, found = runs(trained["work"], stage)
    assert len(found) == 1
    run = found[0]
    hist = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in hist] == [10, 20, 30]
    assert hist[-1].value < hist[0].value
    assert run.data.params["train.num_workers"] == "2" and metric in run.data.metrics
    assert {"samples_per_s", "tokens_per_s", "grad_norm", "lr"} <= set(run.data.metrics)
    assert any(k.startswith("system/") for k in run.data.metrics)          # MLflow system metrics are on
    files = [a.path for a in client.list_artifacts(run.info.run_id, "samples")]
    assert any(f.endswith(artifact) for f in files), files
    ckpt = run.data.tags["checkpoint_path"]
    state = load_checkpoint(ckpt)                     # safetensors + torch.load(weights_only=True)
    assert state["trainer"]["step"] == 30


def test_z_sem_table_has_every_clip(trained):
    z = pads.dataset(f"{trained['store']}/z_sem", format="parquet").to_table().to_pylist()
    feats = pads.dataset(f"{trained['store']}/features", format="parquet").count_rows()
    assert len(z) == feats >= 8 and all(r["z_mu_shape"][-1] == 8 for r in z)


def test_checkpoint_by_uri_loads_the_same_compressor(trained, tmp_path, monkeypatch):
    """Readers of a checkpoint on an object store (here file://, same pyarrow path as s3://) get its weights."""
    import torch

    from semanticgen.models.build import load_compressor
    from semanticgen.io.checkpoints import latest_checkpoint

    monkeypatch.setenv("SEMANTICGEN_CHECKPOINT_CACHE", str(tmp_path / "cache"))
    uri_root = f"file://{trained['work']}/ray_results"
    ckpt = latest_checkpoint(uri_root, "s1")
    assert ckpt.startswith("file://")
    local = load_compressor(trained["cfg"], latest_checkpoint(os.path.join(trained["work"], "ray_results"), "s1"))
    remote = load_compressor(trained["cfg"], ckpt)
    a, b = local.state_dict(), remote.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any((tmp_path / "cache").iterdir())                    # it was fetched into the cache


def gen(trained, out, seeds, long=False, extra=()):
    import json

    p = trained["dir"] / f"prompts-{os.path.basename(out)}.jsonl"
    p.write_text("".join(json.dumps({"prompt": "a red kite over a green hill", "seed": s, "long": long}) + "\n"
                         for s in seeds))
    code = generate.main(["--config", "tiny", *trained["common"], "--prompts", str(p), "--out", str(out),
                          "--latent-run", "s1", "--semantic-run", "s2", "--models", trained["models"],
                          "mlflow.enabled=false", *extra])
    assert code == 0
    return sorted(str(out / f) for f in os.listdir(out) if f.endswith(".mp4"))


def test_generation_job_writes_the_requested_videos_and_their_records(trained, tmp_path):
    import json

    import torch

    paths = gen(trained, tmp_path / "a", [7, 8], extra=["generate.batch_size=2",    # one DiT batch of two
                                                        "generate.save_latents=true"])
    assert len(paths) == 2
    va, fps = read_video(paths[0])
    assert va.shape == (17, 48, 80, 3) and fps == pytest.approx(8.0)
    for p, seed in zip(paths, [7, 8]):
        rec = json.loads(open(os.path.splitext(p)[0] + ".json").read())
        saved = torch.load(os.path.splitext(p)[0] + ".pt", weights_only=True)       # what the DiTs produced
        assert rec["z_sem_shape"] == list(saved["z_sem"].shape[1:]) and rec["z_sem_shape"][-1] == 8
        assert rec["latent_shape"] == list(saved["latents"].shape[1:]) == [16, 5, 6, 10]
        assert (rec["prompt"], rec["seed"], rec["num_frames"], rec["height"], rec["width"], rec["fps"]) == \
            ("a red kite over a green hill", seed, 17, 48, 80, 8.0)
        assert (rec["latent_run"], rec["semantic_run"], rec["attention"], rec["z_sem_grid_from"]) == \
            ("s1", "s2", "full", "trained")
        assert "/ray_results/s1/checkpoint_" in rec["latent_checkpoint"] and rec["version"]


@pytest.mark.parametrize("stage,table", [("latent", "features"), ("semantic", "z_sem")])
def test_every_clip_of_the_store_is_trained_on(trained, stage, table):
    """Bucketed batches over a mixed corpus: more than one epoch sees every clip (none dropped), per-bucket counts
    are an MLflow table, and the checkpoint carries them for generation."""
    import json

    client, (run,) = runs(trained["work"], stage)
    n = pads.dataset(f"{trained['store']}/{table}", format="parquet").count_rows()
    seen = client.get_metric_history(run.info.run_id, "data/clips_seen")
    assert [m.step for m in seen] == [10, 20, 30] and seen[-1].value == n
    assert run.data.metrics["data/clips_total"] == n
    path = client.download_artifacts(run.info.run_id, "data/buckets.json", str(trained["dir"] / f"dl-{stage}"))
    table_doc = json.load(open(path))
    cols = table_doc["columns"]
    counts = [row[cols.index("clips")] for row in table_doc["data"]]
    assert sum(counts) == n and len(counts) >= 4                   # several shape buckets, all trained
    stats = json.load(open(os.path.join(run.data.tags["checkpoint_path"], "buckets.json")))
    assert [b["clips"] for b in stats["buckets"]] == counts and stats["stage"] == stage


def test_generation_grid_equals_the_grid_of_each_buckets_training_clips(trained):
    """For every bucket of the store: the z_sem grid generation samples = the grid its training clips have (the
    most common one where sources of different sizes share a bucket), and every stored grid is the contract's."""
    from semanticgen.encoders.grid import semantic_grid
    from semanticgen.inference.shapes import TrainedBuckets
    from semanticgen.io.checkpoints import latest_checkpoint
    from semanticgen.store.buckets import parse_bucket

    cfg, fc = trained["cfg"], trained["cfg"].features
    feats = pads.dataset(f"{trained['store']}/features", format="parquet").to_table().to_pylist()
    for r in feats:
        f, h, w = parse_bucket(r["bucket"])
        assert (f, h, w) == (r["vae_frames"], r["vae_height"], r["vae_width"]) and f in fc.frame_buckets
        assert tuple(r["sem_grid"]) == tuple(r["sem_shape"][:3]) == semantic_grid(
            (r["source_height"], r["source_width"]), (h, w), f, fc.vae_fps, fc.semantic_fps, fc.semantic_min_pixels,
            fc.semantic_max_pixels)
    zs = pads.dataset(f"{trained['store']}/z_sem", format="parquet").to_table(columns=["bucket", "z_mu_shape"])
    stored: dict = {}
    for r in zs.to_pylist():
        stored.setdefault(parse_bucket(r["bucket"]), []).append(tuple(r["z_mu_shape"][:3]))
    sem_ckpt = latest_checkpoint(os.path.join(trained["work"], "ray_results"), "s2")
    buckets = TrainedBuckets.from_checkpoint(cfg, sem_ckpt)
    for (f, h, w), grids in stored.items():
        got, how = buckets.grid(h, w, f)
        same_size = [g for (ff, hh, ww), gs in stored.items() if (hh, ww) == (h, w) for g in gs]
        majority = max({g[1:] for g in same_size}, key=lambda hw: ([g[1:] for g in same_size].count(hw), hw))
        assert how == "trained" and got in grids and got == (grids[0][0], *majority), ((f, h, w), grids)
    assert len(stored) >= 3 and any(len(set(gs)) > 1 for gs in stored.values())   # a small source in a bucket


def test_generation_refuses_a_frame_size_no_bucket_covers(trained, tmp_path, capsys):
    p = tmp_path / "odd.jsonl"
    p.write_text('{"prompt": "odd size", "height": 96, "width": 96}\n')
    code = generate.main(["--config", "tiny", *trained["common"], "--prompts", str(p), "--out", str(tmp_path / "o"),
                          "--latent-run", "s1", "--semantic-run", "s2", "--models", trained["models"],
                          "mlflow.enabled=false"])
    assert code == 2 and "96x96 is not a trained frame size" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_generation_is_deterministic_per_seed(trained, tmp_path):
    """Two separately loaded pipelines: same seed → same latents and video; another seed → a different one.

    The latents are compared to float rounding and the decoded mp4 frames to within codec noise: CPU BLAS
    results may differ in the last bit with memory alignment (bitwise: run with MKL_CBWR=COMPATIBLE), which
    H.264's mode decisions can turn into visible changes in one frame.
    """
    import torch

    from semanticgen.inference.pipeline import SemanticGenPipeline
    from semanticgen.io.checkpoints import latest_checkpoint

    cfg = load_config("tiny", [*trained["common"], f"features.models_dir={trained['models']}",
                               "generate.save_latents=true"])
    root = os.path.join(trained["work"], "ray_results")
    lat, sem = latest_checkpoint(root, "s1"), latest_checkpoint(root, "s2")
    threads, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    try:
        torch.set_num_threads(1)
        first = SemanticGenPipeline(cfg, lat, sem)
        prompt = "a red kite over a green hill"
        first.generate(prompt, str(tmp_path / "x8.mp4"), 8, 17, 48, 80)      # state must not leak between calls
        first.generate(prompt, str(tmp_path / "x7.mp4"), 7, 17, 48, 80)
        SemanticGenPipeline(cfg, lat, sem).generate(prompt, str(tmp_path / "y7.mp4"), 7, 17, 48, 80)
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = mkldnn
    lx7, ly7, lx8 = (torch.load(tmp_path / f, weights_only=True) for f in ("x7.pt", "y7.pt", "x8.pt"))
    for k in ("z_sem", "latents"):
        torch.testing.assert_close(lx7[k], ly7[k], rtol=1e-5, atol=1e-5)
    assert (lx7["latents"] - lx8["latents"]).abs().mean() > 0.1
    x7, x8, y7 = (read_video(tmp_path / f)[0].astype(np.int16) for f in ("x7.mp4", "x8.mp4", "y7.mp4"))
    assert np.abs(x7 - y7).mean() < 1.0 and (x7 == y7).mean() > 0.9
    assert np.abs(x7 - x8).mean() > 5 * max(np.abs(x7 - y7).mean(), 0.2)


def test_batched_prompts_match_prompts_generated_alone(trained, tmp_path):
    """One DiT batch for three prompts = each prompt alone with its seed (float rounding), per-video outputs."""
    import torch

    from semanticgen.inference.pipeline import SemanticGenPipeline
    from semanticgen.io.checkpoints import latest_checkpoint

    cfg = load_config("tiny", [*trained["common"], f"features.models_dir={trained['models']}",
                               "generate.save_latents=true"])
    root = os.path.join(trained["work"], "ray_results")
    pipe = SemanticGenPipeline(cfg, latest_checkpoint(root, "s1"), latest_checkpoint(root, "s2"))
    prompts = ["a red kite over a green hill", "rain on a window at night, close up", "a dog"]
    seeds = [4, 5, 6]
    batch = pipe.generate_batch(prompts, [str(tmp_path / f"b{i}.mp4") for i in range(3)], seeds, 17, 48, 80)
    assert [b["frames"] for b in batch] == [17, 17, 17] and batch[0]["latent_shape"] == [16, 5, 6, 10]
    for i, (p, s) in enumerate(zip(prompts, seeds)):
        pipe.generate(p, str(tmp_path / f"a{i}.mp4"), s, 17, 48, 80)
        a, b = (torch.load(tmp_path / f"{x}{i}.pt", weights_only=True) for x in ("a", "b"))
        for k in ("z_sem", "latents"):
            torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-4)
    b0, b1 = (torch.load(tmp_path / f"b{i}.pt", weights_only=True)["latents"] for i in (0, 1))
    assert (b0 - b1).abs().mean() > 0.1                                 # batch-mates do not share noise


def test_long_generation_uses_swin_and_requested_length(trained, tmp_path):
    (path,) = gen(trained, tmp_path / "long", [3], long=True)
    frames, _ = read_video(path)
    assert frames.shape[0] == trained["cfg"].generate.long_num_frames
