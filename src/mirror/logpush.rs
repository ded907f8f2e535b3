//! Parsing of one Logpush `workers_trace_events` line (PascalCase NDJSON).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::record::Row;

/// What one non-empty line turned out to be.
#[derive(Debug)]
pub enum Line<'a> {
    Event(Box<Row<'a>>),
    /// Logpush's `{"content":"test"}` object, written when a job is created.
    Test,
}

/// Parses one line; the error says what is wrong in words a user can act on.
pub fn parse_line(line: &str) -> Result<Line<'_>, String> {
    let fields: Fields = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    if fields.is_test() {
        return Ok(Line::Test);
    }
    let Some(ts) = fields.timestamp else {
        return Err("no EventTimestampMs: not a workers_trace_events line".into());
    };
    let mut row = Row {
        event_timestamp_ms: ts,
        script_name: fields.script_name,
        entrypoint: fields.entrypoint,
        event_type: fields.event_type,
        outcome: fields.outcome,
        execution_model: fields.execution_model,
        dispatch_namespace: fields.dispatch_namespace,
        cpu_time_ms: fields.cpu,
        wall_time_ms: fields.wall,
        truncated: fields.truncated,
        event: fields.event.map(|r| Cow::Borrowed(r.get())),
        logs: fields.logs.map(|r| Cow::Borrowed(r.get())),
        exceptions: fields.exceptions.map(|r| Cow::Borrowed(r.get())),
        script_version: fields.script_version.map(|r| Cow::Borrowed(r.get())),
        script_tags: fields.script_tags.map(|r| Cow::Borrowed(r.get())),
        diagnostics: fields.diagnostics.map(|r| Cow::Borrowed(r.get())),
        extra: fields.extra,
        event_id: xxhash_rust::xxh3::xxh3_64(line.as_bytes()),
        ..Row::default()
    };
    if let Some(event) = fields.event {
        lift_event(event.get(), &mut row).map_err(|e| format!("Event: {e}"))?;
    }
    if let Some(logs) = fields.logs {
        row.log_messages = log_messages(logs.get()).map_err(|e| format!("Logs: {e}"))?;
    }
    Ok(Line::Event(Box::new(row)))
}

#[derive(Default)]
struct Fields<'a> {
    timestamp: Option<i64>,
    cpu: Option<i64>,
    wall: Option<i64>,
    script_name: Option<Cow<'a, str>>,
    entrypoint: Option<Cow<'a, str>>,
    event_type: Option<Cow<'a, str>>,
    outcome: Option<Cow<'a, str>>,
    execution_model: Option<Cow<'a, str>>,
    dispatch_namespace: Option<Cow<'a, str>>,
    truncated: Option<bool>,
    event: Option<&'a RawValue>,
    logs: Option<&'a RawValue>,
    exceptions: Option<&'a RawValue>,
    script_version: Option<&'a RawValue>,
    script_tags: Option<&'a RawValue>,
    diagnostics: Option<&'a RawValue>,
    extra: Option<String>,
    content_test: bool,
    keys: usize,
}

