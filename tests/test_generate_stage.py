"""The generation actor: prompts grouped by size into DiT batches; a failing prompt is isolated; records."""
import json
import os

import pandas as pd

from pipelines.generate import GenerateStage
from semanticgen.config import load_config


class StubPipe:
    def __init__(self):
        self.calls = []

    def generate_batch(self, prompts, paths, seeds, num_frames, height, width, long=False):
        self.calls.append((tuple(prompts), num_frames, long))
        if any("BAD" in p for p in prompts):
            raise ValueError("bad prompt")
        return [{"path": p, "frames": num_frames, "attention": "swin" if long else "full", "z_sem_shape": [2, 3, 5, 8],
                 "latent_shape": [16, 1 + (num_frames - 1) // 4, 6, 10], "z_sem_grid_from": "trained"} for p in paths]


def stage(tmp_path):
    s = GenerateStage.__new__(GenerateStage)          # the real batching logic around a stub model
    s.pipe, s.out_dir, s.cfg = StubPipe(), str(tmp_path), load_config("tiny")
    s.runs = {"latent_run": "s1", "semantic_run": "s2", "latent_checkpoint": "/c/1", "semantic_checkpoint": "/c/2"}
    return s


def rows(*specs):
    return pd.DataFrame([{"index": i, "prompt": p, "seed": i, "num_frames": n, "height": 48, "width": 80,
                          "long": n > 17} for i, (p, n) in enumerate(specs)])


def test_groups_by_size_in_order(tmp_path):
    s = stage(tmp_path)
    out = s(rows(("a", 17), ("b", 65), ("c", 17), ("d", 65), ("e", 17))).to_pylist()
    assert s.pipe.calls == [(("a", "c", "e"), 17, False), (("b", "d"), 65, True)]
    assert sorted(r["index"] for r in out) == [0, 1, 2, 3, 4] and all(r["error"] is None for r in out)
    assert all(r["path"].endswith(f"seed{r['index']}.mp4") for r in out)
    for r in out:                                       # the record beside each video
        assert r["record"] == os.path.splitext(r["path"])[0] + ".json"
        rec = json.load(open(r["record"]))
        assert (rec["prompt"], rec["seed"], rec["num_frames"], rec["height"], rec["width"]) == \
            (r["prompt"], r["index"], r["num_frames"], 48, 80)
        assert rec["latent_shape"] == [16, 1 + (r["num_frames"] - 1) // 4, 6, 10] and rec["z_sem_shape"] == [2, 3, 5, 8]
        assert (rec["latent_run"], rec["semantic_checkpoint"]) == ("s1", "/c/2") and rec["fps"] == 8.0
        assert rec["attention"] == ("swin" if r["long"] else "full") and rec["steps"] == 4 and rec["version"]


def test_a_bad_prompt_fails_alone(tmp_path):
    s = stage(tmp_path)
    out = s(rows(("a", 17), ("BAD", 17), ("c", 17)))
    by = {r["prompt"]: r for r in out.to_pylist()}
    assert by["BAD"]["error"] == "ValueError: bad prompt" and by["BAD"]["path"] is None and by["BAD"]["record"] is None
    assert by["a"]["error"] is None and by["c"]["error"] is None and by["c"]["frames"] == 17
    assert s.pipe.calls[0] == (("a", "BAD", "c"), 17, False) and len(s.pipe.calls) == 4   # batch, then one by one
