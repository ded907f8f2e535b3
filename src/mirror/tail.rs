//! `wrangler tail --format json` captures: pretty-printed camelCase objects one
//! after another, mapped onto the Logpush field names.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::BufRead;

use serde_json::{json, Map, Value};

use super::record::Row;

/// One top-level value read from a capture, or text that could not be parsed.
#[derive(Debug)]
pub enum Item {
    Object {
        line: u64,
        value: Value,
    },
    Bad {
        line: u64,
        text: String,
        error: String,
    },
}

/// Reads top-level JSON values from a capture. The JSON parser decides what a
/// value is; the layout only decides when a parse is worth attempting (a line
/// that starts with `}` closes a pretty-printed object, a line that starts
/// with `{` and ends with `}` may hold whole objects). After a syntax error
/// the reader skips to the next line that starts with `{`.
pub struct TailReader<R> {
    input: R,
    line_no: u64,
    buf: String,
    buf_start: u64,
    bad: Option<(u64, String, String)>,
    pending: VecDeque<Item>,
    raw: Vec<u8>,
    done: bool,
}

impl<R: BufRead> TailReader<R> {
    pub fn new(input: R) -> Self {
        TailReader {
            input,
            line_no: 0,
            buf: String::new(),
            buf_start: 0,
            bad: None,
            pending: VecDeque::new(),
            raw: Vec::new(),
            done: false,
        }
    }

    fn line_of(&self, offset: usize) -> u64 {
        self.buf_start + self.buf[..offset].matches('\n').count() as u64
    }

    /// Parses the whole values the buffer holds and keeps an incomplete rest.
    fn drain(&mut self, at_eof: bool) {
        let mut consumed = 0;
        let mut stream = serde_json::Deserializer::from_str(&self.buf).into_iter::<Value>();
        let mut items = Vec::new();
        loop {
            let start = consumed + leading_ws(&self.buf[consumed..]);
            match stream.next() {
                Some(Ok(value)) => {
                    items.push(Item::Object {
                        line: self.line_of(start),
                        value,
                    });
                    consumed = stream.byte_offset();
                }
                Some(Err(e)) if e.is_eof() && !at_eof => break,
                Some(Err(e)) => {
                    let error = if e.is_eof() {
                        "capture ends inside an object (truncated)".to_string()
                    } else {
                        format!("invalid JSON: {e}")
                    };
                    let text = self.buf[start..].trim_end().to_string();
                    self.bad = Some((self.line_of(start), text, error));
                    consumed = self.buf.len();
                    break;
                }
                None => {
                    consumed = self.buf.len();
                    break;
                }
            }
        }
        self.pending.extend(items);
        self.buf_start = self.line_of(consumed);
        self.buf.drain(..consumed);
    }

    fn flush_bad(&mut self) {
        if let Some((line, text, error)) = self.bad.take() {
            self.pending.push_back(Item::Bad { line, text, error });
        }
    }
}

impl<R: BufRead> Iterator for TailReader<R> {
    type Item = std::io::Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            self.raw.clear();
            match self.input.read_until(b'\n', &mut self.raw) {
                Err(e) => return Some(Err(e)),
                Ok(0) => {
                    self.done = true;
                    if !self.buf.trim().is_empty() {
                        self.drain(true);
                    }
                    self.flush_bad();
                    continue;
                }
                Ok(_) => {}
            }
            self.line_no += 1;
            let line = String::from_utf8_lossy(&self.raw).into_owned();
            if let Some((_, text, _)) = &mut self.bad {
                if !line.starts_with('{') {
                    text.push('\n');
                    text.push_str(line.trim_end());
                    continue;
                }
                self.flush_bad();
            }
            if self.buf.trim().is_empty() {
                self.buf.clear();
                self.buf_start = self.line_no;
                if line.trim().is_empty() {
                    continue;
                }
            }
            self.buf.push_str(&line);
            let trimmed = line.trim();
            if line.starts_with('}') || (trimmed.starts_with('{') && trimmed.ends_with('}')) {
                self.drain(false);
            }
        }
    }
}

