#!/usr/bin/env bash
# End to end: `simgap run`, whole and stage by stage, on generated corpora (one human source + 4 simulators,
# `simgap synth`), with wall time and peak RSS, beside the Python pipeline a researcher writes today
# (benches/python_reference.py: polars `read_ndjson`, the USI authors' feature code as benches/usi_reference.py,
# scikit-learn, numpy, scipy) doing the same work on the same files, installed into a virtualenv from pinned versions.
# Ends with issue 20's table: the goals beside this run's figures.
#
#   bash benches/end_to_end.sh                          # 1,000,000 conversations for simgap, 100,000 for both
#   CONVERSATIONS=200000 PY_CONVERSATIONS=20000 bash benches/end_to_end.sh
#   PY_FULL=1 bash benches/end_to_end.sh                # also the Python pipeline on the large corpus (slow)
#
# Two simgap settings per corpus:
#   same-work  what the Python pipeline does: the usi facet only, one codebook (k = $K, default 20, 3 restarts),
#              bootstrap 1000, permutations 1000, 100 ceiling splits (simgap computes MAUVE, TV, the USI table and
#              the report on top)
#   default    the default pipeline: every built-in facet, a codebook per facet and `all`, everything above
# Writes under bench-out/end-to-end (ignored by git); prints tables. Needs the Rust toolchain, python3 with pip,
# GNU time (/usr/bin/time) for peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS=${CONVERSATIONS:-1000000}
PY_CONVERSATIONS=${PY_CONVERSATIONS:-100000}
PY_FULL=${PY_FULL:-0}
SEED=${SEED:-1}
K=${K:-20}
WORK=bench-out/end-to-end
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simgap-target}
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/simgap

VENV="$WORK/.venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check numpy==2.4.6 pandas==3.1.1 pyarrow==26.0.1 \
  scikit-learn==1.9.1 scipy==1.17.1 polars==2.1.0

