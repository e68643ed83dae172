"""Recompute the point divergences of divergence.parquet from clusters.parquet's per-source counts, with scipy.

Usage: python tests/python/check_divergence_tables.py OUT_DIR

For every row of OUT/divergence.parquet (facet x compared source), takes the reference's and the source's cluster
counts of that facet from OUT/clusters.parquet and checks, to 1e-9:
- the counts add up to the row's n_reference and n_source, over the row's k clusters;
- js = scipy.spatial.distance.jensenshannon(p, q) ** 2 (natural log; base 2 where the row's unit is bits) and
  tv = sum |p - q| / 2, on the unsmoothed histograms;
- kl_forward = scipy.stats.entropy(P, Q) and kl_backward = entropy(Q, P) on the histograms smoothed as the row's
  `smoothing` says: counts:ALPHA -> (c + alpha) / (n + K alpha); prob -> (p + 1/K) / 2; none -> p (inf stays inf);
- a side with no counts (timing without timestamps) gives no value (null) in all four.
The same is checked for every row of OUT/pairwise.parquet (js, tv, kl_a_b, kl_b_a between two sources).
Only the shared codebook can be checked this way: the script refuses an output made with codebook = "per-pair".
Run by .ci/run on the demo, shi2019 and tau outputs. Exits 1 on any difference, naming each.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

TOLERANCE = 1e-9


def smoothed(counts, smoothing):
    counts = np.asarray(counts, dtype=np.float64)
    k, n = len(counts), counts.sum()
    if smoothing == "none":
        return counts / n
    if smoothing == "prob":
        return (counts / n + 1.0 / k) / 2.0
    if smoothing.startswith("counts:"):
        alpha = float(smoothing.removeprefix("counts:"))
        return (counts + alpha) / (n + k * alpha)
    raise ValueError(f"unknown smoothing {smoothing!r}")


def expected(p_counts, q_counts, smoothing, unit):
    """The four point values between two count vectors, or None for each where a side has no counts."""
    if sum(p_counts) == 0 or sum(q_counts) == 0:
        return {"js": None, "tv": None, "kl_forward": None, "kl_backward": None}
    base = {"nats": None, "bits": 2.0}[unit]
    p = np.asarray(p_counts, dtype=np.float64) / sum(p_counts)
    q = np.asarray(q_counts, dtype=np.float64) / sum(q_counts)
    sp, sq = smoothed(p_counts, smoothing), smoothed(q_counts, smoothing)
    return {
        "js": float(jensenshannon(p, q, base=base) ** 2),
        "tv": float(np.abs(p - q).sum() / 2.0),
        "kl_forward": float(entropy(sp, sq, base=base)),
        "kl_backward": float(entropy(sq, sp, base=base)),
    }


def same(actual, wanted):
    if wanted is None or actual is None:
        return wanted is None and (actual is None or math.isnan(actual))
    if math.isinf(wanted) or math.isinf(actual):
        return actual == wanted
    return abs(actual - wanted) <= TOLERANCE


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    manifest = json.loads((out / "manifest.json").read_text())
    codebook = manifest["stages"]["divergence"]["codebook"]
    if codebook != "shared":
        sys.exit(f"{out}: codebook = {codebook!r}: divergence.parquet does not use the shared codebooks of "
                 "clusters.parquet, so it cannot be recomputed from them")

    clusters = pl.read_parquet(out / "clusters.parquet").sort("facet", "source", "cluster")
    counts = {
        (facet, source): group["count"].to_list()
        for (facet, source), group in clusters.group_by(["facet", "source"], maintain_order=True)
    }
    facet_k = dict(clusters.select("facet", "k").unique().iter_rows())
    for (facet, source), group in clusters.group_by(["facet", "source"], maintain_order=True):
        if group["cluster"].to_list() != list(range(facet_k[facet])):
            sys.exit(f"{out}/clusters.parquet: facet {facet}, source {source}: clusters are not 0..k-1 (k = "
                     f"{facet_k[facet]})")

    failures, checked = [], 0

    def check(table, label, facet, a, b, n_a, n_b, k, smoothing, unit, values):
        nonlocal checked
        for side, n in ((a, n_a), (b, n_b)):
            got = counts.get((facet, side))
            if got is None:
                failures.append(f"{table} {label}: clusters.parquet has no rows for source {side}")
                return
            if len(got) != k or sum(got) != n:
                failures.append(f"{table} {label}: {side} has {len(got)} clusters of {sum(got)} conversations in "
                                f"clusters.parquet, the row says k = {k}, n = {n}")
                return
        for column, wanted in expected(counts[(facet, a)], counts[(facet, b)], smoothing, unit).items():
            actual = values[column]
            checked += 1
            if not same(actual, wanted):
                failures.append(f"{table} {label}: {column} = {actual!r}, scipy gives {wanted!r}")

    divergence = pl.read_parquet(out / "divergence.parquet")
    for row in divergence.iter_rows(named=True):
        label = f"facet {row['facet']}, {row['reference']} vs {row['source']} ({row['smoothing']}, {row['unit']})"
        check("divergence.parquet", label, row["facet"], row["reference"], row["source"], row["n_reference"],
              row["n_source"], row["k"], row["smoothing"], row["unit"], row)

    pairwise = pl.read_parquet(out / "pairwise.parquet")
    for row in pairwise.iter_rows(named=True):
        label = f"facet {row['facet']}, {row['source_a']} vs {row['source_b']} ({row['smoothing']}, {row['unit']})"
        k = facet_k.get(row["facet"], 0)
        values = {"js": row["js"], "tv": row["tv"], "kl_forward": row["kl_a_b"], "kl_backward": row["kl_b_a"]}
        check("pairwise.parquet", label, row["facet"], row["source_a"], row["source_b"], row["n_a"], row["n_b"], k,
              row["smoothing"], row["unit"], values)

    for failure in failures[:50]:
        print(failure, file=sys.stderr)
    if len(failures) > 50:
        print(f"... and {len(failures) - 50} more", file=sys.stderr)
    if failures or checked == 0:
        sys.exit(f"{out}: {len(failures)} problems ({checked} values compared with scipy, tolerance {TOLERANCE})"
                 if checked else f"{out}: nothing to check")
    print(f"{out}: JS, TV and KL both ways of {divergence.height} divergence rows and {pairwise.height} pairwise rows "
          f"({checked} values) equal scipy's within {TOLERANCE}")


if __name__ == "__main__":
    main()
