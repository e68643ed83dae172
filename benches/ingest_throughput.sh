#!/usr/bin/env bash
# Ingest throughput and peak memory on a generated JSONL of at least 1 GB, beside what a user would reach for
# instead (polars' scan_ndjson -> sink_parquet, and pyarrow.json -> pyarrow.parquet), in one run.
#
#   bash benches/ingest_throughput.sh            # 2,000,000 conversations: humans.jsonl is about 1.16 GB
#   CONVERSATIONS=400000 bash benches/ingest_throughput.sh
#
# Writes everything under bench-out/ingest (ignored by git). Needs the Rust toolchain and python3 (for the
# comparison; skipped with a message when pip cannot install the pinned packages).
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS=${CONVERSATIONS:-2000000}
WORK=bench-out/ingest
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simgap-target}
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/simgap

if [ ! -f "$WORK/corpus-$CONVERSATIONS/humans.jsonl" ]; then
  "$BIN" -q synth --out "$WORK/corpus-$CONVERSATIONS" --conversations "$CONVERSATIONS" --seed 1
fi
FULL="$WORK/corpus-$CONVERSATIONS/humans.jsonl"
QUARTER="$WORK/quarter-$CONVERSATIONS.jsonl"
[ -f "$QUARTER" ] || head -n "$(( $(wc -l < "$FULL") / 4 ))" "$FULL" > "$QUARTER"

# One pipeline per file; the canonical records carry source and kind.
for name in full quarter; do
  file=$([ $name = full ] && echo "$FULL" || echo "$QUARTER")
  printf '[output]\ndir = "out-%s"\n[[input]]\npath = "%s"\nformat = "jsonl"\n' "$name" "$(realpath "$file")" > "$WORK/$name.toml"
done

measure() { # label, command...: prints "label seconds peak_kb"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > /dev/null 2> "$WORK/$label.log" || {
    local rc=$?; [ $rc -eq 3 ] || { echo "$label failed ($rc):"; cat "$WORK/$label.log"; exit 1; }; }
  read -r seconds kb < "$WORK/time.txt"
  echo "$label $seconds $kb"
}

PYTHON_OK=0
if python3 -m venv "$WORK/.venv" 2>/dev/null \
   && "$WORK/.venv/bin/pip" install -q polars==2.1.0 pyarrow==26.0.1 >/dev/null 2>&1; then
  PYTHON_OK=1
else
  echo "note: could not install polars==2.1.0 and pyarrow==26.0.1; the comparison is skipped" >&2
fi
cat > "$WORK/polars_ingest.py" <<'PY'
import sys, polars as pl
pl.scan_ndjson(sys.argv[1]).sink_parquet(sys.argv[2], compression="zstd")
PY
cat > "$WORK/pyarrow_ingest.py" <<'PY'
import sys, pyarrow.json as pj, pyarrow.parquet as pq
pq.write_table(pj.read_json(sys.argv[1]), sys.argv[2], compression="zstd")
PY

RESULTS="$WORK/results.txt"
: > "$RESULTS"
for name in quarter full; do
  file=$([ $name = full ] && echo "$FULL" || echo "$QUARTER")
  mb=$(( $(stat -c %s "$file") / 1000000 ))
  echo "$name $mb $(measure simgap-$name "$BIN" -q ingest "$WORK/$name.toml")" >> "$RESULTS"
  if [ $PYTHON_OK = 1 ]; then
    echo "$name $mb $(measure polars-$name "$WORK/.venv/bin/python" "$WORK/polars_ingest.py" "$file" "$WORK/polars-$name.parquet")" >> "$RESULTS"
    echo "$name $mb $(measure pyarrow-$name "$WORK/.venv/bin/python" "$WORK/pyarrow_ingest.py" "$file" "$WORK/pyarrow-$name.parquet")" >> "$RESULTS"
  fi
done

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-8s %-16s %9s %9s %9s %12s %14s\n' file tool MB seconds MB/s "peak RSS MB" "simgap speedup"
while read -r name mb label seconds kb; do
  simgap_seconds=$(awk -v n="$name" '$3 ~ /^simgap/ && $1 == n {print $4}' "$RESULTS")
  printf '%-8s %-16s %9s %9.2f %9.0f %12.0f %13.1fx\n' "$name" "${label%-*}" "$mb" "$seconds" \
    "$(echo "$mb / $seconds" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$(echo "$seconds / $simgap_seconds" | bc -l)"
done < "$RESULTS"
echo
echo "simgap validates every record, keeps rejects and writes the nested messages column; polars and pyarrow"
echo "only convert the JSON as it is (no validation, no reconciliation)."
