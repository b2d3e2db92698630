"""Input discovery for ingest: files, folders (recursive, by extension), globs and object-store prefixes."""
from __future__ import annotations

import fnmatch
import glob
import os
from pathlib import Path
from typing import Iterable, List, Sequence, Tuple

import pyarrow.fs as pafs

from ..io.uri import is_uri, normalize


def _has_ext(path: str, extensions: Sequence[str]) -> bool:
    return os.path.splitext(path)[1].lower() in {e.lower() for e in extensions}


def _expand_remote(uri: str, extensions: Sequence[str]) -> List[str]:
    scheme = uri.split("://", 1)[0] + "://"
    fs, path = pafs.FileSystem.from_uri(uri.split("*", 1)[0].rsplit("/", 1)[0] if "*" in uri else uri)
    pattern = uri[len(scheme):] if "*" in uri else None
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File and pattern is None:
        return [uri]
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    out = []
    for i in infos:
        if i.type != pafs.FileType.File:
            continue
        if pattern is not None and not fnmatch.fnmatch(i.path, pattern):
            continue
        if pattern is None and not _has_ext(i.path, extensions):
            continue
        out.append(scheme + i.path)
    return out


def discover(inputs: Iterable[str], extensions: Sequence[str]) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Expand files, folders (recursive, filtered by extension) and globs into input URIs.

    Returns ``(uris, missing)`` where ``missing`` lists ``(input, message)`` for inputs
    that matched nothing, so they can become error rows instead of vanishing.
    Explicitly named files are kept whatever their extension.
    """
    found: List[str] = []
    missing: List[Tuple[str, str]] = []
    for item in inputs:
        item = normalize(item) if item.startswith("file://") else item
        if is_uri(item):
            try:
                hits = _expand_remote(item, extensions)
            except (OSError, ValueError) as e:
                missing.append((item, f"cannot list: {e}"))
                continue
        elif any(c in item for c in "*?["):
            hits = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
        elif os.path.isdir(item):
            hits = sorted(str(p) for p in Path(item).rglob("*") if p.is_file() and _has_ext(str(p), extensions))
        elif os.path.exists(item):
            hits = [item]
        else:
            missing.append((item, "no such file or directory"))
            continue
        if not hits:
            missing.append((item, "matched no video files"))
        found.extend(normalize(h) for h in hits)
    seen, uris = set(), []
    for u in found:
        if u not in seen:
            seen.add(u)
            uris.append(u)
    return uris, missing
