"""The package gives the CLI's numbers: `simgap.run` and `simgap.compare` write the CLI's tables byte for byte, and
the stage functions (`features`, `Codebook.fit` / `assign`, `divergence`) give exactly the values of
features.parquet, codebooks/<facet>.json, assignments.parquet and divergence.parquet, on the demo and on shi2019."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

import simgap
from conftest import ROOT, cli

TABLES = ("features", "assignments", "divergence", "pairwise", "mixtures", "clusters", "usi", "usi_features")


def assert_same_tables(expected: Path, got: Path, names=TABLES) -> None:
    for name in names:
        a, b = expected / f"{name}.parquet", got / f"{name}.parquet"
        assert a.exists() and b.exists(), name
        assert a.read_bytes() == b.read_bytes(), f"{name}.parquet differs between {expected} and {got}"


def test_run_writes_the_cli_tables(demo_run, tmp_path):
    result = simgap.run(ROOT / "pipelines" / "demo.toml", out=tmp_path / "out")
    assert result.exit_status == 0
    assert result.counts["read"] == 1400 and result.counts["accepted"] == 1400 and result.counts["rejected"] == 0
    assert_same_tables(demo_run, tmp_path / "out", TABLES + ("history",))
    divergence = result.tables["divergence"]
    assert isinstance(divergence, pl.DataFrame)
    assert divergence.equals(pl.read_parquet(demo_run / "divergence.parquet"))
    assert len(result.rejects) == 0


def by_source(conversations: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The conversations of each source, in table order (the order the CLI ingested them)."""
    order = list(dict.fromkeys(conversations["source"].to_list()))
    return {source: conversations.filter(pl.col("source") == source) for source in order}


def test_compare_on_polars_tables_equals_the_cli(demo_run, tmp_path):
    sources = by_source(pl.read_parquet(demo_run / "conversations.parquet"))
    human = sources.pop("human")
    result = simgap.compare(human=human, simulators=sources, out=tmp_path / "cmp")
    assert result.exit_status == 0
    assert_same_tables(demo_run, tmp_path / "cmp" / "results")
    assert set(result.tables["usi"]["source"]) == set(sources)
    # The folder it leaves is a pipeline the CLI reruns to the same bytes.
    cli("run", str(tmp_path / "cmp" / "pipeline.toml"), "--out", str(tmp_path / "again"))
    assert_same_tables(tmp_path / "cmp" / "results", tmp_path / "again")


def test_compare_without_out_keeps_the_tables_in_memory(demo_run):
    sources = by_source(pl.read_parquet(demo_run / "conversations.parquet"))
    human = sources.pop("human").to_arrow()
    result = simgap.compare(human=human, simulators={name: t.to_arrow() for name, t in sources.items()})
    assert result.out is None
    assert result.tables["divergence"].equals(pl.read_parquet(demo_run / "divergence.parquet"))


def stage_functions_equal_the_cli(out: Path) -> None:
    """features, codebooks, assignments and the divergences of one facet from the package, against `out`."""
    conversations = pq.read_table(out / "conversations.parquet")
    features = simgap.features(conversations)
    written = pq.read_table(out / "features.parquet")
    assert features.equals(written), "features differ from features.parquet"
    assert features.schema.metadata[b"simgap.facets"] == written.schema.metadata[b"simgap.facets"]

    assignments = pl.read_parquet(out / "assignments.parquet")
    divergence = pl.read_parquet(out / "divergence.parquet")
    for facet in ("usi", "all"):
        codebook = simgap.Codebook.fit(features, facet=facet)
        expected = json.loads((out / "codebooks" / f"{facet}.json").read_text())
        got = json.loads(codebook.to_json())
        expected.pop("seconds"), got.pop("seconds")
        assert got == expected, f"codebook {facet} differs from codebooks/{facet}.json"
        labels = codebook.assign(features, output="polars")
        assert labels["cluster"].equals(assignments[f"cluster_{facet}"].rename("cluster")), f"assignments of {facet} differ"

        human = labels.filter(pl.col("source") == "human")["cluster"].to_numpy()
        for source in sorted(set(labels["source"]) - {"human"}):
            mine = labels.filter(pl.col("source") == source)["cluster"].to_numpy()
            got = simgap.divergence(human, mine, k=codebook.k, labels=(facet, "human", source))
            row = divergence.filter((pl.col("facet") == facet) & (pl.col("source") == source)).row(0, named=True)
            for measure in ("kl_forward", "kl_backward", "js", "tv", "mauve"):
                mine_row = got.filter(pl.col("measure") == measure).row(0, named=True)
                assert mine_row["plugin"] == row[measure], (facet, source, measure)
                assert mine_row["corrected"] == row[f"{measure}_corrected"], (facet, source, measure)
                assert (mine_row["lo"], mine_row["hi"]) == (row[f"{measure}_corrected_lo"], row[f"{measure}_corrected_hi"])
            assert got["ceiling_js"][0] == row["human_ceiling_js"]
            assert got["p_value"][0] == row["p_value"]


