#!/usr/bin/env bash
# simgap's k-means beside scikit-learn (Lloyd, greedy k-means++), faiss (its defaults) and linfa-clustering, on the
# same matrices, in one run: wall time of the fit, iterations, final inertia, and the flop rate of simgap's Lloyd
# passes (f64, and f32 with --f32) against the machine's measured matrix-multiply peak (benches/gemm_peak.py: numpy's
# OpenBLAS on every core). Same n_init (3), max_iter (300) and tol (1e-4) for simgap, scikit-learn and linfa.
#
#   bash benches/kmeans_compare.sh                 # issue 20's shapes: 200k x 32 k 50, 1M x 32 k 100, 100k x 64 k 500
#   SHAPES="20000 16 20" bash benches/kmeans_compare.sh
#   LINFA_MAX_N=100000 ...                         # linfa-clustering only up to this n (its k-means++ is O(n k^2 d))
#
# Writes under bench-out/kmeans (ignored by git). Needs the Rust toolchain and python3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPES=${SHAPES:-"200000 32 50 1000000 32 100 100000 64 500"}
LINFA_MAX_N=${LINFA_MAX_N:-100000}
LINFA_MAX_K=${LINFA_MAX_K:-100}
N_INIT=3; MAX_ITER=300; TOL=1e-4
WORK=bench-out/kmeans
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simgap-target}
cargo build --release --quiet --bin simgap --example linfa_kmeans
BIN=$CARGO_TARGET_DIR/release/simgap
LINFA=$CARGO_TARGET_DIR/release/examples/linfa_kmeans

python3 -m venv "$WORK/.venv" 2>/dev/null || true
"$WORK/.venv/bin/pip" install -q --disable-pip-version-check numpy==2.4.6 scikit-learn==1.9.1 faiss-cpu==1.15.1 \
  pyarrow==26.0.1 threadpoolctl
# shellcheck disable=SC2086
"$WORK/.venv/bin/python" benches/kmeans_data.py "$WORK" $SHAPES

RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
set -- $SHAPES
while [ $# -ge 3 ]; do
  n=$1 d=$2 k=$3; shift 3
  name="$WORK/blobs-${n}x${d}-k${k}"
  for precision in f64 f32; do
    flag=""; tool=simgap
    [ $precision = f32 ] && { flag=--f32; tool="simgap f32"; }
    # shellcheck disable=SC2086
    "$BIN" -q kmeans --input "$name.parquet" --k "$k" --restarts $N_INIT --max-iter $MAX_ITER --tol $TOL --seed 0 \
      $flag --out "$WORK/simgap.json"
    python3 - "$WORK/simgap.json" "$n" "$d" "$k" "$tool" >> "$RESULTS" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); n, d, k = map(int, sys.argv[2:5])
gflops = 2 * n * k * d * c["lloyd_passes"] / c["lloyd_seconds"] / 1e9
print(json.dumps({"shape": f"n={n} d={d} k={k}", "tool": sys.argv[5], "seconds": c["seconds"],
                  "iterations": c["iterations"], "inertia": c["inertia"], "init_seconds": c["init_seconds"],
                  "lloyd_gflops": gflops}))
PY
  done
  "$WORK/.venv/bin/python" benches/kmeans_python.py "$name.npy" "$k" $N_INIT $MAX_ITER $TOL \
    | sed "s/^{/{\"shape\": \"n=$n d=$d k=$k\", /" >> "$RESULTS"
  if [ "$n" -le "$LINFA_MAX_N" ] && [ "$k" -le "$LINFA_MAX_K" ]; then
    "$LINFA" "$name.parquet" "$k" $N_INIT $MAX_ITER $TOL | sed "s/^{/{\"shape\": \"n=$n d=$d k=$k\", /" >> "$RESULTS"
  fi
done

"$WORK/.venv/bin/python" benches/gemm_peak.py > "$WORK/gemm_peak.json"

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
  "n_init $N_INIT, max_iter $MAX_ITER, tol $TOL"
python3 - "$RESULTS" "$WORK/gemm_peak.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
peak = json.load(open(sys.argv[2]))
print(f"measured GEMM peak (numpy/OpenBLAS, {peak['size']}^2, every core): {peak['gflops_f64']:.1f} GFLOP/s f64, "
      f"{peak['gflops_f32']:.1f} GFLOP/s f32")
print(f"{'shape':<24} {'tool':<17} {'seconds':>9} {'x simgap':>9} {'iter':>5} {'inertia':>16} {'vs sklearn':>11}")
for shape in dict.fromkeys(r["shape"] for r in rows):
    group = [r for r in rows if r["shape"] == shape]
    ours = next(r for r in group if r["tool"] == "simgap")
    sk = next((r for r in group if r["tool"] == "scikit-learn"), None)
    for r in group:
        ratio = r["seconds"] / ours["seconds"]
        rel = f"{100 * (r['inertia'] / sk['inertia'] - 1):+.3f}%" if sk else "-"
        print(f"{shape:<24} {r['tool']:<17} {r['seconds']:>9.2f} {ratio:>8.1f}x {str(r.get('iterations', '-')):>5} "
              f"{r['inertia']:>16.1f} {rel:>11}")
    for r in (r for r in group if r["tool"].startswith("simgap")):
        precision = "f32" if r["tool"].endswith("f32") else "f64"
        share = 100 * r["lloyd_gflops"] / peak[f"gflops_{precision}"]
        print(f"{'':<24} {r['tool']}: k-means++ {r['init_seconds']:.2f} s; Lloyd passes at "
              f"{r['lloyd_gflops']:.1f} GFLOP/s, {share:.0f}% of the {precision} GEMM peak")
PY
