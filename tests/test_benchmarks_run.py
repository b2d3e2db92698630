"""Benchmarks keep running (small sizes): each prints its table and its ``<name>: metric=value`` last line.

No timing is asserted here; the numbers are for humans (README "Benchmarks")."""
import re

import pytest

from jobs import benchmark

CASES = {
    "attention": ["--frames", "8", "--hw", "8", "--window", "2", "--repeats", "1"],
    "evaluate": ["--videos", "1", "--frames", "9", "--long-frames", "20"],
    "loader": ["--rows", "32", "--steps", "6", "--batch", "2", "--buckets", "1,4", "--repeats", "1"],
    "generate_batch": ["--bs", "1,2"],
    "generate_memory": ["--ns", "1,2", "--hw", "16", "--window", "2"],
    "memory": ["--quick"],                         # model vs measured on CPU + the real-scale table
    "mfu": ["--allow-cpu", "--config", "tiny", "--frames", "3", "--height", "8", "--width", "8", "--steps", "1",
            "train.parallel=fsdp", "train.activation_checkpointing=true"],   # CPU smoke run (FSDP on one rank)
    "flash": [],                                   # needs CUDA + flash-attn: prints flash: skipped=1 here
}


def test_every_benchmark_is_covered():
    assert set(benchmark.available()) == set(CASES) | {"ingest", "features"}   # those two: minutes


@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_runs_and_reports(name, ray_local, capsys):
    assert benchmark.main([name, *CASES[name]]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(rf"{name}: (\w+=[-\d.]+ ?)+", last), last