impl Fields<'_> {
    fn is_test(&self) -> bool {
        self.content_test && self.keys == 1
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

struct FieldsVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
    type Value = Fields<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields<'a>, M::Error> {
        let mut out = Fields::default();
        let mut extra: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            out.keys += 1;
            match key.as_ref() {
                "EventTimestampMs" => {
                    out.timestamp = map.next_value::<Option<Millis>>()?.map(|m| m.0)
                }
                "CPUTimeMs" => out.cpu = map.next_value::<Option<Millis>>()?.map(|m| m.0),
                "WallTimeMs" | "WallTimeMS" => {
                    out.wall = map.next_value::<Option<Millis>>()?.map(|m| m.0)
                }
                "ScriptName" => out.script_name = text(&mut map)?,
                "Entrypoint" => out.entrypoint = text(&mut map)?,
                "EventType" => out.event_type = text(&mut map)?,
                "Outcome" => out.outcome = text(&mut map)?,
                "ExecutionModel" => out.execution_model = text(&mut map)?,
                "DispatchNamespace" => out.dispatch_namespace = text(&mut map)?,
                "Truncated" => out.truncated = map.next_value()?,
                "Event" => out.event = Some(map.next_value()?),
                "Logs" => out.logs = Some(map.next_value()?),
                "Exceptions" => out.exceptions = Some(map.next_value()?),
                "ScriptVersion" => out.script_version = Some(map.next_value()?),
                "ScriptTags" => out.script_tags = Some(map.next_value()?),
                "DiagnosticsChannelEvents" => out.diagnostics = Some(map.next_value()?),
                "content" => {
                    let value: &RawValue = map.next_value()?;
                    out.content_test = value.get() == "\"test\"";
                    extra.push((key, value));
                }
                _ => extra.push((key, map.next_value()?)),
            }
        }
        if !extra.is_empty() {
            let map: serde_json::Map<String, serde_json::Value> = extra
                .into_iter()
                .map(|(k, v)| {
                    let value = serde_json::from_str(v.get()).map_err(de::Error::custom)?;
                    Ok((k.into_owned(), value))
                })
                .collect::<Result<_, M::Error>>()?;
            out.extra = Some(serde_json::Value::Object(map).to_string());
        }
        Ok(out)
    }
}

/// A string borrowed from the line when it has no escapes (serde's own `Cow`
/// always copies: one allocation per key and value of every line).
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// An optional string field of the line.
fn text<'de, M: MapAccess<'de>>(map: &mut M) -> Result<Option<Cow<'de, str>>, M::Error> {
    Ok(map.next_value::<Option<Text<'de>>>()?.map(|t| t.0))
}

/// A millisecond count; some writers emit floats, which are rounded.
struct Millis(i64);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Number::deserialize(d)? {
            n if n.is_i64() => Ok(Millis(n.as_i64().unwrap_or_default())),
            n => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                .map(|f| Millis(f.round() as i64))
                .ok_or_else(|| de::Error::custom(format!("{n} is not a millisecond count"))),
        }
    }
}

#[derive(Deserialize)]
struct EventFields<'a> {
    #[serde(rename = "Request", borrow)]
    request: Option<RequestFields<'a>>,
    #[serde(rename = "Response")]
    response: Option<ResponseFields>,
    #[serde(rename = "rpcMethod", borrow)]
    rpc_method: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RequestFields<'a> {
    #[serde(rename = "URL", borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(rename = "Method", borrow)]
    method: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ResponseFields {
    #[serde(rename = "Status")]
    status: Option<i64>,
}

fn lift_event<'a>(event: &'a str, row: &mut Row<'a>) -> Result<(), serde_json::Error> {
    if event == "null" {
        return Ok(());
    }
    let fields: EventFields<'a> = serde_json::from_str(event)?;
    if let Some(request) = fields.request {
        row.request_url = request.url;
        row.request_method = request.method;
    }
    row.response_status = fields.response.and_then(|r| r.status);
    row.rpc_method = fields.rpc_method;
    Ok(())
}

/// Every console.log argument of a leg, one per line: strings unescaped (so a
/// JSON string holding a reqId can be matched by a plain regex), other values
/// as JSON text. `None` when the leg has no log entries.
pub fn log_messages(logs: &str) -> Result<Option<String>, serde_json::Error> {
    if logs == "null" {
        return Ok(None);
    }
    let mut out = String::new();
    let mut de = serde_json::Deserializer::from_str(logs);
    let entries = EntriesSeed(&mut out).deserialize(&mut de)?;
    de.end()?;
    Ok((entries > 0).then_some(out))
}

/// The `Logs` array, read in one pass straight into the output text (no
/// entry or message list is built): returns how many entries it holds.
struct EntriesSeed<'o>(&'o mut String);

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of log entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut entries = 0;
        while seq.next_element_seed(EntrySeed(&mut *self.0))?.is_some() {
            entries += 1;
        }
        Ok(entries)
    }
}

