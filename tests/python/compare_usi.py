"""Check simgap's USI features against the Python reference (benches/usi_reference.py), feature by feature.

Usage: python tests/python/compare_usi.py RUST_FEATURES.parquet PYTHON_FEATURES.parquet

Joins the two tables on (source, conversation_id), requires the same set of keys on both sides, and counts, for each
of the 19 features and n_turns, the rows where the two values differ by more than 1e-9 (a NaN on one side only counts
as a difference), with up to 5 examples per column. Columns of the Rust table not compared here are ignored.
Exits 1 on any difference.
"""

import sys

import numpy as np
import pyarrow.parquet as pq

FEATURES = [
    "politeness_rate", "short_msg_rate", "formality_rate", "ack_only_rate", "verbosity_cv", "repeat_rate",
    "id_confuse_rate", "info_frontload", "id_density", "user_words_per_turn", "opening_words",
    "uncertainty_rate", "certainty_rate", "pushback_q_rate", "clarify_q_rate", "info_q_rate",
    "emotion_rate", "accusation_rate", "pivot_rate", "n_turns",
]
KEY = ["source", "conversation_id"]
TOLERANCE = 1e-9


def load(path):
    table = pq.read_table(path, columns=KEY + FEATURES)
    keys = list(zip(table["source"].to_pylist(), table["conversation_id"].to_pylist()))
    if len(set(keys)) != len(keys):
        sys.exit(f"{path}: duplicate (source, conversation_id) keys")
    order = sorted(range(len(keys)), key=keys.__getitem__)
    columns = {name: table[name].to_numpy(zero_copy_only=False).astype(np.float64)[order] for name in FEATURES}
    return [keys[i] for i in order], columns


def main():
    rust_path, python_path = sys.argv[1:3]
    rust_keys, rust = load(rust_path)
    python_keys, python = load(python_path)

    if rust_keys != python_keys:
        only_rust = sorted(set(rust_keys) - set(python_keys))
        only_python = sorted(set(python_keys) - set(rust_keys))
        print(f"key sets differ: {len(only_rust)} only in rust, {len(only_python)} only in python")
        for side, keys in (("rust", only_rust), ("python", only_python)):
            for source, conversation_id in keys[:5]:
                print(f"  only in {side}: {source} {conversation_id}")
        sys.exit(1)

    failed = False
    for name in FEATURES:
        r, p = rust[name], python[name]
        both_nan = np.isnan(r) & np.isnan(p)
        differs = ~both_nan & ~(np.abs(r - p) <= TOLERANCE)
        if differs.any():
            failed = True
            print(f"{name}: {int(differs.sum())} of {len(r)} rows differ")
            for i in np.flatnonzero(differs)[:5]:
                source, conversation_id = rust_keys[i]
                print(f"  {source} {conversation_id}: rust {float(r[i])!r} python {float(p[i])!r}")
    if failed:
        sys.exit(1)
    print(f"{len(rust_keys)} conversations, {len(FEATURES)} features: identical within 1e-9")


if __name__ == "__main__":
    main()
