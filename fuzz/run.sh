#!/usr/bin/env bash
# Runs every fuzz target (or the ones named after SECONDS) for SECONDS each (default 20) with libFuzzer, on the
# committed seeds in corpus/<target>/ plus excerpts of ../shared/data-samples and data/demo when they are there
# (read at run time, never committed). Builds with the stable toolchain (RUSTC_BOOTSTRAP=1 lets cargo fuzz pass
# its flags; no sanitizer, so panics, hangs, aborts and the targets' assertions are what is caught). A finding
# leaves its input in fuzz/artifacts/<target>/ and makes the script exit non-zero.
# Usage: fuzz/run.sh [SECONDS [TARGET...]]
# Cost: about 23 minutes to build cold on 2 cores (polars, for the table target, is most of it), then SECONDS each.
# libFuzzer's seed is SIMGAP_FUZZ_SEED (default 1, so a CI failure can be rerun; 0 draws one at random).
set -euo pipefail
seconds=${1:-20}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export CARGO_TARGET_DIR=${SIMGAP_FUZZ_TARGET_DIR:-$HOME/.cache/simgap-fuzz-target}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
build_log="$CARGO_TARGET_DIR.build.log"
cargo fuzz build -s none -O --fuzz-dir . >/dev/null 2>"$build_log" || { cat "$build_log"; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list --fuzz-dir .)
shared="$here/../../shared/data-samples"
demo="$here/../data/demo"
# Excerpts (the first 16 KiB) of real files per target, where present.
excerpts() {
  case "$1" in
    ingest_jsonl) ls "$demo"/humans.jsonl ;;
    ingest_openai) ls "$demo"/sim-*.jsonl ;;
    ingest_tau_bench) ls "$shared"/tau-bench/*.json ;;
    ingest_tau2) ls "$shared"/tau2-bench/*.json ;;
    ingest_csv) ls "$shared"/shi2019-user-simulator/*/*.csv ;;
    ingest_recllmsim) find "$shared"/recllmsim -name '*.json' | sort | head -20 ;;
    ingest_chitchat) ls "$shared"/chitchat/*.json ;;
    ingest_multiwoz) echo ;;
  esac 2>/dev/null || true
}
failed=0
for target in "${targets[@]}"; do
  work=$(mktemp -d)
  cp corpus/"$target"/* "$work"/ 2>/dev/null || true
  i=0
  for file in $(excerpts "$target"); do
    [ -f "$file" ] && head -c 16384 "$file" > "$work/excerpt-$i" && i=$((i + 1))
  done
  mkdir -p artifacts/"$target"
  log="$work.log"
  if "$CARGO_TARGET_DIR"/x86_64-unknown-linux-gnu/release/"$target" "$work" -max_total_time="$seconds" -timeout=10 \
      -seed="${SIMGAP_FUZZ_SEED:-1}" \
      -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 -artifact_prefix=artifacts/"$target"/ >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=1
    tail -40 "$log"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  echo "$target: $status, $runs executions in ${seconds} s, corpus $(ls "$work" | wc -l) inputs"
  rm -rf "$work" "$log"
done
exit $failed