struct EntrySeed<'o>(&'o mut String);

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a log entry object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if key == "Message" || key == "message" {
                map.next_value_seed(MessagesSeed(&mut *self.0))?;
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// One entry's `Message` array (or `null`).
struct MessagesSeed<'o>(&'o mut String);

impl<'de> DeserializeSeed<'de> for MessagesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for MessagesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of messages")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let out = self.0;
        while let Some(value) = seq.next_element::<&'de RawValue>()? {
            if !out.is_empty() {
                out.push('\n');
            }
            match value.get().strip_prefix('"') {
                Some(quoted) => {
                    let body = quoted.strip_suffix('"').unwrap_or(quoted);
                    push_unescaped(out, body).map_err(de::Error::custom)?;
                }
                None => out.push_str(value.get()),
            }
        }
        Ok(())
    }
}

/// Appends the text of a JSON string body (between its quotes, already
/// validated by the parser) with its escapes decoded. Log messages are often
/// JSON documents themselves, an escape every few characters: copying the
/// runs between backslashes is several times faster than serde's scanner.
fn push_unescaped(out: &mut String, body: &str) -> Result<(), String> {
    out.reserve(body.len());
    let mut rest = body;
    while let Some(at) = memchr::memchr(b'\\', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        // An ASCII escape letter keeps the slice below on a char boundary.
        let Some(escape) = rest.as_bytes().get(at + 1).copied().filter(u8::is_ascii) else {
            return Err("invalid escape in a log message".into());
        };
        rest = &rest[at + 2..];
        let c = match escape {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (c, used) = unicode_escape(rest)?;
                rest = &rest[used..];
                c
            }
            _ => return Err("invalid escape in a log message".into()),
        };
        out.push(c);
    }
    out.push_str(rest);
    Ok(())
}

