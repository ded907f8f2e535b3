//! `wrangler tail --format json` captures: pretty-printed camelCase objects one
//! after another, mapped onto the Logpush field names.

use std::borrow::Cow;
use std::io;

use serde_json::{json, Map, Value};

use super::lines::{Excerpt, Piece, HEAD};
use super::record::Row;

/// One top-level value read from a capture, or bytes that are not one.
#[derive(Debug)]
pub enum Item {
    /// A value and its text as delivered (for the quarantine, if it is no event).
    Object {
        line: u64,
        value: Value,
        text: Vec<u8>,
    },
    Bad {
        line: u64,
        text: Excerpt,
        error: String,
    },
}

/// Where the framer is between lines.
enum State {
    Between,
    /// Inside a value that started with `{`: its text so far and where the
    /// scan stands (bracket depth, inside a string, after a backslash).
    Value {
        line: u64,
        text: Vec<u8>,
        depth: u64,
        in_string: bool,
        escaped: bool,
    },
    /// A value that cannot be whole (a string or the event runs past its
    /// line or the cap): skipped up to the next line that starts with `{`.
    Broken {
        line: u64,
        text: Excerpt,
        error: String,
    },
}

/// Cuts a capture into top-level values by bracket depth, outside strings.
/// `wrangler tail --format json` pretty-prints each event from a `{` in the
/// first column to a `}` in the first column, every line between indented;
/// JSON strings hold no raw newline. So a line that starts with `{` starts
/// an event whatever came before: after junk, a half event, an unclosed
/// string or a broken bracket, the framer resumes there, and only the bytes
/// in between are bad. Values on one line (`}{`, compact objects) are cut
/// by depth alone. No value is held beyond the cap.
pub struct TailFramer {
    max: usize,
    state: State,
    /// Bytes between values that are not a value: (first line, text, last line).
    junk: Option<(u64, Excerpt, u64)>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl TailFramer {
    pub fn new(max: usize) -> Self {
        TailFramer {
            max,
            state: State::Between,
            junk: None,
        }
    }

    /// Feeds line `no` (without its newline).
    pub fn line(
        &mut self,
        no: u64,
        piece: Piece,
        out: &mut dyn FnMut(Item) -> io::Result<()>,
    ) -> io::Result<()> {
        let (bytes, long) = match piece {
            Piece::Line(l) => (l, None),
            Piece::TooLong { len, head } => (head, Some(len)),
        };
        let bytes = if no == 1 {
            bytes.strip_prefix(BOM).unwrap_or(bytes)
        } else {
            bytes
        };
        if bytes.first() == Some(&b'{') && !matches!(self.state, State::Between) {
            let error = format!("event cut short: line {no} starts the next one");
            self.close_open(error, out)?;
        }
        if let Some(len) = long {
            return self.too_long(no, bytes, len, out);
        }
        if let State::Broken { text, .. } = &mut self.state {
            text.push(b"\n", self.max);
            text.push(bytes, self.max);
            return Ok(());
        }
        self.scan(no, bytes, out)?;
        if let State::Value {
            text,
            in_string,
            line,
            ..
        } = &mut self.state
        {
            text.push(b'\n');
            let error = if *in_string {
                Some(format!("unclosed string at line {no}"))
            } else if text.len() > self.max {
                Some(format!("event longer than the limit of {} bytes", self.max))
            } else {
                None
            };
            if let Some(error) = error {
                let mut cut = Excerpt::default();
                cut.push(text, self.max);
                self.state = State::Broken {
                    line: *line,
                    text: cut,
                    error,
                };
            }
        }
        Ok(())
    }

    /// Reports whatever is still open at the end of the capture.
    pub fn finish(mut self, out: &mut dyn FnMut(Item) -> io::Result<()>) -> io::Result<()> {
        self.flush_junk(out)?;
        self.close_open("capture ends inside an event (truncated)".into(), out)
    }

    fn too_long(
        &mut self,
        no: u64,
        head: &[u8],
        len: u64,
        out: &mut dyn FnMut(Item) -> io::Result<()>,
    ) -> io::Result<()> {
        let error = format!(
            "line of {len} bytes is longer than the limit of {} bytes",
            self.max
        );
        match &mut self.state {
            State::Between => {
                self.flush_junk(out)?;
                let text = Excerpt {
                    bytes: head.to_vec(),
                    len,
                };
                out(Item::Bad {
                    line: no,
                    text,
                    error,
                })
            }
            State::Value { line, text, .. } => {
                let mut cut = Excerpt::default();
                cut.push(text, self.max);
                cut.push(b"\n", self.max);
                cut.len += len;
                cut.bytes.truncate(HEAD);
                self.state = State::Broken {
                    line: *line,
                    text: cut,
                    error,
                };
                Ok(())
            }
            State::Broken { text, .. } => {
                text.len += len + 1;
                text.bytes.truncate(HEAD);
                Ok(())
            }
        }
    }

    /// Cuts `bytes` (one line) into junk and values.
    fn scan(
        &mut self,
        no: u64,
        bytes: &[u8],
        out: &mut dyn FnMut(Item) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut at = 0;
        while at < bytes.len() {
            match &mut self.state {
                State::Between => {
                    at += bytes[at..]
                        .iter()
                        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r'))
                        .count();
                    if at == bytes.len() {
                        break;
                    }
                    if bytes[at] == b'{' {
                        self.flush_junk(out)?;
                        self.state = State::Value {
                            line: no,
                            text: Vec::new(),
                            depth: 0,
                            in_string: false,
                            escaped: false,
                        };
                        continue;
                    }
                    let end = memchr::memchr(b'{', &bytes[at..]).map_or(bytes.len(), |i| at + i);
                    self.add_junk(no, &bytes[at..end]);
                    at = end;
                }
                State::Value {
                    line,
                    text,
                    depth,
                    in_string,
                    escaped,
                } => {
                    let end = value_end(&bytes[at..], depth, in_string, escaped).map(|i| at + i);
                    text.extend_from_slice(&bytes[at..end.unwrap_or(bytes.len())]);
                    let Some(end) = end else { break };
                    let item = parse(*line, std::mem::take(text));
                    self.state = State::Between;
                    out(item)?;
                    at = end;
                }
                State::Broken { .. } => break,
            }
        }
        Ok(())
    }

    fn add_junk(&mut self, no: u64, bytes: &[u8]) {
        let max = self.max;
        let (_, text, last) = self
            .junk
            .get_or_insert_with(|| (no, Excerpt::default(), no));
        if *last != no {
            text.push(b"\n", max);
            *last = no;
        }
        text.push(bytes, max);
    }

    fn flush_junk(&mut self, out: &mut dyn FnMut(Item) -> io::Result<()>) -> io::Result<()> {
        match self.junk.take() {
            Some((line, text, _)) => out(Item::Bad {
                line,
                text,
                error: "not a JSON event: text between events".into(),
            }),
            None => Ok(()),
        }
    }

    fn close_open(
        &mut self,
        error: String,
        out: &mut dyn FnMut(Item) -> io::Result<()>,
    ) -> io::Result<()> {
        let item = match std::mem::replace(&mut self.state, State::Between) {
            State::Between => return Ok(()),
            State::Value { line, text, .. } => {
                let trimmed = text.trim_ascii_end();
                Item::Bad {
                    line,
                    text: Excerpt::whole(trimmed),
                    error,
                }
            }
            State::Broken { line, text, error } => Item::Bad { line, text, error },
        };
        out(item)
    }
}

/// Where the value being scanned ends in `bytes` (one past its closing
/// bracket), carrying the scan's state over lines.
fn value_end(
    bytes: &[u8],
    depth: &mut u64,
    in_string: &mut bool,
    escaped: &mut bool,
) -> Option<usize> {
    for (i, &b) in bytes.iter().enumerate() {
        if *in_string {
            if *escaped {
                *escaped = false;
            } else if b == b'\\' {
                *escaped = true;
            } else if b == b'"' {
                *in_string = false;
            }
            continue;
        }
        match b {
            b'"' => *in_string = true,
            b'{' | b'[' => *depth += 1,
            b'}' | b']' => {
                *depth = depth.saturating_sub(1);
                if *depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// A whole value's text as an item: one rule for UTF-8 with the Logpush path.
fn parse(line: u64, text: Vec<u8>) -> Item {
    let error = match simdutf8::basic::from_utf8(&text) {
        Err(_) => "not UTF-8 text".to_string(),
        Ok(s) => match serde_json::from_str::<Value>(s) {
            Ok(value) => return Item::Object { line, value, text },
            Err(e) => format!("invalid JSON: {e}"),
        },
    };
    Item::Bad {
        line,
        text: Excerpt {
            len: text.len() as u64,
            bytes: text,
        },
        error,
    }
}

/// wrangler's notice that it is sampling: events were dropped before the capture.
pub fn is_sampling_notice(value: &Value) -> bool {
    value.get("type").and_then(Value::as_str) == Some("overload")
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
        map_request(e, &mut row);
    }
    map_lists(obj, &mut row)?;
    row.script_tags = obj.get("scriptTags").map(|v| Cow::Owned(v.to_string()));
    row.diagnostics = obj
        .get("diagnosticsChannelEvents")
        .map(|v| Cow::Owned(v.to_string()));
    // Fields of an unexpected shape are kept as delivered, not dropped.
    let raw = |k: &str| {
        obj.get(k)
            .filter(|v| !v.is_null())
            .map(|v| Cow::Owned(v.to_string()))
    };
    row.logs = row.logs.or_else(|| raw("logs"));
    row.exceptions = row.exceptions.or_else(|| raw("exceptions"));
    row.script_version = row.script_version.or_else(|| raw("scriptVersion"));
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

/// The request fields of a tail event's `event`.
fn map_request(e: &Value, row: &mut Row<'static>) {
    let request = e.get("request");
    let str_at = |v: Option<&Value>, k: &str| {
        v.and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(|s| Cow::Owned(s.to_string()))
    };
    row.request_url = str_at(request, "url");
    row.request_method = str_at(request, "method");
    row.colo = str_at(request.and_then(|r| r.get("cf")), "colo");
    row.response_status = e
        .get("response")
        .and_then(|r| r.get("status"))
        .and_then(Value::as_i64);
    row.rpc_method = str_at(Some(e), "rpcMethod");
}

/// Logs, exceptions and the script version, renamed to Logpush's fields.
fn map_lists(obj: &Map<String, Value>, row: &mut Row<'static>) -> Result<(), String> {
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
    Ok(())
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

/// Keys that only a tail event has (Logpush spells them in PascalCase).
pub const TAIL_KEYS: [&str; 4] = ["eventTimestamp", "scriptName", "wallTime", "cpuTime"];

/// Whether a parsed object looks like a tail event rather than a Logpush line.
pub fn looks_like_tail(obj: &Map<String, Value>) -> bool {
    TAIL_KEYS.iter().any(|k| obj.contains_key(*k))
        || obj.get("type").and_then(Value::as_str) == Some("overload")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::parse::lines::for_each_line;

    fn items_with(text: &[u8], max: usize) -> Vec<Item> {
        let mut framer = TailFramer::new(max);
        let mut got = Vec::new();
        let mut reader = std::io::BufReader::with_capacity(7, text);
        for_each_line(&mut reader, max, |no, piece| {
            framer.line(no, piece, &mut |item| {
                got.push(item);
                Ok(())
            })
        })
        .unwrap();
        framer
            .finish(&mut |item| {
                got.push(item);
                Ok(())
            })
            .unwrap();
        got
    }

    fn items(text: &str) -> Vec<Item> {
        items_with(text.as_bytes(), 1 << 20)
    }

    /// `ok@LINE:TS` for an event, `bad@LINE` for bad bytes or a value that is no event.
    fn kinds(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Object { line, value, .. } if to_row(value).is_ok() => {
                    format!("ok@{line}:{}", value["eventTimestamp"])
                }
                Item::Object { line, .. } | Item::Bad { line, .. } => format!("bad@{line}"),
            })
            .collect()
    }

    const CAPTURE: &str = "{\n  \"eventTimestamp\": 10,\n  \"event\": {\n    \"rpcMethod\": \"fetchDirect\"\n  },\n  \"logs\": [\n    {\n      \"message\": [\n        \"{\\\"reqId\\\": \\\"a}\\\"}\"\n      ],\n      \"level\": \"log\",\n      \"timestamp\": 11\n    }\n  ]\n}\n{\n  \"eventTimestamp\": 20\n}\n";

    #[test]
    fn pretty_objects_are_read_with_their_first_line() {
        let got = items(CAPTURE);
        assert_eq!(kinds(&got), ["ok@1:10", "ok@16:20"]);
        match &got[0] {
            Item::Object { value, .. } => {
                let row = to_row(value).unwrap();
                assert_eq!(row.event_type.as_deref(), Some("worker_rpc"));
                assert_eq!(row.rpc_method.as_deref(), Some("fetchDirect"));
                assert_eq!(row.log_messages.as_deref(), Some("{\"reqId\": \"a}\"}"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_broken_object_is_reported_and_the_next_one_still_read() {
        let text = "{\n  \"eventTimestamp\": 1,\n  \"wallTime\": oops\n}\n{\n  \"eventTimestamp\": 2\n}\n{\"eventTimestamp\": 3}{\"eventTimestamp\": 4}\n{\n  \"eventTimestamp\": 5,\n";
        let got = items(text);
        assert_eq!(
            kinds(&got),
            ["bad@1", "ok@5:2", "ok@8:3", "ok@8:4", "bad@9"]
        );
        match &got[4] {
            Item::Bad { error, .. } => assert!(error.contains("truncated"), "{error}"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn junk_before_between_and_inside_events_loses_only_the_junk() {
        let cases: [(&str, &str); 7] = [
            ("hello\n", "a stray line"),
            ("⛅️ wrangler 4.50.0\nSuccessfully created tail\n", "wrangler's banner"),
            ("{\n  \"eventTimestamp\": 7,\n", "a half object"),
            ("{\n  \"eventTimestamp\": \"7,\n}\n", "an unclosed string"),
            ("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n", "a deeply nested line"),
            ("  \"wallTime\": 5,\n  \"logs\": [\n    {\n      \"message\": [\"x\"]\n    }\n  ]\n}\n", "a capture starting mid-object"),
            ("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}\n", "an object nested past the parser's limit"),
        ];
        let good = "{\n  \"eventTimestamp\": 1\n}\n{\"eventTimestamp\": 2}\n";
        for (junk, what) in cases {
            for text in [format!("{junk}{good}"), format!("{good}{junk}{good}")] {
                let got = kinds(&items(&text));
                let ok: Vec<&str> = got
                    .iter()
                    .filter_map(|k| k.split_once(':'))
                    .map(|(_, ts)| ts)
                    .collect();
                let bad = got.iter().filter(|k| k.starts_with("bad@")).count();
                let want = if text.starts_with(good) {
                    ["1", "2", "1", "2"].as_slice()
                } else {
                    &["1", "2"]
                };
                assert_eq!(ok, want, "{what}: {got:?}");
                assert!(bad >= 1, "{what}: {got:?}");
            }
        }
    }

    #[test]
    fn a_bom_and_objects_with_no_separator_are_read() {
        let text = "\u{feff}{\"eventTimestamp\": 1}{\"eventTimestamp\": 2}\n{\n  \"eventTimestamp\": 3\n}{\n  \"eventTimestamp\": 4\n}\n";
        assert_eq!(
            kinds(&items(text)),
            ["ok@1:1", "ok@1:2", "ok@2:3", "ok@4:4"]
        );
    }

    #[test]
    fn invalid_utf8_is_bad_with_its_exact_bytes() {
        let text =
            b"{\"eventTimestamp\": 1, \"scriptName\": \"\xff\xfe\"}\n{\"eventTimestamp\": 2}\n";
        let got = items_with(text, 1 << 20);
        assert_eq!(kinds(&got), ["bad@1", "ok@2:2"]);
        match &got[0] {
            Item::Bad { text: t, error, .. } => {
                assert_eq!(error, "not UTF-8 text");
                assert_eq!(t.bytes, &text[..41]);
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn an_event_over_the_cap_is_cut_to_its_head_and_the_next_one_read() {
        let big = format!(
            "{{\n  \"eventTimestamp\": 1,\n  \"logs\": \"{}\"\n}}\n",
            "x".repeat(5000)
        );
        let text = format!(
            "{big}{{\"eventTimestamp\": 2}}\n{}\n{{\"eventTimestamp\": 3}}\n",
            "y".repeat(5000)
        );
        let got = items_with(text.as_bytes(), 1000);
        assert_eq!(kinds(&got), ["bad@1", "ok@5:2", "bad@6", "ok@7:3"]);
        for item in &got {
            if let Item::Bad { text, error, .. } = item {
                assert!(text.bytes.len() <= HEAD && text.len > 1000, "{error}");
                assert!(error.contains("limit of 1000 bytes"), "{error}");
            }
        }
    }

    #[test]
    fn colo_is_lifted_from_the_request_cf_and_a_non_string_is_null() {
        let colo = |event: Value| {
            let value = json!({"eventTimestamp": 1, "event": event});
            to_row(&value).unwrap().colo.map(|c| c.into_owned())
        };
        let request = |cf: Value| json!({"request": {"url": "https://x/", "cf": cf}});
        assert_eq!(
            colo(request(json!({"colo": "AMS"}))).as_deref(),
            Some("AMS")
        );
        assert_eq!(colo(request(json!({"colo": 5}))), None);
        assert_eq!(colo(request(json!({"colo": {"a": 1}}))), None);
        assert_eq!(colo(request(json!("AMS"))), None);
        assert_eq!(colo(json!({"rpcMethod": "x"})), None);
        let huge = "A".repeat(10 << 20);
        assert_eq!(colo(request(json!({ "colo": huge }))), Some(huge));
    }

    #[test]
    fn the_sampling_notice_is_recognised() {
        let v = serde_json::json!({"message": "Tail is currently in sampling mode", "type": "overload"});
        assert!(is_sampling_notice(&v));
        assert!(looks_like_tail(v.as_object().unwrap()));
        assert!(!is_sampling_notice(
            &serde_json::json!({"eventTimestamp": 1})
        ));
    }
}
