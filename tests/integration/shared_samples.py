"""Helpers shared by the integration tests: load a benchmark's sample, score outputs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pytest_medhelm import Benchmark, Instance, ScoreContext
from pytest_medhelm.data import DataSettings, LoadedBenchmark, load


def load_sample(benchmark: Benchmark, shared_data: Path, *, cap: int) -> LoadedBenchmark:
    """The benchmark's instances from the mirror, parsed afresh (no instance cache)."""
    return load(benchmark, DataSettings(data_dir=shared_data, use_instance_cache=False), cap=cap)


def score_all(
    benchmark: Benchmark, pairs: list[tuple[Instance, str]], data_dir: Path | None = None
) -> list[dict[str, float]]:
    async def run() -> list[dict[str, float]]:
        ctx = ScoreContext(data_dir=data_dir)
        return [await benchmark.score(instance, output, ctx) for instance, output in pairs]

    return asyncio.run(run())
