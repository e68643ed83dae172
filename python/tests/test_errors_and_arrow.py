"""Every way a call can go wrong raises a simgap exception with the CLI's kind of message (naming the column,
facet, setting or record), and tables come in from every Arrow producer a user has (pyarrow, polars, DuckDB,
pandas, lists of messages) and go out as pyarrow or polars."""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import simgap
from conftest import ROOT


@pytest.fixture(scope="module")
def conversations(demo_run) -> pa.Table:
    return pq.read_table(demo_run / "conversations.parquet")


@pytest.fixture(scope="module")
def features(conversations) -> pa.Table:
    return simgap.features(conversations, facets=["usi", "style"])


def test_a_table_without_messages_names_the_column(conversations):
    with pytest.raises(simgap.SimgapConfigError, match=r'no "messages" column \(its columns: conversation_id'):
        simgap.features(conversations.drop_columns(["messages"]))
    with pytest.raises(ValueError):  # a SimgapConfigError is a ValueError
        simgap.features(conversations.drop_columns(["messages"]))


def test_a_non_table_is_refused():
    with pytest.raises(simgap.SimgapConfigError, match="expected an Arrow table"):
        simgap.features(42)


def test_an_unknown_facet_is_named(conversations, features):
    with pytest.raises(simgap.SimgapConfigError, match="nope"):
        simgap.features(conversations, facets=["nope"])
    with pytest.raises(simgap.SimgapConfigError, match=r'facets names "lexical", which the feature table does not have'):
        simgap.Codebook.fit(features, facet="lexical")


def test_k_above_the_rows_is_refused(features):
    with pytest.raises(simgap.SimgapConfigError, match="k = 5000 is more than the 1400 rows"):
        simgap.Codebook.fit(features, facet="usi", k=5000)
    with pytest.raises(simgap.SimgapConfigError) as error:
        simgap.kmeans(np.zeros((5, 2)), k=10)
    assert error.value.exit_code == 2


def test_embeddings_of_another_width_are_refused(features):
    rng = np.random.default_rng(1)
    with pytest.raises(simgap.SimgapConfigError, match="4 dimensions, the simulator's 5"):
        simgap.Codebook.fit_pair(rng.normal(size=(30, 4)), rng.normal(size=(30, 5)))
    codebook, _, _ = simgap.Codebook.fit_pair(rng.normal(size=(40, 6)), rng.normal(size=(40, 6)))
    with pytest.raises(simgap.SimgapConfigError, match="has 3 columns; the codebook was fitted on"):
        codebook.assign_matrix(rng.normal(size=(5, 3)))
    usi = simgap.Codebook.fit(features, facet="usi", k=5)
    with pytest.raises(simgap.SimgapConfigError, match="lacks 20 of the codebook's columns"):
        usi.assign(features.select(["conversation_id", "source", "kind", "task_id", "run", "outcome"]))


def test_bad_settings_in_a_pipeline_name_the_key(tmp_path):
    pipeline = tmp_path / "bad.toml"
    pipeline.write_text((ROOT / "pipelines" / "demo.toml").read_text().replace("[[input]]", "[cluster]\nkk = 3\n\n[[input]]", 1)
                        .replace('"../data/', f'"{ROOT}/data/').replace('"../out/demo"', '"out"'))
    with pytest.raises(simgap.SimgapConfigError, match="kk") as error:
        simgap.run(pipeline)
    assert error.value.exit_code == 2


def test_bad_records_are_kept_with_their_reasons(tmp_path):
    data = tmp_path / "chats.jsonl"
    good = '{"conversation_id": "a", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}'
    data.write_text(good + "\n{not json\n" + good.replace('"a"', '"b"') + "\n")
    ingested = simgap.ingest(data, format="jsonl", source="people", kind="human")
    assert ingested.counts["read"] == 3 and ingested.counts["accepted"] == 2 and ingested.counts["rejected"] == 1
    assert ingested.conversations.num_rows == 2
    assert ingested.rejects.num_rows == 1
    reject = ingested.rejects.to_pylist()[0]
    assert "chats.jsonl" in str(reject) and "line" in str(reject).lower()


