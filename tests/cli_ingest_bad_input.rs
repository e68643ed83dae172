//! End to end, one test per class of bad input in specs/formats.md: the real binary on files written into a temp
//! folder. Every test checks that nothing is lost (read = accepted + rejected) and that the reject names the file
//! and the line or record.

mod common;

use common::{read_conversations, read_rejects, simgap, stderr};

struct Run {
    code: Option<i32>,
    stderr: String,
    rejects: Vec<serde_json::Value>,
    accepted: Vec<common::Row>,
    manifest: serde_json::Value,
}

/// Writes `files` and a pipeline with `inputs` (TOML `[[input]]` tables) into a temp folder and ingests it.
fn ingest(files: &[(&str, &[u8])], inputs: &str, extra_args: &[&str]) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, format!("[output]\ndir = \"out\"\n{inputs}")).unwrap();
    let mut args = vec!["-q", "ingest", pipeline.to_str().unwrap()];
    args.extend_from_slice(extra_args);
    let output = simgap(&args);
    let out = dir.path().join("out");
    let run = Run {
        code: output.status.code(),
        stderr: stderr(&output),
        rejects: if out.join("rejects.jsonl").exists() { read_rejects(&out) } else { vec![] },
        accepted: if out.join("conversations.parquet").exists() {
            read_conversations(&out.join("conversations.parquet"))
        } else {
            vec![]
        },
        manifest: std::fs::read(out.join("manifest.json"))
            .ok()
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_default(),
    };
    if run.code == Some(0) || run.code == Some(3) {
        let ingest = &run.manifest["stages"]["ingest"];
        assert_eq!(
            ingest["read"].as_u64().unwrap(),
            ingest["accepted"].as_u64().unwrap() + ingest["rejected"].as_u64().unwrap()
        );
        assert_eq!(ingest["accepted"].as_u64().unwrap() as usize, run.accepted.len());
        assert_eq!(ingest["rejected"].as_u64().unwrap() as usize, run.rejects.len());
    }
    (run, dir)
}

const JSONL_INPUT: &str = "[[input]]\npath = \"c.jsonl\"\nformat = \"jsonl\"\nsource = \"human\"\nkind = \"human\"\n";

fn good(id: &str) -> String {
    format!(
        r#"{{"conversation_id": "{id}", "messages": [{{"role": "assistant", "content": "Hi"}}, {{"role": "user", "content": "I need help"}}]}}"#
    )
}

