"""One config system for every job: typed dataclasses + YAML presets + dotted overrides.

    cfg = load_config("tiny", ["ingest.max_clip_s=5", "run.seed=3"])

``name`` is a preset in ``semanticgen/config/presets`` (``tiny``, ``short``,
``long``) or a path to a YAML file. A YAML file may say ``extends: <preset or
path>`` to start from another one. Unknown keys, wrong types and invalid values
raise :class:`ConfigError` naming the dotted field, before any work starts.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Optional

import yaml

from .base import ConfigError, check, from_dict, merge, parse_override, to_dict, validate_tree
from .schema import Config

PRESET_DIR = Path(__file__).parent / "presets"

__all__ = ["Config", "ConfigError", "check", "load_config", "config_hash", "to_dict", "preset_names"]


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _read_yaml(name: str, seen: Optional[set] = None) -> dict:
    seen = set() if seen is None else seen
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = PRESET_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError("config", f"no preset or file named {name!r} (presets: {', '.join(preset_names())})")
    key = str(path.resolve())
    if key in seen:
        raise ConfigError("extends", f"cycle through {path}")
    seen.add(key)
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError("config", f"{path} must hold a mapping")
    parent = data.pop("extends", None)
    if parent:
        base_dir = path.parent
        cand = base_dir / parent
        data = merge(_read_yaml(str(cand) if cand.exists() else parent, seen), data)
    return data


def load_config(name: str = "tiny", overrides: Iterable[str] = ()) -> Config:
    data = _read_yaml(name)
    data["preset"] = Path(name).stem
    for text in overrides:
        data = merge(data, parse_override(text))
    cfg = from_dict(Config, data)
    validate_tree(cfg)
    return cfg


def config_hash(cfg_or_dict) -> str:
    d = cfg_or_dict if isinstance(cfg_or_dict, dict) else to_dict(cfg_or_dict)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def flat_params(cfg: Config) -> dict:
    """Flatten to dotted keys (for MLflow params)."""
    out = {}

    def walk(prefix, node):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = node if isinstance(node, (int, float, str, bool)) or node is None else json.dumps(node)

    walk("", to_dict(cfg))
    return out