def test_a_run_with_every_record_rejected_is_a_data_error(tmp_path):
    (tmp_path / "chats.jsonl").write_text("{not json\n")
    entries = [{"path": "chats.jsonl", "format": "jsonl", "source": s, "kind": k} for s, k in
               (("people", "human"), ("bot", "simulator"))]
    lines = []
    for entry in entries:
        lines.append("[[input]]")
        lines.extend(f'{key} = "{value}"' for key, value in entry.items())
    (tmp_path / "p.toml").write_text("\n".join(lines) + "\n")
    with pytest.raises(simgap.SimgapError) as error:
        simgap.run(tmp_path / "p.toml", out=tmp_path / "out")
    assert error.value.exit_code == 1 and not isinstance(error.value, simgap.SimgapConfigError)
    assert "no conversation was accepted" in str(error.value)


def test_tables_from_every_producer_give_the_same_features(conversations):
    expected = simgap.features(conversations, facets=["usi"])
    polars_frame = pl.from_arrow(conversations)
    assert simgap.features(polars_frame, facets=["usi"]).equals(expected)
    import duckdb

    relation = duckdb.sql("select * from conversations")
    assert simgap.features(relation, facets=["usi"]).equals(expected)  # a DuckDB relation, through its capsule
    assert simgap.features(conversations.to_batches()[0], facets=["usi"]).num_rows <= expected.num_rows
    as_polars = simgap.features(conversations, facets=["usi"], output="polars")
    assert isinstance(as_polars, pl.DataFrame) and as_polars.height == expected.num_rows


def test_lists_of_messages_are_accepted():
    human = [[{"role": "user", "content": f"hi, my order {i} is late"}, {"role": "assistant", "content": "sorry"},
              {"role": "user", "content": "thanks"}] for i in range(40)]
    bot = [[{"role": "user", "content": "Hello! I would like assistance with my order."},
            {"role": "assistant", "content": "sure"}] for _ in range(40)]
    result = simgap.compare(human=human, simulators={"bot": bot}, facets=["usi", "style"], k=4,
                            settings={"divergence": {"bootstrap": 50, "permutations": 50, "calibration_draws": 20,
                                                     "ceiling_splits": 10}})
    divergence = result.tables["divergence"]
    assert set(divergence["source"]) == {"bot"} and divergence.filter(pl.col("facet") == "style")["js"][0] > 0.1
    with pytest.raises(simgap.SimgapConfigError, match=r"human\[0\]\[0\]"):
        simgap.compare(human=[[{"role": "user"}]], simulators={"bot": bot})


def test_codebooks_and_frequencies_survive_pickle_and_files(features, conversations, tmp_path):
    codebook = simgap.Codebook.fit(features, facet="style", k=6, seed=2)
    again = pickle.loads(pickle.dumps(codebook))
    assert again.to_json() == codebook.to_json()
    codebook.save(tmp_path / "style.json")
    loaded = simgap.Codebook.load(tmp_path / "style.json")
    assert loaded.assign(features).equals(codebook.assign(features))
    assert loaded.centroids.shape == (6, len(loaded.columns))
    frequencies = simgap.frequencies(conversations)
    assert pickle.loads(pickle.dumps(frequencies)).to_json() == frequencies.to_json()
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(simgap.SimgapError, match="not a simgap codebook"):
        simgap.Codebook.load(tmp_path / "bad.json")


def test_divergence_rejects_mismatched_histograms():
    with pytest.raises(simgap.SimgapConfigError, match="same number of clusters"):
        simgap.divergence([1, 2, 3], [1, 2], counts=True)
    with pytest.raises(simgap.SimgapConfigError, match="smoothing"):
        simgap.divergence([0, 1], [1, 0], smoothing="laplace")


def test_kmeans_in_f32_agrees_with_f64_on_separated_blobs():
    rng = np.random.default_rng(5)
    data = np.vstack([rng.normal(0, 1, (300, 8)), rng.normal(8, 1, (300, 8)), rng.normal(-8, 1, (300, 8))])
    f64, f32 = simgap.kmeans(data, k=3, seed=1), simgap.kmeans(data, k=3, seed=1, precision="f32")
    assert f32.centroids.shape == (3, 8) and abs(f32.inertia - f64.inertia) / f64.inertia < 1e-4
    with pytest.raises(simgap.SimgapConfigError, match="precision"):
        simgap.kmeans(data, k=3, precision="f16")


def test_an_arrow_array_or_a_table_without_identities_is_refused(features):
    with pytest.raises(TypeError, match="got an Arrow array"):
        simgap._simgap.features(pa.array([1, 2, 3]), "{}")
    with pytest.raises(simgap.SimgapConfigError, match=r'no "source" column'):
        simgap.Codebook.fit(features.drop_columns(["source"]), facet="usi")
