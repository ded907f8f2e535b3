//! What one leg says about itself: its shape (where and how it ran), and the
//! (field, value) pairs that could carry a request's id, approach or delay.

use std::fmt;

use serde_json::Value;

use crate::core::url::{path_of, query_id_pattern, query_of, query_pattern, URL_HEAD};

/// One lake row, borrowed from its columns.
#[derive(Debug, Clone, Copy, Default)]
pub struct LegView<'a> {
    pub ts: i64,
    pub script: &'a str,
    pub entrypoint: &'a str,
    pub event_type: &'a str,
    pub model: &'a str,
    pub rpc: Option<&'a str>,
    pub url: Option<&'a str>,
    pub logs: Option<&'a str>,
    pub outcome: &'a str,
    pub wall: Option<i64>,
    pub cpu: Option<i64>,
}

impl LegView<'_> {
    /// When it ended (ms), at least when it started.
    pub fn end(&self) -> i64 {
        self.ts.saturating_add(self.wall.unwrap_or(0).max(0))
    }
}

/// What a leg did within its script and entrypoint: an RPC method, a URL
/// path pattern, or neither (alarms, cron, queues).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Rpc(String),
    Path(String),
    Other,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Rpc(m) => write!(f, "{m}()"),
            Operation::Path(p) => f.write_str(p),
            Operation::Other => f.write_str("-"),
        }
    }
}

/// A kind of leg: one row of the inventory, and the unit a role is made of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShapeKey {
    pub script: String,
    pub entrypoint: String,
    pub event_type: String,
    pub operation: Operation,
    pub model: String,
}

impl ShapeKey {
    pub fn of(leg: &LegView) -> Self {
        let operation = match (leg.rpc, leg.url.and_then(path_of)) {
            (Some(m), _) if !m.is_empty() => Operation::Rpc(m.to_string()),
            (_, Some(path)) => Operation::Path(path_pattern(path)),
            _ => Operation::Other,
        };
        ShapeKey {
            script: leg.script.to_string(),
            entrypoint: leg.entrypoint.to_string(),
            event_type: leg.event_type.to_string(),
            operation,
            model: leg.model.to_string(),
        }
    }

    /// Shapes of one family run the same code: a role may merge them.
    pub fn family(&self) -> (&str, &str, &str, &str) {
        (
            &self.script,
            &self.entrypoint,
            &self.event_type,
            &self.model,
        )
    }
}

/// Most path segments a pattern keeps; deeper paths end in `/**`.
const MAX_SEGMENTS: usize = 8;

/// Whether a path segment looks like a value (id, number, token) rather than a name.
fn is_variable(segment: &str) -> bool {
    segment.len() > 24 || segment.bytes().any(|b| b.is_ascii_digit() || b == b'%')
}

/// The path with every value-like segment replaced by `*`.
pub fn path_pattern(path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i == MAX_SEGMENTS {
            out.push_str("/**");
            break;
        }
        out.push('/');
        out.push_str(if is_variable(s) { "*" } else { s });
    }
    out
}

/// Where a candidate value sits in a leg.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// A URL query parameter, by name.
    Query(String),
    /// The URL path segment after this literal prefix (starts and ends with `/`).
    Path(String),
    /// A key of a JSON object in the log messages, at any depth.
    Log(String),
}

/// How a log key's values were written: they decide its regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Text,
    Number,
    Mixed,
}

impl Field {
    /// Where, for people: `query reqId`, `path /experiment/*`, `log reqId`.
    pub fn describe(&self) -> String {
        match self {
            Field::Query(k) => format!("query {k}"),
            Field::Path(p) => format!("path {p}*"),
            Field::Log(k) => format!("log {k}"),
        }
    }

    /// Whether the transform searches the URL (else the log messages).
    pub fn in_url(&self) -> bool {
        !matches!(self, Field::Log(_))
    }

