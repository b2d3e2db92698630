"""Finding the latest checkpoint and fetching one from a URI (the object-store path, over file://)."""
import os

import pytest

from semanticgen.io.checkpoints import latest_checkpoint, local_checkpoint


def make_run(root, name, steps):
    for i, step in enumerate(steps):
        d = root / name / f"checkpoint_{i:06d}"
        (d / "sub").mkdir(parents=True)
        (d / "model.safetensors").write_bytes(os.urandom(1000) + bytes([step]))
        (d / "sub" / "state.pt").write_bytes(bytes([step]) * 10)
    (root / name / "checkpoint_tmp_unfinished.txt").write_text("a file, not a checkpoint")
    return root / name


def tree(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_latest_checkpoint_local_and_uri(tmp_path):
    run = make_run(tmp_path, "s1", [10, 20, 30])
    assert latest_checkpoint(str(tmp_path), "s1") == str(run / "checkpoint_000002")
    uri = f"file://{tmp_path}"
    assert latest_checkpoint(uri, "s1") == f"{uri}/s1/checkpoint_000002"
    with pytest.raises(FileNotFoundError, match="--name nope"):
        latest_checkpoint(str(tmp_path), "nope")
    with pytest.raises(FileNotFoundError):
        latest_checkpoint(uri, "nope")


def test_local_checkpoint_copies_a_uri_once_and_whole(tmp_path):
    run = make_run(tmp_path / "remote", "s1", [1, 2])
    src = run / "checkpoint_000001"
    assert local_checkpoint(str(src)) == str(src)                  # local paths are used in place
    cache = tmp_path / "cache"
    got = local_checkpoint(f"file://{src}", cache_dir=str(cache))
    assert got.startswith(str(cache)) and tree(src) == tree(type(src)(got))
    mtime = os.path.getmtime(os.path.join(got, "model.safetensors"))
    (src / "model.safetensors").write_bytes(b"changed")              # a cached copy is reused, not re-fetched
    assert local_checkpoint(f"file://{src}/", cache_dir=str(cache)) == got
    assert os.path.getmtime(os.path.join(got, "model.safetensors")) == mtime
    assert [p.name for p in cache.iterdir()] == [os.path.basename(got)]   # no partial copies left
    with pytest.raises(FileNotFoundError):
        local_checkpoint(f"file://{tmp_path}/missing", cache_dir=str(cache))
    assert [p.name for p in cache.iterdir()] == [os.path.basename(got)]