def test_stage_functions_equal_the_cli_on_the_demo(demo_run):
    stage_functions_equal_the_cli(demo_run)


def test_stage_functions_equal_the_cli_on_shi2019(shi2019_run):
    _, out = shi2019_run
    stage_functions_equal_the_cli(out)


def test_run_on_shi2019_equals_the_cli(shi2019_run, tmp_path):
    pipeline, out = shi2019_run
    result = simgap.run(pipeline, out=tmp_path / "out")
    assert result.counts["read"] == result.counts["accepted"] + result.counts["rejected"] + result.counts["filtered"]
    assert_same_tables(out, tmp_path / "out")


def test_frequencies_of_shards_merged_give_the_whole_tables_features(demo_run):
    conversations = pq.read_table(demo_run / "conversations.parquet")
    shards = [conversations.slice(0, 333), conversations.slice(333, 700), conversations.slice(1033)]
    total = None
    for shard in reversed(shards):
        part = simgap.Frequencies.from_json(simgap.frequencies(shard).to_json())
        total = part if total is None else total.merge(part)
    rows = [simgap.features(shard, frequencies=total) for shard in shards]
    import pyarrow as pa

    assert pa.concat_tables(rows).equals(pq.read_table(demo_run / "features.parquet"))


def test_ingest_gives_the_cli_conversations(demo_run):
    ingested = simgap.ingest(ROOT / "data" / "demo" / "sim-near-human.jsonl", format="openai",
                             source="sim-near-human", kind="simulator")
    assert ingested.counts == {"read": 280, "accepted": 280, "rejected": 0, "filtered": 0}
    cli_rows = pl.read_parquet(demo_run / "conversations.parquet").filter(pl.col("source") == "sim-near-human")
    mine = pl.from_arrow(ingested.conversations)
    assert mine.drop("input_file").equals(cli_rows.drop("input_file"))


def test_kmeans_is_deterministic_and_matches_its_labels():
    rng = np.random.default_rng(7)
    data = np.vstack([rng.normal(0, 1, (200, 4)), rng.normal(6, 1, (200, 4))])
    first = simgap.kmeans(data, k=2, seed=3)
    second = simgap.kmeans(data, k=2, seed=3)
    assert np.array_equal(first.labels, second.labels) and first.inertia == second.inertia
    assert sorted(np.bincount(first.labels)) == [200, 200]
    nearest = ((data[:, None, :] - first.centroids[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.array_equal(nearest, first.labels)


def test_a_codebook_fitted_from_shards_equals_the_whole_tables(demo_run):
    import pickle

    import pyarrow as pa

    features = pq.read_table(demo_run / "features.parquet")
    bounds = [(0, 97), (97, 500), (597, 803)]
    shards = [(first, features.slice(first, length)) for first, length in bounds]
    keys = None
    for _, shard in reversed(shards):
        part = pickle.loads(pickle.dumps(simgap.sample_keys(shard)))
        keys = part if keys is None else keys.merge(part)
    assert keys.rows == {"human": 560, "sim-near-human": 280, "sim-polite-verbose": 280, "sim-terse-impatient": 280}
    sample = None
    for first, shard in [shards[1], shards[2], shards[0]]:
        part = pickle.loads(pickle.dumps(simgap.fit_sample(shard, keys, first)))
        sample = part if sample is None else sample.merge(part)
    for facet in ("usi", "all"):
        sharded = json.loads(simgap.Codebook.fit_sample(sample, keys, facet=facet).to_json())
        written = json.loads((demo_run / "codebooks" / f"{facet}.json").read_text())
        sharded.pop("seconds"), written.pop("seconds")
        assert sharded == written, f"codebook {facet} from shards differs from codebooks/{facet}.json"
    labels = [simgap.Codebook.fit_sample(sample, keys, facet="usi").assign(shard) for _, shard in shards]
    assert pa.concat_tables(labels)["cluster"].to_pylist() == \
        pl.read_parquet(demo_run / "assignments.parquet")["cluster_usi"].to_list()
