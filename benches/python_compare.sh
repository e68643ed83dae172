#!/usr/bin/env bash
# The Python package's overhead: `simgap.compare` on polars tables in memory against `simgap run` on the same
# conversations as Parquet files, alternated in one run (ROUNDS rounds), every default facet, k = "auto".
#
#   bash benches/python_compare.sh                      # 100,000 generated conversations, 3 rounds
#   CONVERSATIONS=20000 ROUNDS=5 bash benches/python_compare.sh
#
# Setup (untimed): `simgap synth`, `simgap run` of its pipeline, the conversations table split per source into
# Parquet files. Timed: the CLI as a whole process on a pipeline reading those files (`format = "table"`); in Python,
# after the tables are loaded with polars, the `simgap.compare` call alone (it writes them as Arrow IPC files and runs
# the same pipeline in-process). Writes under bench-out/python-compare; prints each round and the median ratio.
# Needs the package installed in $PYTHON's environment (`pip install ./python`).
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS=${CONVERSATIONS:-100000}
ROUNDS=${ROUNDS:-3}
PYTHON=${PYTHON:-$HOME/.cache/simgap-venv/bin/python}
WORK=bench-out/python-compare/$CONVERSATIONS
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simgap-target}
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/simgap
mkdir -p "$WORK"
WORK=$(realpath "$WORK")

if [ ! -f "$WORK/tables/done" ]; then
  "$BIN" -q synth --out "$WORK/synth" --conversations "$CONVERSATIONS" --seed 1
  "$BIN" -q run "$WORK/synth/pipeline.toml" --out "$WORK/reference" >/dev/null
  "$PYTHON" - "$WORK" <<'PY'
import sys, polars as pl
from pathlib import Path
work = Path(sys.argv[1]); (work / "tables").mkdir(exist_ok=True)
conversations = pl.read_parquet(work / "reference" / "conversations.parquet")
lines = ['[output]', 'dir = "out-cli"']
for i, source in enumerate(dict.fromkeys(conversations["source"].to_list())):
    part = conversations.filter(pl.col("source") == source)
    part.write_parquet(work / "tables" / f"{i:03d}.parquet")
    kind = part["kind"][0]
    lines += ['[[input]]', f'path = "tables/{i:03d}.parquet"', 'format = "table"', f'source = "{source}"',
              f'kind = "{kind}"', '[input.table]', 'messages = "messages"', 'timestamp = "timestamp"',
              'conversation_id = "conversation_id"', 'task_id = "task_id"', 'run = "run"', 'outcome = "outcome"',
              'survey = "survey"']
(work / "cli.toml").write_text("\n".join(lines) + "\n")
(work / "tables" / "done").write_text("")
PY
fi

cat > "$WORK/compare.py" <<'PY'
import sys, time, shutil, polars as pl, simgap
from pathlib import Path
work = Path(sys.argv[1])
tables = [pl.read_parquet(p) for p in sorted((work / "tables").glob("*.parquet"))]
human, simulators = tables[0], {t["source"][0]: t for t in tables[1:]}
shutil.rmtree(work / "out-python", ignore_errors=True)
started = time.perf_counter()
result = simgap.compare(human=human, simulators=simulators, human_name=human["source"][0], out=work / "out-python")
seconds = time.perf_counter() - started
assert result.exit_status == 0 and not result.tables["divergence"].is_empty()
print(f"{seconds:.3f}")
PY

printf '%-6s %12s %12s %8s\n' round cli_s python_s ratio
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$WORK/out-cli"
  started=$(date +%s.%N)
  "$BIN" -q run "$WORK/cli.toml" >/dev/null
  cli=$(echo "$(date +%s.%N) - $started" | bc)
  python=$("$PYTHON" "$WORK/compare.py" "$WORK" 2>/dev/null | tail -1)
  ratio=$(echo "scale=4; $python / $cli" | bc)
  ratios+=("$ratio")
  printf '%-6s %12.3f %12.3f %8.4f\n' "$round" "$cli" "$python" "$ratio"
done
for table in divergence usi features assignments; do
  cmp -s "$WORK/out-cli/$table.parquet" "$WORK/out-python/results/$table.parquet" \
    || { echo "$table.parquet differs between the CLI and simgap.compare" >&2; exit 1; }
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median python/cli: $median (tables byte-identical: divergence, usi, features, assignments)"