/// One bad line between two good ones: exit 3, two rows, one reject at line 2 whose reason contains `reason`.
fn one_bad_line(bad: &str, reason: &str) -> Run {
    let text = format!("{}\n{bad}\n{}\n", good("a"), good("b"));
    let (run, _dir) = ingest(&[("c.jsonl", text.as_bytes())], JSONL_INPUT, &[]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert_eq!(run.accepted.len(), 2);
    assert_eq!(run.rejects.len(), 1, "{:?}", run.rejects);
    assert_eq!(run.rejects[0]["file"], "c.jsonl");
    assert_eq!(run.rejects[0]["line"], 2);
    let got = run.rejects[0]["reason"].as_str().unwrap();
    assert!(got.contains(reason), "reason {got:?} lacks {reason:?}");
    run
}

#[test]
fn malformed_json_line() {
    let run = one_bad_line(r#"{"conversation_id": "x", "messages": [ oops"#, "malformed JSON");
    assert!(run.rejects[0]["excerpt"].as_str().unwrap().contains("oops"));
}

#[test]
fn missing_conversation_id() {
    one_bad_line(r#"{"messages": [{"role": "user", "content": "hi"}]}"#, "missing conversation_id");
}

#[test]
fn missing_messages() {
    let run = one_bad_line(r#"{"conversation_id": "x"}"#, "missing messages");
    assert_eq!(run.rejects[0]["conversation_id"], "x");
    assert_eq!(run.rejects[0]["source"], "human");
}

#[test]
fn unknown_role() {
    one_bad_line(
        r#"{"conversation_id": "x", "messages": [{"role": "user", "content": "hi"}, {"role": "narrator", "content": "then"}]}"#,
        "unknown role \"narrator\"",
    );
}

#[test]
fn empty_or_whitespace_user_message() {
    one_bad_line(
        r#"{"conversation_id": "x", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "   "}]}"#,
        "empty or whitespace",
    );
}

#[test]
fn conversation_without_user_turn() {
    one_bad_line(
        r#"{"conversation_id": "x", "messages": [{"role": "assistant", "content": "anyone there?"}]}"#,
        "no user turn",
    );
}

#[test]
fn duplicate_conversation_id_keeps_first() {
    let text = format!("{}\n{}\n", good("a"), good("a"));
    let (run, _dir) = ingest(&[("c.jsonl", text.as_bytes())], JSONL_INPUT, &[]);
    assert_eq!(run.code, Some(3));
    assert_eq!(run.accepted.len(), 1);
    assert_eq!(run.accepted[0].input_record, 1, "the first is kept");
    assert_eq!(run.rejects[0]["line"], 2);
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("duplicate conversation_id \"a\""));
}

#[test]
fn message_over_size_limit() {
    let big = "x".repeat(2000);
    let bad = format!(r#"{{"conversation_id": "x", "messages": [{{"role": "user", "content": "{big}"}}]}}"#);
    let text = format!("{}\n{bad}\n", good("a"));
    let inputs = format!("{JSONL_INPUT}\n[ingest]\nmax_message_bytes = 1000\n");
    let (run, _dir) = ingest(&[("c.jsonl", text.as_bytes())], &inputs, &[]);
    assert_eq!(run.code, Some(3));
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("2000 bytes"));
}

#[test]
fn invalid_utf8_replaced_with_warning_by_default() {
    let bad = b"{\"conversation_id\": \"b\", \"messages\": [{\"role\": \"user\", \"content\": \"caf\xe9 au lait\"}]}";
    let text = [good("a").as_bytes(), b"\n", bad, b"\n"].concat();
    let (run, _dir) = ingest(&[("c.jsonl", &text)], JSONL_INPUT, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.accepted.len(), 2);
    assert_eq!(run.manifest["stages"]["ingest"]["warnings"], 1);
    let example = &run.manifest["stages"]["ingest"]["files"][0]["warning_examples"][0];
    assert!(example.as_str().unwrap().starts_with("line 2"), "{example}");
}

#[test]
fn invalid_utf8_rejected_when_configured() {
    let text = [good("a").as_bytes(), b"\n", b"{\"conversation_id\": \"\xff\"}\n"].concat();
    let inputs = format!("{JSONL_INPUT}\n[ingest]\ninvalid_utf8 = \"reject\"\n");
    let (run, _dir) = ingest(&[("c.jsonl", &text)], &inputs, &[]);
    assert_eq!(run.code, Some(3));
    assert_eq!(run.rejects[0]["line"], 2);
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("invalid UTF-8"));
}

#[test]
fn empty_input_file_is_a_reject() {
    // Empty, or blank lines only: one reject either way, as in the formats that hold one JSON document.
    for content in [&b""[..], b"\n\n  \n\r\n"] {
        let (run, _dir) = ingest(&[("c.jsonl", content)], JSONL_INPUT, &[]);
        assert_eq!(run.code, Some(3));
        assert_eq!(run.rejects.len(), 1);
        assert_eq!(run.rejects[0]["reason"], "empty file");
    }
}

#[test]
fn glob_matching_nothing_is_a_usage_error() {
    let inputs = "[[input]]\npath = \"none/*.jsonl\"\nformat = \"jsonl\"\nsource = \"h\"\nkind = \"human\"\n";
    let (run, dir) = ingest(&[], inputs, &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("none/*.jsonl") && run.stderr.contains("matches no file"), "{}", run.stderr);
    assert!(!dir.path().join("out/conversations.parquet").exists());
}

#[test]
fn truncated_sharegpt_keeps_complete_records() {
    let text =
        br#"[{"id": "a", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
{"id": "b", "conversations": [{"from": "human", "value": "second"}]},
{"id": "c", "conversations": [{"from": "human", "value": "cut off her"#;
    let inputs = "[[input]]\npath = \"dump.json\"\nformat = \"sharegpt\"\nsource = \"sim\"\nkind = \"simulator\"\n";
    let (run, _dir) = ingest(&[("dump.json", text)], inputs, &[]);
    assert_eq!(run.code, Some(3));
    let ids: Vec<&str> = run.accepted.iter().map(|r| r.conversation_id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let offset = std::str::from_utf8(text).unwrap().find(r#"{"id": "c""#).unwrap();
    assert_eq!(run.rejects[0]["byte_offset"], offset);
    assert_eq!(run.rejects[0]["record"], 2);
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("truncated"));
}

#[test]
fn strict_fails_on_first_reject_and_writes_nothing() {
    let text = format!("{}\n{{broken\n", good("a"));
    let (run, dir) = ingest(&[("c.jsonl", text.as_bytes())], JSONL_INPUT, &["--strict"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("c.jsonl line 2"), "{}", run.stderr);
    let out = dir.path().join("out");
    assert!(!out.join("conversations.parquet").exists());
    assert!(!out.join("conversations.parquet.tmp").exists());
}

#[test]
fn strict_keeps_yesterdays_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, format!("[output]\ndir = \"out\"\n{JSONL_INPUT}")).unwrap();
    std::fs::write(dir.path().join("c.jsonl"), format!("{}\n", good("a"))).unwrap();
    assert_eq!(simgap(&["-q", "ingest", pipeline.to_str().unwrap()]).status.code(), Some(0));
    let before = std::fs::read(dir.path().join("out/conversations.parquet")).unwrap();
    std::fs::write(dir.path().join("c.jsonl"), format!("{}\nnot json\n", good("a"))).unwrap();
    assert_eq!(simgap(&["-q", "ingest", pipeline.to_str().unwrap(), "--strict"]).status.code(), Some(1));
    assert_eq!(std::fs::read(dir.path().join("out/conversations.parquet")).unwrap(), before);
}

#[test]
fn csv_unknown_role_and_extra_fields_name_their_lines() {
    let text = b"d0,usr,hello,x\nd0,sys,hi there,y\nd1,usr,ok,x\nd1,narrator,hmm,x\nd2,usr,I am sorry, but,x\n";
    let inputs = "[[input]]\npath = \"s.csv\"\nformat = \"csv\"\nsource = \"sim\"\nkind = \"simulator\"\n[input.csv]\nheader = false\nconversation_id = 0\nrole = 1\ntext = 2\nroles = { usr = \"user\", sys = \"assistant\" }\n";
    let (run, _dir) = ingest(&[("s.csv", text)], inputs, &[]);
    assert_eq!(run.code, Some(3));
    assert_eq!(run.accepted.len(), 1);
    assert_eq!(run.rejects.len(), 2);
    assert_eq!((run.rejects[0]["line"].as_u64(), run.rejects[0]["last_line"].as_u64()), (Some(3), Some(4)));
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("line 4: role value \"narrator\""));
    assert!(run.rejects[1]["reason"].as_str().unwrap().contains("line 5 has 5 fields"));
}

#[test]
fn unknown_pipeline_key_is_a_usage_error() {
    let inputs = JSONL_INPUT.replace("kind =", "knd =");
    let (run, _dir) = ingest(&[("c.jsonl", good("a").as_bytes())], &inputs, &[]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("knd"), "{}", run.stderr);
}

#[test]
fn missing_pipeline_file_is_a_usage_error() {
    let output = simgap(&["ingest", "/nonexistent/p.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nonexistent/p.toml"));
}

#[test]
fn a_value_of_the_wrong_type_is_a_schema_error_naming_the_field() {
    one_bad_line(
        r#"{"conversation_id": "x", "outcome": "success", "messages": [{"role": "user", "content": "hi"}]}"#,
        "schema: field `outcome`: invalid type: string \"success\"",
    );
}

#[test]
fn an_unparseable_timestamp_is_a_reject_naming_the_message() {
    one_bad_line(
        r#"{"conversation_id": "x", "messages": [{"role": "user", "content": "hi", "timestamp": "yesterday"}]}"#,
        "message 0: timestamp \"yesterday\" is neither an ISO 8601 date-time",
    );
}

#[test]
fn non_finite_outcome_is_rejected() {
    // JSON has no NaN; a number too large for f64 is rejected by the parser as out of range.
    one_bad_line(
        r#"{"conversation_id": "x", "outcome": 1e999, "messages": [{"role": "user", "content": "hi"}]}"#,
        "malformed JSON",
    );
}

#[test]
fn no_panic_on_arbitrary_bytes() {
    let mut noise = Vec::new();
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        noise.push(b"{}[]\",:\n \\ax0"[(state % 13) as usize]);
    }
    for (format, name) in [
        ("jsonl", "n.jsonl"),
        ("sharegpt", "n.json"),
        ("tau-bench", "n.json"),
        ("tau2", "n.json"),
        ("multiwoz", "n.json"),
        ("chitchat", "n.json"),
        ("recllmsim", "n.json"),
        ("openai", "n.json"),
    ] {
        let inputs = format!("[[input]]\npath = \"{name}\"\nformat = \"{format}\"\nsource = \"s\"\nkind = \"human\"\n");
        let (run, _dir) = ingest(&[(name, &noise)], &inputs, &[]);
        assert!(matches!(run.code, Some(0) | Some(3)), "{format}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{format}: {}", run.stderr);
    }
}

#[test]
fn byte_order_mark_is_skipped() {
    let text = format!("\u{feff}{}\n{}\n", good("a"), good("b"));
    let (run, _dir) = ingest(&[("c.jsonl", text.as_bytes())], JSONL_INPUT, &[]);
    assert_eq!(run.code, Some(0), "{:?}", run.rejects);
    assert_eq!(run.accepted.len(), 2);
}

#[test]
fn record_with_both_id_and_conversation_id() {
    let line = r#"{"id": "req-9", "conversation_id": "a", "messages": [{"role": "user", "content": "hi"}]}"#;
    let (run, _dir) = ingest(&[("c.jsonl", line.as_bytes())], JSONL_INPUT, &[]);
    assert_eq!(run.code, Some(0), "{:?}", run.rejects);
    assert_eq!(run.accepted[0].conversation_id, "a");
}

#[test]
fn csv_invalid_utf8_rejects_its_whole_conversation() {
    let text = b"d0,usr,hello,x\nd0,sys,caf\xe9,y\nd1,usr,ok,x\n";
    let inputs = "[[input]]\npath = \"s.csv\"\nformat = \"csv\"\nsource = \"sim\"\nkind = \"simulator\"\n[input.csv]\nheader = false\nconversation_id = 0\nrole = 1\ntext = 2\nroles = { usr = \"user\", sys = \"assistant\" }\n[ingest]\ninvalid_utf8 = \"reject\"\n";
    let (run, _dir) = ingest(&[("s.csv", text)], inputs, &[]);
    assert_eq!(run.code, Some(3));
    assert_eq!(run.accepted.len(), 1, "d0 is rejected whole, not accepted a message short");
    assert_eq!(run.rejects.len(), 1);
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("line 2: invalid UTF-8"), "{:?}", run.rejects);
}

#[test]
fn csv_column_index_past_the_row_is_a_clear_reject() {
    let inputs = "[[input]]\npath = \"s.csv\"\nformat = \"csv\"\nsource = \"sim\"\nkind = \"simulator\"\n[input.csv]\nheader = false\nconversation_id = 0\nrole = 1\ntext = 3\nextra_fields = \"merge\"\nroles = { usr = \"user\" }\n";
    let (run, _dir) = ingest(&[("s.csv", b"d0,usr,hi\nd0,usr,a,b,c\n")], inputs, &[]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("csv.text = 3"), "{:?}", run.rejects);
}

#[test]
fn json_arrays_appended_or_empty_are_reported() {
    let two = br#"[{"id": "a", "conversations": [{"from": "human", "value": "hi"}]}]
[{"id": "b", "conversations": [{"from": "human", "value": "lost?"}]}]"#;
    let inputs = "[[input]]\npath = \"d.json\"\nformat = \"sharegpt\"\nsource = \"s\"\nkind = \"simulator\"\n";
    let (run, _dir) = ingest(&[("d.json", two)], inputs, &[]);
    assert_eq!(run.code, Some(3));
    assert_eq!(run.accepted.len(), 1);
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("after the array's closing"));
    for (content, reason) in [(&b"[]"[..], "the array is empty"), (&b"["[..], "truncated")] {
        let (run, _dir) = ingest(&[("d.json", content)], inputs, &[]);
        assert_eq!(run.code, Some(3), "{reason}");
        assert!(run.rejects[0]["reason"].as_str().unwrap().contains(reason), "{:?}", run.rejects);
    }
}

#[test]
fn a_corpus_with_every_record_rejected_is_bad_data_not_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.jsonl"), "{\"bad\": 1}\nnot json\n").unwrap();
    let pipeline = dir.path().join("p.toml");
    // Two sources (the same file read as each), so the pipeline is a comparison and only the data are at fault.
    let simulator = "[[input]]\npath = \"c.jsonl\"\nformat = \"jsonl\"\nsource = \"sim\"\nkind = \"simulator\"\n";
    std::fs::write(&pipeline, format!("[output]\ndir = \"out\"\n{JSONL_INPUT}{simulator}")).unwrap();
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    // Exit 1 (a failure), not 2 (reserved for bad configuration or usage); the reasons are kept.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("nothing to cluster"), "{}", stderr(&output));
    assert!(stderr(&output).contains("rejects.jsonl"), "{}", stderr(&output));
    // The failed run made nothing current; its outputs, rejects included, are kept for inspection where it says.
    let kept = dir.path().join("out/.generations/1");
    assert!(stderr(&output).contains(kept.to_str().unwrap()), "{}", stderr(&output));
    assert_eq!(read_rejects(&kept).len(), 4);
    assert!(!dir.path().join("out/current").exists());
}

