"""Writes the k-means benchmark matrices once: well-separated blobs (scikit-learn's make_blobs, seeded), as .npy for
scikit-learn and faiss and as Parquet (columns x0..x{d-1}) for simgap and linfa-clustering.

Usage: python benches/kmeans_data.py OUT_DIR N D K [N D K ...]
"""

import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import make_blobs

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
shapes = [tuple(int(v) for v in sys.argv[i:i + 3]) for i in range(2, len(sys.argv), 3)]
for n, d, k in shapes:
    name = f"{out_dir}/blobs-{n}x{d}-k{k}"
    if os.path.exists(name + ".parquet"):
        continue
    data, _ = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=1.0, center_box=(-20, 20), random_state=0)
    np.save(name + ".npy", np.ascontiguousarray(data, dtype=np.float64))
    table = pa.table({f"x{j}": data[:, j] for j in range(d)})
    pq.write_table(table, name + ".parquet", compression="zstd")
    print(f"wrote {name}.npy and .parquet", file=sys.stderr)
