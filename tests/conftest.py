"""Session-wide fixtures: environment, a local Ray (num_cpus=2) shared by all tests."""
import os
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")   # reports are polled at this interval
os.environ.pop("RAY_ADDRESS", None)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the whole session (2 CPUs, temp dir under /tmp; Ray socket paths must be short)."""
    import ray

    tmp = tempfile.mkdtemp(prefix="sg-ray-")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, _temp_dir=tmp, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Tiny random Qwen2.5-VL / Wan VAE / umT5 built from the real config classes, saved and reloaded."""
    from semanticgen.encoders.tiny_models import build_all

    root = tmp_path_factory.mktemp("tiny-models")
    build_all(str(root))
    return str(root)