#[test]
fn csv_unterminated_quote_is_rejected_at_its_line_and_nothing_is_silently_merged() {
    let text = "dialogue,speaker,utterance\nd1,sys,Hi\nd1,usr,\"I need a table\nd2,sys,Hello\nd2,usr,book a taxi\nd3,sys,Hi\nd3,usr,thanks\n";
    let inputs = "[[input]]\npath = \"t.csv\"\nformat = \"csv\"\nsource = \"s\"\nkind = \"human\"\n[input.csv]\nconversation_id = \"dialogue\"\nrole = \"speaker\"\ntext = \"utterance\"\nroles = { usr = \"user\", sys = \"assistant\" }\n";
    let (run, _dir) = ingest(&[("t.csv", text.as_bytes())], inputs, &[]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.accepted.is_empty(), "no conversation holds the others as text");
    assert_eq!(run.rejects.len(), 2, "{:?}", run.rejects);
    assert!(run.rejects[0]["reason"].as_str().unwrap().contains("line 3 opens a quoted field"), "{:?}", run.rejects);
    assert!(run.rejects[1]["reason"].as_str().unwrap().contains("lines 4 to 7"), "{:?}", run.rejects);
    assert_eq!((run.rejects[1]["line"].as_u64(), run.rejects[1]["last_line"].as_u64()), (Some(4), Some(7)));
    assert!(run.rejects[1]["excerpt"].as_str().unwrap().contains("book a taxi"), "{:?}", run.rejects[1]);
}

#[test]
fn an_output_folder_inside_the_input_folder_is_not_read_back() {
    // The input is the whole folder; the output folder is inside it. Rerun after rerun, the same two records.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.jsonl"), format!("{}\nnot json\n", good("a"))).unwrap();
    let pipeline = dir.path().join("p.toml");
    let input = "[[input]]\npath = \".\"\nformat = \"jsonl\"\nsource = \"human\"\nkind = \"human\"\n";
    std::fs::write(&pipeline, format!("[output]\ndir = \"out\"\n{input}")).unwrap();
    for _ in 0..3 {
        let output = simgap(&["-q", "ingest", pipeline.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest.json")).unwrap()).unwrap();
        let ingest = &manifest["stages"]["ingest"];
        assert_eq!((ingest["read"].as_u64(), ingest["rejected"].as_u64()), (Some(2), Some(1)), "{ingest}");
    }
}
