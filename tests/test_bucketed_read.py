"""Bucketed training input read through Ray Data (pipelines/train/buckets.py) from a real store: each rank gets
its planned batches with the right rows (checked against a direct read by clip id), one shape per batch, and one
epoch's rounds over all ranks cover every clip once; row groups are read selectively."""
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import torch

from jobs.benchmarks.loader import synthetic_store
from pipelines.train.stage1 import LatentTask
from semanticgen.config import load_config
from semanticgen.store.tensor_columns import unpack_row


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("bucketed"))
    synthetic_store(path, 40, buckets=4)
    part = f"{path}/features/part00016.parquet"            # one part with several small row groups
    pq.write_table(pq.read_table(part), part, row_group_size=3)
    assert pq.ParquetFile(part).num_row_groups > 1
    return path


def direct(store):
    rows = pads.dataset(f"{store}/features", format="parquet").to_table().to_pylist()
    return {r["clip_id"]: r for r in rows}


@pytest.mark.parametrize("workers", [1, 2])
def test_each_rank_reads_its_planned_batches(ray_local, store, workers):
    cfg = load_config("tiny", [f"train.num_workers={workers}", "train.batch_size=4", "train.batch_tokens=300",
                               "ray.progress_bars=false"])
    task = LatentTask(null_text=torch.zeros(1, 32))
    source = task.dataset(cfg, store)
    ix, plan = source.index, source.plan
    assert len(ix) == 40 and ix.counts() == [10, 10, 10, 10] and plan.sizes == [2, 2, 2, 2]   # 300 // 135 tokens
    truth = direct(store)
    rounds = plan.rounds_per_epoch
    seen = []
    for rank in range(workers):
        got = list(source.batches(rank, 0, rounds, task.collate))
        assert [k for k, _, _ in got] == list(range(rounds))              # every round, in order
        for k, clips, batch in got:
            assert clips == list(plan.rank_batches(rank, k, 1))[0][1]
            b = ix.bucket_of[clips[0]]
            assert {ix.bucket_of[c] for c in clips} == {b}                 # one bucket per batch
            assert tuple(batch["latents"].shape[1:]) == ix.buckets[b][0] and len(batch["latents"]) == len(clips)
            for i, c in enumerate(clips):                                  # the right rows, in plan order
                row = truth[ix.clip_ids[c]]
                assert torch.equal(batch["latents"][i], unpack_row(row, "latents"))
                assert torch.equal(batch["sem"][i], unpack_row(row, "sem"))
            seen += [(rank, k, c) for c in clips]
    assert {c for _, _, c in seen} == set(range(len(ix)))                  # one epoch's rounds: every clip
    assert len(seen) - len(ix) <= (workers - 1) * max(plan.sizes)          # only the next epoch fills the last round


def test_resume_reads_from_the_position_on(ray_local, store):
    cfg = load_config("tiny", ["train.batch_size=4", "ray.progress_bars=false"])
    task = LatentTask(null_text=torch.zeros(1, 32))
    source = task.dataset(cfg, store)
    whole = [(k, c) for k, c, _ in source.batches(0, 0, 8, task.collate)]
    assert [(k, c) for k, c, _ in source.batches(0, 5, 3, task.collate)] == whole[5:]


def test_a_store_changed_under_training_fails_loudly(ray_local, tmp_path):
    synthetic_store(str(tmp_path), 16, buckets=1)
    cfg = load_config("tiny", ["train.batch_size=4", "ray.progress_bars=false"])
    task = LatentTask(null_text=torch.zeros(1, 32))
    source = task.dataset(cfg, str(tmp_path))
    part = f"{tmp_path}/features/part00000.parquet"
    t = pq.read_table(part)
    pq.write_table(t.take(pa.array(list(reversed(range(t.num_rows))))), part)   # rows moved: stale index
    with pytest.raises(Exception, match="changed since training started"):
        list(source.batches(0, 0, 4, task.collate))
