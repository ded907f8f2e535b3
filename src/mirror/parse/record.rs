//! One trace event as it lands in the lake, and the column builders that turn
//! a stream of them into Parquet row groups.
//!
//! Lake schema (one row per delivered line, duplicates kept):
//!
//! | column | type | from |
//! | --- | --- | --- |
//! | `EventTimestampMs` | i64 | `EventTimestampMs` / tail `eventTimestamp` |
//! | `EventTime` | datetime[ms, UTC] | the same instant, typed |
//! | `date` | date | UTC day of the event: the `date=YYYY-MM-DD` folder (Hive partitioning), not stored in the file so that DuckDB, pyarrow and Polars agree on it |
//! | `ScriptName`, `Entrypoint`, `EventType`, `Outcome`, `ExecutionModel`, `DispatchNamespace` | str | as delivered; tail's `EventType` is derived |
//! | `CPUTimeMs`, `WallTimeMs` | i64 | `WallTimeMS` accepted too |
//! | `Truncated` | bool | |
//! | `RequestURL`, `RequestMethod`, `ResponseStatus`, `RpcMethod` | str, str, i64, str | lifted out of `Event` for both formats |
//! | `Colo` | str | the data centre that ran the invocation: Logpush `Event.Request.cf.colo`, tail `event.request.cf.colo`; fetch legs only |
//! | `LogMessages` | str | every `Logs[].Message[]` element, strings unescaped, one per line |
//! | `Event`, `Logs`, `Exceptions`, `ScriptVersion`, `ScriptTags`, `DiagnosticsChannelEvents` | str | raw JSON text |
//! | `Extra` | str | JSON object of any top-level key not listed above |
//! | `source_object`, `source_line`, `source_format` | str, i64, str | where the line came from |
//! | `event_id` | str | 16 hex digits of XXH3 over the line's content |

use std::borrow::Cow;

use polars::prelude::*;

use crate::core::limits;

/// Fields of one event; text borrows from the input line where it can.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Row<'a> {
    pub event_timestamp_ms: i64,
    pub script_name: Option<Cow<'a, str>>,
    pub entrypoint: Option<Cow<'a, str>>,
    pub event_type: Option<Cow<'a, str>>,
    pub outcome: Option<Cow<'a, str>>,
    pub execution_model: Option<Cow<'a, str>>,
    pub dispatch_namespace: Option<Cow<'a, str>>,
    pub cpu_time_ms: Option<i64>,
    pub wall_time_ms: Option<i64>,
    pub truncated: Option<bool>,
    pub request_url: Option<Cow<'a, str>>,
    pub request_method: Option<Cow<'a, str>>,
    pub response_status: Option<i64>,
    pub rpc_method: Option<Cow<'a, str>>,
    pub colo: Option<Cow<'a, str>>,
    pub log_messages: Option<String>,
    pub event: Option<Cow<'a, str>>,
    pub logs: Option<Cow<'a, str>>,
    pub exceptions: Option<Cow<'a, str>>,
    pub script_version: Option<Cow<'a, str>>,
    pub script_tags: Option<Cow<'a, str>>,
    pub diagnostics: Option<Cow<'a, str>>,
    pub extra: Option<String>,
    pub event_id: u64,
}

/// Lake columns written without min/max statistics: documents, free text and
/// hashes, which no reader filters by range.
pub const NO_MIN_MAX: [&str; 10] = [
    "RequestURL",
    "LogMessages",
    "Event",
    "Logs",
    "Exceptions",
    "ScriptVersion",
    "ScriptTags",
    "DiagnosticsChannelEvents",
    "Extra",
    "event_id",
];

