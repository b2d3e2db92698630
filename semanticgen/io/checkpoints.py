"""Finding and fetching training checkpoints on a local path, a shared mount or an object store.

Ray Train writes ``<storage_path>/<run name>/checkpoint_<n>/`` wherever ``train.storage_path`` points
(``/mnt/shared/runs``, ``s3://bucket/runs``, ``gs://...``). The readers of a checkpoint (z_sem
encoding, generation) call ``latest_checkpoint`` and then ``local_checkpoint``, which copies a remote
checkpoint once into a local cache folder and returns that folder.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import Optional

import pyarrow.fs as pafs

from .uri import filesystem, is_uri, join

CACHE_ENV = "SEMANTICGEN_CHECKPOINT_CACHE"


def latest_checkpoint(root: str, name: str) -> str:
    """``<root>/<name>/checkpoint_<n>`` with the highest ``n`` (Ray Train's zero-padded names sort)."""
    fs, run = filesystem(join(root, name))
    infos = fs.get_file_info(pafs.FileSelector(run, allow_not_found=True))
    cps = sorted(os.path.basename(i.path) for i in infos
                 if i.type == pafs.FileType.Directory and os.path.basename(i.path).startswith("checkpoint_"))
    if not cps:
        raise FileNotFoundError(f"no checkpoint under {join(root, name)}: train it first (--name {name})")
    return join(root, name, cps[-1])


def local_checkpoint(path: str, cache_dir: Optional[str] = None) -> str:
    """A local folder holding the checkpoint at ``path``: ``path`` itself when local, else a cached copy.

    The copy is made in a temporary folder and renamed into place, so a crash never leaves a partial
    checkpoint in the cache, and concurrent readers (several actors on one node) each see a whole one.
    """
    if not is_uri(path):
        return path
    cache = cache_dir or os.environ.get(CACHE_ENV) or os.path.join(tempfile.gettempdir(), "semanticgen-checkpoints")
    dest = os.path.join(cache, hashlib.sha256(path.rstrip("/").encode()).hexdigest()[:16])
    if os.path.isdir(dest):
        return dest
    os.makedirs(cache, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".partial-", dir=cache)
    try:
        fs, src = filesystem(path)
        if fs.get_file_info(src).type != pafs.FileType.Directory:
            raise FileNotFoundError(f"checkpoint not found: {path}")
        pafs.copy_files(src, tmp, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
        try:
            os.rename(tmp, dest)
        except OSError:            # another reader renamed its copy first: use that one
            if not os.path.isdir(dest):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
