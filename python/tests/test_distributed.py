"""The sharded run on Ray (local, 2 CPUs) and on Spark (local[2]) writes the CLI's tables byte for byte, on the demo
and on shi2019, also when a task fails once after its work and the engine retries it. Ray and PySpark are pinned in
.ci/run; where they are not installed the tests are skipped, except under CI=true, where that is a failure."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from test_same_as_cli import assert_same_tables

# Every table of a run: those the stage functions are checked on, plus ingest's and the report's.
OUTPUTS = ("conversations", "features", "assignments", "divergence", "pairwise", "mixtures", "clusters", "usi",
           "usi_features", "history")
FILES = ("rejects.jsonl", "features_rejects.jsonl", "tables/main.csv", "tables/main.tex", "tables/usi.csv",
         "tables/facets.csv", "history.csv")


def need(module: str):
    """The module; the test is skipped where it is not installed, but under CI=true, where it must be."""
    if os.environ.get("CI") == "true":
        return __import__(module)
    return pytest.importorskip(module)


def assert_same_outputs(expected: Path, got: Path) -> None:
    assert_same_tables(expected, got, OUTPUTS)
    for name in FILES:
        assert (expected / name).read_bytes() == (got / name).read_bytes(), f"{name} differs"


@pytest.fixture(scope="module")
def ray_local():
    ray = need("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def spark_local():
    need("pyspark")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    # local[2, 2]: two cores, and a failed task is tried twice (the default local mode does not retry).
    spark = (SparkSession.builder.master("local[2,2]").appName("simgap-tests").config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("FATAL")
    yield spark
    spark.stop()


def test_ray_run_equals_the_cli_with_a_retried_task(ray_local, demo_run, tmp_path):
    import simgap.ray

    failed = tmp_path / "failed-once"
    result = simgap.ray.run(ROOT / "pipelines" / "demo.toml", out=tmp_path / "out", shards=3, _fail_once=str(failed))
    assert failed.exists(), "the injected failure did not happen"
    assert result.exit_status == 0
    assert_same_outputs(demo_run, tmp_path / "out")


def test_ray_run_equals_the_cli_on_shi2019(ray_local, shi2019_run, tmp_path):
    import simgap.ray

    pipeline, expected = shi2019_run
    simgap.ray.run(pipeline, out=tmp_path / "out", shards=2)
    assert_same_outputs(expected, tmp_path / "out")


def test_spark_run_equals_the_cli_with_a_retried_task(spark_local, demo_run, tmp_path):
    import simgap.spark

    failed = tmp_path / "failed-once"
    result = simgap.spark.run(spark_local, ROOT / "pipelines" / "demo.toml", out=tmp_path / "out", shards=3,
                              _fail_once=str(failed))
    assert failed.exists(), "the injected failure did not happen"
    assert result.exit_status == 0
    assert_same_outputs(demo_run, tmp_path / "out")


def test_spark_run_equals_the_cli_on_shi2019(spark_local, shi2019_run, tmp_path):
    import simgap.spark

    pipeline, expected = shi2019_run
    simgap.spark.run(spark_local, pipeline, out=tmp_path / "out", shards=2)
    assert_same_outputs(expected, tmp_path / "out")


def test_a_task_that_keeps_failing_fails_the_run(ray_local, tmp_path):
    import simgap
    import simgap.ray

    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "pipelines" / "demo.toml").read_text().replace("../data/demo", str(tmp_path / "nothing")))
    with pytest.raises((simgap.SimgapError, Exception)) as failure:
        simgap.ray.run(bad, out=tmp_path / "out", shards=2, max_retries=0)
    assert "nothing" in str(failure.value)


def test_a_second_ray_run_starts_again_and_equals_the_first(ray_local, demo_run, tmp_path):
    import simgap.ray

    pipeline = ROOT / "pipelines" / "demo.toml"
    simgap.ray.run(pipeline, out=tmp_path / "out", shards=2)
    simgap.ray.run(pipeline, out=tmp_path / "out", shards=2)
    assert_same_outputs(demo_run, tmp_path / "out")


def demo_sources(demo_run: Path):
    """The demo's conversations per source, in the CLI's order, as pyarrow tables (the humans popped first)."""
    import polars as pl

    from test_same_as_cli import by_source

    sources = {name: frame.to_arrow() for name, frame in
               by_source(pl.read_parquet(demo_run / "conversations.parquet")).items()}
    return sources.pop("human"), sources


def test_ray_compare_of_datasets_equals_the_cli(ray_local, demo_run, tmp_path):
    import simgap.ray

    human, simulators = demo_sources(demo_run)
    as_dataset = lambda table: ray_local.data.from_arrow(table).repartition(3)  # noqa: E731  three blocks each
    result = simgap.ray.compare(as_dataset(human), {n: as_dataset(t) for n, t in simulators.items()},
                                out=tmp_path / "cmp", shards=2)
    assert result.exit_status == 0
    assert_same_tables(demo_run, tmp_path / "cmp" / "results")


def test_spark_compare_of_dataframes_equals_the_cli(spark_local, demo_run, tmp_path):
    import simgap.spark

    human, simulators = demo_sources(demo_run)
    from pyspark.sql.pandas.types import from_arrow_schema

    def as_frame(table):  # the Arrow schema kept (messages stay structs, not maps); slices in order, one per core
        return spark_local.createDataFrame(table.to_pandas(), schema=from_arrow_schema(table.schema))

    result = simgap.spark.compare(spark_local, as_frame(human), {n: as_frame(t) for n, t in simulators.items()},
                                  out=tmp_path / "cmp", shards=2)
    assert result.exit_status == 0
    assert_same_tables(demo_run, tmp_path / "cmp" / "results")
