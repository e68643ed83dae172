"""The CLI's commands from Python: `run` (a pipeline file), `ingest` (one input) and `compare` (tables in, the whole
pipeline, tables out), each the CLI's own code run in-process, with their results."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet

from . import _simgap
from ._errors import SimgapConfigError
from ._tables import Output, _arrow_table


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


# ---- the common case ------------------------------------------------------------------------------------------


def _deep_merge(base: dict, extra: Mapping) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _table_options(schema: pa.Schema) -> dict:
    """How the table format reads a table of `schema`: its messages column and the identity columns it has."""
    names = schema.names
    messages = "messages" if "messages" in names else "conversation"
    if messages not in names:
        raise SimgapConfigError(
            f"a conversations table needs a 'messages' (or 'conversation') column of lists of {{role, content}}; "
            f"it has {', '.join(names)}"
        )
    options: dict[str, Any] = {"messages": messages}
    item = schema.field(messages).type
    value_type = getattr(item, "value_type", None)
    if value_type is not None and pa.types.is_struct(value_type) and value_type.get_field_index("timestamp") >= 0:
        options["timestamp"] = "timestamp"
    for column in ("conversation_id", "task_id", "run", "outcome", "survey"):
        if column in names:
            options[column] = column
    return options


def _sources(human: Any, simulators: Mapping[str, Any], human_name: str) -> dict[str, tuple[Any, str]]:
    """Every source with its kind, the humans first; checked."""
    if not simulators:
        raise SimgapConfigError("simulators is empty: name at least one simulator's conversations")
    sources = {human_name: (human, "human"), **{name: (table, "simulator") for name, table in simulators.items()}}
    if len(sources) != 1 + len(simulators):
        raise SimgapConfigError(f"a simulator is named {human_name!r}, the humans' name")
    return sources


def _input_entry(path: str, source: str, kind: str, schema: pa.Schema) -> dict:
    """The ``[[input]]`` table of a conversations table (file, folder or glob) of ``schema``."""
    return {"path": path, "format": "table", "source": source, "kind": kind, "table": _table_options(schema)}


def _write_pipeline(folder: Path, entries: list[dict], facets: list[str] | None, k: int | str, seed: int,
                    human_name: str, settings: Mapping[str, Any] | None) -> Path:
    """``folder/pipeline.toml`` for the inputs ``entries``, output in ``folder/results``, checked as ``simgap run``
    will read it."""
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
    return folder / "pipeline.toml"


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
    sources = _sources(human, simulators, human_name)
    keep = out is not None
    folder = Path(out) if keep else Path(tempfile.mkdtemp(prefix="simgap-compare-"))
    try:
        inputs = folder / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        entries = []
        for index, (name, (data, kind)) in enumerate(sources.items()):
            table = _arrow_table(data, name)
            path = inputs / f"{index:03d}.arrow"
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            entries.append(_input_entry(f"inputs/{path.name}", name, kind, table.schema))
        pipeline_file = _write_pipeline(folder, entries, facets, k, seed, human_name, settings)
        status = _simgap.run_pipeline(str(pipeline_file), None, force, False)
        return _result(status, folder / "results", keep=keep)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
