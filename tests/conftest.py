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


@pytest.fixture(scope="session")
def mixed_corpus(tmp_path_factory):
    """Videos of mixed size, aspect ratio, frame rate and length (``corpus.MIXED_SOURCES`` + the real bikes.mp4)."""
    from corpus import write_mixed_corpus

    return write_mixed_corpus(tmp_path_factory.mktemp("mixed-corpus"))


@pytest.fixture(scope="session")
def mixed_store(ray_local, tiny_model_dir, mixed_corpus, tmp_path_factory):
    """``mixed_corpus`` ingested and encoded through the jobs a user runs; a dict with ``store``, ``work``,
    ``models``, ``common`` (the overrides every later job of the chain takes) and ``dir``."""
    from corpus import MIXED_INGEST
    from jobs import encode, ingest

    d = tmp_path_factory.mktemp("mixed")
    work, store = str(d / "work"), str(d / "store")
    common = [f"run.work_dir={work}", f"mlflow.tracking_uri=sqlite:///{work}/mlflow.db", "ray.progress_bars=false"]
    assert ingest.main(["--config", "tiny", *common, *MIXED_INGEST, "--input", *mixed_corpus, "--output", store]) == 0
    assert encode.main(["--config", "tiny", *common, "--store", store, "--models", tiny_model_dir]) == 0
    return {"store": store, "work": work, "models": tiny_model_dir, "common": common, "dir": d}


@pytest.fixture(scope="session")
def trained_pair(mixed_store):
    """Stage 1 (run ``s1``) → z_sem → stage 2 (run ``s2``) on ``mixed_store`` with 2 gloo workers and bucketed
    batches over every clip (more than one epoch), through the jobs;
    ``mixed_store``'s dict plus ``train`` (the training overrides) and the run names."""
    from jobs import encode_semantic, train_latent, train_semantic

    s = mixed_store
    # token budget: 17-frame clips (75 VAE tokens) pair up, 33-frame ones (135) train alone; 30 steps > one epoch
    train = ["train.num_workers=2", "train.batch_size=2", "train.batch_tokens=160", "train.max_steps=30",
             "train.report_every=10", "train.checkpoint_every=30"]
    flags = ["--config", "tiny", *s["common"], *train, "--store", s["store"], "--models", s["models"]]
    assert train_latent.main([*flags, "--name", "s1"]) == 0
    assert encode_semantic.main(["--config", "tiny", *s["common"], "--store", s["store"], "--name", "s1"]) == 0
    assert train_semantic.main([*flags, "--name", "s2"]) == 0
    return {**s, "train": train, "latent_run": "s1", "semantic_run": "s2"}