    /// The regex of a correlation id: as [`Field::regex`], but an empty
    /// query value is no id.
    pub fn id_regex(&self, written: Written) -> String {
        match self {
            Field::Query(k) => query_id_pattern(k),
            _ => self.regex(written),
        }
    }

    /// The regex whose first group is the value, as the transform applies
    /// it to `RequestURL` or `LogMessages`.
    pub fn regex(&self, written: Written) -> String {
        match self {
            Field::Query(k) => query_pattern(k),
            Field::Path(prefix) => format!("{URL_HEAD}{}([^/?#]+)", regex::escape(prefix)),
            Field::Log(k) => {
                let k = regex::escape(k);
                // No escape or control character in a value: it would read
                // other than JSON means it (`al\"pha`), or run past a line.
                match written {
                    Written::Text => format!(r#""{k}"\s*:\s*"([^"\\\x00-\x1f]+)""#),
                    Written::Number => format!(r#""{k}"\s*:\s*(-?[0-9]+)"#),
                    Written::Mixed => format!(r#""{k}"\s*:\s*"?([^",}}\s\\]+)"#),
                }
            }
        }
    }
}

/// Longest value or key considered: ids and names are short, bodies are not.
const MAX_VALUE: usize = 128;
const MAX_KEY: usize = 64;
/// Log text scanned per leg, JSON objects tried, pairs kept: a hostile
/// message costs a bounded amount of work.
pub const MAX_LOG_BYTES: usize = 64 * 1024;
const MAX_JSON_TRIES: usize = 64;
pub const MAX_PAIRS: usize = 1024;

/// One candidate value of a leg; `number` when JSON wrote it as a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub field: Field,
    pub value: String,
    pub number: bool,
}

fn plain(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && !text.chars().any(char::is_control)
}

/// Every candidate (field, value) of a leg: query parameters, path segments
/// after a literal prefix, and scalar values of JSON objects in its logs.
pub fn found_in(leg: &LegView, out: &mut Vec<Found>) {
    out.clear();
    if let Some(url) = leg.url {
        url_fields(url, out);
    }
    if let Some(logs) = leg.logs {
        log_fields(logs, out);
    }
    out.truncate(MAX_PAIRS);
}

fn url_fields(url: &str, out: &mut Vec<Found>) {
    for pair in query_of(url).unwrap_or("").split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            if plain(k, MAX_KEY) && plain(v, MAX_VALUE) && !k.contains(['"', '\\']) {
                out.push(Found {
                    field: Field::Query(k.to_string()),
                    value: v.to_string(),
                    number: false,
                });
            }
        }
    }
    let Some(path) = path_of(url) else { return };
    let mut prefix = String::from("/");
    for segment in path.trim_start_matches('/').split('/').take(MAX_SEGMENTS) {
        if plain(segment, MAX_VALUE) {
            out.push(Found {
                field: Field::Path(prefix.clone()),
                value: segment.to_string(),
                number: false,
            });
        }
        // Only literal prefixes: a regex after a value segment would be a guess.
        if is_variable(segment) || segment.is_empty() {
            break;
        }
        prefix.push_str(segment);
        prefix.push('/');
    }
}

/// The head of a log text that explore reads: [`MAX_LOG_BYTES`], cut at a
/// character boundary.
pub fn log_head(logs: &str) -> &str {
    let mut end = logs.len().min(MAX_LOG_BYTES);
    while !logs.is_char_boundary(end) {
        end -= 1;
    }
    &logs[..end]
}

/// Scalars of every JSON object embedded in the log text, pretty-printed or not.
fn log_fields(logs: &str, out: &mut Vec<Found>) {
    let text = log_head(logs);
    let mut at = 0;
    for _ in 0..MAX_JSON_TRIES {
        let Some(start) = text[at..].find('{').map(|i| at + i) else {
            break;
        };
        let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(value)) => {
                walk(&value, out);
                at = start + values.byte_offset().max(1);
            }
            _ => at = start + 1,
        }
        if out.len() >= MAX_PAIRS {
            break;
        }
    }
}

