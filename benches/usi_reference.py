"""The 19 USI behavioural features (shared/specs/usi.md section 1), the way a researcher would compute them today.

A plain, single-threaded Python reference for `simgap features`: one pass over the conversations with the `re`
module and the cue lists of CUES.toml (table [usi]). It serves two purposes: a throughput baseline for the Rust
implementation, and an independent implementation whose output tests/python/compare_usi.py checks the Rust
features against.

Usage: python benches/usi_reference.py CONVERSATIONS.parquet CUES.toml OUT.parquet

Writes conversation_id, source, the 19 features and n_turns (float64), one row per conversation that has at least
one user turn. Prints counts and the throughput of the feature computation alone (parquet read/write and the
conversion of the table to Python objects excluded) to stderr.
"""

import re
import sys
import time
import tomllib
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [
    "politeness_rate", "short_msg_rate", "formality_rate", "ack_only_rate", "verbosity_cv", "repeat_rate",
    "id_confuse_rate", "info_frontload", "id_density", "user_words_per_turn", "opening_words",
    "uncertainty_rate", "certainty_rate", "pushback_q_rate", "clarify_q_rate", "info_q_rate",
    "emotion_rate", "accusation_rate", "pivot_rate", "n_turns",
]
RATE_LISTS = ["politeness", "uncertainty", "certainty", "emotion", "accusation", "pivot"]

MARKUP = [re.compile(p, re.DOTALL) for p in (
    r"<\|think\|>.*?<\|/think\|>",
    r"<function=.*?(?:</function>|\Z)",
    r"<\|tool\|>.*?<\|/tool\|>",
)]
ID = re.compile(r"\b[a-z0-9]{6,}\b|#?\w*\d{5,}\w*|\w+_\w+_\d{3,}|(?:gift_card|credit_card|paypal)_\w+|\w+@\w+\.\w+")


def load_cues(path):
    with open(path, "rb") as f:
        usi = tomllib.load(f)["usi"]
    return {name: re.compile(r"(?:" + "|".join(entries) + r")[\s!.,-]*") if name == "ack_only"
            else re.compile(r"\b(?:" + "|".join(entries) + r")\b")
            for name, entries in usi.items()}


def is_meta(kind, content):
    if content is None:
        return False
    if kind == "human":
        return (content.startswith(("\\tau ", "\\reward"))
                or any(tag in content for tag in ("<|canvas|>", "<|highlight|>", "<|survey|>"))
                or content.strip() == "/stop")
    if kind == "simulator":
        return content.strip() == "###STOP###"
    return False


def clean(text):
    for pattern in MARKUP:
        text = pattern.sub("", text)
    return text


def features(kind, messages, cues):
    """The feature dict of one conversation, or None when it has no user turn."""
    kept = [m for m in messages if not is_meta(kind, m["content"])]
    turns = [clean(m["content"]) for m in kept if m["role"] == "user" and m["content"] is not None]
    if not turns:
        return None
    n = len(turns)
    lowers = [t.lower() for t in turns]
    words = np.array([len(t.split()) for t in turns], dtype=float)
    mean_words = words.mean()

    def rate(cue):
        return sum(1 for lower in lowers if cues[cue].search(lower)) / n

    trigrams = Counter()
    for lower in lowers:
        w = lower.split()
        trigrams.update(zip(w, w[1:], w[2:]))

    pushback = clarify = info = 0
    for lower in lowers:
        if cues["pushback"].search(lower):
            pushback += 1
        elif cues["clarify"].search(lower):
            clarify += 1
        elif cues["info_question"].search(lower):
            info += 1

    row = {f"{cue}_rate": rate(cue) for cue in RATE_LISTS}
    row |= {
        "short_msg_rate": float(np.sum(words <= 3)) / n,
        "formality_rate": sum(1 for t in turns if "\u2014" in t or "\u2013" in t) / n,
        "ack_only_rate": sum(1 for lower in lowers if cues["ack_only"].fullmatch(lower.strip())) / n,
        "verbosity_cv": float(words.std() / mean_words) if mean_words > 0 else 0.0,
        "repeat_rate": 1.0 if any(c > 10 for c in trigrams.values()) else 0.0,
        "id_confuse_rate": 1.0 if any(cues["agent_phrases"].search(lower) for lower in lowers) else 0.0,
        "info_frontload": float(words[:2].sum() / words.sum()) if words.sum() > 0 else 0.0,
        "id_density": sum(len(ID.findall(lower)) for lower in lowers) / n,
        "user_words_per_turn": float(mean_words),
        "opening_words": float(words[0]),
        "pushback_q_rate": pushback / n,
        "clarify_q_rate": clarify / n,
        "info_q_rate": info / n,
        # Turns of the dialogue: user and assistant messages with text (no system, tool or tool-call messages).
        "n_turns": float(sum(1 for m in kept if m["role"] in ("user", "assistant") and m["content"] is not None)),
    }
    return row


def main():
    conversations_path, cues_path, out_path = sys.argv[1:4]
    cues = load_cues(cues_path)
    conversations = pq.read_table(conversations_path, columns=["conversation_id", "source", "kind", "messages"]).to_pylist()

    start = time.perf_counter()
    rows = []
    for conv in conversations:
        row = features(conv["kind"], conv["messages"], cues)
        if row is not None:
            rows.append({"conversation_id": conv["conversation_id"], "source": conv["source"], **row})
    elapsed = time.perf_counter() - start

    schema = pa.schema([("conversation_id", pa.string()), ("source", pa.string())]
                       + [(name, pa.float64()) for name in FEATURES])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out_path)

    print(f"conversations read: {len(conversations)}", file=sys.stderr)
    print(f"feature rows written: {len(rows)}", file=sys.stderr)
    print(f"conversations without a row (no user turn): {len(conversations) - len(rows)}", file=sys.stderr)
    print(f"feature computation: {elapsed:.3f} s, {len(conversations) / elapsed:,.0f} conversations/s", file=sys.stderr)


if __name__ == "__main__":
    main()
