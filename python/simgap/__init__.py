"""simgap: how far LLM user simulators are from real users.

The engine of the ``simgap`` command line as a Python package: the same stages, the same numbers, the same files.
Tables go in and come out as Arrow without copies (anything with ``__arrow_c_stream__``: pyarrow, polars, DuckDB).

The common case, as easy as ``mauve.compute_mauve``::

    import simgap
    result = simgap.compare(human=human_table, simulators={"gpt-4o": gpt_table, "llama": llama_table}, k=20)
    result.tables["divergence"]          # polars DataFrame: per simulator and facet, corrected JS / KL / TV / MAUVE
    result.tables["usi"]                 # the User-Sim Index per simulator

A pipeline file, as the CLI runs it: ``simgap.run("pipelines/demo.toml")``.
The stages one by one: ``ingest`` -> ``features`` -> ``Codebook.fit`` / ``Codebook.assign`` -> ``divergence``;
``kmeans`` on any matrix. For callers that shard the work themselves, the partial results merge in any order:
``frequencies`` (features), ``sample_keys`` and ``fit_sample`` (then ``Codebook.fit_sample``), and cluster counts
(``divergence(..., counts=True)``).

Errors are ``SimgapConfigError`` (bad settings; also a ``ValueError``; the CLI's exit code 2) or ``SimgapError``
(bad data or files; exit code 1), with the CLI's messages.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet

from . import _simgap
from ._errors import SimgapConfigError, SimgapError

__version__: str = _simgap.__version__
Frequencies = _simgap.Frequencies
SampleKeys = _simgap.SampleKeys
FitSample = _simgap.FitSample

__all__ = [
    "Codebook",
    "FitSample",
    "Frequencies",
    "SampleKeys",
    "KMeans",
    "RunResult",
    "Ingested",
    "SimgapConfigError",
    "SimgapError",
    "compare",
    "divergence",
    "features",
    "fit_sample",
    "frequencies",
    "ingest",
    "kmeans",
    "run",
    "sample_keys",
]

Output = Literal["pyarrow", "polars"]

# The tables a run writes, by name (OUT/<name>.parquet), in pipeline order.
RUN_TABLES = (
    "conversations",
    "features",
    "assignments",
    "divergence",
    "pairwise",
    "mixtures",
    "clusters",
    "usi",
    "usi_features",
    "history",
)


# ---- tables in and out ------------------------------------------------------------------------------------------


def _arrow_table(data: Any, what: str) -> pa.Table:
    """`data` as a pyarrow Table: Arrow objects through the PyCapsule interface (no copy), pandas through pyarrow,
    and a list of conversations (each a list of {"role", "content"} dicts) as a conversation-per-row table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if hasattr(data, "__arrow_c_array__"):
        return pa.Table.from_batches([pa.record_batch(data)])
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, list):
        return _conversations_from_lists(data, what)
    raise SimgapConfigError(
        f"{what}: expected an Arrow table (pyarrow, polars, DuckDB, pandas) or a list of conversations, "
        f"got {type(data).__name__}"
    )


def _conversations_from_lists(conversations: list, what: str) -> pa.Table:
    """A list of conversations, each a list of messages ({"role": ..., "content": ...}), as a table with
    `conversation_id` (the position, from 0) and `messages`."""
    rows = []
    for index, conversation in enumerate(conversations):
        if not isinstance(conversation, list):
            raise SimgapConfigError(f"{what}[{index}]: a conversation is a list of messages, got {type(conversation).__name__}")
        messages = []
        for turn, message in enumerate(conversation):
            if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
                raise SimgapConfigError(f"{what}[{index}][{turn}]: a message is a dict with 'role' and 'content'")
            messages.append({"role": str(message["role"]), "content": message["content"]})
        rows.append({"conversation_id": str(index), "messages": messages})
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema([("conversation_id", pa.string()), ("messages", pa.list_(message))])
    return pa.Table.from_pylist(rows, schema=schema)


def _out(stream: Any, output: Output):
    """A stream simgap computed, as a pyarrow Table (taking its buffers) or a polars DataFrame."""
    table = pa.table(stream)
    if output == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if output != "pyarrow":
        raise SimgapConfigError(f"output must be 'pyarrow' or 'polars', not {output!r}")
    return table


def _json(settings: Mapping[str, Any]) -> str:
    """Settings as JSON, leaving out the keys set to None (the pipeline file's defaults)."""
    return json.dumps({key: value for key, value in settings.items() if value is not None})


# ---- the pipeline ---------------------------------------------------------------------------------------------