fn walk(value: &Value, out: &mut Vec<Found>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let value = match v {
                    Value::String(s) if plain(s, MAX_VALUE) => Some((s.clone(), false)),
                    Value::Number(n) if n.is_i64() || n.is_u64() => Some((n.to_string(), true)),
                    Value::Object(_) | Value::Array(_) => {
                        walk(v, out);
                        None
                    }
                    _ => None,
                };
                if let Some((value, number)) = value {
                    if plain(k, MAX_KEY) && !k.contains(['"', '\\']) {
                        out.push(Found {
                            field: Field::Log(k.clone()),
                            value,
                            number,
                        });
                    }
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(url: Option<&str>, logs: Option<&str>) -> Vec<(String, String)> {
        let leg = LegView {
            url,
            logs,
            ..Default::default()
        };
        let mut out = Vec::new();
        found_in(&leg, &mut out);
        out.into_iter()
            .map(|f| (f.field.describe(), f.value))
            .collect()
    }

    #[test]
    fn urls_give_query_parameters_and_segments_after_literal_prefixes() {
        let got = found(
            Some("https://h/experiment/current/7f3a9?delay=100&reqId=ab12"),
            None,
        );
        let want = [
            ("query delay", "100"),
            ("query reqId", "ab12"),
            ("path /*", "experiment"),
            ("path /experiment/*", "current"),
            ("path /experiment/current/*", "7f3a9"),
        ];
        let want: Vec<(String, String)> = want.map(|(f, v)| (f.into(), v.into())).to_vec();
        assert_eq!(got, want);
        assert_eq!(
            path_pattern("/experiment/current/7f3a9"),
            "/experiment/current/*"
        );
        assert_eq!(path_pattern("/"), "/");
    }

    #[test]
    fn logs_give_scalars_at_any_depth_pretty_printed_or_not() {
        let logs = "start {\n  \"data\": {\n    \"reqId\": \"57b8\",\n    \"n\": 3\n  }\n} text {broken\n{\"a\":[{\"reqId\":\"x\"}],\"f\":1.5}";
        let got = found(None, Some(logs));
        let mut got = got;
        got.sort();
        let want = [("log n", "3"), ("log reqId", "57b8"), ("log reqId", "x")];
        let want: Vec<(String, String)> = want.map(|(f, v)| (f.into(), v.into())).to_vec();
        assert_eq!(got, want);
    }

    #[test]
    fn hostile_logs_cost_bounded_work() {
        let deep = "{".repeat(200_000) + &"[".repeat(100_000);
        assert!(found(None, Some(&deep)).is_empty());
        let many = "{\"k\":1}".repeat(100_000);
        assert_eq!(found(None, Some(&many)).len(), MAX_JSON_TRIES);
        let multibyte = "é".repeat(MAX_LOG_BYTES);
        assert!(found(None, Some(&multibyte)).is_empty());
    }

    #[test]
    fn regexes_extract_what_was_found() {
        let cases = [
            (
                Field::Query("reqId".into()),
                Written::Text,
                "https://h/x?a=1&reqId=ab12",
                "ab12",
            ),
            (
                Field::Path("/experiment/".into()),
                Written::Text,
                "https://h/experiment/simple?d=1",
                "simple",
            ),
            (
                Field::Log("reqId".into()),
                Written::Text,
                "{\n  \"reqId\": \"57b8\"\n}",
                "57b8",
            ),
            (
                Field::Log("wait".into()),
                Written::Number,
                "{\"wait\": 500}",
                "500",
            ),
            (
                Field::Log("wait".into()),
                Written::Mixed,
                "{\"wait\": \"500\"}",
                "500",
            ),
        ];
        for (field, written, text, want) in cases {
            let re = regex::Regex::new(&field.regex(written)).unwrap();
            assert_eq!(&re.captures(text).unwrap()[1], want, "{field:?}");
        }
    }
}
