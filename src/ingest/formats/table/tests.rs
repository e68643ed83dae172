//! The table reader on small NDJSON and CSV tables written here: both layouts, the filter's count, every bad-row
//! class as a reject naming its row, and files it cannot read as one reject.

use super::TableReader;
use crate::ingest::formats::testing::{VecSink, read_text};
use crate::ingest::options::TableOptions;
use crate::ingest::record::Location;

fn options(text: &str) -> TableOptions {
    toml::from_str(text).unwrap()
}

fn read(table: &str, name: &str, content: &str) -> VecSink {
    read_text(&TableReader::new(options(table)), name, content.as_bytes())
}

/// Four LMSYS-Chat-1M-shaped rows: (id, model, turn, language, toxic, messages as JSON).
const LMSYS_ROWS: [(&str, &str, u32, &str, bool, &str); 4] = [
    (
        "a",
        "m1",
        1,
        "English",
        false,
        r#"[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]"#,
    ),
    ("b", "m2", 2, "German", false, r#"[{"role": "user", "content": "hallo"}]"#),
    ("c", "m1", 3, "English", true, r#"[{"role": "user", "content": "x"}]"#),
    ("d", "m1", 2, "English", false, r#"[{"role": "user", "content": "y"}, {"role": "assistant", "content": "z"}]"#),
];

/// [`LMSYS_ROWS`] as NDJSON.
fn lmsys() -> String {
    let line = |(id, model, turn, language, toxic, messages): (&str, &str, u32, &str, bool, &str)| {
        let head = format!(r#"{{"conversation_id": "{id}", "model": "{model}", "turn": {turn}, "#);
        head + &format!(r#""language": "{language}", "toxic": {toxic}, "conversation": {messages}}}"#)
    };
    LMSYS_ROWS.into_iter().map(line).collect::<Vec<_>>().join("\n")
}

#[test]
fn conversation_rows_read_with_no_mapping() {
    let sink = read("metadata = [\"turn\", \"model\"]", "chat.ndjson", &lmsys());
    assert!(sink.rejected.is_empty(), "{:?}", sink.rejected);
    let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    let (location, first) = &sink.accepted[0];
    assert_eq!(*location, Location::Row(1));
    let messages = first.messages.as_ref().unwrap();
    assert_eq!((messages[1].role.as_str(), messages[1].content.as_deref()), ("assistant", Some("hello")));
    assert_eq!(first.metadata.as_deref(), Some(r#"{"model":"m1","turn":1}"#), "keys sorted, whatever the order named");
    assert_eq!(sink.filtered, 0);
}

#[test]
fn the_filter_keeps_exactly_its_rows_and_counts_the_rest() {
    let table = "filter = \"language = 'English' AND turn >= 2 AND NOT toxic\"";
    let sink = read(table, "chat.ndjson", &lmsys());
    let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
    assert_eq!(ids, ["d"]);
    assert_eq!(sink.accepted[0].0, Location::Row(4), "row numbers are the file's, before the filter");
    assert_eq!(sink.filtered, 3);
}

#[test]
fn source_and_kind_columns_label_each_row() {
    let table = "source_column = \"model\"\nkind_column = \"who\"";
    let rows =
        "{\"model\": \"m1\", \"who\": \"human\", \"conversation\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n";
    let sink = read(table, "part-7.ndjson", rows);
    let record = &sink.accepted[0].1;
    assert_eq!((record.source.as_deref(), record.kind.as_deref()), (Some("m1"), Some("human")));
    assert_eq!(record.conversation_id.as_deref(), Some("part-7#1"), "no id column: file and row name it");
}

#[test]
fn bad_rows_are_rejects_naming_their_row() {
    let rows = [
        r#"{"conversation_id": "ok", "conversation": [{"role": "user", "content": "fine"}]}"#,
        r#"{"conversation_id": "null", "conversation": null}"#,
        r#"{"conversation_id": "no-role", "conversation": [{"role": "user", "content": "a"}, {"role": null}]}"#,
        r#"{"conversation_id": "mapped", "conversation": [{"role": "human", "content": "c"}]}"#,
    ];
    let sink = read("roles = { human = \"user\" }", "bad.ndjson", &rows.join("\n"));
    let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
    assert_eq!(ids, ["ok", "mapped"]);
    assert_eq!(sink.rejected.len(), 2, "{:?}", sink.rejected);
    assert_eq!(sink.rejected[0].0, Location::Row(2));
    assert!(sink.rejected[0].1.contains("\"conversation\" is null"), "{}", sink.rejected[0].1);
    assert_eq!(sink.rejected[1].0, Location::Row(3));
    assert_eq!(sink.rejected[1].1, "message 1 has no role (role is null)");
}

#[test]
fn a_column_of_the_wrong_type_rejects_every_row_with_the_reason() {
    let rows = concat!(
        "{\"conversation_id\": \"a\", \"conversation\": \"hi\"}\n",
        "{\"conversation_id\": \"b\", \"conversation\": \"yo\"}\n"
    );
    let sink = read("", "t.ndjson", rows);
    assert!(sink.accepted.is_empty());
    assert_eq!(sink.rejected.len(), 2);
    assert!(sink.rejected[1].1.contains("holds str, not a list of message structs"), "{}", sink.rejected[1].1);
    let typed = "{\"conversation_id\": \"a\", \"conversation\": [{\"role\": \"user\", \"content\": 5}]}\n";
    let sink = read("", "t.ndjson", typed);
    assert_eq!(sink.rejected[0].1, "message 0 content holds i64, not text");
}

#[test]
fn a_missing_column_rejects_the_file_naming_the_columns_it_has() {
    let sink = read("messages = \"turns\"", "t.ndjson", &lmsys());
    assert_eq!(sink.rejected.len(), 1);
    assert_eq!(sink.rejected[0].0, Location::File);
    assert!(sink.rejected[0].1.contains("table.messages names column \"turns\""), "{}", sink.rejected[0].1);
    assert!(sink.rejected[0].1.contains("conversation_id"), "{}", sink.rejected[0].1);
}

#[test]
fn unreadable_files_are_one_reject() {
    let sink = read("", "t.parquet", "not parquet at all");
    assert_eq!(sink.rejected.len(), 1);
    assert_eq!(sink.rejected[0].0, Location::File);
    let sink = read("", "t.txt", "x");
    assert!(sink.rejected[0].1.contains("file_type"), "{}", sink.rejected[0].1);
}

const MESSAGES_CSV: &str = "conversation_id,turn,role,text,ts,channel
c1,1,assistant,second,2024-01-01T00:00:05Z,web
c1,0,user,first,2024-01-01T00:00:00Z,web
c2,0,user,only,,app
,0,user,orphan,,web
c3,0,narrator,odd,,web
c4,0,user,x,,web
c4,x,assistant,y,,web
";

#[test]
fn message_rows_group_and_order() {
    let table = "layout = \"message-per-row\"\ncontent = \"text\"\norder = \"turn\"\ntimestamp = \"ts\"";
    let sink = read(table, "m.csv", MESSAGES_CSV);
    let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
    assert_eq!(ids, ["c1", "c2", "c3"], "c3's role is validation's to reject");
    let c1 = sink.accepted[0].1.messages.as_ref().unwrap();
    assert_eq!(c1[0].content.as_deref(), Some("first"), "sorted by turn");
    assert_eq!(c1[0].timestamp.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(sink.accepted[0].0, Location::Rows { first: 1, last: 2 });
    assert_eq!(sink.rejected.len(), 2, "{:?}", sink.rejected);
    assert_eq!(sink.rejected[0].0, Location::Row(4));
    assert!(sink.rejected[0].1.contains("no conversation id"), "{}", sink.rejected[0].1);
    assert_eq!(sink.rejected[1].0, Location::Rows { first: 6, last: 7 });
    assert!(sink.rejected[1].1.starts_with("row 7: column \"turn\""), "{}", sink.rejected[1].1);
}

#[test]
fn a_message_row_filter_keeps_whole_conversations() {
    let table = "layout = \"message-per-row\"\ncontent = \"text\"\nfilter = \"channel = 'web'\"";
    let sink = read(table, "m.csv", MESSAGES_CSV);
    let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
    assert_eq!(ids, ["c1", "c3", "c4"]);
    assert_eq!(sink.filtered, 1, "c2, from the app");
}

#[test]
fn rows_that_come_back_later_are_a_second_conversation() {
    let csv = "conversation_id,role,content\na,user,1\nb,user,2\na,assistant,3\n";
    let sink = read("layout = \"message-per-row\"", "m.csv", csv);
    let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "a"], "validation rejects the second a as a duplicate, naming row 3");
    let any = read("layout = \"message-per-row\"\ngrouping = \"any\"", "m.csv", csv);
    assert_eq!(any.accepted[0].1.messages.as_ref().unwrap().len(), 2);
    assert_eq!(any.accepted[0].0, Location::Rows { first: 1, last: 3 });
}

#[test]
fn a_filter_on_a_column_the_table_lacks_rejects_the_file() {
    let sink = read("filter = \"country = 'US'\"", "chat.ndjson", &lmsys());
    assert!(sink.accepted.is_empty());
    assert_eq!(sink.rejected.len(), 1);
    assert_eq!(sink.rejected[0].0, Location::File);
    assert!(sink.rejected[0].1.starts_with("table.filter \"country = 'US'\" cannot run"), "{}", sink.rejected[0].1);
}
