"""The stages as functions on tables: features, codebooks (whole tables, sharded fits, the per-pair protocol),
k-means and divergences, through the engine's per-batch functions."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from . import _simgap
from ._errors import SimgapConfigError
from ._tables import Output, _arrow_table, _json, _out

Frequencies = _simgap.Frequencies
SampleKeys = _simgap.SampleKeys
FitSample = _simgap.FitSample


# ---- features -------------------------------------------------------------------------------------------------


def _features_settings(facets, lexical_dimensions, seed, lexicons) -> str:
    facets = [facets] if isinstance(facets, str) else facets
    return _json({
        "facets": None if facets is None else list(facets),
        "lexical_dimensions": lexical_dimensions,
        "seed": seed,
        "lexicons": None if lexicons is None else str(Path(lexicons).resolve()),
    })


def features(conversations: Any, facets: list[str] | str | None = None, *, lexical_dimensions: int = 64,
             seed: int = 0, lexicons: str | os.PathLike | None = None, frequencies: Frequencies | None = None,
             output: Output = "pyarrow", with_rejects: bool = False):
    """The behavioural feature vectors of a conversations table, as ``simgap features`` computes them.

    ``conversations``: a table with ``conversation_id``, ``source``, ``kind`` and ``messages`` (a list of
    {role, content[, timestamp]}), such as :func:`ingest` returns. ``facets``: names (``simgap.feature_list()``;
    default every built-in facet). ``frequencies``: the lexical facet's document frequencies of the whole corpus when
    this table is one shard of it (:func:`frequencies`, merged); by default this table's own.
    Returns the features table (the identity columns, then one float64 column per feature, each tagged with its
    facet); with ``with_rejects=True`` also the conversations that got no row, and why.
    """
    table = _arrow_table(conversations, "conversations")
    settings = _features_settings(facets, lexical_dimensions, seed, lexicons)
    stream, notes = _simgap.features(table, settings, frequencies)
    result = _out(stream, output)
    if not with_rejects:
        return result
    rejects = pa.table({
        "row": pa.array([n[0] for n in notes], pa.uint64()),
        "conversation_id": pa.array([n[1] for n in notes], pa.string()),
        "source": pa.array([n[2] for n in notes], pa.string()),
        "reason": pa.array([n[3] for n in notes], pa.string()),
    })
    return result, _out(rejects, output)


def frequencies(conversations: Any, *, lexical_dimensions: int = 64, seed: int = 0,
                lexicons: str | os.PathLike | None = None) -> Frequencies:
    """The lexical facet's document frequencies of a conversations table: a partial result. Compute one per shard,
    ``merge`` them in any order (they are counts; ``to_json`` / ``from_json`` or pickle carry them between processes)
    and pass the total to :func:`features` with each shard."""
    table = _arrow_table(conversations, "conversations")
    return _simgap.frequencies(table, _features_settings(["lexical"], lexical_dimensions, seed, lexicons))


def feature_list(lexical_dimensions: int = 64) -> list[tuple[str, str]]:
    """Every built-in feature column: (name, facet)."""
    return _simgap.feature_list(lexical_dimensions)


# ---- codebooks and k-means --------------------------------------------------------------------------------------


def _matrix(data: Any, what: str) -> np.ndarray:
    """A 2-D C-contiguous float64 array from a NumPy array or a numeric Arrow table (one column per dimension)."""
    if hasattr(data, "__arrow_c_stream__") or isinstance(data, (pa.Table, pa.RecordBatch)):
        table = _arrow_table(data, what)
        data = np.column_stack([column.to_numpy(zero_copy_only=False) for column in table.columns])
    array = np.ascontiguousarray(data, dtype=np.float64)
    if array.ndim != 2:
        raise SimgapConfigError(f"{what}: expected a 2-D matrix (rows x dimensions), got {array.ndim} dimensions")
    return array


def _features_table(data: Any) -> pa.Table:
    """A features table as the codebook functions read it: text columns as plain strings, and the facet of every
    feature column in the schema's ``simgap.facets`` metadata. :func:`features` writes both; a table that lost its
    metadata (polars drops it) gets it back from the built-in feature names."""
    table = _arrow_table(data, "features")
    fields = []
    for column in table.schema:
        if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
            column = column.with_type(pa.string())
        fields.append(column)
    table = table.cast(pa.schema(fields, metadata=table.schema.metadata))
    if table.schema.metadata and b"simgap.facets" in table.schema.metadata:
        return table
    known = dict(feature_list(64))
    facets = {}
    for name in table.schema.names:
        if name in known:
            facets[name] = known[name]
        elif name.startswith(("lexical_", "embedding_")) and name.split("_", 1)[1].isdigit():
            facets[name] = name.split("_", 1)[0]
    if not facets:
        raise SimgapConfigError(
            f"features: no column is a simgap feature (columns: {', '.join(table.schema.names)}); "
            "simgap.features gives this table"
        )
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"simgap.facets": json.dumps(facets)})


class Codebook:
    """A fitted codebook of one facet: the scaling (and optional PCA) and the k centroids, as ``simgap cluster``
    writes to ``codebooks/<facet>.json``. Fit with :meth:`fit` (a features table) or :meth:`fit_pair` (two
    embedding matrices, the arXiv 2605.07847 protocol); assign with :meth:`assign` or :meth:`assign_matrix`."""

    def __init__(self, native: Any):
        self._native = native

    @classmethod
    def fit(cls, features: Any, facet: str = "all", k: int | Literal["auto"] = "auto", *, restarts: int = 3,
            seed: int = 0, sample_size: int = 200_000, balance: Literal["equal", "proportional"] = "equal",
            pca_variance: float | None = None, precision: Literal["f64", "f32"] = "f64", max_iter: int = 300,
            tol: float = 1e-4, minibatch: int | None = None) -> "Codebook":
        """Fits facet ``facet`` (``all``: every feature column) of a features table (:func:`features`), exactly as
        ``simgap cluster`` with these ``[cluster]`` settings: the same seeded fit sample (``sample_size`` rows, each
        source an equal share with ``balance="equal"``), scaling and k-means. ``k="auto"`` takes a tenth of the
        smallest source, within [2, 50]."""
        table = _features_table(features)
        settings = _json({
            "k": k, "restarts": restarts, "seed": seed, "sample_size": sample_size, "balance": balance,
            "pca_variance": pca_variance, "precision": precision, "max_iter": max_iter, "tol": tol,
            "minibatch": minibatch,
        })
        return cls(_simgap.Codebook.fit(table, facet, settings))

    @classmethod
    def fit_sample(cls, sample: FitSample, keys: SampleKeys, facet: str = "all", k: int | Literal["auto"] = "auto", *,
                   restarts: int = 3, pca_variance: float | None = None, precision: Literal["f64", "f32"] = "f64",
                   max_iter: int = 300, tol: float = 1e-4, minibatch: int | None = None) -> "Codebook":
        """Fits facet ``facet`` on a fit sample merged from shards (:func:`fit_sample` of each shard, merged) with the
        merged :func:`sample_keys` of every shard: the codebook :meth:`fit` gives on the whole table with the same
        settings (the k-means seed is the keys')."""
        settings = _json({"k": k, "restarts": restarts, "pca_variance": pca_variance, "precision": precision,
                          "max_iter": max_iter, "tol": tol, "minibatch": minibatch})
        return cls(_simgap.Codebook.fit_sample(sample, keys, facet, settings))

    @classmethod
    def fit_pair(cls, human: Any, simulator: Any, seed: int = 0) -> tuple["Codebook", np.ndarray, np.ndarray]:
        """The per-pair protocol of arXiv 2605.07847 on two embedding matrices (rows x dimensions): both pooled, rows
        L2-normalised, PCA to 90% of the variance, k-means with K = 500 (capped at the rows), 500 iterations, 5
        restarts. Returns the codebook and each side's cluster labels."""
        human, simulator = _matrix(human, "human"), _matrix(simulator, "simulator")
        native, human_labels, simulator_labels = _simgap.Codebook.fit_pair(
            human, human.shape, simulator, simulator.shape, seed)
        return cls(native), np.asarray(human_labels, dtype=np.uint32), np.asarray(simulator_labels, dtype=np.uint32)

    def assign(self, features: Any, output: Output = "pyarrow"):
        """The cluster of every row of a features table: (conversation_id, source, cluster), cluster null where the
        row has no value in the codebook's columns."""
        return _out(self._native.assign(_features_table(features)), output)

    def assign_matrix(self, matrix: Any) -> np.ndarray:
        """The cluster of every row of a matrix with the codebook's columns (e.g. embeddings)."""
        matrix = _matrix(matrix, "matrix")
        return np.asarray(self._native.assign_matrix(matrix, matrix.shape), dtype=np.uint32)

    def to_json(self) -> str:
        return self._native.to_json()

    @classmethod
    def from_json(cls, text: str) -> "Codebook":
        return cls(_simgap.Codebook.from_json(text))

    def save(self, path: str | os.PathLike) -> None:
        """Writes the codebook as JSON (the format of ``codebooks/<facet>.json``)."""
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Codebook":
        """Reads a codebook that :meth:`save` or ``simgap cluster`` wrote."""
        return cls.from_json(Path(path).read_text())

    facet = property(lambda self: self._native.facet, doc="The facet the codebook was fitted on.")
    k = property(lambda self: self._native.k, doc="The number of clusters.")
    columns = property(lambda self: self._native.columns, doc="The feature columns, in order.")
    inertia = property(lambda self: self._native.inertia, doc="Sum of squared distances in the scaled space.")
    iterations = property(lambda self: self._native.iterations, doc="Lloyd iterations of the winning restart.")
    converged = property(lambda self: self._native.converged, doc="Whether the winning restart converged.")
    fit_rows = property(lambda self: self._native.fit_rows, doc="The rows the codebook was fitted on.")

    @property
    def centroids(self) -> np.ndarray:
        """The centroids in the input space (k x columns)."""
        return np.frombuffer(self._native.centroids, dtype="<f8").reshape(self.k, -1)

    def __reduce__(self):
        return (Codebook.from_json, (self.to_json(),))

    def __repr__(self) -> str:
        return f"Codebook(facet={self.facet!r}, k={self.k}, columns={len(self.columns)}, inertia={self.inertia:.6g})"


def sample_keys(features: Any, seed: int = 0) -> SampleKeys:
    """The first pass of a sharded codebook fit: every row's sampling hash (seeded, per source) of a features table
    or one shard of it. ``merge`` the shards' keys in any order (``to_json`` / ``from_json`` or pickle carry them)."""
    return _simgap.SampleKeys.of(_features_table(features), seed)


def fit_sample(features: Any, keys: SampleKeys, first_row: int, *, sample_size: int = 200_000,
               balance: Literal["equal", "proportional"] = "equal") -> FitSample:
    """The second pass: the rows of a shard that the fit sample takes, given the merged keys of every shard.
    ``first_row`` is the shard's first row in the whole table (the fit sees the sample in table order). ``merge``
    the shards' samples in any order, then :meth:`Codebook.fit_sample`."""
    return _simgap.FitSample.of(_features_table(features), keys, first_row,
                                _json({"sample_size": sample_size, "balance": balance}))


@dataclass
class KMeans:
    """What :func:`kmeans` found."""

    labels: np.ndarray
    centroids: np.ndarray
    inertia: float
    iterations: int
    converged: bool
    restart: int


def kmeans(matrix: Any, k: int, *, restarts: int = 3, max_iter: int = 300, tol: float = 1e-4, seed: int = 0,
           precision: Literal["f64", "f32"] = "f64") -> KMeans:
    """simgap's k-means on a matrix (a NumPy array or a numeric Arrow table, rows x dimensions): k-means++ seeding,
    Lloyd iterations with bounds, ``restarts`` runs keeping the best, tolerance relative to the data's variance (as
    scikit-learn). Deterministic for a seed, on any number of threads."""
    matrix = _matrix(matrix, "matrix")
    native = _simgap.kmeans(matrix, matrix.shape, k, restarts, max_iter, tol, seed, precision)
    centroids = np.frombuffer(native.centroids, dtype="<f8").reshape(native.k, matrix.shape[1])
    return KMeans(labels=np.asarray(native.labels, dtype=np.uint32), centroids=centroids, inertia=native.inertia,
                  iterations=native.iterations, converged=native.converged, restart=native.restart)


# ---- divergences ----------------------------------------------------------------------------------------------


def divergence(reference: Any, source: Any, *, k: int | None = None, counts: bool = False,
               smoothing: str = "counts:0.5", bootstrap: int = 1000, permutations: int = 1000,
               calibration_draws: int = 200, ceiling_splits: int = 100, seed: int = 0,
               labels: tuple[str, str, str] = ("custom", "reference", "source"), output: Output = "polars"):
    """Every divergence between a reference (the humans, P) and a source (a simulator, Q), as one row group of
    ``simgap divergence``: KL both ways (``smoothing``: ``prob`` for the arXiv 2605.07847 protocol, ``counts:ALPHA``,
    or ``none``), JS (unsmoothed), TV, MAUVE, MAUVE* and the frontier integral.

    ``reference`` and ``source`` are cluster labels (integers in [0, k)), or histograms with ``counts=True``.
    Returns one row per measure: the plug-in value (the published protocols' number) with its bootstrap spread, the
    jackknife bias-corrected estimate with its calibrated 95% interval (``lo``, ``hi``), and the columns every row
    shares: the reference's split-half JS ceiling, the permutation p-value, the sizes, k and the smoothing.
    ``labels`` (facet, reference, source) key the random streams, as the CLI's names do.
    """
    if counts:
        p, q = (np.asarray(x, dtype=np.int64) for x in (reference, source))
    else:
        p_labels, q_labels = (np.asarray(x, dtype=np.int64).ravel() for x in (reference, source))
        if (p_labels < 0).any() or (q_labels < 0).any():
            raise SimgapConfigError("cluster labels must be 0 or more")
        k = k if k is not None else int(max(p_labels.max(initial=-1), q_labels.max(initial=-1)) + 1)
        if max(p_labels.max(initial=-1), q_labels.max(initial=-1)) >= k:
            raise SimgapConfigError(f"a cluster label is k = {k} or more")
        p, q = np.bincount(p_labels, minlength=k), np.bincount(q_labels, minlength=k)
    if (p < 0).any() or (q < 0).any():
        raise SimgapConfigError("counts must be 0 or more")
    result = _simgap.divergence([int(c) for c in p], [int(c) for c in q], smoothing, bootstrap, permutations,
                                calibration_draws, ceiling_splits, seed, tuple(labels))
    rows = len(result["measure"])
    shared = {
        "ceiling_js": [result["ceiling_js"][0]] * rows,
        "ceiling_js_lo": [result["ceiling_js"][1]] * rows,
        "ceiling_js_hi": [result["ceiling_js"][2]] * rows,
        "p_value": [result["p_value"]] * rows,
        "n_reference": [result["n_reference"]] * rows,
        "n_source": [result["n_source"]] * rows,
        "k": [result["k"]] * rows,
        "smoothing": [result["smoothing"]] * rows,
    }
    columns = {name: result[name] for name in ("measure", "plugin", "plugin_lo", "plugin_hi", "corrected", "lo", "hi")}
    table = pa.table({**columns, **shared}, schema=pa.schema([
        ("measure", pa.string()), ("plugin", pa.float64()), ("plugin_lo", pa.float64()), ("plugin_hi", pa.float64()),
        ("corrected", pa.float64()), ("lo", pa.float64()), ("hi", pa.float64()), ("ceiling_js", pa.float64()),
        ("ceiling_js_lo", pa.float64()), ("ceiling_js_hi", pa.float64()), ("p_value", pa.float64()),
        ("n_reference", pa.uint64()), ("n_source", pa.uint64()), ("k", pa.uint64()), ("smoothing", pa.string()),
    ]))
    return _out(table, output)
