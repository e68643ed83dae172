"""Converts the shared MultiWOZ, chitchat and tau-bench samples into the table shapes `format = "table"` reads, the
way the corpora that ship as tables are laid out, with pyarrow's writers and their defaults:

- wildchat/train-0000{0,1,2}-of-00003.parquet: WildChat-1M's schema (conversation_hash, model, timestamp,
  conversation: list<struct<content, country, hashed_ip, header, language, redacted, role, state, timestamp, toxic,
  turn_identifier>>, turn, language, openai_moderation, detoxify_moderation, toxic, redacted, state, country,
  hashed_ip, header), the three samples interleaved over three shards, `model` naming the sample;
- lmsys.parquet and lmsys.ndjson: LMSYS-Chat-1M's schema (conversation_id, model, conversation:
  list<struct<content, role>>, turn, language, openai_moderation, redacted);
- datasets-cache/tau/default/0.0.0/<hash>/tau-train.arrow: an Arrow IPC *stream*, as the Hugging Face `datasets`
  cache writes it (with its dataset_info.json beside it), tau-bench with task_id, trial and reward columns;
- multiwoz.feather: an Arrow IPC file (Feather v2);
- chitchat_messages.csv: one row per message (conversation_id, turn, role, text, ts, ratings), each conversation's
  rows written in reverse turn order, so that only the `order` column restores them;
- messages/source=<sample>/part-0.parquet: one row per message, hive-partitioned by sample;
- bad/: one table per bad-row class, each beside good rows: bad-rows.parquet (a null conversation, a message without
  a role, a role no map names), wrong-type.parquet (an int64 content field), bad-messages.csv (a row without an id,
  an order that is not a number).

The roles are the samples' own: MultiWOZ's even turns are the user's, chitchat's first sender is the user, tau-bench
names its roles. `language`, `toxic` and `turn` are made up deterministically (a row in seven is German, one in five
toxic) so that a filter has rows to drop. Usage: make_table_corpora.py SHARED_DATA_SAMPLES OUT_DIR
"""

import json
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.feather as feather
import pyarrow.parquet as pq

START = datetime(2023, 4, 9, tzinfo=timezone.utc)


def multiwoz(samples):
    """MultiWOZ dialogues as (id, messages, extra); even turns are the user's."""
    with zipfile.ZipFile(samples / "multiwoz" / "convlab3_multiwoz21_val.json.zip") as archive:
        dialogues = json.loads(archive.read("val.json"))
    for dialogue_id, dialogue in dialogues.items():
        messages = [
            {"role": "user" if i % 2 == 0 else "assistant", "content": turn["text"], "timestamp": None}
            for i, turn in enumerate(dialogue["log"])
        ]
        yield dialogue_id, messages, {}


def chitchat(samples):
    """chitchat chats; the first sender is the user."""
    chats = json.loads((samples / "chitchat" / "chitchat_first500.json").read_text())
    for chat_id, chat in chats.items():
        roles = {}
        messages = []
        for message in (m for turn in chat["messages"] for m in turn):
            role = roles.setdefault(message["sender"], ["user", "assistant"][len(roles)] if len(roles) < 2 else None)
            messages.append({"role": role, "content": message["text"], "timestamp": message["timestamp"]})
        yield chat_id, messages, {"ratings": chat.get("ratings")}


def tau_bench(samples):
    """tau-bench trajectories: id `{task_id}-{trial}`, roles as written."""
    trajectories = json.loads((samples / "tau-bench" / "historical_trajectories_gpt-4o-airline.json").read_text())
    for record in trajectories:
        messages = [{"role": m["role"], "content": m.get("content"), "timestamp": None} for m in record["traj"]]
        extra = {"task_id": str(record["task_id"]), "trial": record["trial"], "reward": record["reward"]}
        yield f"{record['task_id']}-{record['trial']}", messages, extra


def samples_by_name(samples):
    return {"multiwoz": list(multiwoz(samples)), "chitchat": list(chitchat(samples)), "tau-bench": list(tau_bench(samples))}


def made_up(index, messages):
    """The made-up WildChat columns of the index-th conversation."""
    turns = sum(1 for m in messages if m["role"] == "user")
    return {
        "language": "German" if index % 7 == 3 else "English",
        "toxic": index % 5 == 4,
        "turn": turns,
        "timestamp": START + timedelta(minutes=index),
    }


