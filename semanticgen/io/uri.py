"""Local paths and URIs (``s3://``, ``gs://``, ``file://`` …) through pyarrow filesystems.

One predicate tells a URI from a local path (:func:`is_uri`); whether writes can be renamed into
place is a property of the filesystem (:func:`is_local_fs`), not of the string.
"""
from __future__ import annotations

import os
from typing import Tuple

import pyarrow.fs as pafs


def is_uri(path: str) -> bool:
    """``scheme://…`` (read through a pyarrow filesystem), as opposed to a plain local path."""
    return "://" in path


def filesystem(uri: str) -> Tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    if is_uri(uri):
        return pafs.FileSystem.from_uri(uri)
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def is_local_fs(fs: pafs.FileSystem) -> bool:
    """A local disk (``os.replace`` is atomic there); object stores write a whole object in one PUT."""
    return isinstance(fs, pafs.LocalFileSystem)


def normalize(uri: str) -> str:
    """Canonical identity of an input: absolute local path (``file://`` stripped), or the URI as given."""
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    return uri if is_uri(uri) else os.path.abspath(uri)


def join(root: str, *parts: str) -> str:
    """``root/part/...`` for a URI (always ``/``) or a local path."""
    return "/".join([root.rstrip("/"), *parts]) if is_uri(root) else os.path.join(root, *parts)


def open_input(uri: str):
    """A seekable binary file object for ``uri`` (PyAV reads from it directly)."""
    if not is_uri(uri):
        return open(normalize(uri), "rb")
    fs, path = filesystem(uri)
    return fs.open_input_file(path)


def file_size(uri: str) -> int:
    fs, path = filesystem(uri)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(uri)
    return int(info.size)
