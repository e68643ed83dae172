"""The sharded run's two steps as the drivers call them: one shard's next round, and one merge. Both run the CLI's
code (``simgap run --shard I/N`` and ``simgap merge``) in-process; every driver (Ray, Spark, a loop of processes)
only decides where the shards run."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import _simgap
from ._errors import SimgapConfigError
from ._pipeline import RunResult, _input_entry, _result, _sources, _write_pipeline

ROUNDS = ("ingest", "frequencies", "features", "sample", "assign")


def output_folder(pipeline: Path, out: str | os.PathLike | None) -> Path:
    """The output folder: ``out``, else the pipeline file's ``[output] dir`` (relative to the file)."""
    if out is not None:
        return Path(out).resolve()
    settings = tomllib.loads(pipeline.read_text())
    return (pipeline.parent / settings["output"]["dir"]).resolve()


def shard_round(pipeline: str, index: int, count: int, parts: str, out: str,
                fail_once: str | None = None) -> tuple[str, float]:
    """Runs shard ``index`` of ``count``'s next round; returns (round, seconds). A rerun (a retried task) redoes the
    same round and rewrites the shard's files whole.

    ``fail_once`` (tests only): a file path; the first task to finish the ``features`` round of shard 0 while it
    does not exist creates it and raises, as a worker that dies after its work would."""
    round_name, seconds = _simgap.shard_round(pipeline, index, count, parts, out)
    if fail_once and round_name == "features" and index == 0 and not os.path.exists(fail_once):
        Path(fail_once).write_text("failed once\n")
        raise RuntimeError(f"injected failure of shard {index}/{count} after its {round_name} round")
    return round_name, seconds


def merge(pipeline: str, parts: str, out: str) -> tuple[str, str]:
    """Merges the round every shard has done: (round, next round), or ("done", exit code)."""
    return _simgap.merge_parts(pipeline, [parts], out)


def drive(pipeline: str | os.PathLike, out: str | os.PathLike | None, parts: str | os.PathLike | None,
          run_round) -> RunResult:
    """The five rounds: ``run_round(pipeline, parts, out)`` runs every shard of one round (on the driver's engine)
    and returns the rounds the shards reported; then the merge. Returns the run's result."""
    pipeline_path = Path(pipeline).resolve()
    out_dir = output_folder(pipeline_path, out)
    parts_dir = Path(parts).resolve() if parts is not None else out_dir / ".shards"
    # The parts of an earlier run that finished are done with: a new run starts from round 1 (its ingest round still
    # finds the unchanged files' parts in OUT/.cache/ingest, and does not read them again).
    state = parts_dir / "merged" / "state.json"
    if state.is_file() and json.loads(state.read_text()).get("merged") == len(ROUNDS):
        shutil.rmtree(parts_dir)
    for expected in ROUNDS:
        reported = set(run_round(str(pipeline_path), str(parts_dir), str(out_dir)))
        if reported != {expected}:
            raise RuntimeError(f"the shards ran rounds {sorted(reported)}, expected {expected}: {parts_dir} holds "
                               "parts of an earlier sharded run; remove it")
        merged, status = merge(str(pipeline_path), str(parts_dir), str(out_dir))
    if merged != "done":
        raise RuntimeError(f"after five rounds the merge says {merged}")
    return _result(int(status), out_dir, keep=True)


def compare_pipeline(out: str | os.PathLike, human: Any, simulators: Mapping[str, Any], human_name: str,
                     write_parquet, facets: list[str] | None, k: int | str, seed: int,
                     settings: Mapping[str, Any] | None) -> Path:
    """The pipeline file of a comparison of distributed tables: ``write_parquet(data, folder)`` writes each source's
    table with the engine's own parallel writer into ``OUT/inputs/NNN/`` (in order), and ``OUT/pipeline.toml`` names
    them (``format = "table"``, the options read from the written files' schema), output in ``OUT/results``."""
    import pyarrow.parquet as pq

    folder = Path(out).resolve()
    entries = []
    for index, (name, (data, kind)) in enumerate(_sources(human, simulators, human_name).items()):
        target = folder / "inputs" / f"{index:03d}"
        if target.exists():
            shutil.rmtree(target)
        write_parquet(data, str(target))
        files = sorted(target.glob("*.parquet"))
        if not files:
            raise SimgapConfigError(f"the {name} table wrote no Parquet file into {target}")
        entries.append(_input_entry(f"inputs/{index:03d}/*.parquet", name, kind, pq.read_schema(files[0])))
    return _write_pipeline(folder, entries, facets, k, seed, human_name, settings)
