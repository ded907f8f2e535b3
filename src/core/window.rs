//! The time window a step reads: from the pipeline file's `[window]` or
//! `--from`/`--to`.

use anyhow::{bail, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// A half-open UTC interval `[from, to)`; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Window {
    /// Whether a lake `date=` partition (the events' own UTC day) can hold events of the window.
    pub fn may_hold_day(&self, day: NaiveDate) -> bool {
        let day_start = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN));
        let day_end = day_start + chrono::Duration::days(1);
        self.from.is_none_or(|f| day_end > f) && self.to.is_none_or(|t| day_start < t)
    }

    /// Whether a Logpush date folder can hold events of the window. Events
    /// reach the folder of their delivery day, which can be the day after.
    pub fn may_hold_folder(&self, folder: NaiveDate) -> bool {
        let day_start = Utc.from_utc_datetime(&folder.and_time(NaiveTime::MIN));
        let day_end = day_start + chrono::Duration::days(1);
        let late = chrono::Duration::days(1);
        self.from.is_none_or(|f| day_end > f) && self.to.is_none_or(|t| day_start - late < t)
    }
}

/// Parses a UTC date or time. `end` turns a bare date into the start of the next day.
pub fn parse_utc(text: &str, end: bool) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let date = if end {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        return Ok(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    let naive = t.trim_end_matches('Z');
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Ok(Utc.from_utc_datetime(&dt));
        }
    }
    bail!("`{text}` is not a UTC date or time: write 2025-11-18, 2025-11-18T21:00 or 2025-11-18T21:00:00Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_parse_as_utc() {
        let day = parse_utc("2025-11-18", false).unwrap();
        assert_eq!(day.to_rfc3339(), "2025-11-18T00:00:00+00:00");
        let end = parse_utc("2025-11-18", true).unwrap();
        assert_eq!(end.to_rfc3339(), "2025-11-19T00:00:00+00:00");
        let t = parse_utc("2025-11-18T21:05", false).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-11-18T21:05:00+00:00");
        assert!(parse_utc("yesterday", false).is_err());
    }

    #[test]
    fn window_keeps_next_day_folder_for_late_events() {
        let w = Window {
            from: Some(parse_utc("2025-11-18", false).unwrap()),
            to: Some(parse_utc("2025-11-18", true).unwrap()),
        };
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(!w.may_hold_folder(d("2025-11-16")));
        assert!(!w.may_hold_folder(d("2025-11-17")));
        assert!(w.may_hold_folder(d("2025-11-18")));
        assert!(w.may_hold_folder(d("2025-11-19")));
        assert!(!w.may_hold_folder(d("2025-11-20")));
    }
}