impl Row<'_> {
    /// Whether the event's time and durations are within the limits every
    /// step relies on (see `crate::core::limits`); the error says which is not.
    pub fn check(&self) -> Result<(), String> {
        if !limits::event_time_in_range(self.event_timestamp_ms) {
            return Err(format!(
                "event time {} ms is outside 2010-01-01 to 2100-01-01 UTC",
                self.event_timestamp_ms
            ));
        }
        for (name, ms) in [
            ("CPUTimeMs", self.cpu_time_ms),
            ("WallTimeMs", self.wall_time_ms),
        ] {
            if let Some(ms) = ms.filter(|&ms| !limits::duration_in_range(ms)) {
                return Err(format!(
                    "{name} {ms} is outside 0 to {} ms (30 days, longer than any Workers limit)",
                    limits::MAX_DURATION_MS
                ));
            }
        }
        Ok(())
    }
}

pub const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a millisecond timestamp (floor, so pre-epoch works).
pub fn epoch_day(ms: i64) -> i32 {
    ms.div_euclid(MS_PER_DAY) as i32
}

/// 16 lowercase hex digits, without allocating (one call per lake row).
pub fn hex16(v: u64) -> Hex16 {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = DIGITS[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
    Hex16(out)
}

pub struct Hex16([u8; 16]);

impl Hex16 {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

/// Column builders for the rows of one object that fall on one date.
pub struct LakeBatch {
    len: usize,
    /// Bytes of text pushed: rows are flushed by count or by size, so a few
    /// huge lines cannot pile up (see `segment::GROUP_BYTES`).
    bytes: usize,
    ts: PrimitiveChunkedBuilder<Int64Type>,
    script_name: StringChunkedBuilder,
    entrypoint: StringChunkedBuilder,
    event_type: StringChunkedBuilder,
    outcome: StringChunkedBuilder,
    execution_model: StringChunkedBuilder,
    dispatch_namespace: StringChunkedBuilder,
    cpu: PrimitiveChunkedBuilder<Int64Type>,
    wall: PrimitiveChunkedBuilder<Int64Type>,
    truncated: BooleanChunkedBuilder,
    request_url: StringChunkedBuilder,
    request_method: StringChunkedBuilder,
    response_status: PrimitiveChunkedBuilder<Int64Type>,
    rpc_method: StringChunkedBuilder,
    colo: StringChunkedBuilder,
    log_messages: StringChunkedBuilder,
    event: StringChunkedBuilder,
    logs: StringChunkedBuilder,
    exceptions: StringChunkedBuilder,
    script_version: StringChunkedBuilder,
    script_tags: StringChunkedBuilder,
    diagnostics: StringChunkedBuilder,
    extra: StringChunkedBuilder,
    source_line: PrimitiveChunkedBuilder<Int64Type>,
    event_id: StringChunkedBuilder,
}

fn s(name: &str, cap: usize) -> StringChunkedBuilder {
    StringChunkedBuilder::new(name.into(), cap)
}
fn i(name: &str, cap: usize) -> PrimitiveChunkedBuilder<Int64Type> {
    PrimitiveChunkedBuilder::new(name.into(), cap)
}

impl LakeBatch {
    pub fn new(cap: usize) -> Self {
        LakeBatch {
            len: 0,
            bytes: 0,
            ts: i("EventTimestampMs", cap),
            script_name: s("ScriptName", cap),
            entrypoint: s("Entrypoint", cap),
            event_type: s("EventType", cap),
            outcome: s("Outcome", cap),
            execution_model: s("ExecutionModel", cap),
            dispatch_namespace: s("DispatchNamespace", cap),
            cpu: i("CPUTimeMs", cap),
            wall: i("WallTimeMs", cap),
            truncated: BooleanChunkedBuilder::new("Truncated".into(), cap),
            request_url: s("RequestURL", cap),
            request_method: s("RequestMethod", cap),
            response_status: i("ResponseStatus", cap),
            rpc_method: s("RpcMethod", cap),
            colo: s("Colo", cap),
            log_messages: s("LogMessages", cap),
            event: s("Event", cap),
            logs: s("Logs", cap),
            exceptions: s("Exceptions", cap),
            script_version: s("ScriptVersion", cap),
            script_tags: s("ScriptTags", cap),
            diagnostics: s("DiagnosticsChannelEvents", cap),
            extra: s("Extra", cap),
            source_line: i("source_line", cap),
            event_id: s("event_id", cap),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn push(&mut self, row: &Row, line: u64) {
        self.len += 1;
        let texts = [
            &row.request_url,
            &row.colo,
            &row.event,
            &row.logs,
            &row.exceptions,
            &row.script_version,
            &row.script_tags,
            &row.diagnostics,
        ];
        self.bytes += texts
            .iter()
            .map(|t| t.as_ref().map_or(0, |t| t.len()))
            .sum::<usize>()
            + row.log_messages.as_ref().map_or(0, String::len)
            + row.extra.as_ref().map_or(0, String::len);
        self.ts.append_value(row.event_timestamp_ms);
        self.script_name.append_option(row.script_name.as_deref());
        self.entrypoint.append_option(row.entrypoint.as_deref());
        self.event_type.append_option(row.event_type.as_deref());
        self.outcome.append_option(row.outcome.as_deref());
        self.execution_model
            .append_option(row.execution_model.as_deref());
        self.dispatch_namespace
            .append_option(row.dispatch_namespace.as_deref());
        self.cpu.append_option(row.cpu_time_ms);
        self.wall.append_option(row.wall_time_ms);
        self.truncated.append_option(row.truncated);
        self.request_url.append_option(row.request_url.as_deref());
        self.request_method
            .append_option(row.request_method.as_deref());
        self.response_status.append_option(row.response_status);
        self.rpc_method.append_option(row.rpc_method.as_deref());
        self.colo.append_option(row.colo.as_deref());
        self.log_messages.append_option(row.log_messages.as_deref());
        self.event.append_option(row.event.as_deref());
        self.logs.append_option(row.logs.as_deref());
        self.exceptions.append_option(row.exceptions.as_deref());
        self.script_version
            .append_option(row.script_version.as_deref());
        self.script_tags.append_option(row.script_tags.as_deref());
        self.diagnostics.append_option(row.diagnostics.as_deref());
        self.extra.append_option(row.extra.as_deref());
        self.source_line.append_value(line as i64);
        self.event_id.append_value(hex16(row.event_id).as_str());
    }

    /// Turns the builders into a frame and leaves fresh, empty builders behind.
    pub fn take_frame(
        &mut self,
        source_object: &str,
        source_format: &str,
    ) -> PolarsResult<DataFrame> {
        let b = std::mem::replace(self, LakeBatch::new(0));
        let n = b.len;
        let ts = b.ts.finish();
        let time = ts
            .clone()
            .with_name("EventTime".into())
            .into_datetime(TimeUnit::Milliseconds, Some(polars::prelude::TimeZone::UTC));
        let columns: Vec<Column> = vec![
            ts.into_column(),
            time.into_column(),
            b.script_name.finish().into_column(),
            b.entrypoint.finish().into_column(),
            b.event_type.finish().into_column(),
            b.outcome.finish().into_column(),
            b.execution_model.finish().into_column(),
            b.dispatch_namespace.finish().into_column(),
            b.cpu.finish().into_column(),
            b.wall.finish().into_column(),
            b.truncated.finish().into_column(),
            b.request_url.finish().into_column(),
            b.request_method.finish().into_column(),
            b.response_status.finish().into_column(),
            b.rpc_method.finish().into_column(),
            b.colo.finish().into_column(),
            b.log_messages.finish().into_column(),
            b.event.finish().into_column(),
            b.logs.finish().into_column(),
            b.exceptions.finish().into_column(),
            b.script_version.finish().into_column(),
            b.script_tags.finish().into_column(),
            b.diagnostics.finish().into_column(),
            b.extra.finish().into_column(),
            Column::new_scalar(
                "source_object".into(),
                Scalar::from(PlSmallStr::from(source_object)),
                n,
            ),
            b.source_line.finish().into_column(),
            Column::new_scalar(
                "source_format".into(),
                Scalar::from(PlSmallStr::from(source_format)),
                n,
            ),
            b.event_id.finish().into_column(),
        ];
        DataFrame::new(n, columns)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex16_matches_format() {
        for v in [0u64, 1, 0xdead_beef, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(super::hex16(v).as_str(), format!("{v:016x}"));
        }
    }
}
