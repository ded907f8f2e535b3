//! The limits on input that every step shares: what a line, an event time or
//! a leg's duration may be before it is bad input. Each limit is listed with
//! what happens at it in the README's "Bad input" section.

/// Event times outside [2010-01-01, 2100-01-01) UTC are not Workers events:
/// such a line is quarantined. The bound also keeps every date a four-digit
/// year, which Parquet readers (DuckDB, pyarrow) need to read `date=` folders
/// as dates.
pub const EVENT_TIME_MIN_MS: i64 = 1_262_304_000_000;
pub const EVENT_TIME_MAX_MS: i64 = 4_102_444_800_000;

/// A leg's wall or CPU time beyond 30 days exceeds every Workers limit (a
/// Durable Object's longest wall-clock time is bounded by its eviction): such
/// a line is quarantined, and the transform ignores such a leg in an older
/// lake. Sums of bounded durations cannot overflow an i64.
pub const MAX_DURATION_MS: i64 = 30 * 86_400_000;

/// Default longest line (or tail event) in bytes; `[mirror] max_line_bytes`.
/// DuckDB's `maximum_object_size` is the same idea (16 MiB too).
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

/// Longest line `[mirror] max_line_bytes` may allow (1 GiB): a line's
/// strings must fit the 32-bit lengths of polars' string views, and the
/// `Extra` column re-serialises values, up to ~4x longer (`1e15` is written
/// `1000000000000000.0`).
pub const MAX_LINE_BYTES: usize = 1 << 30;

/// Default bytes one object may put in the quarantine; `[mirror]
/// max_quarantine_bytes`. Past it, bad lines are still counted but not copied.
pub const DEFAULT_MAX_QUARANTINE_BYTES: u64 = 16 << 20;

/// The caps on what one object may hold or put in the quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    pub max_line_bytes: usize,
    pub max_quarantine_bytes: u64,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_quarantine_bytes: DEFAULT_MAX_QUARANTINE_BYTES,
        }
    }
}

/// Whether `ms` is a plausible event time (see [`EVENT_TIME_MIN_MS`]).
pub fn event_time_in_range(ms: i64) -> bool {
    (EVENT_TIME_MIN_MS..EVENT_TIME_MAX_MS).contains(&ms)
}

/// Whether `ms` is a plausible leg duration (see [`MAX_DURATION_MS`]).
pub fn duration_in_range(ms: i64) -> bool {
    (0..=MAX_DURATION_MS).contains(&ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_time_range_is_2010_to_2100_utc() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(EVENT_TIME_MIN_MS, at("2010-01-01T00:00:00Z"));
        assert_eq!(EVENT_TIME_MAX_MS, at("2100-01-01T00:00:00Z"));
        assert!(event_time_in_range(at("2025-11-18T21:00:00Z")));
        assert!(!event_time_in_range(EVENT_TIME_MAX_MS));
        assert!(!event_time_in_range(10_000_000_000_000_000));
        assert!(!event_time_in_range(-1));
        assert!(duration_in_range(0) && duration_in_range(MAX_DURATION_MS));
        assert!(!duration_in_range(-1) && !duration_in_range(i64::MAX));
    }
}
