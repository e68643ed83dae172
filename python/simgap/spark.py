"""simgap on Spark: the pipeline's shards as Spark tasks (``mapInArrow``), the merges on the driver.

    from pyspark.sql import SparkSession
    import simgap.spark
    spark = SparkSession.builder.master("local[2]").getOrCreate()    # or spark-submit / Databricks
    result = simgap.spark.run(spark, "pipelines/demo.toml", out="out/demo", shards=64)

DataFrames: ``simgap.spark.compare(spark, human=frame, simulators={"gpt-4o": frame}, out=...)`` writes each
DataFrame with Spark's Parquet writer and runs the comparison the same way.

Each of the five rounds (ingest, frequencies, features, sample, assign) is one ``mapInArrow`` over a DataFrame of
shard numbers, one partition per shard: the task runs its shard's round with the engine, writing its partial result
to the parts folder; Spark retries a failed task (``spark.task.maxFailures``; ``local[N,F]`` in local mode), and a
retried shard rewrites its files whole. The driver merges each round, and the last merge writes the output folder
``simgap run`` writes, every table byte-identical to it. The parts folder and the inputs must be readable by every
executor and the driver (a shared file system, DBFS on Databricks; docs/scale.md). Executors need the ``simgap``
package (``PYSPARK_PYTHON`` pointing at a Python that has it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import _shards
from ._pipeline import RunResult


def _round_task(pipeline: str, count: int, parts: str, out: str, fail_once: str | None):
    def task(batches):
        import pyarrow as pa

        for batch in batches:
            rounds, seconds = [], []
            for index in batch.column(0).to_pylist():
                name, took = _shards.shard_round(pipeline, index, count, parts, out, fail_once)
                rounds.append(name)
                seconds.append(took)
            yield pa.RecordBatch.from_pydict({"shard": batch.column(0), "round": rounds, "seconds": seconds})

    return task


def run(spark, pipeline: str | os.PathLike, out: str | os.PathLike | None = None, *, shards: int | None = None,
        parts: str | os.PathLike | None = None, _fail_once: str | None = None) -> RunResult:
    """Runs the pipeline file on the Spark session ``spark`` in ``shards`` shards (default: its default
    parallelism), equal to ``simgap run``.

    Reads the pipeline file and its inputs (from every executor); writes the parts folder (default ``OUT/.shards``)
    and then the output folder. Returns the :class:`RunResult` of the output folder. Raises ``SimgapConfigError`` /
    ``SimgapError`` from the merges, and Spark's error when a task fails more often than Spark retries it.
    """
    count = shards or spark.sparkContext.defaultParallelism

    def run_round(pipeline_path: str, parts_dir: str, out_dir: str) -> list[str]:
        task = _round_task(pipeline_path, count, parts_dir, out_dir, _fail_once)
        frame = spark.range(0, count, 1, numPartitions=count).mapInArrow(task, "shard long, round string, seconds double")
        return [row["round"] for row in frame.collect()]

    return _shards.drive(pipeline, out, parts, run_round)


def compare(spark, human: Any, simulators: Mapping[str, Any], *, out: str | os.PathLike, shards: int | None = None,
            facets: list[str] | None = None, k: int | str = "auto", seed: int = 0, human_name: str = "human",
            settings: Mapping[str, Any] | None = None) -> RunResult:
    """:func:`simgap.compare` for Spark DataFrames: ``human`` and each simulator a DataFrame of conversations, one
    per row (a ``messages`` column of arrays of structs {role, content}; ``conversation_id``, ``task_id``, ``run``,
    ``outcome``, ``survey`` used where present).

    Writes each DataFrame, partitions in order, with Spark's Parquet writer into ``out/inputs/NNN/``, a pipeline file
    naming them into ``out/pipeline.toml``, and runs it as :func:`run` does into ``out/results`` (``out`` on a file
    system every executor sees). ``simgap run out/pipeline.toml`` gives the same tables. The rows' order is the
    partitions' order, as for any table: the same rows after a shuffle (``repartition``) are another order, which
    changes the codebooks' fit sample order and so may change the numbers. Returns the :class:`RunResult`.
    """
    pipeline = _shards.compare_pipeline(out, human, simulators, human_name,
                                        lambda frame, folder: frame.write.mode("overwrite").parquet(folder),
                                        facets, k, seed, settings)
    return run(spark, pipeline, shards=shards)
