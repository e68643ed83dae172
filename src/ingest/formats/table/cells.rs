//! One cell of a polars batch as the value a conversation field needs: text, an id, an integer, a number, a
//! timestamp, or JSON (metadata and survey answers).
//!
//! Consumes: polars [`AnyValue`]s. Produces: Rust values, or the reason a reject gives when the cell has a type the
//! field cannot take ("holds i64, not text"). Null is `None` everywhere; whether that is allowed is the caller's
//! rule. No value goes through JSON text on its way, except the fields that are JSON in `conversations.parquet`.

use polars::prelude::{AnyValue, TimeUnit};
use serde_json::Value;

use crate::ingest::timestamp::format_utc;

/// Text (strings and categoricals).
pub fn text(cell: &AnyValue) -> Result<Option<String>, String> {
    if cell.is_null() {
        return Ok(None);
    }
    cell.get_str().map(|s| Some(s.to_owned())).ok_or_else(|| not(cell, "text"))
}

/// An identifier: text (trimmed; blank is none) or an integer.
pub fn id(cell: &AnyValue) -> Result<Option<String>, String> {
    if let Some(integer) = integer_of(cell) {
        return Ok(Some(integer.to_string()));
    }
    Ok(text(cell).map_err(|_| not(cell, "text or an integer"))?.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

/// An integer: an integer cell, a float without a fraction, or text that parses as one.
pub fn integer(cell: &AnyValue) -> Result<Option<i64>, String> {
    if cell.is_null() {
        return Ok(None);
    }
    if let Some(integer) = integer_of(cell) {
        return Ok(Some(integer));
    }
    match number_of(cell) {
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(Some(x as i64)),
        _ => Err(not(cell, "an integer")),
    }
}

/// A number: integers, floats, booleans (1 and 0), or text that parses as a number.
pub fn number(cell: &AnyValue) -> Result<Option<f64>, String> {
    if cell.is_null() {
        return Ok(None);
    }
    number_of(cell).map(Some).ok_or_else(|| not(cell, "a number"))
}

/// A timestamp as text validation parses: a datetime (as ISO 8601 in UTC), a date (its midnight, UTC), Unix seconds,
/// or text as written.
pub fn timestamp(cell: &AnyValue) -> Result<Option<String>, String> {
    match cell {
        AnyValue::Null => Ok(None),
        AnyValue::Datetime(value, unit, _) | AnyValue::DatetimeOwned(value, unit, _) => {
            Ok(Some(datetime(*value, *unit)))
        }
        AnyValue::Date(days) => Ok(Some(format_utc(i64::from(*days) * 86_400, 0))),
        AnyValue::Boolean(_) => Err(not(cell, "a datetime, Unix seconds or ISO 8601 text")),
        _ => match integer_of(cell).map(|i| i.to_string()).or_else(|| number_of(cell).map(|x| x.to_string())) {
            Some(seconds) if cell.get_str().is_none() => Ok(Some(seconds)),
            _ => text(cell).map_err(|_| not(cell, "a datetime, Unix seconds or ISO 8601 text")),
        },
    }
}

/// Any cell as JSON: structs as objects, lists as arrays, datetimes as ISO 8601 text. Binary cells are refused.
pub fn json(cell: &AnyValue) -> Result<Value, String> {
    Ok(match cell {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::Float32(x) => float_json(f64::from(*x)),
        AnyValue::Float64(x) => float_json(*x),
        AnyValue::Datetime(..) | AnyValue::DatetimeOwned(..) | AnyValue::Date(_) => {
            Value::String(timestamp(cell)?.unwrap_or_default())
        }
        AnyValue::UInt64(u) => Value::from(*u),
        AnyValue::List(series) => {
            let series = series.rechunk();
            let items: Result<Vec<Value>, String> = series.iter().map(|item| json(&item)).collect();
            Value::Array(items?)
        }
        AnyValue::Struct(..) | AnyValue::StructOwned(..) => {
            let mut object = serde_json::Map::new();
            for (field, value) in struct_fields(cell) {
                object.insert(field, json(&value)?);
            }
            Value::Object(object)
        }
        AnyValue::Binary(_) | AnyValue::BinaryOwned(_) => return Err(not(cell, "a value JSON can hold")),
        _ => match (integer_of(cell), cell.get_str()) {
            (Some(integer), _) => Value::from(integer),
            (None, Some(text)) => Value::String(text.to_owned()),
            (None, None) => Value::String(cell.str_value().into_owned()),
        },
    })
}

/// A struct cell's fields and values, in schema order.
fn struct_fields(cell: &AnyValue) -> Vec<(String, AnyValue<'static>)> {
    match cell {
        AnyValue::Struct(..) => {
            let owned = cell.clone().into_static();
            struct_fields(&owned)
        }
        AnyValue::StructOwned(payload) => {
            let (values, fields) = payload.as_ref();
            fields.iter().zip(values).map(|(f, v)| (f.name().to_string(), v.clone().into_static())).collect()
        }
        _ => Vec::new(),
    }
}

fn float_json(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn integer_of(cell: &AnyValue) -> Option<i64> {
    match *cell {
        AnyValue::Int8(i) => Some(i.into()),
        AnyValue::Int16(i) => Some(i.into()),
        AnyValue::Int32(i) => Some(i.into()),
        AnyValue::Int64(i) => Some(i),
        AnyValue::UInt8(u) => Some(u.into()),
        AnyValue::UInt16(u) => Some(u.into()),
        AnyValue::UInt32(u) => Some(u.into()),
        AnyValue::UInt64(u) => i64::try_from(u).ok(),
        _ => None,
    }
}

fn number_of(cell: &AnyValue) -> Option<f64> {
    match cell {
        AnyValue::Float32(x) => Some(f64::from(*x)),
        AnyValue::Float64(x) => Some(*x),
        AnyValue::Boolean(b) => Some(f64::from(u8::from(*b))),
        _ => integer_of(cell).map(|i| i as f64).or_else(|| cell.get_str()?.trim().parse().ok()),
    }
}

/// A datetime's value in its unit as ISO 8601 text in UTC.
fn datetime(value: i64, unit: TimeUnit) -> String {
    let per_second: i64 = match unit {
        TimeUnit::Nanoseconds => 1_000_000_000,
        TimeUnit::Microseconds => 1_000_000,
        TimeUnit::Milliseconds => 1_000,
    };
    let nanos_per_unit = 1_000_000_000 / per_second;
    format_utc(value.div_euclid(per_second), (value.rem_euclid(per_second) * nanos_per_unit) as u32)
}

/// The reason a cell of the wrong type gives.
fn not(cell: &AnyValue, wanted: &str) -> String {
    format!("holds {}, not {wanted}", cell.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_convert_or_say_why_not() {
        assert_eq!(text(&AnyValue::String("hi")).unwrap(), Some("hi".into()));
        assert_eq!(text(&AnyValue::Null).unwrap(), None);
        assert_eq!(text(&AnyValue::Int64(3)).unwrap_err(), "holds i64, not text");
        assert_eq!(id(&AnyValue::Int32(17)).unwrap(), Some("17".into()));
        assert_eq!(id(&AnyValue::String("  ")).unwrap(), None);
        assert_eq!(integer(&AnyValue::Float64(2.0)).unwrap(), Some(2));
        assert!(integer(&AnyValue::Float64(2.5)).is_err());
        assert_eq!(number(&AnyValue::Boolean(true)).unwrap(), Some(1.0));
        assert_eq!(number(&AnyValue::String("0.25")).unwrap(), Some(0.25));
        assert!(number(&AnyValue::String("high")).is_err());
    }

    #[test]
    fn timestamps_become_text_validation_reads() {
        let micros = AnyValue::Datetime(1_680_998_573_250_000, TimeUnit::Microseconds, None);
        assert_eq!(timestamp(&micros).unwrap(), Some("2023-04-09T00:02:53.25Z".into()));
        assert_eq!(timestamp(&AnyValue::Date(1)).unwrap(), Some("1970-01-02T00:00:00Z".into()));
        assert_eq!(timestamp(&AnyValue::Int64(1_700_000_000)).unwrap(), Some("1700000000".into()));
        assert_eq!(timestamp(&AnyValue::String("2026-03-01T10:00:00Z")).unwrap(), Some("2026-03-01T10:00:00Z".into()));
        let before_1970 = AnyValue::Datetime(-1, TimeUnit::Milliseconds, None);
        assert_eq!(timestamp(&before_1970).unwrap(), Some("1969-12-31T23:59:59.999Z".into()));
        assert!(timestamp(&AnyValue::Boolean(true)).is_err());
    }

    #[test]
    fn json_keeps_types() {
        assert_eq!(json(&AnyValue::Boolean(false)).unwrap(), Value::Bool(false));
        assert_eq!(json(&AnyValue::Int16(-4)).unwrap(), Value::from(-4));
        assert_eq!(json(&AnyValue::Float64(f64::NAN)).unwrap(), Value::Null);
        assert_eq!(json(&AnyValue::String("English")).unwrap(), Value::from("English"));
        assert!(json(&AnyValue::Binary(b"\x00")).is_err());
    }
}
