"""The generic Ray Train loop on a toy task: DDP on 2 gloo workers, checkpoints, fault recovery, resume, MLflow."""
import os
import sys

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from torch import nn

from pipelines.train.run import run_training
from pipelines.train.task import TrainTask
from semanticgen.config import load_config
from semanticgen.train.state import load_checkpoint

W_TRUE = np.array([1.5, -2.0, 0.5, 3.0], dtype=np.float32)


class ToyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)

    def forward(self, batch):
        pred = self.lin(batch["x"]).squeeze(-1)
        noise = 0.01 * torch.randn_like(pred)              # exercises the per-rank RNG streams
        loss = ((pred + noise - batch["y"]) ** 2).mean()
        return loss, {"mse": loss.detach()}, batch["x"].shape[0]


class ToyTask(TrainTask):
    stage = "toy"

    def build(self, cfg):
        return ToyModel()

    def collate(self, batch):
        return {"x": torch.as_tensor(np.stack(batch["x"])), "y": torch.as_tensor(batch["y"])}

    def dataset(self, cfg, store):
        import ray

        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 4)).astype(np.float32)
        items = [{"x": xi, "y": np.float32(xi @ W_TRUE)} for xi in x]
        return ray.data.from_items(items, override_num_blocks=8)

    def finalize(self, model, cfg, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "weights.txt"), "w") as f:
            f.write(str(model.lin.weight.detach().tolist()))


@pytest.fixture(autouse=True, scope="module")
def _pickle_by_value():
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield


def cfg(tmp_path, *extra):
    return load_config("tiny", [f"run.work_dir={tmp_path}", f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                                "train.lr=0.2", "train.lr_schedule=cosine", "train.warmup_steps=2", "train.batch_size=4", "train.report_every=5",
                                "train.checkpoint_every=10", "train.ema_decay=0.9", *extra])


def final_weights(result):
    return load_checkpoint(result.checkpoint_path)["model"]


def test_ddp_two_workers_loss_falls_and_mlflow(ray_local, tmp_path):
    c = cfg(tmp_path, "train.num_workers=2", "train.max_steps=40")
    r = run_training(c, ToyTask(), "", "ddp")
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    hist = [m.value for m in client.get_metric_history(r.mlflow_run_id, "loss")]
    assert [m.step for m in client.get_metric_history(r.mlflow_run_id, "loss")] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert hist[-1] < hist[0] / 10
    run = client.get_run(r.mlflow_run_id)
    assert run.data.params["train.num_workers"] == "2"
    assert run.data.tags["checkpoint_path"] == r.checkpoint_path
    assert {"samples_per_s", "tokens_per_s", "grad_norm", "lr", "mse"} <= set(run.data.metrics)
    assert any(a.path == "samples" for a in client.list_artifacts(r.mlflow_run_id))
    assert sorted(os.listdir(r.checkpoint_path)) == ["ema.safetensors", "model.safetensors", "optimizer.pt",
                                                     "trainer_state.pt"]
    w = final_weights(r)["lin.weight"].numpy().ravel()
    np.testing.assert_allclose(w, W_TRUE, atol=0.2)


def test_fault_recovery_equals_uninterrupted_run(ray_local, tmp_path):
    ref = run_training(cfg(tmp_path / "a", "train.max_steps=30"), ToyTask(), "", "ref")
    faulty = run_training(cfg(tmp_path / "b", "train.max_steps=30", "train.debug_fail_at_step=17",
                              "train.max_failures=1"), ToyTask(), "", "faulty")
    assert os.path.exists(os.path.join(faulty.storage_path, "faulty", ".injected_fault"))  # it did fail
    a, b = final_weights(ref), final_weights(faulty)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    client = MlflowClient(f"sqlite:///{tmp_path}/b/mlflow.db")
    steps = [m.step for m in client.get_metric_history(faulty.mlflow_run_id, "loss")]
    assert steps == [5, 10, 15, 20, 25, 30]                 # no step logged twice after the restart


def test_same_name_resumes(ray_local, tmp_path):
    first = run_training(cfg(tmp_path, "train.max_steps=20"), ToyTask(), "", "again")
    second = run_training(cfg(tmp_path, "train.max_steps=30"), ToyTask(), "", "again")
    assert second.mlflow_run_id == first.mlflow_run_id
    assert load_checkpoint(second.checkpoint_path)["trainer"]["step"] == 30
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    steps = [m.step for m in client.get_metric_history(second.mlflow_run_id, "loss")]
    assert steps == [5, 10, 15, 20, 25, 30]


def test_fsdp2_two_workers_matches_ddp(ray_local, tmp_path):
    """FSDP2 (fully_shard) on 2 gloo CPU workers, killed once and resumed, trains the same function as DDP."""
    ddp = run_training(cfg(tmp_path / "d", "train.num_workers=2", "train.max_steps=20"), ToyTask(), "", "d")
    fsdp = run_training(cfg(tmp_path / "f", "train.num_workers=2", "train.max_steps=20", "train.parallel=fsdp",
                            "train.debug_fail_at_step=15"), ToyTask(), "", "f")
    assert os.path.exists(os.path.join(fsdp.storage_path, "f", ".injected_fault"))
    a, b = final_weights(ddp), final_weights(fsdp)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