/// The character of a `\uXXXX` escape (after its `\u`), joining a UTF-16
/// surrogate pair; returns how many bytes it used.
fn unicode_escape(text: &str) -> Result<(char, usize), String> {
    let hex = |at: usize| {
        text.get(at..at + 4)
            .and_then(|h| u16::from_str_radix(h, 16).ok())
            .ok_or_else(|| "invalid \\u escape in a log message".to_string())
    };
    let first = hex(0)?;
    if !(0xD800..0xDC00).contains(&first) {
        return char::from_u32(u32::from(first))
            .map(|c| (c, 4))
            .ok_or_else(|| "lone surrogate in a \\u escape of a log message".into());
    }
    let second = text
        .get(4..6)
        .filter(|s| *s == "\\u")
        .map(|_| hex(6))
        .transpose()?;
    match second.map(|low| char::decode_utf16([first, low]).next()) {
        Some(Some(Ok(c))) => Ok((c, 10)),
        _ => Err("lone surrogate in a \\u escape of a log message".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"CPUTimeMs": 2, "WallTimeMs": 31, "EventTimestampMs": 1763752380674, "EventType": "worker_rpc", "ScriptName": "experiment", "Entrypoint": "OriginDO", "Outcome": "ok", "ExecutionModel": "durableObject", "Event": {"rpcMethod": "onFetchResult"}, "Logs": [{"Level": "debug", "TimestampMs": 1763752380675, "Message": ["{\"message\":\"result received\",\"data\":{\"reqId\":\"74f8\"}}"]}], "Exceptions": [], "ScriptVersion": {"ID": "620b"}, "ScriptTags": [], "Truncated": false, "NewField": {"a": 1}}"#;

    fn event(line: &str) -> Row<'_> {
        match parse_line(line).unwrap() {
            Line::Event(row) => *row,
            Line::Test => panic!("test object"),
        }
    }

    #[test]
    fn documented_line_is_lifted_into_columns() {
        let row = event(LINE);
        assert_eq!(row.event_timestamp_ms, 1763752380674);
        assert_eq!(row.cpu_time_ms, Some(2));
        assert_eq!(row.wall_time_ms, Some(31));
        assert_eq!(row.rpc_method.as_deref(), Some("onFetchResult"));
        assert_eq!(row.entrypoint.as_deref(), Some("OriginDO"));
        assert_eq!(
            row.log_messages.as_deref(),
            Some(r#"{"message":"result received","data":{"reqId":"74f8"}}"#)
        );
        assert_eq!(row.extra.as_deref(), Some(r#"{"NewField":{"a":1}}"#));
        assert_eq!(row.truncated, Some(false));
    }

    #[test]
    fn wall_time_spelling_variant_and_float_millis_are_accepted() {
        let row = event(
            r#"{"EventTimestampMs": 5.0, "WallTimeMS": 7.6, "Event": {"Request": {"URL": "https://x/y?a=1", "Method": "GET"}, "Response": {"Status": 200}}}"#,
        );
        assert_eq!(row.event_timestamp_ms, 5);
        assert_eq!(row.wall_time_ms, Some(8));
        assert_eq!(row.request_url.as_deref(), Some("https://x/y?a=1"));
        assert_eq!(row.response_status, Some(200));
    }

    #[test]
    fn test_object_is_recognised() {
        assert!(matches!(
            parse_line(r#"{"content":"test"}"#),
            Ok(Line::Test)
        ));
        assert!(matches!(
            parse_line(r#"{"content":"test","EventTimestampMs":1}"#),
            Ok(Line::Event(_))
        ));
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(parse_line("{\"EventTimestampMs\": 1,")
            .unwrap_err()
            .starts_with("invalid JSON"));
        assert!(parse_line("[1,2]").unwrap_err().starts_with("invalid JSON"));
        assert!(parse_line("{\"ScriptName\": \"x\"}")
            .unwrap_err()
            .contains("EventTimestampMs"));
        assert!(parse_line("{\"EventTimestampMs\": \"soon\"}").is_err());
    }

    #[test]
    fn log_strings_are_unescaped_as_serde_does() {
        let cases = [
            r#""plain""#,
            r#""{\"reqId\":\"74f8\"}""#,
            r#""tab\tnew\nline\r \/ \\ \b\f""#,
            r#""caf\u00e9 \u20ac \ud83d\ude00 \u0000""#,
            r#""ends with escape\\""#,
            r#""é ü 😀 unescaped""#,
            r#""""#,
        ];
        for case in cases {
            let expected: String = serde_json::from_str(case).unwrap();
            let logs = format!(r#"[{{"Message":[{case}]}}]"#);
            assert_eq!(
                log_messages(&logs).unwrap().as_deref(),
                Some(&*expected),
                "{case}"
            );
        }
        for lone in [r#""\ud83d""#, r#""\ude00 x""#, r#""\ud83d\u0041""#] {
            assert!(serde_json::from_str::<String>(lone).is_err());
            let logs = format!(r#"[{{"Message":[{lone}]}}]"#);
            assert!(log_messages(&logs).is_err(), "{lone}");
        }
    }

    #[test]
    fn log_entries_keep_non_strings_as_json_and_count_empty_entries() {
        let logs = r#"[{"Level":"log","Message":["a",{"b":[1,2]},3,null,true]},{"message":["c"]},{"Message":null},{}]"#;
        assert_eq!(
            log_messages(logs).unwrap().as_deref(),
            Some("a\n{\"b\":[1,2]}\n3\nnull\ntrue\nc")
        );
        assert_eq!(log_messages("[]").unwrap(), None);
        assert_eq!(log_messages("null").unwrap(), None);
        assert_eq!(
            log_messages(r#"[{"Level":"log"}]"#).unwrap().as_deref(),
            Some("")
        );
        assert!(log_messages(r#"{"Message":["a"]}"#).is_err());
        assert!(log_messages(r#"[{"Message":"a"}]"#).is_err());
        assert!(log_messages(r#"[] x"#).is_err());
    }

    #[test]
    fn identical_lines_share_an_event_id() {
        assert_eq!(event(LINE).event_id, event(LINE).event_id);
        let other = LINE.replace("31", "32");
        assert_ne!(event(LINE).event_id, event(&other).event_id);
    }
}