def parse_time(text):
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def wildchat(by_name, out):
    """WildChat-shaped rows, the samples interleaved, dealt round-robin into three shards."""
    rows = []
    iterators = {name: iter(records) for name, records in by_name.items()}
    while iterators:
        for name in list(iterators):
            record = next(iterators[name], None)
            if record is None:
                del iterators[name]
                continue
            conversation_id, messages, _ = record
            index = len(rows)
            extra = made_up(index, messages)
            rows.append({
                "conversation_hash": conversation_id,
                "model": name,
                "timestamp": extra["timestamp"],
                "conversation": [
                    {
                        "content": m["content"],
                        "country": "Germany" if extra["language"] == "German" else "United States",
                        "hashed_ip": f"{index:064x}",
                        "header": {"accept-language": "en-US", "user-agent": "Mozilla/5.0"},
                        "language": extra["language"],
                        "redacted": False,
                        "role": m["role"],
                        "state": None,
                        "timestamp": parse_time(m["timestamp"]),
                        "toxic": extra["toxic"],
                        "turn_identifier": index * 1000 + i,
                    }
                    for i, m in enumerate(messages)
                ],
                "turn": extra["turn"],
                "language": extra["language"],
                "openai_moderation": [{"flagged": extra["toxic"], "categories": {"harassment": extra["toxic"]}}],
                "detoxify_moderation": [{"toxicity": 0.9 if extra["toxic"] else 0.01}],
                "toxic": extra["toxic"],
                "redacted": False,
                "state": None,
                "country": "United States",
                "hashed_ip": f"{index:064x}",
                "header": {"accept-language": "en-US", "user-agent": "Mozilla/5.0"},
                "user_kind": "simulator" if name == "tau-bench" else "human",
            })
    message = pa.struct([
        ("content", pa.string()), ("country", pa.string()), ("hashed_ip", pa.string()),
        ("header", pa.struct([("accept-language", pa.string()), ("user-agent", pa.string())])),
        ("language", pa.string()), ("redacted", pa.bool_()), ("role", pa.string()), ("state", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")), ("toxic", pa.bool_()), ("turn_identifier", pa.int64()),
    ])
    schema = pa.schema([
        ("conversation_hash", pa.string()), ("model", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC")),
        ("conversation", pa.list_(message)), ("turn", pa.int64()), ("language", pa.string()),
        ("openai_moderation", pa.list_(pa.struct([("flagged", pa.bool_()), ("categories", pa.struct([("harassment", pa.bool_())]))]))),
        ("detoxify_moderation", pa.list_(pa.struct([("toxicity", pa.float64())]))),
        ("toxic", pa.bool_()), ("redacted", pa.bool_()), ("state", pa.string()), ("country", pa.string()),
        ("hashed_ip", pa.string()),
        ("header", pa.struct([("accept-language", pa.string()), ("user-agent", pa.string())])),
        ("user_kind", pa.string()),
    ])
    folder = out / "wildchat"
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(3):
        table = pa.Table.from_pylist(rows[shard::3], schema=schema)
        pq.write_table(table, folder / f"train-{shard:05d}-of-00003.parquet", row_group_size=256)
    return rows


def lmsys_table(by_name):
    rows = []
    for name in ("multiwoz", "chitchat"):
        for conversation_id, messages, _ in by_name[name]:
            extra = made_up(len(rows), messages)
            rows.append({
                "conversation_id": conversation_id,
                "model": name,
                "conversation": [{"content": m["content"], "role": m["role"]} for m in messages],
                "turn": extra["turn"],
                "language": extra["language"],
                "openai_moderation": [{"flagged": extra["toxic"]}],
                "redacted": False,
            })
    schema = pa.schema([
        ("conversation_id", pa.string()), ("model", pa.string()),
        ("conversation", pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))),
        ("turn", pa.int64()), ("language", pa.string()),
        ("openai_moderation", pa.list_(pa.struct([("flagged", pa.bool_())]))), ("redacted", pa.bool_()),
    ])
    return pa.Table.from_pylist(rows, schema=schema)


