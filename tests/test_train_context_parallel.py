"""Stage-1 training through the Ray Train loop with the sequence split over two workers (``train.context_parallel=2``,
FSDP2 on the data × context mesh) follows the loss curve of one worker with the same seed and global batch; the
pretrained load of both is reported to MLflow."""
import pytest
import torch
from mlflow.tracking import MlflowClient
from safetensors.torch import save_file

from pipelines.train.run import run_training
from pipelines.train.stage1 import LatentTask
from semanticgen.config import load_config
from semanticgen.config.models import DiTConfig
from semanticgen.models import LatentDiT
from semanticgen.store.table import Table
from semanticgen.store.tensor_columns import pack
from semanticgen.train.state import load_checkpoint


def features_store(root: str, clips: int = 8) -> str:
    """Random tensors in the features schema: 9 latent frames (5 Swin windows of 2), z_sem 3×1×2, ragged captions."""
    g = torch.Generator().manual_seed(0)
    rows = []
    for i in range(clips):
        n = 3 + i % 3
        rows.append({"clip_id": f"clip{i}", "source_uri": "synthetic", "start_s": 0.0, "end_s": 4.0,
                     "caption": f"clip {i}", "caption_source": "provided", "sem_fps": 1.6, "vae_fps": 8.0,
                     "vae_frames": 33, "vae_height": 32, "vae_width": 32, "text_len": n,
                     **pack("sem", torch.randn(3, 1, 2, 64, generator=g)),
                     **pack("latents", torch.randn(16, 9, 4, 4, generator=g)),
                     **pack("text", torch.randn(n, 32, generator=g))})
    table = Table(root, "features")
    table.write_part("a", rows[: clips // 2])
    table.write_part("b", rows[clips // 2:])
    return root


@pytest.fixture(scope="module")
def runs(ray_local, tmp_path_factory):
    d = tmp_path_factory.mktemp("cp-train")
    store = features_store(str(d / "store"))
    torch.manual_seed(1)
    wan = LatentDiT(DiTConfig(size="tiny"), 16, None, 32).state_dict()           # a Wan-like DiT to start from
    save_file({f"model.diffusion_model.{k}": v.clone() for k, v in wan.items()}, str(d / "wan.safetensors"))
    common = [f"run.work_dir={d}", f"mlflow.tracking_uri=sqlite:///{d}/mlflow.db", "models.latent_dit.attention=swin",
              "models.latent_dit.swin_window=2", f"models.latent_dit.pretrained={d / 'wan.safetensors'}",
              "train.batch_size=2", "train.max_steps=4", "train.report_every=2", "train.checkpoint_every=4",
              "train.lr=0.003", "train.warmup_steps=1", "ray.progress_bars=false"]
    one = run_training(load_config("tiny", [*common, "train.num_workers=1"]), LatentTask(), store, "one")
    split = run_training(load_config("tiny", [*common, "train.num_workers=2", "train.context_parallel=2",
                                              "train.parallel=fsdp"]), LatentTask(), store, "split")
    return MlflowClient(f"sqlite:///{d}/mlflow.db"), one, split


def test_context_parallel_run_follows_the_single_worker_loss_curve(runs):
    client, one, split = runs
    curves = [[(m.step, m.value) for m in client.get_metric_history(r.mlflow_run_id, "loss")] for r in (one, split)]
    assert [s for s, _ in curves[0]] == [s for s, _ in curves[1]] == [2, 4]
    for (_, a), (_, b) in zip(*curves):
        assert b == pytest.approx(a, rel=1e-4)
    a, b = (load_checkpoint(r.checkpoint_path)["model"] for r in (one, split))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=1e-4)


def test_pretrained_load_is_reported_to_mlflow(runs):
    client, one, split = runs
    for r in (one, split):
        tags = client.get_run(r.mlflow_run_id).data.tags
        assert tags["pretrained.latent_dit.loaded"] == tags["pretrained.latent_dit.expected"] == "69"
        assert tags["pretrained.latent_dit.missing"] == "2" and tags["pretrained.latent_dit.unexpected"] == "0"
        assert tags["pretrained.latent_dit.prefix"] == "model.diffusion_model."
