//! CSV / TSV turns: one row per message, grouped into conversations by the id column.
//!
//! Consumes: a delimited file streamed row by row. `[input.csv]` names the id, role and text columns (by header
//! name or 0-based index), optionally order and timestamp, and maps raw role values to canonical roles.
//! Produces: one [`RawConversation`] per conversation, located by its first and last line. With the default
//! `grouping = "contiguous"` a conversation's rows are consecutive and memory holds one conversation at a time; an
//! id that comes back later becomes a second record, rejected as a duplicate by validation.
//!
//! A row with an unmapped role, an unreadable order, or too few fields rejects its conversation, naming the line.
//! A row with more fields than expected (an unquoted delimiter inside the text, as in the shi2019 simulator logs)
//! rejects its conversation unless `extra_fields = "merge"`, which joins the surplus back into the text column.
//! The expected field count is the header's length, or the first row's when there is no header.
//!
//! A quoted field whose closing quote never comes runs to the end of the file, swallowing every row after it (the
//! CSV grammar allows line breaks inside quotes). That is detected at the end of the file: the last field spans
//! lines and the file does not end with a quote. The conversation of the row where the quote opened is rejected,
//! naming that line, and so are the lines after it, as one reject with their text: nothing is read silently as
//! message text. A stray quote that a later quote closes merges rows too; it is caught only where it breaks the
//! field count.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;

use super::sink::{FormatReader, RecordSink};
use crate::ingest::error::IngestError;
use crate::ingest::grouping::RowGrouping;
use crate::ingest::input_files::InputFile;
use crate::ingest::options::{ColumnRef, CsvOptions, ExtraFieldsPolicy, Utf8Policy};
use crate::ingest::record::{Location, RawConversation, RawMessage, Role};

pub struct CsvReader {
    options: CsvOptions,
}

impl CsvReader {
    pub fn new(options: CsvOptions) -> Self {
        Self { options }
    }
}

/// Column indexes resolved against the header.
struct Columns {
    id: usize,
    role: usize,
    text: usize,
    order: Option<usize>,
    timestamp: Option<usize>,
    expected_fields: usize,
}

/// The rows of one conversation, or the first reason it cannot be read.
struct Group {
    id: String,
    first_line: u64,
    last_line: u64,
    first_row: Vec<u8>,
    rows: Vec<(Option<f64>, RawMessage)>,
    error: Option<String>,
}

impl FormatReader for CsvReader {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let io_error = |source| IngestError::Io { path: file.disk_path.clone(), source };
        let last_byte = Rc::new(Cell::new(None));
        let reader = LastByte { inner: file.open().map_err(io_error)?, last: Rc::clone(&last_byte) };
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.options.delimiter as u8)
            .from_reader(reader);
        let mut record = csv::ByteRecord::new();
        let mut columns: Option<Columns> = None;
        let mut open: Vec<Group> = Vec::new(); // one group when contiguous; all groups otherwise
        let mut index_of: HashMap<String, usize> = HashMap::new();
        let mut saw_row = false;
        let mut bytes_reported = 0u64;
        // The last row's line and its last field, when that field spans lines (a quote that may never close).
        let mut last_multiline: Option<(u64, Vec<u8>)> = None;
        loop {
            let has_row = match csv.read_byte_record(&mut record) {
                Ok(has_row) => has_row,
                Err(e) => return unreadable_from(&e, open, sink),
            };
            if !has_row {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if line % 8192 == 0 {
                let byte = record.position().map_or(0, |p| p.byte());
                sink.advance(byte - bytes_reported);
                bytes_reported = byte;
            }
            let raw_row = join_fields(&record, self.options.delimiter);
            saw_row = true;
            last_multiline =
                record.iter().last().filter(|f| f.contains(&b'\n') || f.contains(&b'\r')).map(|f| (line, f.to_vec()));
            let Some(cols) = &columns else {
                match self.resolve_columns(&record) {
                    Ok(cols) => columns = Some(cols),
                    Err(reason) => return sink.reject(Location::File, reason, &raw_row),
                }
                if self.options.header {
                    continue;
                }
                self.take_row(columns.as_ref().unwrap(), &record, line, raw_row, sink, &mut open, &mut index_of)?;
                continue;
            };
            self.take_row(cols, &record, line, raw_row, sink, &mut open, &mut index_of)?;
        }
        let unterminated = last_multiline.filter(|_| last_byte.get() != Some(b'"'));
        close_groups(open, unterminated, csv.position().line(), sink)?;
        if !saw_row {
            sink.reject(Location::File, "empty file".into(), b"")?;
        }
        Ok(())
    }
}