def datasets_cache(by_name, out):
    """tau-bench as a `datasets` cache shard: an Arrow IPC stream."""
    folder = out / "datasets-cache" / "tau" / "default" / "0.0.0" / "0123456789abcdef"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"task_id": extra["task_id"], "trial": extra["trial"], "reward": extra["reward"],
         "traj": [{"role": m["role"], "content": m["content"]} for m in messages]}
        for _, messages, extra in by_name["tau-bench"]
    ]
    schema = pa.schema([
        ("task_id", pa.string()), ("trial", pa.int64()), ("reward", pa.float64()),
        ("traj", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ])
    table = pa.Table.from_pylist(rows, schema=schema)
    with pa.OSFile(str(folder / "tau-train.arrow"), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for batch in table.to_batches(max_chunksize=64):
            writer.write_batch(batch)
    (folder / "dataset_info.json").write_text(json.dumps({"dataset_name": "tau", "splits": {"train": {"num_examples": len(rows)}}}))


def message_rows(records, with_extra):
    rows = []
    for conversation_id, messages, extra in records:
        turns = [
            {"conversation_id": conversation_id, "turn": i, "role": m["role"], "text": m["content"], "ts": m["timestamp"]}
            for i, m in enumerate(messages)
        ]
        for row in reversed(turns) if with_extra else turns:
            if with_extra:
                row["ratings"] = None if extra["ratings"] is None else json.dumps(extra["ratings"], sort_keys=True)
            rows.append(row)
    return rows


def bad_tables(out):
    """Tables with every bad-row class among good rows."""
    folder = out / "bad"
    folder.mkdir(parents=True, exist_ok=True)
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    rows = [
        {"conversation_id": "good-1", "conversation": [{"role": "user", "content": "hello"}]},
        {"conversation_id": "null-conversation", "conversation": None},
        {"conversation_id": "no-role", "conversation": [{"role": "user", "content": "a"}, {"role": None, "content": "b"}]},
        {"conversation_id": "unknown-role", "conversation": [{"role": "narrator", "content": "once upon a time"}]},
        {"conversation_id": "good-2", "conversation": [{"role": "user", "content": "bye"}]},
    ]
    schema = pa.schema([("conversation_id", pa.string()), ("conversation", pa.list_(message))])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "bad-rows.parquet")
    typed = pa.struct([("role", pa.string()), ("content", pa.int64())])
    wrong = [{"conversation_id": f"typed-{i}", "conversation": [{"role": "user", "content": i}]} for i in range(3)]
    schema = pa.schema([("conversation_id", pa.string()), ("conversation", pa.list_(typed))])
    pq.write_table(pa.Table.from_pylist(wrong, schema=schema), folder / "wrong-type.parquet")
    (folder / "bad-messages.csv").write_text(
        "conversation_id,turn,role,content\n"
        "m1,0,user,hi\n"
        ",1,user,orphan\n"
        "m2,0,user,hello\n"
        "m2,one,assistant,not a number\n"
        "m3,0,user,fine\n"
    )


def main():
    samples, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    by_name = samples_by_name(samples)
    wildchat(by_name, out)
    lmsys = lmsys_table(by_name)
    pq.write_table(lmsys, out / "lmsys.parquet")
    with open(out / "lmsys.ndjson", "w") as ndjson:
        for row in lmsys.to_pylist():
            ndjson.write(json.dumps(row) + "\n")
    datasets_cache(by_name, out)
    multiwoz_rows = [
        {"conversation_id": i, "conversation": [{"role": m["role"], "content": m["content"]} for m in messages]}
        for i, messages, _ in by_name["multiwoz"]
    ]
    feather.write_feather(pa.Table.from_pylist(multiwoz_rows), out / "multiwoz.feather")
    chitchat_rows = message_rows(by_name["chitchat"], with_extra=True)
    pacsv.write_csv(pa.Table.from_pylist(chitchat_rows), out / "chitchat_messages.csv")
    per_message = []
    for name in ("multiwoz", "tau-bench"):
        per_message += [dict(row, source=name) for row in message_rows(by_name[name], with_extra=False)]
    table = pa.Table.from_pylist(per_message).drop_columns(["ts"])
    pads.write_dataset(table, out / "messages", format="parquet", partitioning=["source"], partitioning_flavor="hive",
                       basename_template="part-{i}.parquet", existing_data_behavior="overwrite_or_ignore")
    bad_tables(out)
    counts = {name: len(records) for name, records in by_name.items()}
    print(json.dumps({"conversations": counts, "out": str(out)}))


if __name__ == "__main__":
    main()