class _Tables(Mapping):
    """The tables of a run's output folder, read (as polars DataFrames) when first looked up."""

    def __init__(self, out: Path, eager: bool):
        self._out = out
        self._loaded: dict[str, Any] = {}
        self._names = [name for name in RUN_TABLES if (out / f"{name}.parquet").exists()]
        if eager:
            for name in self._names:
                self[name]

    def __getitem__(self, name: str):
        if name not in self._names:
            raise KeyError(f"{name!r}: no {name}.parquet in {self._out} (tables: {', '.join(self._names)})")
        if name not in self._loaded:
            import polars as pl

            self._loaded[name] = pl.read_parquet(self._out / f"{name}.parquet")
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"<simgap tables {', '.join(self._names)} in {self._out}>"


@dataclass
class RunResult:
    """What a run gave: its exit status (0, or 3 when records were rejected), the output folder (None when it was a
    temporary one, already removed), the counts of the manifest, the rejected records, and the output tables as
    polars DataFrames (``result.tables["divergence"]``)."""

    exit_status: int
    out: Path | None
    counts: dict
    rejects: Any
    tables: Mapping[str, Any]
    manifest: dict = field(repr=False)

    def __repr__(self) -> str:
        tables = ", ".join(self.tables)
        return f"RunResult(exit_status={self.exit_status}, out={self.out}, counts={self.counts}, tables=[{tables}])"


def _rejects(path: Path):
    import polars as pl

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    if not rows:
        return pl.DataFrame(schema={"file": pl.String, "location": pl.String, "reason": pl.String})
    return pl.DataFrame([{key: json.dumps(v) if isinstance(v, (dict, list)) else v for key, v in r.items()} for r in rows])


def _result(exit_status: int, out: Path, keep: bool) -> RunResult:
    manifest = json.loads((out / "manifest.json").read_text())
    ingest_section = manifest.get("stages", {}).get("ingest", manifest.get("ingest", {}))
    counts = {key: ingest_section[key] for key in ("read", "accepted", "rejected", "filtered") if key in ingest_section}
    if "sources" in ingest_section:
        counts["sources"] = {name: s.get("conversations") for name, s in ingest_section["sources"].items()}
    result = RunResult(
        exit_status=exit_status,
        out=out if keep else None,
        counts=counts,
        rejects=_rejects(out / "rejects.jsonl"),
        tables=_Tables(out, eager=not keep),
        manifest=manifest,
    )
    return result


def run(pipeline: str | os.PathLike, out: str | os.PathLike | None = None, force: bool = False,
        strict: bool = False) -> RunResult:
    """Runs a pipeline file, exactly as ``simgap run PIPELINE [--out OUT] [--force] [--strict]``.

    Reads the pipeline file and its inputs; writes the output folder the CLI writes (tables, codebooks, report,
    manifest; a rerun recomputes only what changed, ``force=True`` everything). Returns a :class:`RunResult` whose
    ``tables`` are the output Parquet tables as polars DataFrames, read when first looked up. Raises
    ``SimgapConfigError`` for bad settings and ``SimgapError`` for bad data, with the CLI's messages.
    """
    pipeline = Path(pipeline)
    status = _simgap.run_pipeline(str(pipeline), None if out is None else str(out), force, strict)
    if out is None:
        import tomllib

        settings = tomllib.loads(pipeline.read_text())
        out = pipeline.parent / settings["output"]["dir"]
    return _result(status, Path(out), keep=True)


@dataclass
class Ingested:
    """The conversations table (``conversations.parquet``'s rows and schema), the rejected records with their
    reasons (file, location, reason), and the counts (read = accepted + rejected + filtered)."""

    conversations: Any
    rejects: Any
    counts: dict


def ingest(path: str | os.PathLike, format: str, source: str | None = None, kind: str | None = None, *,
           output: Output = "pyarrow", strict: bool = False, **options: Any) -> Ingested:
    """Reads transcripts in one of simgap's formats into the conversations table, as ``simgap ingest`` does.

    ``path`` is a file, folder or glob; ``format`` one of jsonl, json, openai, sharegpt, tau, tau2, csv, multiwoz,
    recllmsim, chitchat, table; ``source`` and ``kind`` ("human" or "simulator") label the conversations (required
    unless the records name them). Other keyword arguments are the ``[[input]]`` keys of the format (for example
    ``table={"messages": "conversation"}`` or ``csv={...}``), as in a pipeline file.
    Returns an :class:`Ingested`: ``conversations`` (pyarrow, or polars with ``output="polars"``), ``rejects`` and
    the counts. Nothing is lost: every record read is accepted, rejected (with its reason) or filtered.
    """
    entry = {"path": str(Path(path).resolve()), "format": format, "source": source, "kind": kind, **options}
    with tempfile.TemporaryDirectory(prefix="simgap-ingest-") as work:
        work = Path(work)
        text = _simgap.pipeline_toml(json.dumps({"input": [{k: v for k, v in entry.items() if v is not None}]}), str(work))
        (work / "pipeline.toml").write_text(text)
        _simgap.ingest_pipeline(str(work / "pipeline.toml"), str(work / "out"), strict)
        out = work / "out"
        conversations = pyarrow.parquet.read_table(out / "conversations.parquet")
        manifest = json.loads((out / "manifest.json").read_text())
        section = manifest.get("stages", {}).get("ingest", manifest.get("ingest", {}))
        counts = {key: section[key] for key in ("read", "accepted", "rejected", "filtered") if key in section}
        rejects = _rejects(out / "rejects.jsonl")
    if output == "polars":
        import polars as pl

        conversations = pl.from_arrow(conversations)
    elif output == "pyarrow":
        rejects = rejects.to_arrow()
    else:
        raise SimgapConfigError(f"output must be 'pyarrow' or 'polars', not {output!r}")
    return Ingested(conversations=conversations, rejects=rejects, counts=counts)


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