fn leading_ws(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

/// Maps one tail event onto the lake's Logpush-named fields.
pub fn to_row(value: &Value) -> Result<Row<'static>, String> {
    let Some(obj) = value.as_object() else {
        return Err("not a JSON object".into());
    };
    let ts = obj
        .get("eventTimestamp")
        .and_then(as_millis)
        .ok_or("no eventTimestamp: not a wrangler tail event")?;
    let text = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .map(|s| Cow::Owned(s.to_string()))
    };
    let event = obj.get("event").filter(|v| !v.is_null());
    let mut row = Row {
        event_timestamp_ms: ts,
        script_name: text("scriptName"),
        entrypoint: text("entrypoint"),
        outcome: text("outcome"),
        execution_model: text("executionModel"),
        dispatch_namespace: text("dispatchNamespace"),
        cpu_time_ms: obj.get("cpuTime").and_then(as_millis),
        wall_time_ms: obj.get("wallTime").and_then(as_millis),
        truncated: obj.get("truncated").and_then(Value::as_bool),
        event_type: event.and_then(event_type).map(Cow::Borrowed),
        event: event.map(|e| Cow::Owned(e.to_string())),
        event_id: xxhash_rust::xxh3::xxh3_64(value.to_string().as_bytes()),
        ..Row::default()
    };
    if let Some(e) = event {
        let request = e.get("request");
        let str_at = |v: Option<&Value>, k: &str| {
            v.and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(|s| Cow::Owned(s.to_string()))
        };
        row.request_url = str_at(request, "url");
        row.request_method = str_at(request, "method");
        row.response_status = e
            .get("response")
            .and_then(|r| r.get("status"))
            .and_then(Value::as_i64);
        row.rpc_method = str_at(Some(e), "rpcMethod");
    }
    if let Some(logs) = obj.get("logs").and_then(Value::as_array) {
        let logs: Vec<Value> = logs
            .iter()
            .map(|l| {
                json!({"Level": l.get("level"), "Message": l.get("message"), "TimestampMs": l.get("timestamp")})
            })
            .collect();
        let text = Value::Array(logs).to_string();
        row.log_messages = super::logpush::log_messages(&text).map_err(|e| format!("logs: {e}"))?;
        row.logs = Some(Cow::Owned(text));
    }
    if let Some(exceptions) = obj.get("exceptions").and_then(Value::as_array) {
        let list: Vec<Value> = exceptions
            .iter()
            .map(|x| json!({"Name": x.get("name"), "Message": x.get("message"), "TimestampMs": x.get("timestamp")}))
            .collect();
        row.exceptions = Some(Cow::Owned(Value::Array(list).to_string()));
    }
    if let Some(version) = obj.get("scriptVersion").and_then(Value::as_object) {
        let mut mapped = Map::new();
        for (from, to) in [("id", "ID"), ("tag", "Tag"), ("message", "Message")] {
            if let Some(v) = version.get(from) {
                mapped.insert(to.into(), v.clone());
            }
        }
        row.script_version = Some(Cow::Owned(Value::Object(mapped).to_string()));
    }
    row.script_tags = obj.get("scriptTags").map(|v| Cow::Owned(v.to_string()));
    row.diagnostics = obj
        .get("diagnosticsChannelEvents")
        .map(|v| Cow::Owned(v.to_string()));
    let extra: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !MAPPED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !extra.is_empty() {
        row.extra = Some(Value::Object(extra).to_string());
    }
    Ok(row)
}

const MAPPED: &[&str] = &[
    "eventTimestamp",
    "scriptName",
    "entrypoint",
    "outcome",
    "executionModel",
    "dispatchNamespace",
    "cpuTime",
    "wallTime",
    "truncated",
    "event",
    "logs",
    "exceptions",
    "scriptVersion",
    "scriptTags",
    "diagnosticsChannelEvents",
];

fn as_millis(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.round() as i64)
    })
}

/// Tail events carry no EventType; the shape of `event` tells it.
fn event_type(event: &Value) -> Option<&'static str> {
    let has = |k: &str| event.get(k).is_some();
    Some(if has("request") {
        "fetch"
    } else if has("rpcMethod") {
        "worker_rpc"
    } else if has("cron") {
        "scheduled"
    } else if has("scheduledTime") {
        "alarm"
    } else if has("getWebSocketEvent") || has("webSocketEventType") {
        "hibernatable_web_socket"
    } else if has("queue") {
        "queue"
    } else if has("mailFrom") {
        "email"
    } else if has("consumedEvents") {
        "tail"
    } else {
        return None;
    })
}

/// Whether a parsed object looks like a tail event rather than a Logpush line.
pub fn looks_like_tail(obj: &Map<String, Value>) -> bool {
    ["eventTimestamp", "scriptName", "wallTime", "cpuTime"]
        .iter()
        .any(|k| obj.contains_key(*k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<Item> {
        TailReader::new(text.as_bytes())
            .map(|r| r.unwrap())
            .collect()
    }

    const CAPTURE: &str = "{\n  \"eventTimestamp\": 10,\n  \"event\": {\n    \"rpcMethod\": \"fetchDirect\"\n  },\n  \"logs\": [\n    {\n      \"message\": [\n        \"{\\\"reqId\\\": \\\"a}\\\"}\"\n      ],\n      \"level\": \"log\",\n      \"timestamp\": 11\n    }\n  ]\n}\n{\n  \"eventTimestamp\": 20\n}\n";

    #[test]
    fn pretty_objects_are_read_with_their_first_line() {
        let got = items(CAPTURE);
        assert_eq!(got.len(), 2);
        match &got[0] {
            Item::Object { line, value } => {
                assert_eq!(*line, 1);
                let row = to_row(value).unwrap();
                assert_eq!(row.event_type.as_deref(), Some("worker_rpc"));
                assert_eq!(row.rpc_method.as_deref(), Some("fetchDirect"));
                assert_eq!(row.log_messages.as_deref(), Some("{\"reqId\": \"a}\"}"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(got[1], Item::Object { line: 16, .. }));
    }

    #[test]
    fn a_broken_object_is_reported_and_the_next_one_still_read() {
        let text = "{\n  \"eventTimestamp\": 1,\n  \"wallTime\": oops\n}\n{\n  \"eventTimestamp\": 2\n}\n{\"eventTimestamp\": 3}{\"eventTimestamp\": 4}\n{\n  \"eventTimestamp\": 5,\n";
        let got = items(text);
        let kinds: Vec<String> = got
            .iter()
            .map(|i| match i {
                Item::Object { line, .. } => format!("ok@{line}"),
                Item::Bad { line, .. } => format!("bad@{line}"),
            })
            .collect();
        assert_eq!(kinds, ["bad@1", "ok@5", "ok@8", "ok@8", "bad@9"]);
        match &got[4] {
            Item::Bad { error, .. } => assert!(error.contains("truncated"), "{error}"),
            _ => unreachable!(),
        }
    }
}
