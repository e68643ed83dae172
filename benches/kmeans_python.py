"""Times scikit-learn's KMeans (Lloyd, greedy k-means++) and faiss's Kmeans (its defaults) on a .npy matrix, for
benches/kmeans_compare.sh. Prints one JSON line per tool: seconds (the fit alone), iterations, inertia (the sum of
squared distances of every row to its nearest centroid, computed the same way for both).

Usage: python benches/kmeans_python.py MATRIX.npy K N_INIT MAX_ITER TOL
"""

import json
import sys
import time

import faiss
import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_info

path, k, n_init, max_iter, tol = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
data = np.load(path)


def inertia_of(centroids):
    index = faiss.IndexFlatL2(data.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    distances, _ = index.search(np.ascontiguousarray(data, dtype=np.float32), 1)
    # Recompute exactly in float64 on the found nearest centroids.
    _, labels = index.search(np.ascontiguousarray(data, dtype=np.float32), 1)
    diff = data - centroids[labels[:, 0]]
    return float(np.einsum("ij,ij->", diff, diff))


started = time.perf_counter()
model = KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=max_iter, tol=tol, algorithm="lloyd",
               random_state=0).fit(data)
seconds = time.perf_counter() - started
print(json.dumps({"tool": "scikit-learn", "seconds": seconds, "iterations": int(model.n_iter_),
                  "inertia": float(model.inertia_), "threads": [i.get("num_threads") for i in threadpool_info()]}))

data32 = np.ascontiguousarray(data, dtype=np.float32)
started = time.perf_counter()
kmeans = faiss.Kmeans(data.shape[1], k, seed=1234)
kmeans.train(data32)
seconds = time.perf_counter() - started
print(json.dumps({"tool": "faiss", "seconds": seconds, "iterations": kmeans.cp.niter,
                  "inertia": inertia_of(kmeans.centroids.astype(np.float64))}))
