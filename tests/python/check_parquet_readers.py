"""conversations.parquet must open as-is in polars, pyarrow, pandas and DuckDB, with the documented schema.

Usage: python tests/python/check_parquet_readers.py OUT_DIR EXPECTED_ROWS
Run by .ci/run on the demo pipeline's output.
"""

import sys

import duckdb
import polars as pl
import pyarrow.parquet as pq

out_dir, expected_rows = sys.argv[1], int(sys.argv[2])
path = f"{out_dir}/conversations.parquet"

frame = pl.read_parquet(path)
assert frame.height == expected_rows, (frame.height, expected_rows)
assert frame.columns == [
    "conversation_id", "source", "kind", "task_id", "run", "outcome", "survey",
    "messages", "input_file", "input_record", "metadata",
], frame.columns
assert frame.schema["messages"] == pl.List(pl.Struct({"role": pl.String, "content": pl.String, "timestamp": pl.String}))
assert frame.filter(pl.col("kind") == "human").height > 0

table = pq.read_table(path)
assert table.num_rows == expected_rows
pandas_frame = table.to_pandas()
first_user = next(m for m in pandas_frame.iloc[0]["messages"] if m["role"] == "user")
assert isinstance(first_user["content"], str) and first_user["content"]

(duck_rows,) = duckdb.sql(f"select count(*) from '{path}'").fetchall()[0]
assert duck_rows == expected_rows
(user_messages,) = duckdb.sql(
    f"select count(*) from (select unnest(messages) as m from '{path}') where m.role = 'user'"
).fetchall()[0]
assert user_messages > expected_rows

print(f"polars, pyarrow, pandas and DuckDB read {expected_rows} conversations and {user_messages} user messages")
