"""Tables across the boundary: any Arrow producer, pandas or lists of conversations in; pyarrow or polars out;
settings as JSON for the native module."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import pyarrow as pa

from ._errors import SimgapConfigError


Output = Literal["pyarrow", "polars"]


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