SAME_WORK="[features]
facets = [\"usi\"]

[cluster]
k = $K
restarts = 3
facets = [\"usi\"]

[divergence]
bootstrap = 1000
permutations = 1000
ceiling_splits = 100"

corpus() {  # corpus SIZE -> folder with the generated files and one pipeline per setting
  local size=$1 dir="$WORK/corpus-$1"
  if [ ! -f "$dir/pipeline.toml" ]; then
    "$BIN" -q synth --out "$dir" --conversations "$size" --simulators 4 --seed "$SEED"
  fi
  sed 's#^dir = "out"#dir = "out-default"#' "$dir/pipeline.toml" > "$dir/default.toml"
  { sed 's#^dir = "out"#dir = "out-same-work"#' "$dir/pipeline.toml"; echo; echo "$SAME_WORK"; } > "$dir/same-work.toml"
  echo "$dir"
}

# stage NAME PIPELINE -> "seconds peak_MB" of `simgap NAME PIPELINE`
stage() {
  local log="$WORK/time.log"
  /usr/bin/time -f "%e %M" -o "$log" "$BIN" -q "$1" "$2" > /dev/null 2> "$WORK/stderr.log" || {
    code=$?; [ $code -eq 3 ] || { cat "$WORK/stderr.log"; exit 1; }; }
  awk '{ printf "%s %.0f", $1, $2 / 1024 }' "$log"
}

declare -A S
run_simgap() {  # run_simgap DIR SETTING SIZE -> fills S[setting-size-run] and S[setting-size-stage], each from scratch
  local dir=$1 setting=$2 size=$3
  rm -rf "$dir/out-$setting"
  S[$setting-$size-run]=$(stage run "$dir/$setting.toml")
  rm -rf "$dir/out-$setting"
  for name in ingest features cluster divergence report; do
    S[$setting-$size-$name]=$(stage $name "$dir/$setting.toml")
  done
}

run_python() {  # run_python DIR -> JSON on stdout
  /usr/bin/time -f "%e %M" -o "$WORK/py-time.log" "$VENV/bin/python" benches/python_reference.py "$1" "$1/out-python" \
    --k "$K" --restarts 3 --bootstrap 1000 --permutations 1000 --ceiling-splits 100 > "$1/python.json"
  awk '{ printf "%s %.0f", $1, $2 / 1024 }' "$WORK/py-time.log"
}

small=$(corpus "$PY_CONVERSATIONS")
large=$(corpus "$CONVERSATIONS")
for setting in same-work default; do
  run_simgap "$small" $setting "$PY_CONVERSATIONS"
  run_simgap "$large" $setting "$CONVERSATIONS"
done
PY_SMALL=$(run_python "$small")
PY_LARGE=""
[ "$PY_FULL" = 1 ] && PY_LARGE=$(run_python "$large")

seconds_of() { echo "$1" | cut -d' ' -f1; }
mb_of() { echo "$1" | cut -d' ' -f2; }
py_stage() {
  "$VENV/bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['seconds'][sys.argv[2]])" "$1" "$2"
}

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(free -g | awk '/Mem:/ {print $2}') GiB"
for size in "$PY_CONVERSATIONS" "$CONVERSATIONS"; do
  for setting in same-work default; do
    total=0; peak=0
    for name in ingest features cluster divergence report; do
      total=$(echo "$total + $(seconds_of "${S[$setting-$size-$name]}")" | bc)
    done
    printf '\nsimgap, %s conversations, %s\n' "$size" "$setting"
    printf '  %-11s %9s %7s %9s\n' stage seconds share "peak MB"
    for name in ingest features cluster divergence report; do
      value=${S[$setting-$size-$name]}
      printf '  %-11s %9s %6.1f%% %9s\n' $name "$(seconds_of "$value")" \
        "$(echo "100 * $(seconds_of "$value") / $total" | bc -l)" "$(mb_of "$value")"
      [ "$(mb_of "$value")" -gt "$peak" ] && peak=$(mb_of "$value")
    done
    printf '  %-11s %9s %7s %9s\n' total "$total" "" "$peak"
    run=${S[$setting-$size-run]}
    printf '  %-11s %9s %7s %9s\n' "simgap run" "$(seconds_of "$run")" "" "$(mb_of "$run")"
  done
done

# side_by_side SIZE CORPUS PYTHON_WALL_AND_PEAK: the Python reference against simgap same-work, stage by stage. simgap's
# total includes its report stage, which the Python pipeline does not have.
side_by_side() {
  local size=$1 dir=$2 wall=$3 py rs
  printf '\nside by side, %s conversations: Python reference vs simgap same-work\n' "$size"
  printf '  %-11s %12s %12s %8s\n' stage "python s" "simgap s" ratio
  py_total=0; rs_total=0
  for name in ingest features cluster divergence report; do
    rs=$(seconds_of "${S[same-work-$size-$name]}")
    if [ $name = report ]; then py=0; else py=$(py_stage "$dir/python.json" $name); fi
    if [ $name = report ]; then
      printf '  %-11s %12s %12.2f %8s\n' $name - "$rs" -
    else
      printf '  %-11s %12.2f %12.2f %7.1fx\n' $name "$py" "$rs" "$(echo "$py / $rs" | bc -l)"
    fi
    py_total=$(echo "$py_total + $py" | bc -l); rs_total=$(echo "$rs_total + $rs" | bc -l)
  done
  printf '  %-11s %12.2f %12.2f %7.1fx   (python peak %s MB, wall %s s incl. imports)\n' total "$py_total" \
    "$rs_total" "$(echo "$py_total / $rs_total" | bc -l)" "$(mb_of "$wall")" "$(seconds_of "$wall")"
}
side_by_side "$PY_CONVERSATIONS" "$small" "$PY_SMALL"
[ -n "$PY_LARGE" ] && side_by_side "$CONVERSATIONS" "$large" "$PY_LARGE"

# Issue 20's table: its goals beside this run. The k-means rows are benches/kmeans_compare.sh's.
large_run=${S[default-$CONVERSATIONS-run]}
small_run=$(seconds_of "${S[same-work-$PY_CONVERSATIONS-run]}")
py_small=$(py_stage "$small/python.json" total)
printf '\nissue 20: goals and this run\n'
printf '  %-62s %-34s %s\n' work "this run" goal
printf '  %-62s %-34s %s\n' "simgap run, $CONVERSATIONS conversations, every facet (default)" \
  "$(seconds_of "$large_run") s, $(echo "scale=2; $(mb_of "$large_run") / 1024" | bc) GiB peak" "< 45 s, < 1 GiB"
printf '  %-62s %-34s %s\n' "$PY_CONVERSATIONS conversations, same work (usi, k = $K): Python / simgap run" \
  "$(printf '%.2f s / %.2f s = %.1fx' "$py_small" "$small_run" "$(echo "$py_small / $small_run" | bc -l)")" \
  ">= 20x (simgap <= 1.5 s)"
exit 0
