//! Message timestamps: the one reading of a timestamp that ingest checks and the `timing` facet uses.
//!
//! Consumes: a timestamp's text as a transcript gives it. Produces: seconds since 1970-01-01T00:00:00Z, or `None`
//! for text that is not a timestamp (ingest rejects such records, naming the message and the text).
//! Accepted: ISO 8601 / RFC 3339 date-times, `2026-03-01T10:00:02Z`, with a fraction (`...:02.431`), an offset
//! (`+02:00`, `+0200`) or none (read as UTC), `T` or a space between date and time; or a number of Unix seconds
//! (`1772359202`, `1772359202.5`).

/// Seconds since 1970 for an ISO 8601 date-time or a number of Unix seconds.
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    if bytes.len() < 19 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b' ') {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(digits) = rest.strip_prefix('.') {
        let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
        fraction = format!("0.{}", &digits[..end]).parse().ok()?;
        rest = &digits[end..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            if digits.len() != 4 {
                return None;
            }
            sign * (digits[..2].parse::<i64>().ok()? * 3600 + digits[2..].parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset) as f64 + fraction)
}

/// The number of days in `month` (1 to 12) of `year`, proleptic Gregorian.
fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `seconds` since 1970-01-01 UTC plus `nanos` as ISO 8601 (`2023-04-09T00:02:53.25Z`; the fraction only where it
/// is not zero, without trailing zeros): what [`parse_timestamp`] reads back.
pub fn format_utc(seconds: i64, nanos: u32) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    let mut text =
        format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", of_day / 3600, of_day % 3600 / 60, of_day % 60);
    if nanos > 0 {
        text.push_str(format!(".{nanos:09}").trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01, after Howard Hinnant's
/// `civil_from_days`.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_timestamp("2026-03-01T00:00:00Z"), Some(1_772_323_200.0));
        assert_eq!(parse_timestamp("2025-08-01T16:23:26.5"), Some(1_754_065_406.5));
        assert_eq!(parse_timestamp("2018-05-02T19:38:15+02:00"), Some(1_525_282_695.0));
        assert_eq!(parse_timestamp("1700000000"), Some(1.7e9));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2026-02-29T00:00:00Z"), None, "2026 is no leap year");
        assert_eq!(parse_timestamp("2024-02-29T00:00:00Z"), Some(1_709_164_800.0));
        assert_eq!(parse_timestamp("2026-04-31 00:00:00"), None);
        assert_eq!(parse_timestamp("2026-03-01T24:00:00Z"), None);
        assert_eq!(parse_timestamp("2026-03-01T10:00:02+0130"), Some(1_772_359_202.0 - 5400.0));
        assert_eq!(parse_timestamp("2026-03-01T10:00:02+01"), None, "an offset needs hours and minutes");
        assert_eq!(parse_timestamp("NaN"), None);
        assert_eq!(parse_timestamp(""), None);
        assert_eq!(parse_timestamp("2026-03-01T10:00:02Zjunk"), None);
    }

    #[test]
    fn formatted_times_parse_back() {
        for (seconds, nanos) in [(0, 0), (1_709_164_800, 0), (-1, 999_000_000), (1_680_998_573, 250_000_000)] {
            let text = format_utc(seconds, nanos);
            assert_eq!(parse_timestamp(&text), Some(seconds as f64 + f64::from(nanos) / 1e9), "{text}");
        }
        assert_eq!(format_utc(1_709_164_800, 0), "2024-02-29T00:00:00Z");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
