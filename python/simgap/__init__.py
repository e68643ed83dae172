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

Past one machine: ``simgap.ray.run(pipeline, shards=N)`` and ``simgap.spark.run(spark, pipeline, shards=N)`` run the
pipeline's shards as Ray or Spark tasks and write the output folder ``simgap run`` writes (docs/scale.md).

Errors are ``SimgapConfigError`` (bad settings; also a ``ValueError``; the CLI's exit code 2) or ``SimgapError``
(bad data or files; exit code 1), with the CLI's messages.
"""

from . import _simgap
from ._errors import SimgapConfigError, SimgapError
from ._pipeline import RunResult, Ingested, compare, ingest, run
from ._stages import (
    Codebook,
    FitSample,
    Frequencies,
    KMeans,
    SampleKeys,
    divergence,
    feature_list,
    features,
    fit_sample,
    frequencies,
    kmeans,
    sample_keys,
)

__version__: str = _simgap.__version__
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
    "feature_list",
    "features",
    "fit_sample",
    "frequencies",
    "ingest",
    "kmeans",
    "run",
    "sample_keys",
]