# ---- the common case ------------------------------------------------------------------------------------------


def _deep_merge(base: dict, extra: Mapping) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _table_options(table: pa.Table) -> dict:
    """How the table format reads `table`: its messages column and the identity columns it has."""
    names = table.schema.names
    messages = "messages" if "messages" in names else "conversation"
    if messages not in names:
        raise SimgapConfigError(
            f"a conversations table needs a 'messages' (or 'conversation') column of lists of {{role, content}}; "
            f"it has {', '.join(names)}"
        )
    options: dict[str, Any] = {"messages": messages}
    item = table.schema.field(messages).type
    value_type = getattr(item, "value_type", None)
    if value_type is not None and pa.types.is_struct(value_type) and value_type.get_field_index("timestamp") >= 0:
        options["timestamp"] = "timestamp"
    for column in ("conversation_id", "task_id", "run", "outcome", "survey"):
        if column in names:
            options[column] = column
    return options


def compare(human: Any, simulators: Mapping[str, Any], *, facets: list[str] | None = None,
            k: int | Literal["auto"] = "auto", seed: int = 0, human_name: str = "human",
            out: str | os.PathLike | None = None, force: bool = False,
            settings: Mapping[str, Any] | None = None) -> RunResult:
    """Compares every simulator with the humans: the whole pipeline (features, codebooks, divergences with
    bias-corrected intervals and the human ceiling, USI), as ``simgap run`` runs it.

    ``human`` and each value of ``simulators`` are conversation-per-row tables (a ``messages`` column of lists of
    {role, content[, timestamp]}; ``conversation_id``, ``task_id``, ``run``, ``outcome`` and ``survey`` are used
    where present; :func:`ingest`'s output qualifies) or lists of conversations. ``facets``: the feature facets
    (default every built-in one); ``k``: clusters per codebook; ``settings``: any other pipeline tables, e.g.
    ``{"divergence": {"bootstrap": 200}}``.

    The tables are written as Arrow IPC files (their buffers as they are) beside a pipeline file, into ``out`` (or a
    temporary folder, removed before returning): ``simgap run OUT/pipeline.toml`` reproduces the results byte for
    byte. Returns a :class:`RunResult`; ``result.tables["divergence"]`` and ``["usi"]`` are the headline tables.
    """
    if not simulators:
        raise SimgapConfigError("simulators is empty: name at least one simulator's conversations")
    sources = {human_name: (human, "human"), **{name: (table, "simulator") for name, table in simulators.items()}}
    if len(sources) != 1 + len(simulators):
        raise SimgapConfigError(f"a simulator is named {human_name!r}, the humans' name")
    keep = out is not None
    folder = Path(out) if keep else Path(tempfile.mkdtemp(prefix="simgap-compare-"))
    try:
        inputs = folder / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        entries = []
        for index, (name, (data, kind)) in enumerate(sources.items()):
            table = _arrow_table(data, name)
            options = _table_options(table)
            path = inputs / f"{index:03d}.arrow"
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            entries.append({"path": f"inputs/{path.name}", "format": "table", "source": name, "kind": kind,
                            "table": options})
        pipeline: dict[str, Any] = {
            "output": {"dir": "results"},
            "input": entries,
            "cluster": {"k": k, "seed": seed},
            "divergence": {"reference": human_name, "seed": seed},
        }
        if facets is not None:
            pipeline["features"] = {"facets": list(facets)}
        if settings:
            pipeline = _deep_merge(pipeline, settings)
        text = _simgap.pipeline_toml(json.dumps(pipeline), str(folder))
        (folder / "pipeline.toml").write_text(text)
        status = _simgap.run_pipeline(str(folder / "pipeline.toml"), None, force, False)
        return _result(status, folder / "results", keep=keep)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