impl CsvReader {
    fn resolve_columns(&self, first: &csv::ByteRecord) -> Result<Columns, String> {
        let header: Vec<String> = first.iter().map(|f| String::from_utf8_lossy(f).trim().to_owned()).collect();
        let find = |column: &ColumnRef, key: &str| -> Result<usize, String> {
            match column {
                ColumnRef::Index(i) => Ok(*i),
                ColumnRef::Name(name) if self.options.header => header
                    .iter()
                    .position(|h| h == name)
                    .ok_or_else(|| format!("csv.{key} names column \"{name}\", which is not in the header {header:?}")),
                ColumnRef::Name(name) => {
                    Err(format!("csv.{key} names column \"{name}\" but csv.header = false: use a 0-based index"))
                }
            }
        };
        let within = |index: usize, key: &str| {
            if index < header.len() {
                Ok(index)
            } else {
                Err(format!("csv.{key} = {index}, but the first row has {} fields (0-based indexes)", header.len()))
            }
        };
        let column = |c: &ColumnRef, key: &str| find(c, key).and_then(|i| within(i, key));
        Ok(Columns {
            id: column(&self.options.conversation_id, "conversation_id")?,
            role: column(&self.options.role, "role")?,
            text: column(&self.options.text, "text")?,
            order: self.options.order.as_ref().map(|c| column(c, "order")).transpose()?,
            timestamp: self.options.timestamp.as_ref().map(|c| column(c, "timestamp")).transpose()?,
            expected_fields: header.len(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn take_row(
        &self,
        cols: &Columns,
        record: &csv::ByteRecord,
        line: u64,
        raw_row: Vec<u8>,
        sink: &mut dyn RecordSink,
        open: &mut Vec<Group>,
        index_of: &mut HashMap<String, usize>,
    ) -> Result<(), IngestError> {
        let location = Location::Line(line);
        // Invalid UTF-8 is replaced with a warning, or (policy reject) rejects the row's whole conversation.
        let invalid_at = std::str::from_utf8(&raw_row).err().map(|e| e.valid_up_to());
        let reject_utf8 = invalid_at.filter(|_| sink.utf8_policy() == Utf8Policy::Reject);
        if let (Some(at), None) = (invalid_at, reject_utf8) {
            sink.warn(location, format!("invalid UTF-8 at byte {at} of the row, replaced with U+FFFD"));
        }
        let row_bytes = String::from_utf8_lossy(&raw_row).into_owned();
        let fields = self.fields(record, cols);
        let Some(id) = fields.get(cols.id).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) else {
            return sink.reject(
                location,
                format!("line {line} has no conversation id in column {}", cols.id),
                row_bytes.as_bytes(),
            );
        };
        let position = match self.options.grouping {
            RowGrouping::Contiguous => {
                if open.last().is_some_and(|g| g.id != id) {
                    let done = open.pop().expect("checked non-empty");
                    emit(done, sink)?;
                }
                if open.is_empty() {
                    open.push(Group::new(id, line, raw_row.clone()));
                }
                0
            }
            RowGrouping::Any => *index_of.entry(id.clone()).or_insert_with(|| {
                open.push(Group::new(id, line, raw_row.clone()));
                open.len() - 1
            }),
        };
        let group = &mut open[position];
        group.last_line = line;
        if group.error.is_some() {
            return Ok(());
        }
        if let Some(at) = reject_utf8 {
            group.error = Some(format!("line {line}: invalid UTF-8 at byte {at}"));
            return Ok(());
        }
        match self.message(cols, &fields, line) {
            Ok(row) => group.rows.push(row),
            Err(reason) => group.error = Some(reason),
        }
        Ok(())
    }

    /// The row's fields as text, with surplus fields merged into the text column when asked.
    fn fields(&self, record: &csv::ByteRecord, cols: &Columns) -> Vec<String> {
        let mut fields: Vec<String> = record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        let surplus = fields.len().saturating_sub(cols.expected_fields);
        if surplus > 0 && self.options.extra_fields == ExtraFieldsPolicy::Merge && cols.text < fields.len() {
            let merged: Vec<String> = fields.drain(cols.text..=cols.text + surplus).collect();
            fields.insert(cols.text, merged.join(&self.options.delimiter.to_string()));
        }
        fields
    }

    fn message(&self, cols: &Columns, fields: &[String], line: u64) -> Result<(Option<f64>, RawMessage), String> {
        if fields.len() > cols.expected_fields {
            return Err(format!(
                "line {line} has {} fields, expected {} (an unquoted delimiter in the text? set \
                 csv.extra_fields = \"merge\")",
                fields.len(),
                cols.expected_fields
            ));
        }
        let field = |i: usize| {
            fields.get(i).ok_or_else(|| format!("line {line} has {} fields, column {i} is missing", fields.len()))
        };
        let raw_role = field(cols.role)?.trim();
        let role = match self.options.roles.get(raw_role) {
            Some(mapped) => mapped.clone(),
            None if self.options.roles.is_empty() => match Role::parse_alias(raw_role) {
                Some(role) => role.as_str().to_owned(),
                None => raw_role.to_owned(), // validation rejects it as an unknown role
            },
            None => match Role::parse(raw_role) {
                Some(role) => role.as_str().to_owned(),
                None => {
                    return Err(format!(
                        "line {line}: role value \"{raw_role}\" is not in csv.roles (map it, e.g. {raw_role} = \
                         \"system\")"
                    ));
                }
            },
        };
        let order = match cols.order {
            None => None,
            Some(i) => {
                let text = field(i)?.trim();
                Some(text.parse::<f64>().map_err(|_| format!("line {line}: order value \"{text}\" is not a number"))?)
            }
        };
        let timestamp = cols.timestamp.map(|i| field(i).cloned()).transpose()?;
        Ok((order, RawMessage { role, content: Some(field(cols.text)?.clone()), timestamp }))
    }
}

impl Group {
    fn new(id: String, line: u64, first_row: Vec<u8>) -> Self {
        Self { id, first_line: line, last_line: line, first_row, rows: Vec::new(), error: None }
    }
}

fn emit(group: Group, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
    let location = Location::Lines { first: group.first_line, last: group.last_line };
    if let Some(reason) = group.error {
        return sink.reject(location, format!("conversation {}: {reason}", group.id), &group.first_row);
    }
    let mut rows = group.rows;
    if rows.iter().any(|(order, _)| order.is_some()) {
        rows.sort_by(|a, b| a.0.unwrap_or(f64::INFINITY).total_cmp(&b.0.unwrap_or(f64::INFINITY)));
    }
    sink.accept(
        location,
        RawConversation {
            conversation_id: Some(group.id),
            messages: Some(rows.into_iter().map(|(_, message)| message).collect()),
            ..RawConversation::default()
        },
    )
}

/// A reader that remembers the last byte it passed on that is not a line break (so the CSV reader can tell, at the
/// end, whether the file ends inside a quoted field).
struct LastByte<R> {
    inner: R,
    last: Rc<Cell<Option<u8>>>,
}

impl<R: Read> Read for LastByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(&b) = buf[..n].iter().rev().find(|&&b| b != b'\n' && b != b'\r') {
            self.last.set(Some(b));
        }
        Ok(n)
    }
}

fn join_fields(record: &csv::ByteRecord, delimiter: char) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, field) in record.iter().enumerate() {
        if i > 0 {
            out.push(delimiter as u8);
        }
        out.extend_from_slice(field);
    }
    out
}

