#!/usr/bin/env bash
# Feature throughput, conversations per second, on 1 and 2 threads, beside a plain Python script computing the 19
# USI features with the `re` module on the same conversations (benches/usi_reference.py), in one run. The Python
# output is also compared with simgap's, value by value.
#
#   bash benches/features_throughput.sh                  # 100,000 generated conversations
#   CONVERSATIONS=20000 bash benches/features_throughput.sh
#
# Writes under bench-out/features (ignored by git). Needs the Rust toolchain and python3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS=${CONVERSATIONS:-100000}
WORK=bench-out/features
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simgap-target}
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/simgap
CORPUS="$WORK/corpus-$CONVERSATIONS"
if [ ! -f "$CORPUS/out/conversations.parquet" ]; then
  "$BIN" -q synth --out "$CORPUS" --conversations "$CONVERSATIONS" --seed 1
  "$BIN" -q ingest "$CORPUS/pipeline.toml"
fi
# Two feature settings over the same ingested corpus: the USI facet alone, and every built-in facet.
for variant in usi all; do
  facets=$([ $variant = usi ] && echo '["usi"]' || echo '["usi", "style", "information", "cooperation", "repetition", "context", "termination", "timing", "lexical"]')
  sed "s#^dir = \"out\"#dir = \"out\"\n[features]\nfacets = $facets#" "$CORPUS/pipeline.toml" > "$CORPUS/$variant.toml"
done

python3 -m venv "$WORK/.venv" 2>/dev/null || true
"$WORK/.venv/bin/pip" install -q --disable-pip-version-check pyarrow==26.0.1 numpy==2.4.6 polars==2.1.0

seconds() { /usr/bin/time -f "%e" -o "$WORK/t" "$@" > /dev/null 2> "$WORK/log" || { cat "$WORK/log"; exit 1; }; cat "$WORK/t"; }
best_of_3() { for _ in 1 2 3; do seconds "$@"; done | sort -g | head -1; }  # this machine is shared: keep the best
declare -A T
for variant in usi all; do
  for threads in 1 2; do
    T[$variant-$threads]=$(best_of_3 "$BIN" -q --threads $threads features "$CORPUS/$variant.toml")
  done
  cp "$CORPUS/out/features.parquet" "$WORK/simgap-$variant.parquet"
done
"$WORK/.venv/bin/python" benches/usi_reference.py "$CORPUS/out/conversations.parquet" src/features/cues.toml \
  "$WORK/python-usi.parquet" 2> "$WORK/python.log"
PY_WALL=$(seconds "$WORK/.venv/bin/python" benches/usi_reference.py "$CORPUS/out/conversations.parquet" \
  src/features/cues.toml "$WORK/python-usi.parquet")
PY_COMPUTE=$(grep -o 'feature computation: [0-9.]* s' "$WORK/python.log" | grep -o '[0-9.]*' | head -1)
"$WORK/.venv/bin/python" tests/python/compare_usi.py "$WORK/simgap-usi.parquet" "$WORK/python-usi.parquet"

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $CONVERSATIONS conversations"
printf '%-44s %9s %14s %16s\n' run seconds conversations/s "simgap speedup"
row() { printf '%-44s %9.2f %14.0f %15.1fx\n' "$1" "$2" "$(echo "$CONVERSATIONS / $2" | bc -l)" "$(echo "$3 / $2" | bc -l)"; }
row "python re, USI 19 (compute only, no I/O)" "$PY_COMPUTE" "$PY_COMPUTE"
row "python re, USI 19 (whole script)" "$PY_WALL" "$PY_COMPUTE"
row "simgap, facet usi, 1 thread (best of 3)" "${T[usi-1]}" "$PY_COMPUTE"
row "simgap, facet usi, 2 threads" "${T[usi-2]}" "$PY_COMPUTE"
row "simgap, every built-in facet, 1 thread" "${T[all-1]}" "$PY_COMPUTE"
row "simgap, every built-in facet, 2 threads" "${T[all-2]}" "$PY_COMPUTE"
echo
echo "speedup = Python's compute-only seconds / simgap's whole-command seconds (simgap's include reading and"
echo "writing Parquet; the Python figure excludes them, so the ratios understate simgap's lead)."
