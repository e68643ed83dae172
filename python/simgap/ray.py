"""simgap on Ray: the pipeline's shards as Ray Data tasks, the merges on the driver.

    import ray, simgap.ray
    ray.init()                                   # or ray.init(address="auto") on a cluster
    result = simgap.ray.run("pipelines/demo.toml", out="out/demo", shards=64)
    result.tables["divergence"]

Tables that live in Ray: ``simgap.ray.compare(human=dataset, simulators={"gpt-4o": dataset}, out=...)`` writes
each Dataset with Ray's own parallel Parquet writer and runs the comparison the same way.

Each of the five rounds (ingest, frequencies, features, sample, assign) is one ``map_batches`` over a dataset of
shard numbers: every task runs its shard's round with the engine (all of the worker's cores), writing its partial
result to the parts folder; Ray retries a task that fails (``max_retries``), and a retried shard rewrites its files
whole. The driver merges each round (``simgap merge``), and the last merge writes the output folder ``simgap run``
writes, every table byte-identical to it. The parts folder (default ``OUT/.shards``) and the inputs must be
readable by every worker and the driver: a shared file system on a cluster (docs/scale.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import _shards
from ._pipeline import RunResult


class _Round:
    """One round of every shard in a block of shard numbers (a callable class, so Ray ships its settings once)."""

    def __init__(self, pipeline: str, count: int, parts: str, out: str, fail_once: str | None):
        self.args = (pipeline, count, parts, out, fail_once)

    def __call__(self, batch):
        import pyarrow as pa

        pipeline, count, parts, out, fail_once = self.args
        rounds, seconds = [], []
        for index in batch["id"].to_pylist():
            name, took = _shards.shard_round(pipeline, index, count, parts, out, fail_once)
            rounds.append(name)
            seconds.append(took)
        return pa.table({"shard": batch["id"], "round": rounds, "seconds": seconds})


def run(pipeline: str | os.PathLike, out: str | os.PathLike | None = None, *, shards: int | None = None,
        parts: str | os.PathLike | None = None, max_retries: int = 3, _fail_once: str | None = None) -> RunResult:
    """Runs the pipeline file on Ray in ``shards`` shards (default: the cluster's CPUs), equal to ``simgap run``.

    Reads the pipeline file and its inputs (from every worker); writes the parts folder (default ``OUT/.shards``)
    and then the output folder. ``ray.init`` first where the default (a local Ray) is not wanted. Returns the
    :class:`RunResult` of the output folder. Raises ``SimgapConfigError`` / ``SimgapError`` from the shards and the
    merges, and Ray's error when a task fails more than ``max_retries`` times.
    """
    import ray

    if not ray.is_initialized():
        ray.init()
    count = shards or max(1, int(ray.cluster_resources().get("CPU", 1)))

    def run_round(pipeline_path: str, parts_dir: str, out_dir: str) -> list[str]:
        dataset = ray.data.range(count, override_num_blocks=count).map_batches(
            _Round(pipeline_path, count, parts_dir, out_dir, _fail_once),
            batch_size=1,
            batch_format="pyarrow",
            max_retries=max_retries,  # Ray 2.60 takes the task options as keywords (deprecated for 2.64)
            retry_exceptions=True,
        )
        return [row["round"] for row in dataset.take_all()]

    return _shards.drive(pipeline, out, parts, run_round)


def compare(human: Any, simulators: Mapping[str, Any], *, out: str | os.PathLike, shards: int | None = None,
            facets: list[str] | None = None, k: int | str = "auto", seed: int = 0, human_name: str = "human",
            settings: Mapping[str, Any] | None = None, max_retries: int = 3) -> RunResult:
    """:func:`simgap.compare` for Ray Datasets: ``human`` and each simulator a Dataset of conversations, one per row
    (a ``messages`` column of lists of {role, content}; ``conversation_id``, ``task_id``, ``run``, ``outcome``,
    ``survey`` used where present).

    Writes each Dataset, in order, with Ray's parallel Parquet writer into ``out/inputs/NNN/``, a pipeline file
    naming them into ``out/pipeline.toml``, and runs it as :func:`run` does into ``out/results`` (``out`` must be on
    a file system every worker sees). ``simgap run out/pipeline.toml`` gives the same tables. Returns the
    :class:`RunResult`.
    """
    import ray

    context = ray.data.DataContext.get_current()
    kept = context.execution_options.preserve_order
    context.execution_options.preserve_order = True
    try:
        pipeline = _shards.compare_pipeline(out, human, simulators, human_name,
                                            lambda dataset, folder: dataset.write_parquet(folder),
                                            facets, k, seed, settings)
    finally:
        context.execution_options.preserve_order = kept
    return run(pipeline, shards=shards, max_retries=max_retries)
