"""Parquet written with the ecosystem's defaults and every common codec reads in simgap.

Usage: python tests/python/check_parquet_codecs.py SIMGAP_BINARY DEMO_OUT WORK_DIR

DEMO_OUT is a finished run of pipelines/demo.toml (its conversations.parquet gives the ids). For each codec that
pyarrow and pandas write (snappy, the default of both; gzip, lz4, zstd, brotli, none), an embeddings file of one
4-dimensional vector per conversation is written by pyarrow (and once by pandas with its defaults), then
`simgap features` runs the demo with `[features.embeddings]` pointing at it; every conversation must get its
vector back, exactly. Exits 1 on the first codec that fails.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
CODECS = ["snappy", "gzip", "lz4", "zstd", "brotli", "none"]


def main():
    binary, demo_out, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    conversations = pq.read_table(demo_out / "conversations.parquet", columns=["conversation_id", "source"])
    ids, sources = conversations["conversation_id"].to_pylist(), conversations["source"].to_pylist()
    vectors = [[float(i), float(len(c)), 0.5, -1.0] for i, c in enumerate(ids)]
    table = pa.table({"conversation_id": ids, "source": sources, "embedding": vectors})
    pipeline = (REPO / "pipelines" / "demo.toml").read_text().replace("../data/demo", str(REPO / "data" / "demo"))
    writers = [(codec, lambda path, codec=codec: pq.write_table(table, path, compression=codec)) for codec in CODECS]
    writers.append(("pandas defaults", lambda path: table.to_pandas().to_parquet(path)))
    for name, write in writers:
        folder = work / name.replace(" ", "-")
        out = folder / "out"
        out.mkdir(parents=True)
        shutil.copy(demo_out / "conversations.parquet", out / "conversations.parquet")
        write(folder / "embeddings.parquet")
        codecs = {pq.ParquetFile(folder / "embeddings.parquet").metadata.row_group(0).column(0).compression}
        (folder / "p.toml").write_text(
            pipeline.replace("../out/demo", "out")
            + '\n[features]\nfacets = ["usi", "embedding"]\n[features.embeddings]\npath = "embeddings.parquet"\n'
            + 'source_column = "source"\nvector_column = "embedding"\n'
        )
        run = subprocess.run([binary, "-q", "features", str(folder / "p.toml")], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"{name} ({codecs}): simgap features exited {run.returncode}: {run.stderr.strip()}")
        features = pq.read_table(out / "features.parquet").to_pandas()
        got = features[[f"emb_{d:03d}" for d in range(4)]].to_numpy()
        expected = np.array([vectors[ids.index(i)] for i in features["conversation_id"]])
        if len(features) != len(ids) or not np.array_equal(got, expected):
            sys.exit(f"{name} ({codecs}): the vectors read back differ from the ones written")
        print(f"{name:16} written as {sorted(codecs)}: {len(features)} vectors read back exactly")


if __name__ == "__main__":
    main()