/// A read error: the conversations still open are cut off and each rejected (not lost), then the rest of the file.
fn unreadable_from(e: &csv::Error, open: Vec<Group>, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
    let line = e.position().map_or(0, |p| p.line());
    for group in open {
        let location = Location::Lines { first: group.first_line, last: group.last_line };
        let reason = format!("conversation {}: the file is unreadable from line {line}", group.id);
        sink.reject(location, reason, &group.first_row)?;
    }
    sink.reject(Location::Line(line), format!("unreadable CSV, the rest of the file cannot be read: {e}"), b"")
}

/// The end of the file: every open conversation emitted; where the last row's last field opened a quote that never
/// closed, the conversation holding it rejected and the lines swallowed by the quote rejected with their text.
fn close_groups(
    mut open: Vec<Group>,
    unterminated: Option<(u64, Vec<u8>)>,
    reader_line: u64,
    sink: &mut dyn RecordSink,
) -> Result<(), IngestError> {
    if let Some((line, _)) = &unterminated {
        let reason =
            format!("line {line} opens a quoted field that is never closed: the rest of the file was read as its text");
        if let Some(group) = open.iter_mut().find(|g| g.last_line == *line) {
            group.error = Some(reason);
        }
    }
    for group in open {
        emit(group, sink)?;
    }
    if let Some((line, field)) = unterminated {
        // The reader's line is one past the last when the file ends with a line break.
        let end = (reader_line - u64::from(field.ends_with(b"\n"))).max(line + 1);
        let tail = field.splitn(2, |&b| b == b'\n').nth(1).unwrap_or_default().to_vec();
        sink.reject(
            Location::Lines { first: line + 1, last: end },
            format!(
                "lines {} to {end} lie inside the quoted field opened at line {line}, never closed: they could not be \
                 read as rows",
                line + 1
            ),
            &tail,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::read_text;
    use super::*;
    use std::collections::BTreeMap;

    fn options(header: bool) -> CsvOptions {
        CsvOptions {
            header,
            delimiter: ',',
            conversation_id: ColumnRef::Index(0),
            role: ColumnRef::Index(1),
            text: ColumnRef::Index(2),
            order: None,
            timestamp: None,
            roles: BTreeMap::from([("usr".into(), "user".into()), ("sys".into(), "assistant".into())]),
            extra_fields: ExtraFieldsPolicy::Reject,
            grouping: RowGrouping::Contiguous,
        }
    }

    #[test]
    fn groups_contiguous_rows_with_lines() {
        let text = "d0,usr,hi,x\nd0,sys,hello,y\nd1,usr,bye,z\n";
        let sink = read_text(&CsvReader::new(options(false)), "s.csv", text.as_bytes());
        assert_eq!(sink.accepted.len(), 2);
        assert_eq!(sink.accepted[0].0, Location::Lines { first: 1, last: 2 });
        let roles: Vec<_> = sink.accepted[0].1.messages.as_ref().unwrap().iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["user", "assistant"]);
    }

    #[test]
    fn an_unterminated_quote_rejects_its_conversation_and_the_swallowed_lines() {
        let text = "dialogue,speaker,utterance\nd1,sys,Hi\nd1,usr,\"I need a table\nd2,sys,Hello\nd2,usr,book a taxi\n\
                    d3,sys,Hi\nd3,usr,thanks\n";
        let sink = read_text(&CsvReader::new(options(true)), "t.csv", text.as_bytes());
        assert!(sink.accepted.is_empty(), "{:?}", sink.accepted);
        assert_eq!(sink.rejected.len(), 2, "{:?}", sink.rejected);
        assert_eq!(sink.rejected[0].0, Location::Lines { first: 2, last: 3 });
        assert!(sink.rejected[0].1.contains("line 3 opens a quoted field that is never closed"), "{:?}", sink.rejected);
        assert_eq!(sink.rejected[1].0, Location::Lines { first: 4, last: 7 });
        assert!(sink.rejected[1].1.contains("lines 4 to 7"), "{:?}", sink.rejected);
        // A closed quote spanning lines is text, not an error, also as the file's last field.
        let sink = read_text(&CsvReader::new(options(false)), "s.csv", b"d0,usr,\"two\nlines\"\n");
        assert_eq!((sink.accepted.len(), sink.rejected.len()), (1, 0), "{:?}", sink.rejected);
    }

    #[test]
    fn unmapped_role_rejects_conversation_with_line() {
        let text = "d0,goal,{...},\nd0,usr,hi,x\nd1,usr,ok,x\n";
        let sink = read_text(&CsvReader::new(options(false)), "s.csv", text.as_bytes());
        assert_eq!(sink.accepted.len(), 1);
        assert!(sink.rejected[0].1.contains("line 1") && sink.rejected[0].1.contains("goal"), "{:?}", sink.rejected);
    }

    #[test]
    fn extra_fields_reject_or_merge() {
        let text = "d0,usr,ok,x\nd0,sys,I am sorry, but no,label\n";
        let sink = read_text(&CsvReader::new(options(false)), "s.csv", text.as_bytes());
        assert!(sink.rejected[0].1.contains("extra_fields"), "{:?}", sink.rejected);
        let mut merging = options(false);
        merging.extra_fields = ExtraFieldsPolicy::Merge;
        let sink = read_text(&CsvReader::new(merging), "s.csv", text.as_bytes());
        let messages = sink.accepted[0].1.messages.clone().unwrap();
        assert_eq!(messages[1].content.as_deref(), Some("I am sorry, but no"));
    }

    #[test]
    fn header_names_order_and_interleaving() {
        let mut opts = options(true);
        opts.conversation_id = ColumnRef::Name("id".into());
        opts.role = ColumnRef::Name("who".into());
        opts.text = ColumnRef::Name("utt".into());
        opts.order = Some(ColumnRef::Name("n".into()));
        opts.roles = BTreeMap::from([("0".into(), "user".into()), ("1".into(), "assistant".into())]);
        opts.grouping = RowGrouping::Any;
        let text = "n,id,who,utt\n1,a,1,second\n5,b,0,only\n0,a,0,first\n";
        let sink = read_text(&CsvReader::new(opts), "h.csv", text.as_bytes());
        assert!(sink.rejected.is_empty(), "{:?}", sink.rejected);
        let texts: Vec<_> =
            sink.accepted[0].1.messages.as_ref().unwrap().iter().map(|m| m.content.clone().unwrap()).collect();
        assert_eq!(texts, ["first", "second"]);
        assert_eq!(sink.accepted[1].1.conversation_id.as_deref(), Some("b"));
    }

    #[test]
    fn missing_header_column_rejects_file() {
        let mut opts = options(true);
        opts.text = ColumnRef::Name("utterance".into());
        let sink = read_text(&CsvReader::new(opts), "h.csv", b"id,who,utt\na,0,x\n");
        assert_eq!(sink.rejected[0].0, Location::File);
        assert!(sink.rejected[0].1.contains("utterance"));
    }

    #[test]
    fn contiguous_repeat_is_a_second_record() {
        let sink = read_text(&CsvReader::new(options(false)), "s.csv", b"a,usr,x,1\nb,usr,y,1\na,usr,z,1\n");
        let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
        assert_eq!(ids, ["a", "b", "a"]);
    }
}
