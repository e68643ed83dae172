#!/usr/bin/env bash
# Table ingest (`format = "table"`): a generated WildChat-shaped corpus (benches/make_wildchat_shards.py, several
# Parquet shards) read by `simgap ingest` with and without a filter, beside polars in Python doing the same scan,
# filter and Parquet write, in one run; and the same on a quarter of the shards, to show that simgap's peak memory
# does not grow with the corpus.
#
#   bash benches/table_ingest.sh                          # 1,000,000 conversations in 8 shards
#   CONVERSATIONS=200000 SHARDS=4 bash benches/table_ingest.sh
#
# Writes under bench-out/table-ingest (ignored by git); prints a table. Needs the Rust toolchain, python3 with pip,
# and GNU time (/usr/bin/time) for peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS=${CONVERSATIONS:-1000000}
SHARDS=${SHARDS:-8}
FILTER="language = 'English' AND turn >= 2 AND NOT toxic"
WORK=bench-out/table-ingest
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simgap-target}
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/simgap

VENV="$WORK/.venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check numpy==2.4.6 pyarrow==26.0.1 polars==2.1.0

CORPUS="$WORK/wildchat-$CONVERSATIONS-$SHARDS"
[ -d "$CORPUS" ] || "$VENV/bin/python" benches/make_wildchat_shards.py "$CORPUS" "$CONVERSATIONS" "$SHARDS"
CORPUS=$(realpath "$CORPUS")
QUARTER_GLOB="train-0000[0-$(( SHARDS / 4 - 1 ))]-*.parquet"

pipeline() { # name, glob, filter line
  cat > "$WORK/$1.toml" <<EOF
[output]
dir = "out-$1"
[[input]]
path = "$CORPUS/$2"
format = "table"
source = "wildchat"
kind = "human"
[input.table]
conversation_id = "conversation_hash"
timestamp = "timestamp"
metadata = ["model", "language", "turn", "toxic"]
$3
EOF
}
pipeline all '*.parquet' ''
pipeline filtered '*.parquet' "filter = \"$FILTER\""
pipeline quarter "$QUARTER_GLOB" ''
pipeline quarter-filtered "$QUARTER_GLOB" "filter = \"$FILTER\""

cat > "$WORK/polars_table.py" <<'PY'
# What a polars user writes for the same job: scan the shards, filter, keep the id, messages and metadata columns,
# write one zstd Parquet file.
import sys
import polars as pl
frame = pl.scan_parquet(sys.argv[1])
if sys.argv[3]:
    frame = frame.filter(pl.sql_expr(sys.argv[3]))
columns = ["conversation_hash", "conversation", "model", "language", "turn", "toxic"]
frame.select(columns).sink_parquet(sys.argv[2], compression="zstd")
PY

measure() { # label, command...: prints "label seconds peak_kb"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > /dev/null 2> "$WORK/$label.log" || {
    local rc=$?; [ $rc -eq 3 ] || { echo "$label failed ($rc):"; cat "$WORK/$label.log"; exit 1; }; }
  read -r seconds kb < "$WORK/time.txt"
  echo "$label $seconds $kb"
}

RESULTS="$WORK/results.txt"
: > "$RESULTS"
for run in quarter quarter-filtered all filtered; do
  glob=$(case $run in quarter*) echo "$QUARTER_GLOB" ;; *) echo '*.parquet' ;; esac)
  filter=$(case $run in *filtered) echo "$FILTER" ;; *) echo '' ;; esac)
  rm -rf "$WORK/out-$run"
  measure "simgap-$run" "$BIN" -q ingest "$WORK/$run.toml" >> "$RESULTS"
  measure "polars-$run" "$VENV/bin/python" "$WORK/polars_table.py" "$CORPUS/$glob" "$WORK/polars-$run.parquet" \
    "$filter" >> "$RESULTS"
done

conversations_in() { # run: conversations the run wrote
  "$VENV/bin/python" -c "import pyarrow.parquet as pq, sys; print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)" "$1"
}
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "corpus: $CONVERSATIONS WildChat-shaped conversations in $SHARDS shards, $(du -sm "$CORPUS" | cut -f1) MB of Parquet; quarter: $QUARTER_GLOB"
printf '%-18s %-8s %12s %9s %16s %12s %14s\n' run tool conversations seconds "conversations/s" "peak RSS MB" "polars/simgap"
while read -r label seconds kb; do
  tool=${label%%-*}
  run=${label#*-}
  written=$([ "$tool" = simgap ] && conversations_in "$WORK/out-$run/conversations.parquet" \
    || conversations_in "$WORK/polars-$run.parquet")
  simgap_seconds=$(awk -v l="simgap-$run" '$1 == l {print $2}' "$RESULTS")
  printf '%-18s %-8s %12s %9.2f %16.0f %12.0f %13.2fx\n' "$run" "$tool" "$written" "$seconds" \
    "$(echo "$written / $seconds" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$(echo "$seconds / $simgap_seconds" | bc -l)"
done < "$RESULTS"
echo
echo "simgap validates every conversation (roles, sizes, timestamps, ids), converts the timestamps, counts what the"
echo "filter drops per shard, keeps rejects with their rows, and writes conversations.parquet; polars only copies"
echo "the columns. 'polars/simgap' above 1 means simgap is faster."
