#!/usr/bin/env bash
# The sharded pipeline on one machine, in one run: `simgap run` beside the same pipeline in 2 shards through
# shard/merge (2 processes at a time), Ray (local, 1 and 2 workers) and Spark (local[1] and local[2]), on a generated
# corpus (`simgap synth`, one human source + 4 simulators; every default facet). Wall time and peak memory (the
# summed RSS of the command's whole process tree, sampled every 0.2 s) of each; every run's tables compared with
# the CLI's (cmp). Ray and PySpark are installed into a virtualenv from pinned versions, with the simgap package.
#
#   bash benches/distributed.sh                        # 1,000,000 conversations
#   CONVERSATIONS=100000 bash benches/distributed.sh
#   VENV=$HOME/.cache/simgap-venv bash benches/distributed.sh    # a virtualenv that has them already
#
# Writes under bench-out/distributed (ignored by git); prints a table. Needs the Rust toolchain, python3 with pip,
# Java 17 for Spark.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS=${CONVERSATIONS:-1000000}
SHARDS=${SHARDS:-2}
WORK=bench-out/distributed
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simgap-target}
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/simgap
VENV=${VENV:-$WORK/.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check ray==2.60.0 pyspark==4.3.0 pyarrow==26.0.1 polars==2.1.0 \
    numpy==2.4.6 ./python
fi
PY=$VENV/bin/python
export SOURCE_DATE_EPOCH=1764547200 PYSPARK_PYTHON=$PY

CORPUS=$WORK/corpus-$CONVERSATIONS
[ -f "$CORPUS/pipeline.toml" ] ||
  "$BIN" -q synth --out "$CORPUS" --conversations "$CONVERSATIONS" --simulators 4 --seed 1
PIPELINE=$(realpath "$CORPUS/pipeline.toml")

# measure NAME COMMAND... -> a line "NAME seconds peak_MB" in $WORK/results.txt
measure() {
  local name=$1; shift
  "$PY" - "$@" > "$WORK/$name.log" 2>&1 <<'PYEOF' || { tail -20 "$WORK/$name.log"; exit 1; }
import subprocess, sys, time
def tree_rss_kb(root):
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,rss="], capture_output=True, text=True).stdout.split("\n")
    children, rss = {}, {}
    for line in out:
        if line.strip():
            pid, ppid, kb = map(int, line.split())
            children.setdefault(ppid, []).append(pid); rss[pid] = kb
    total, todo = 0, [root]
    while todo:
        pid = todo.pop(); total += rss.get(pid, 0); todo.extend(children.get(pid, []))
    return total
start = time.perf_counter()
process = subprocess.Popen(sys.argv[1:])
peak = 0
while process.poll() is None:
    peak = max(peak, tree_rss_kb(process.pid)); time.sleep(0.2)
seconds = time.perf_counter() - start
if process.returncode not in (0, 3):
    sys.exit(f"exit {process.returncode}")
print(f"RESULT {seconds:.2f} {peak / 1024:.0f}")
PYEOF
  echo "$name $(grep '^RESULT' "$WORK/$name.log" | cut -d' ' -f2-)" >> "$WORK/results.txt"
}

SHARD_LOOP=$WORK/shard_loop.sh
ROUND_TIMES=$WORK/round_times.txt
cat > "$SHARD_LOOP" <<SH
set -e
now() { date +%s.%N; }
: > "$ROUND_TIMES"
for round in 1 2 3 4 5; do
  start=\$(now)
  for i in \$(seq 0 $((SHARDS - 1))); do "$BIN" -q run "\$1" --out "\$2" --shard \$i/$SHARDS > /dev/null & done
  wait
  middle=\$(now)
  "$BIN" -q merge "\$1" --out "\$2" > /dev/null
  echo "\$round \$start \$middle \$(now)" >> "$ROUND_TIMES"
done
SH
DRIVER=$WORK/driver.py
cat > "$DRIVER" <<'PYEOF'
import sys
engine, workers, shards, pipeline, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
if engine == "ray":
    import ray, simgap.ray
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    simgap.ray.run(pipeline, out=out, shards=shards)
else:
    from pyspark.sql import SparkSession
    import simgap.spark
    spark = SparkSession.builder.master(f"local[{workers}]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    simgap.spark.run(spark, pipeline, out=out, shards=shards)
PYEOF

rm -f "$WORK/results.txt"
rm -rf "$WORK"/out-*
measure cli "$BIN" -q run "$PIPELINE" --out "$WORK/out-cli"
measure shard-merge bash "$SHARD_LOOP" "$PIPELINE" "$WORK/out-shard-merge"
for workers in 1 2; do
  measure "ray-$workers" "$PY" "$DRIVER" ray "$workers" "$SHARDS" "$PIPELINE" "$WORK/out-ray-$workers"
  measure "spark-$workers" "$PY" "$DRIVER" spark "$workers" "$SHARDS" "$PIPELINE" "$WORK/out-spark-$workers"
done

echo
echo "$CONVERSATIONS conversations, $SHARDS shards, every default facet; $(nproc) cores; $(date -u +%F)"
echo "| run | wall (s) | / CLI | peak RSS (MB) | tables equal to the CLI's |"
echo "|---|---:|---:|---:|---|"
cli_seconds=$(awk '$1 == "cli" {print $2}' "$WORK/results.txt")
while read -r name seconds peak; do
  same=yes
  for table in conversations features assignments divergence pairwise mixtures clusters usi usi_features; do
    cmp -s "$WORK/out-cli/$table.parquet" "$WORK/out-$name/$table.parquet" || same="no ($table)"
  done
  ratio=$(awk -v a="$seconds" -v b="$cli_seconds" 'BEGIN {printf "%.2f", a / b}')
  echo "| $name | $seconds | $ratio | $peak | $same |"
done < "$WORK/results.txt"

echo
echo "shard/merge by round ($SHARDS shards at once on $(nproc) cores): wall of the shards, then of the merge"
echo "| round | shards (s) | merge (s) |"
echo "|---|---:|---:|"
names=(ingest frequencies features sample assign)
while read -r round start middle end; do
  awk -v n="${names[$((round - 1))]}" -v r="$round" -v a="$start" -v b="$middle" -v c="$end" \
    'BEGIN {printf "| %d %s | %.2f | %.2f |\n", r, n, b - a, c - b}'
done < "$ROUND_TIMES"
