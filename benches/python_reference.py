"""The simgap pipeline the way a researcher writes it today in Python, as the baseline for benches/end_to_end.sh.

Same inputs, same work, stage by stage:
  ingest      the corpus's JSONL files (canonical lines and OpenAI-style lines, as `simgap synth` writes them) read
              with polars `read_ndjson` (Rust, multi-threaded: the loader a Python user reaches for today), one row
              per conversation, written to Parquet (zstd)
  features    the 19 USI features + n_turns with the `re` module (benches/usi_reference.py, the implementation
              CI checks simgap against), written to Parquet
  cluster     scikit-learn StandardScaler + KMeans (k, n_init = restarts, k-means++, seed) on the usi columns,
              fitted on at most SAMPLE rows per run (all when fewer), then every row assigned
  divergence  numpy histograms per source, scipy for JS (jensenshannon squared) and KL (entropy, counts + 0.5),
              bootstrap by resampling each source's cluster labels with replacement, the human split-half ceiling
              by random halves, and a permutation p-value by shuffling the pooled labels

Usage: python benches/python_reference.py CORPUS_DIR OUT_DIR [--k 20] [--restarts 3] [--bootstrap 1000]
           [--permutations 1000] [--ceiling-splits 100] [--sample 200000] [--seed 0]
CORPUS_DIR is a folder written by `simgap synth` (its pipeline.toml names the files, sources and kinds).
Prints one JSON object: seconds per stage and in total, rows, and the JS per source (to compare with simgap's).
Single process, as such scripts are; numpy/scikit-learn may use more than one core inside their own routines.
"""

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
import usi_reference  # noqa: E402  (the re-based USI features)

REPO = Path(__file__).resolve().parent.parent


def ingest(corpus, out):
    """Every input of the corpus's pipeline into one DataFrame, one row per conversation."""
    pipeline = tomllib.loads((corpus / "pipeline.toml").read_text())
    frames = []
    for spec in pipeline["input"]:
        frame = pl.read_ndjson(corpus / spec["path"])
        if spec["format"] == "openai":
            frame = frame.rename({"id": "conversation_id"})
        for key in ("source", "kind"):  # the pipeline's label wins over the record's, as in simgap
            if key in spec:
                frame = frame.with_columns(pl.lit(spec[key]).alias(key))
        messages = pl.col("messages").list.eval(
            pl.struct(pl.element().struct.field("role"), pl.element().struct.field("content")))
        frames.append(frame.select("conversation_id", "source", "kind", messages))
    conversations = pl.concat(frames, how="vertical_relaxed")
    conversations.write_parquet(out / "conversations.parquet", compression="zstd")
    return conversations


def features(conversations, out):
    cues = usi_reference.load_cues(REPO / "src/features/cues.toml")
    rows = []
    for row in conversations.iter_rows(named=True):
        values = usi_reference.features(row["kind"], row["messages"], cues)
        if values is not None:
            rows.append({"conversation_id": row["conversation_id"], "source": row["source"], "kind": row["kind"],
                         **values})
    table = pd.DataFrame(rows, columns=["conversation_id", "source", "kind", *usi_reference.FEATURES])
    table.to_parquet(out / "features.parquet", compression="zstd", index=False)
    return table


def cluster(table, k, restarts, sample, seed):
    values = table[usi_reference.FEATURES].to_numpy(dtype=np.float64)
    values = np.where(np.isnan(values), np.nanmean(values, axis=0), values)  # a missing value: the column mean
    rng = np.random.default_rng(seed)
    fit_rows = values if len(values) <= sample else values[rng.choice(len(values), sample, replace=False)]
    scaler = StandardScaler().fit(fit_rows)
    model = KMeans(n_clusters=k, n_init=restarts, init="k-means++", random_state=seed).fit(scaler.transform(fit_rows))
    return model.predict(scaler.transform(values))


def js(p_counts, q_counts):
    return jensenshannon(p_counts / p_counts.sum(), q_counts / q_counts.sum()) ** 2


def divergence(table, labels, k, bootstrap, permutations, ceiling_splits, seed):
    rng = np.random.default_rng(seed)
    by_source = {s: labels[(table["source"] == s).to_numpy()] for s in sorted(table["source"].unique())}
    kinds = dict(zip(table["source"], table["kind"]))
    reference = next(s for s in by_source if kinds[s] == "human")
    human = by_source[reference]
    human_counts = np.bincount(human, minlength=k)
    results = {}
    for source, own in by_source.items():
        if source == reference:
            continue
        counts = np.bincount(own, minlength=k)
        point = js(human_counts, counts)
        kl = entropy((human_counts + 0.5) / (human_counts.sum() + 0.5 * k), (counts + 0.5) / (counts.sum() + 0.5 * k))
        replicates = [js(np.bincount(rng.choice(human, len(human)), minlength=k),
                         np.bincount(rng.choice(own, len(own)), minlength=k)) for _ in range(bootstrap)]
        half = min(len(own), len(human) // 2)
        ceiling = []
        for _ in range(ceiling_splits):
            order = rng.permutation(len(human))
            ceiling.append(js(np.bincount(human[order[half:]], minlength=k),
                              np.bincount(human[order[:half]], minlength=k)))
        pooled = np.concatenate([human, own])
        at_least = 0
        for _ in range(permutations):
            shuffled = rng.permutation(pooled)
            at_least += js(np.bincount(shuffled[:len(human)], minlength=k),
                           np.bincount(shuffled[len(human):], minlength=k)) >= point - 1e-12
        results[source] = {
            "js": point, "kl_forward": kl,
            "js_lo": float(np.percentile(replicates, 2.5)) if replicates else None,
            "js_hi": float(np.percentile(replicates, 97.5)) if replicates else None,
            "human_ceiling_js": float(np.mean(ceiling)) if ceiling else None,
            "p_value": (1 + at_least) / (1 + permutations) if permutations else None,
        }
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--ceiling-splits", type=int, default=100)
    parser.add_argument("--sample", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    started = time.perf_counter()
    conversations = ingest(args.corpus, args.out)
    seconds["ingest"] = time.perf_counter() - started
    mark = time.perf_counter()
    table = features(conversations, args.out)
    seconds["features"] = time.perf_counter() - mark
    mark = time.perf_counter()
    labels = cluster(table, args.k, args.restarts, args.sample, args.seed)
    seconds["cluster"] = time.perf_counter() - mark
    mark = time.perf_counter()
    results = divergence(table, labels, args.k, args.bootstrap, args.permutations, args.ceiling_splits, args.seed)
    seconds["divergence"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "conversations": len(conversations), "feature_rows": len(table),
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
