#!/usr/bin/env bash
# Divergence throughput: wall time and peak memory of `simgap divergence` on 30 sources (one human, 29 simulators),
# 8 codebooks of k = 100 and 1,000 bootstrap resamples, on 1 thread and on the default (every core), best of 3.
#
#   bash benches/divergence_throughput.sh                    # 300,000 conversations, 29 simulators
#   CONVERSATIONS=30000 SIMULATORS=9 bash benches/divergence_throughput.sh
#   FORCE=1 bash benches/divergence_throughput.sh            # redo synth, ingest, features and cluster
#   K=50 BOOTSTRAP=200 RUNS=5 THREADS="1 2 default" ...     # other settings
#
# The corpus and the stages before divergence (synth, ingest, features, cluster) are built outside the timer and
# kept for the next run unless FORCE=1 or their settings changed; how long each took is printed. Writes under
# bench-out/divergence (ignored by git). Needs the Rust toolchain; GNU time for peak memory (bash's `time`
# otherwise, without it); python3 >= 3.11, if present, checks the pipeline file parses.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS=${CONVERSATIONS:-300000}
SIMULATORS=${SIMULATORS:-29}
SEED=${SEED:-1}
K=${K:-100}
FACETS=${FACETS:-'["usi", "style", "information", "cooperation", "repetition", "context", "termination", "all"]'}
BOOTSTRAP=${BOOTSTRAP:-1000}
RUNS=${RUNS:-3}
THREADS=${THREADS:-"1 default"}
FORCE=${FORCE:-0}
WORK=bench-out/divergence
CORPUS="$WORK/corpus-$CONVERSATIONS-$SIMULATORS-seed$SEED"
PIPELINE="$CORPUS/pipeline.toml"
OUT="$CORPUS/out"                  # the pipeline's [output] dir ("out", relative to the pipeline file)
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simgap-target}
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/simgap

# The timer: GNU time (wall seconds and peak RSS), else bash's `time` (wall seconds only).
GNU_TIME=
for candidate in /usr/bin/time gtime; do
  if command -v "$candidate" > /dev/null && "$candidate" -f %e -o /dev/null true 2> /dev/null; then
    GNU_TIME=$(command -v "$candidate"); break
  fi
done
[ -n "$GNU_TIME" ] || echo "note: no GNU time found; timing with bash's time, peak RSS not measured" >&2
# measure LOG CMD...: runs CMD with stdout and stderr to LOG; sets SECONDS_TAKEN and PEAK_KB ("-" if unknown).
# Exit code 3 (success, some records rejected) counts as success.
measure() {
  local log=$1 rc=0; shift
  if [ -n "$GNU_TIME" ]; then
    "$GNU_TIME" -f "%e %M" -o "$WORK/time.txt" "$@" > "$log" 2>&1 || rc=$?
  else
    local TIMEFORMAT=%R
    { time "$@" > "$log" 2>&1 || rc=$?; } 2> "$WORK/time.txt"
    echo "$(cat "$WORK/time.txt") -" > "$WORK/time.txt"
  fi
  if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
    echo "failed (exit code $rc): $*" >&2; tail -n 30 "$log" >&2; exit 1
  fi
  read -r SECONDS_TAKEN PEAK_KB < <(tail -n 1 "$WORK/time.txt")
}
mb() { [ "$1" = - ] && echo "-" || awk -v kb="$1" 'BEGIN { printf "%.0f", kb / 1024 }'; }

# Until the divergence stage exists, the pipeline file may not name [divergence] (unknown tables are errors):
# the setup still runs and the timing is skipped.
HAS_DIVERGENCE=0
"$BIN" divergence --help > /dev/null 2>&1 && HAS_DIVERGENCE=1

