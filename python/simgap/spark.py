"""simgap on Spark: the pipeline's shards as Spark tasks (``mapInArrow``), the merges on the driver.

    from pyspark.sql import SparkSession
    import simgap.spark
    spark = SparkSession.builder.master("local[2]").getOrCreate()    # or spark-submit / Databricks
    result = simgap.spark.run(spark, "pipelines/demo.toml", out="out/demo", shards=64)

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
