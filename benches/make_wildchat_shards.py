"""Generates a WildChat-shaped corpus for the table-ingest benchmark: CONVERSATIONS rows over SHARDS Parquet files
(pyarrow's defaults: snappy, dictionary pages), WildChat-1M's columns (conversation_hash, model, timestamp,
conversation: list<struct<content, language, role, timestamp, toxic, turn_identifier>>, turn, language, toxic,
redacted, country), 1 to 6 user turns each with an assistant reply, texts drawn from a fixed vocabulary. Seeded:
the same arguments give the same files. `language` is English in about 70% of rows, `toxic` true in about 5%, so
the benchmark's filter (`language = 'English' AND turn >= 2 AND NOT toxic`) keeps a bit over half.

Usage: make_wildchat_shards.py OUT_DIR CONVERSATIONS SHARDS
"""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WORDS = (
    "i need to change my flight booking please can you help me with the hotel reservation for two nights "
    "thanks what is the price of a ticket to boston tomorrow morning it was cancelled again why is this so "
    "slow sure here is my user id and the order number could you check the refund status great perfect"
).split()
LANGUAGES = np.array(["English"] * 14 + ["Chinese", "Russian", "French", "Spanish", "German", "Portuguese"])
MODELS = np.array(["gpt-3.5-turbo", "gpt-4", "gpt-4o-mini"])


def texts(rng, count, low, high):
    """`count` texts of `low` to `high` words."""
    lengths = rng.integers(low, high + 1, count)
    words = np.array(WORDS)[rng.integers(0, len(WORDS), lengths.sum())]
    ends = np.cumsum(lengths)
    return [" ".join(words[end - n:end]) for n, end in zip(lengths, ends)]


def shard(rng, first, count):
    turns = rng.integers(1, 7, count)
    messages = 2 * turns
    total = int(messages.sum())
    roles = np.tile(np.array(["user", "assistant"]), total // 2)
    contents = texts(rng, total, 3, 40)
    language = LANGUAGES[rng.integers(0, len(LANGUAGES), count)]
    toxic = rng.random(count) < 0.05
    start = np.datetime64("2023-04-09T00:00:00", "us") + (first + np.arange(count)) * np.timedelta64(30, "s")
    row_of_message = np.repeat(np.arange(count), messages)
    message_index = np.arange(total) - np.repeat(np.cumsum(messages) - messages, messages)
    stamps = start[row_of_message] + message_index * np.timedelta64(5, "s")
    struct = pa.StructArray.from_arrays(
        [
            pa.array(contents, pa.string()),
            pa.array(language[row_of_message]),
            pa.array(roles),
            pa.array(stamps, pa.timestamp("us", tz="UTC")),
            pa.array(toxic[row_of_message]),
            pa.array(first * 100 + np.arange(total), pa.int64()),
        ],
        names=["content", "language", "role", "timestamp", "toxic", "turn_identifier"],
    )
    offsets = np.concatenate([[0], np.cumsum(messages)]).astype(np.int32)
    conversation = pa.ListArray.from_arrays(pa.array(offsets), struct)
    return pa.table({
        "conversation_hash": pa.array([f"{first + i:032x}" for i in range(count)]),
        "model": pa.array(MODELS[rng.integers(0, len(MODELS), count)]),
        "timestamp": pa.array(start, pa.timestamp("us", tz="UTC")),
        "conversation": conversation,
        "turn": pa.array(turns, pa.int64()),
        "language": pa.array(language),
        "toxic": pa.array(toxic),
        "redacted": pa.array(np.zeros(count, dtype=bool)),
        "country": pa.array(np.where(language == "English", "United States", "China")),
    })


def main():
    out, conversations, shards = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    per_shard = -(-conversations // shards)
    for index in range(shards):
        first = index * per_shard
        count = min(per_shard, conversations - first)
        rng = np.random.default_rng([1, index])
        pq.write_table(shard(rng, first, count), out / f"train-{index:05d}-of-{shards:05d}.parquet")


if __name__ == "__main__":
    main()