# merge_table FILE TABLE KEY=VALUE...: sets the keys in [TABLE], keeping the table's other keys; adds the table at
# the end when the file has none (TOML forbids a table twice). A replaced value may span lines (a multi-line array).
merge_table() {
  local file=$1 table=$2; shift 2
  local keys="" settings=""
  for pair in "$@"; do keys="$keys ${pair%%=*}"; settings="$settings${pair%%=*} = ${pair#*=}"$'\n'; done
  awk -v table="$table" -v keys="$keys" -v settings="$settings" '
    BEGIN { n = split(keys, list, " "); for (i = 1; i <= n; i++) drop[list[i]] = 1 }
    function header(line) { return line ~ /^[ \t]*\[/ }
    function name(line) { sub(/^[ \t]*\[+[ \t]*/, "", line); sub(/[ \t]*\].*$/, "", line); return line }
    skipping { if ($0 ~ /\]/) skipping = 0; next }
    header($0) { inside = (name($0) == table && $0 !~ /^[ \t]*\[\[/); print; if (inside) { printf "%s", settings; found = 1 }; next }
    inside {
      key = $0; sub(/^[ \t]*/, "", key); sub(/[ \t]*=.*$/, "", key)
      if ($0 ~ /=/ && key in drop) {
        value = $0; sub(/^[^=]*=[ \t]*/, "", value)
        if (value ~ /^\[/ && value !~ /\]/) skipping = 1
        next
      }
    }
    { print }
    END { if (!found) printf "\n[%s]\n%s", table, settings }
  ' "$file" > "$file.tmp"
  mv "$file.tmp" "$file"
}

# setup_stage NAME STAMP OUTPUT CMD...: runs CMD unless OUTPUT exists and was made with the same STAMP (and no
# earlier stage was redone); prints how long it took.
REDO=$FORCE
setup_stage() {
  local name=$1 stamp=$2 output=$3; shift 3
  local stamp_file="$CORPUS/.bench-$name"
  mkdir -p "$CORPUS"
  if [ "$REDO" != 1 ] && [ -e "$output" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
    printf '%-9s reused (%s)\n' "$name" "$output"
    return
  fi
  REDO=1
  rm -f "$stamp_file"
  measure "$WORK/$name.log" "$@"
  echo "$stamp" > "$stamp_file"
  printf '%-9s %8.1f s   peak RSS %6s MB\n' "$name" "$SECONDS_TAKEN" "$(mb "$PEAK_KB")"
}

echo "setup: $CONVERSATIONS conversations, 1 human + $SIMULATORS simulators, k = $K, facets $FACETS"
setup_stage synth "$CONVERSATIONS $SIMULATORS $SEED" "$CORPUS/humans.jsonl" \
  "$BIN" -q synth --out "$CORPUS" --conversations "$CONVERSATIONS" --simulators "$SIMULATORS" --seed "$SEED"
# synth rewrites the pipeline file only when it runs; the merge is idempotent either way.
merge_table "$PIPELINE" cluster "k=$K" "facets=$FACETS"
if [ $HAS_DIVERGENCE = 1 ]; then
  merge_table "$PIPELINE" divergence "bootstrap=$BOOTSTRAP"
fi
if command -v python3 > /dev/null && python3 -c 'import tomllib' 2> /dev/null; then
  python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$PIPELINE"
fi
setup_stage ingest "$CONVERSATIONS $SIMULATORS $SEED" "$OUT/conversations.parquet" "$BIN" -q ingest "$PIPELINE"
setup_stage features "default facets" "$OUT/features.parquet" "$BIN" -q features "$PIPELINE"
setup_stage cluster "k=$K facets=$FACETS" "$OUT/assignments.parquet" "$BIN" -q cluster "$PIPELINE"

if [ $HAS_DIVERGENCE = 0 ]; then
  echo
  echo "this simgap has no divergence subcommand yet: setup done, timing skipped"
  exit 0
fi

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "simgap divergence: $((SIMULATORS + 1)) sources, 8 codebooks of k = $K, bootstrap = $BOOTSTRAP; best of $RUNS"
SUMMARY=()
for threads in $THREADS; do
  if [ "$threads" = default ]; then flag=(); label="default ($(nproc))"; else flag=(--threads "$threads"); label=$threads; fi
  best= best_kb=
  for run in $(seq "$RUNS"); do
    measure "$WORK/divergence-$threads-$run.log" "$BIN" -q ${flag[@]+"${flag[@]}"} divergence "$PIPELINE" --out "$OUT"
    printf 'threads %-12s run %d: %8.2f s   peak RSS %6s MB\n' "$label" "$run" "$SECONDS_TAKEN" "$(mb "$PEAK_KB")"
    if [ -z "$best" ] || awk -v a="$SECONDS_TAKEN" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$SECONDS_TAKEN best_kb=$PEAK_KB
    fi
  done
  SUMMARY+=("$(printf 'threads %-12s best:  %8.2f s   peak RSS %6s MB' "$label" "$best" "$(mb "$best_kb")")")
done
echo
printf '%s\n' "${SUMMARY[@]}"
