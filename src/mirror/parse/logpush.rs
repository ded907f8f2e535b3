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
///
/// The top-level object is walked here and each value parsed by serde_json
/// from its first byte, so a value's raw text is just the bytes its parse
/// used: `Event` and `Logs` are read once, lifted and kept as text in the
/// same pass (`RawValue` would scan them twice).
pub fn parse_line(line: &str) -> Result<Line<'_>, String> {
    parse_with(line, true)
}

/// `fast`: the hand-written paths of [`Walk`] may answer first (tests
/// compare them with serde_json alone).
fn parse_with(line: &str, fast: bool) -> Result<Line<'_>, String> {
    let mut walk = Walk::new(line, fast);
    let mut row = Row {
        event_id: xxhash_rust::xxh3::xxh3_64(line.as_bytes()),
        ..Row::default()
    };
    let mut timestamp = None;
    let mut extra: Vec<(Cow<str>, &str)> = Vec::new();
    let mut keys = 0;
    let mut content_test = false;
    walk.expect(b'{', "an object")?;
    let mut more = !walk.eat(b'}');
    while more {
        let key = match walk.plain_string() {
            Some(key) => Cow::Borrowed(key),
            None => walk.value::<Text>()?.0,
        };
        walk.expect(b':', "`:` after a key")?;
        keys += 1;
        match key.as_ref() {
            "EventTimestampMs" => timestamp = walk.millis()?,
            "CPUTimeMs" => row.cpu_time_ms = walk.millis()?,
            "WallTimeMs" | "WallTimeMS" => row.wall_time_ms = walk.millis()?,
            "ScriptName" => row.script_name = walk.text()?,
            "Entrypoint" => row.entrypoint = walk.text()?,
            "EventType" => row.event_type = walk.text()?,
            "Outcome" => row.outcome = walk.text()?,
            "ExecutionModel" => row.execution_model = walk.text()?,
            "DispatchNamespace" => row.dispatch_namespace = walk.text()?,
            "Truncated" => row.truncated = walk.value()?,
            "Event" => {
                let (event, raw) = match walk.fast_or_none(Walk::event_fields) {
                    Some(fast) => fast,
                    None => walk.raw_value::<Option<EventFields>>("Event")?,
                };
                if let Some(event) = event {
                    event.lift(&mut row);
                }
                row.event = Some(Cow::Borrowed(raw));
            }
            "Logs" => {
                let (messages, raw) = match walk.fast_or_none(Walk::log_messages) {
                    Some(fast) => fast,
                    None => walk.raw_value::<LogMessages>("Logs")?,
                };
                row.log_messages = messages.0;
                row.logs = Some(Cow::Borrowed(raw));
            }
            "Exceptions" => row.exceptions = Some(walk.raw()?.into()),
            "ScriptVersion" => row.script_version = Some(walk.raw()?.into()),
            "ScriptTags" => row.script_tags = Some(walk.raw()?.into()),
            "DiagnosticsChannelEvents" => row.diagnostics = Some(walk.raw()?.into()),
            _ => {
                let raw = walk.raw()?;
                content_test |= key == "content" && raw == "\"test\"";
                extra.push((key, raw));
            }
        }
        more = walk.expect_one_of(b',', b'}', "`,` or `}` after a value")?;
    }
    walk.end()?;
    if content_test && keys == 1 {
        return Ok(Line::Test);
    }
    let Some(ts) = timestamp else {
        return Err("no EventTimestampMs: not a workers_trace_events line".into());
    };
    row.event_timestamp_ms = ts;
    if !extra.is_empty() {
        let map = extra
            .into_iter()
            .map(|(key, raw)| Ok((key.into_owned(), serde_json::from_str(raw)?)))
            .collect::<Result<serde_json::Map<_, _>, serde_json::Error>>()
            .map_err(|e| format!("invalid JSON: {e}"))?;
        row.extra = Some(serde_json::Value::Object(map).to_string());
    }
    Ok(Line::Event(Box::new(row)))
}

/// A position in a line being walked.
struct Walk<'a> {
    line: &'a str,
    at: usize,
    /// Whether the hand-written paths below may answer (else serde alone).
    fast: bool,
}

impl<'a> Walk<'a> {
    fn new(line: &'a str, fast: bool) -> Self {
        Walk { line, at: 0, fast }
    }

    /// JSON's four space characters (not `trim_ascii`'s form feed).
    fn skip_space(&mut self) {
        let bytes = self.line.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Consumes `byte` (after any space) if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let next = self.line.as_bytes().get(self.at) == Some(&byte);
        self.at += usize::from(next);
        next
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// `true` for `yes`, `false` for `no`.
    fn expect_one_of(&mut self, yes: u8, no: u8, what: &str) -> Result<bool, String> {
        if self.eat(yes) {
            Ok(true)
        } else if self.eat(no) {
            Ok(false)
        } else {
            Err(self.expected(what))
        }
    }

    fn end(&mut self) -> Result<(), String> {
        self.skip_space();
        if self.at == self.line.len() {
            Ok(())
        } else {
            Err(format!(
                "invalid JSON: trailing characters at column {}",
                self.at + 1
            ))
        }
    }

    fn expected(&self, what: &str) -> String {
        match self.line[self.at..].chars().next() {
            None => format!(
                "invalid JSON: EOF while parsing an object at column {}, expected {what}",
                self.at
            ),
            Some(c) => format!(
                "invalid JSON: expected {what} at column {}, found `{c}`",
                self.at + 1
            ),
        }
    }

    /// Parses the value that starts here (after any space) and moves past it.
    fn value<T: Deserialize<'a>>(&mut self) -> Result<T, String> {
        self.raw_value("").map(|(value, _)| value)
    }

    /// Like `value`, with the value's raw text; a type error (not a syntax
    /// error) is reported under `field`.
    fn raw_value<T: Deserialize<'a>>(&mut self, field: &str) -> Result<(T, &'a str), String> {
        self.skip_space();
        let rest = &self.line[self.at..];
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<T>();
        match values.next() {
            Some(Ok(value)) => {
                let used = values.byte_offset();
                self.at += used;
                Ok((value, &rest[..used]))
            }
            Some(Err(e)) => Err(self.error(field, &e)),
            None => Err(self.expected("a value")),
        }
    }

    /// serde_json's message, with the column counted from the line's start.
    fn error(&self, field: &str, e: &serde_json::Error) -> String {
        let text = e.to_string();
        let message = text.rsplit_once(" at line ").map_or(&*text, |(m, _)| m);
        let column = self.at + e.column();
        if e.is_data() && !field.is_empty() {
            format!("{field}: {message} at column {column}")
        } else {
            format!("invalid JSON: {message} at column {column}")
        }
    }

    fn raw(&mut self) -> Result<&'a str, String> {
        // Most lines carry `"Exceptions":[]`, `"ScriptTags":[]` and
        // `"DiagnosticsChannelEvents":[]`: not worth a parser each.
        self.skip_space();
        let rest = &self.line[self.at..];
        if let Some(empty) = ["[]", "{}"].into_iter().find(|e| rest.starts_with(e)) {
            self.at += empty.len();
            return Ok(&rest[..empty.len()]);
        }
        match self.fast_or_none(|w| w.skip(0)) {
            Some(((), raw)) => Ok(raw),
            None => self.raw_value::<de::IgnoredAny>("").map(|(_, raw)| raw),
        }
    }

    fn text(&mut self) -> Result<Option<Cow<'a, str>>, String> {
        if let Some(text) = self.plain_string() {
            return Ok(Some(Cow::Borrowed(text)));
        }
        Ok(self.value::<Option<Text>>()?.map(|t| t.0))
    }

    fn millis(&mut self) -> Result<Option<i64>, String> {
        if let Some(n) = self.plain_integer() {
            return Ok(Some(n));
        }
        Ok(self.value::<Option<Millis>>()?.map(|m| m.0))
    }

    /// Fast path for the common string: no escape, no control character
    /// (anything else is left to serde_json, which decodes or rejects it).
    /// Keys and short values are most of a line's strings, and serde's
    /// general scanner costs more than the string itself.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.skip_space();
        let rest = self.line.as_bytes().get(self.at..)?;
        if rest.first() != Some(&b'"') {
            return None;
        }
        let len = first_special(&rest[1..])?;
        if rest[1 + len] != b'"' {
            return None;
        }
        let text = &self.line[self.at + 1..self.at + 1 + len];
        self.at += len + 2;
        Some(text)
    }

    /// Fast path for a plain integer of up to 18 digits; fractions,
    /// exponents and malformed numbers are left to serde_json.
    fn plain_integer(&mut self) -> Option<i64> {
        self.skip_space();
        let rest = self.line.as_bytes().get(self.at..)?;
        let sign = usize::from(rest.first() == Some(&b'-'));
        let digits = rest[sign..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = sign + digits;
        let ends_number = !matches!(rest.get(end), Some(b'.' | b'e' | b'E'));
        let leading_zero = digits > 1 && rest[sign] == b'0';
        if digits == 0 || digits > 18 || !ends_number || leading_zero {
            return None;
        }
        let magnitude = rest[sign..end]
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        self.at += end;
        Some(if sign == 1 { -magnitude } else { magnitude })
    }
}

/// Nesting the hand-written paths follow before leaving a value to serde_json.
const MAX_DEPTH: usize = 16;

/// The hand-written paths: each answers only for the common, plainly valid
/// shape of a value (strings, integers, `true`, `false`, `null`, and objects
/// and arrays of them) and gives up on anything else, which serde_json then
/// reads from the value's first byte. What they accept, serde_json accepts
/// with the same answer and the same end: `Event` and `Logs` through serde's
/// visitors were a quarter of the mirror's instructions (bench/NOTES.md).
impl<'a> Walk<'a> {
    /// `path`'s answer and the text it read, or `None` with nothing read.
    fn fast_or_none<T>(
        &mut self,
        path: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<(T, &'a str)> {
        if !self.fast {
            return None;
        }
        self.skip_space();
        let start = self.at;
        let answer = path(self);
        match answer {
            Some(answer) => Some((answer, &self.line[start..self.at])),
            None => {
                self.at = start;
                None
            }
        }
    }

    /// Moves past one value.
    fn skip(&mut self, depth: usize) -> Option<()> {
        self.skip_space();
        match self.line.as_bytes().get(self.at)? {
            b'"' => self.escaped_string().map(drop),
            b'{' => self.members(depth, |w, _| w.skip(depth + 1)),
            b'[' => self.elements(depth, |w| w.skip(depth + 1)),
            _ => self.scalar(),
        }
    }

    /// An integer, `true`, `false` or `null`, ended where serde_json ends a
    /// value that does not end itself (`1x` is an error, not `1`).
    fn scalar(&mut self) -> Option<()> {
        self.skip_space();
        let start = self.at;
        let rest = &self.line.as_bytes()[start..];
        match ["true", "false", "null"]
            .into_iter()
            .find(|l| rest.starts_with(l.as_bytes()))
        {
            Some(literal) => self.at += literal.len(),
            None => drop(self.plain_integer()?),
        }
        match self.line.as_bytes().get(self.at) {
            None
            | Some(b' ' | b'\n' | b'\t' | b'\r' | b'"' | b'[' | b']' | b'{' | b'}' | b',' | b':') => {
                Some(())
            }
            Some(_) => {
                self.at = start;
                None
            }
        }
    }

    /// Consumes `null` if it comes next.
    fn null(&mut self) -> bool {
        self.skip_space();
        self.line.as_bytes()[self.at..].starts_with(b"null") && self.scalar().is_some()
    }

    /// `null` as `None`, anything else through `read`.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.null() {
            true => Some(None),
            false => read(self).map(Some),
        }
    }

    /// A string's body (between its quotes): its escapes checked as serde_json
    /// checks them, not decoded.
    fn escaped_string(&mut self) -> Option<&'a str> {
        self.skip_space();
        let bytes = self.line.as_bytes();
        if bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let mut at = start;
        loop {
            at += first_special(&bytes[at..])?;
            match bytes[at] {
                b'"' => break,
                b'\\' => match bytes.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                    b'u' => {
                        let hex = bytes.get(at + 2..at + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        at += 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
        self.at = at + 1;
        Some(&self.line[start..at])
    }

    /// An object whose keys are plain strings; `value` reads each value.
    fn members(
        &mut self,
        depth: usize,
        mut value: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.items(depth, b'{', b'}', |w| {
            let key = w.plain_string()?;
            w.eat(b':').then_some(())?;
            value(w, key)
        })
    }

    /// An array; `element` reads each element.
    fn elements(
        &mut self,
        depth: usize,
        element: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.items(depth, b'[', b']', element)
    }

    /// `open`, items read by `item` and separated by commas, `close`.
    fn items(
        &mut self,
        depth: usize,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        if depth >= MAX_DEPTH || !self.eat(open) {
            return None;
        }
        if self.eat(close) {
            return Some(());
        }
        loop {
            item(self)?;
            if self.eat(close) {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// A plain integer as serde_json reads an `i64`: `-0` is a float there.
    fn whole_integer(&mut self) -> Option<i64> {
        self.skip_space();
        let start = self.at;
        let n = self.plain_integer()?;
        if n == 0 && self.line.as_bytes()[start] == b'-' {
            self.at = start;
            return None;
        }
        Some(n)
    }

    fn plain_text(&mut self) -> Option<Option<Text<'a>>> {
        self.nullable(|w| w.plain_string().map(|s| Text(Cow::Borrowed(s))))
    }

    /// Reads a field's value into `slot`, whose `Some` says it was seen: a
    /// field given twice is serde's error, left to serde.
    fn once<T>(
        &mut self,
        slot: &mut Option<T>,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(read(self)?);
        Some(())
    }

    /// What `Option<EventFields>` reads (the structs are built whole, so a
    /// field added to them must be added here).
    fn event_fields(&mut self) -> Option<Option<EventFields<'a>>> {
        self.nullable(|w| {
            let (mut request, mut response, mut rpc_method) = (None, None, None);
            w.members(0, |w, key| match key {
                "Request" => w.once(&mut request, |w| w.nullable(Walk::request_fields)),
                "Response" => w.once(&mut response, |w| w.nullable(Walk::response_fields)),
                "rpcMethod" => w.once(&mut rpc_method, Walk::plain_text),
                _ => w.skip(1),
            })?;
            Some(EventFields {
                request: request.flatten(),
                response: response.flatten(),
                rpc_method: rpc_method.flatten(),
            })
        })
    }

    fn request_fields(&mut self) -> Option<RequestFields<'a>> {
        let (mut url, mut method, mut cf) = (None, None, None);
        self.members(1, |w, key| match key {
            "URL" => w.once(&mut url, Walk::plain_text),
            "Method" => w.once(&mut method, Walk::plain_text),
            "cf" => w.once(&mut cf, |w| w.nullable(Walk::cf_fields)),
            _ => w.skip(2),
        })?;
        Some(RequestFields {
            url: url.flatten(),
            method: method.flatten(),
            cf: cf.flatten(),
        })
    }

    fn cf_fields(&mut self) -> Option<CfFields<'a>> {
        let mut colo = None;
        self.members(2, |w, key| match key {
            "colo" => w.once(&mut colo, Walk::plain_text),
            _ => w.skip(3),
        })?;
        Some(CfFields {
            colo: colo.flatten(),
        })
    }

    fn response_fields(&mut self) -> Option<ResponseFields> {
        let mut status = None;
        self.members(1, |w, key| match key {
            "Status" => w.once(&mut status, |w| w.nullable(Walk::whole_integer)),
            _ => w.skip(2),
        })?;
        Some(ResponseFields {
            status: status.flatten(),
        })
    }

    /// What `LogMessages` makes of `Logs`.
    fn log_messages(&mut self) -> Option<LogMessages> {
        if self.null() {
            return Some(LogMessages(None));
        }
        let mut out = String::new();
        let mut entries = 0;
        self.elements(0, |w| {
            entries += 1;
            w.members(1, |w, key| match key {
                "Message" | "message" => w.messages(&mut out),
                _ => w.skip(2),
            })
        })?;
        Some(LogMessages((entries > 0).then_some(out)))
    }

    /// One entry's `Message` array into `out`, as `MessagesSeed` writes it.
    fn messages(&mut self, out: &mut String) -> Option<()> {
        if self.null() {
            return Some(());
        }
        self.elements(2, |w| {
            if !out.is_empty() {
                out.push('\n');
            }
            w.skip_space();
            let start = w.at;
            if w.line.as_bytes().get(start) == Some(&b'"') {
                let body = w.escaped_string()?;
                return push_unescaped(out, body).ok();
            }
            w.skip(3)?;
            out.push_str(&w.line[start..w.at]);
            Some(())
        })
    }
}

/// A string borrowed from the line when it has no escapes (serde's own `Cow`
/// always copies: one allocation per key and value of every line).
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// Where the first `"`, `\\` or control character of `bytes` is, sixteen
/// bytes at a time (SSE2, part of every x86-64), then eight: most strings of
/// a line are a dozen bytes, too short for `memchr`'s setup to pay off, and
/// all but the last of a line have sixteen bytes of line behind them.
fn first_special(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        while at + 16 <= bytes.len() {
            // SAFETY: SSE2 is in the x86-64 baseline; the unaligned load
            // reads bytes[at..at + 16], inside the slice.
            let mask = unsafe {
                let v = _mm_loadu_si128(bytes.as_ptr().add(at).cast());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // Unsigned v <= 0x1f: min(v, 0x1f) == v.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
            };
            if mask != 0 {
                return Some(at + mask.trailing_zeros() as usize);
            }
            at += 16;
        }
    }
    first_special_in_words(&bytes[at..]).map(|i| at + i)
}

/// [`first_special`] eight bytes at a time.
fn first_special_in_words(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The lowest flagged byte is exact; flags above it may be borrows.
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS;
    let equal = |word: u64, c: u8| below(word ^ (ONES * u64::from(c)), 1);
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let flags = equal(word, b'"') | equal(word, b'\\') | below(word, 0x20);
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = words
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20);
    tail.map(|i| at + i)
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
    rpc_method: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct RequestFields<'a> {
    #[serde(rename = "URL", borrow)]
    url: Option<Text<'a>>,
    #[serde(rename = "Method", borrow)]
    method: Option<Text<'a>>,
    /// Cloudflare's request properties, as workerd spells them (lower case).
    #[serde(borrow)]
    cf: Option<CfFields<'a>>,
}

#[derive(Deserialize)]
struct CfFields<'a> {
    #[serde(borrow)]
    colo: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ResponseFields {
    #[serde(rename = "Status")]
    status: Option<i64>,
}

impl<'a> EventFields<'a> {
    fn lift(self, row: &mut Row<'a>) {
        if let Some(request) = self.request {
            row.request_url = request.url.map(|t| t.0);
            row.request_method = request.method.map(|t| t.0);
            row.colo = request.cf.and_then(|cf| cf.colo).map(|t| t.0);
        }
        row.response_status = self.response.and_then(|r| r.status);
        row.rpc_method = self.rpc_method.map(|t| t.0);
    }
}

/// Every console.log argument of a leg, one per line: strings unescaped (so a
/// JSON string holding a reqId can be matched by a plain regex), other values
/// as JSON text. `None` when the leg has no log entries.
pub fn log_messages(logs: &str) -> Result<Option<String>, serde_json::Error> {
    Ok(serde_json::from_str::<LogMessages>(logs)?.0)
}

/// The text `log_messages` makes of a `Logs` value.
struct LogMessages(Option<String>);

impl<'de> Deserialize<'de> for LogMessages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = String::new();
        let entries = EntriesSeed(&mut out).deserialize(d)?;
        Ok(LogMessages((entries > 0).then_some(out)))
    }
}

/// The `Logs` array (or `null`), read in one pass straight into the output
/// text (no entry or message list is built): returns how many entries it holds.
struct EntriesSeed<'o>(&'o mut String);

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of log entries")
    }
    fn visit_none<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
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
        assert_eq!(row.exceptions.as_deref(), Some("[]"));
        assert_eq!(row.script_version.as_deref(), Some(r#"{"ID": "620b"}"#));
        assert!(parse_line(r#"{"EventTimestampMs": 1, "ScriptTags": []x}"#).is_err());
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
    fn colo_is_lifted_from_the_request_cf_and_a_bad_one_is_refused() {
        let row = event(
            r#"{"EventTimestampMs": 1, "Event": {"Request": {"URL": "https://x/", "cf": {"colo": "AMS", "asn": 1}}}}"#,
        );
        assert_eq!(row.colo.as_deref(), Some("AMS"));
        for no_colo in [
            r#"{"EventTimestampMs": 1, "Event": {"Request": {"URL": "https://x/"}}}"#,
            r#"{"EventTimestampMs": 1, "Event": {"Request": {"cf": null}}}"#,
            r#"{"EventTimestampMs": 1, "Event": {"Request": {"CF": {"Colo": "AMS"}}}}"#,
            r#"{"EventTimestampMs": 1, "Event": {"rpcMethod": "x"}}"#,
        ] {
            assert_eq!(event(no_colo).colo, None, "{no_colo}");
        }
        // Like every other lifted text field: not a string, the line is quarantined.
        for bad in [
            r#"{"EventTimestampMs": 1, "Event": {"Request": {"cf": {"colo": 5}}}}"#,
            r#"{"EventTimestampMs": 1, "Event": {"Request": {"cf": {"colo": ["AMS"]}}}}"#,
            r#"{"EventTimestampMs": 1, "Event": {"Request": {"cf": "AMS"}}}"#,
        ] {
            assert!(parse_line(bad).unwrap_err().starts_with("Event: "), "{bad}");
        }
        let huge = format!(
            r#"{{"EventTimestampMs": 1, "Event": {{"Request": {{"cf": {{"colo": "{}"}}}}}}}}"#,
            "A".repeat(10 << 20)
        );
        assert_eq!(event(&huge).colo.map(|c| c.len()), Some(10 << 20));
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
        let error = |line: &str| parse_line(line).unwrap_err();
        assert_eq!(
            error(r#"{"EventTimestampMs": 1} x"#),
            "invalid JSON: trailing characters at column 25"
        );
        assert_eq!(
            error(r#"{"EventTimestampMs" 1}"#),
            "invalid JSON: expected `:` after a key at column 21, found `1`"
        );
        assert!(error(r#"{EventTimestampMs: 1}"#).starts_with("invalid JSON: "));
        assert!(error("{\u{c}\"EventTimestampMs\": 1}").starts_with("invalid JSON: "));
        assert!(error(r#"{"EventTimestampMs": 1,}"#).starts_with("invalid JSON: "));
        assert!(error(r#"{"EventTimestampMs": 1 "Outcome": "ok"}"#)
            .contains("expected `,` or `}` after a value at column 24"));
        assert!(error(r#"{"EventTimestampMs": 1, "Event": {"Request": 5}}"#)
            .starts_with("Event: invalid type: integer `5`"));
        assert!(
            error(r#"{"EventTimestampMs": 1, "Logs": [{"Message": ["a"]}"#)
                .starts_with("invalid JSON: EOF while parsing")
        );
        assert!(error(r#"{"EventTimestampMs": 1, "Logs": {}}"#).starts_with("Logs: invalid type"));
    }

    #[test]
    fn raw_documents_are_kept_as_delivered_and_lifted_in_the_same_pass() {
        let line = r#"{ "EventTimestampMs" : 1 , "Event" : {"Request": {"URL": "https://x/a\"b", "Method": "GET"}, "Response": {"Status": 503}} , "Logs": null, "Exceptions": [ ], "content": "test" }"#;
        let row = event(line);
        assert_eq!(
            row.event.as_deref(),
            Some(
                r#"{"Request": {"URL": "https://x/a\"b", "Method": "GET"}, "Response": {"Status": 503}}"#
            )
        );
        assert_eq!(row.request_url.as_deref(), Some(r#"https://x/a"b"#));
        assert_eq!(row.response_status, Some(503));
        assert_eq!(row.logs.as_deref(), Some("null"));
        assert_eq!(row.log_messages, None);
        assert_eq!(row.exceptions.as_deref(), Some("[ ]"));
        assert_eq!(row.extra.as_deref(), Some(r#"{"content":"test"}"#));
        assert!(matches!(parse_line(r#" {} "#), Err(e) if e.contains("EventTimestampMs")));
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
    fn fast_paths_agree_with_serde_whenever_they_answer() {
        let values = [
            "0",
            "-0",
            "7",
            "-12",
            "1763752380674",
            "999999999999999999",
            "2.5",
            "1e3",
            "01",
            "-",
            "12345678901234567890",
            "\"x\"",
            "\"a\\\"b\"",
            "\"\"",
            "\"é\"",
            "\"\\u00e9\"",
            "null",
            "\"tab\tin\"",
            "\"open",
            "7}",
            "\"x\"}",
        ];
        let mut answered = 0;
        for value in values {
            let (mut fast, mut serde) = (Walk::new(value, true), Walk::new(value, false));
            if let Some(n) = fast.plain_integer() {
                assert_eq!(
                    serde.value::<Option<Millis>>().unwrap().map(|m| m.0),
                    Some(n),
                    "{value}"
                );
                assert_eq!(fast.at, serde.at, "{value}");
                answered += 1;
            }
            let (mut fast, mut serde) = (Walk::new(value, true), Walk::new(value, false));
            if let Some(text) = fast.plain_string() {
                assert_eq!(
                    serde.value::<Option<Text>>().unwrap().unwrap().0,
                    text,
                    "{value}"
                );
                assert_eq!(fast.at, serde.at, "{value}");
                answered += 1;
            }
        }
        assert_eq!(answered, 11);
    }

    /// Lines whose `Event`, `Logs` and other values take every turn of the
    /// hand-written paths: plain, escaped, null, nested, repeated, odd.
    const SHAPES: [&str; 14] = [
        r#"{"EventTimestampMs":1,"Event":{"RayID":"f1","Request":{"Method":"GET","URL":"https://x.test/a?b=1","cf":{"colo":"LHR","asn":13335,"tls":{"v":[1,2,true,false,null]}}},"Response":{"Status":200}},"Logs":[]}"#,
        r#"{"EventTimestampMs":1,"Event":{"rpcMethod":"enqueueFetch"},"Logs":[{"Level":"log","Message":["{\"message\":\"x\",\"data\":{\"reqId\":\"9c\"}}",7,{"a":[1]},null,"\u00e9\ud83d\ude00"],"TimestampMs":2}],"ScriptVersion":{"ID":"c3"}}"#,
        r#"{"EventTimestampMs":1,"Event":null,"Logs":null,"ScriptVersion":null}"#,
        r#"{"EventTimestampMs":1,"Event":{"Request":null,"Response":null,"rpcMethod":null},"Logs":[{"Message":null},{"message":[""]},{"Message":["",""]}]}"#,
        r#"{"EventTimestampMs":1,"Event":{"Request":{"URL":"a","URL":"b"}}}"#,
        r#"{"EventTimestampMs":1,"Event":{"Response":{"Status":200.5}}}"#,
        r#"{"EventTimestampMs":1,"Event":{"Response":{"Status":"200"}}}"#,
        r#"{"EventTimestampMs":1,"Event":{"Request":{"URL":"https:\/\/x.test\/\u0041"}},"Logs":[{"Message":["\ud800"]}]}"#,
        r#"{"EventTimestampMs":1,"Event":["a",{"Status":1}],"Logs":[{"Message":"a"}]}"#,
        r#"{"EventTimestampMs":1,"Event":{"Request":{"cf":{"colo":"AMS","colo":"LHR"}}}}"#,
        r#"{"EventTimestampMs":1 , "Event" : { "Request" : { "Method" : "POST" , "cf" : { } } , "Response" : { "Status" : -0 } } , "Logs" : [ { "Message" : [ 1 , "a\tb" ] } ] }"#,
        r#"{"EventTimestampMs":1,"Event":{"x":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]},"Logs":[{"Message":[12345678901234567890,1e3,-5]}]}"#,
        r#"{"EventTimestampMs":1,"Event":{"Re\u0071uest":{"URL":"a"}},"Logs":[{"Mess\u0061ge":["b"]}],"Other":{"k":nullx}}"#,
        r#"{"EventTimestampMs":1,"Event":{"rpcMethod":"m"}nul,"Logs":[]}"#,
    ];

    #[test]
    fn hand_written_paths_answer_as_serde_does_on_every_mutation() {
        let same = |line: &str| {
            let (fast, serde) = (parse_with(line, true), parse_with(line, false));
            let show = |r: &Result<Line, String>| match r {
                Ok(Line::Event(row)) => format!("{row:?}"),
                Ok(Line::Test) => "test".into(),
                Err(e) => e.clone(),
            };
            assert_eq!(show(&fast), show(&serde), "{line}");
            fast.is_ok()
        };
        let mut lines: Vec<String> = SHAPES.iter().map(|s| s.to_string()).collect();
        lines.push(LINE.to_string());
        let mut kept = 0;
        for line in &lines {
            kept += usize::from(same(line));
            let bytes = line.as_bytes();
            for at in 0..bytes.len() {
                let mut edits: Vec<Vec<u8>> = Vec::new();
                edits.push([&bytes[..at], &bytes[at + 1..]].concat());
                for b in *br#""\{}[],:0n -xu"# {
                    edits.push([&bytes[..at], &[b], &bytes[at + 1..]].concat());
                    edits.push([&bytes[..at], &[b], &bytes[at..]].concat());
                }
                for edit in edits {
                    if let Ok(text) = std::str::from_utf8(&edit) {
                        kept += usize::from(same(text));
                    }
                }
            }
        }
        assert!(kept > 1000, "only {kept} mutated lines parsed");
    }

    #[test]
    fn hand_written_paths_answer_for_plain_events_and_logs() {
        for (value, what) in [
            (
                r#"{"Request":{"URL":"u","cf":{"colo":"LHR"}},"RayID":"r"}"#,
                "event",
            ),
            (r#"[{"Level":"log","Message":["{\"a\":1}",2]}]"#, "logs"),
        ] {
            let mut walk = Walk::new(value, true);
            let answered = match what {
                "event" => walk.fast_or_none(Walk::event_fields).map(|(_, raw)| raw),
                _ => walk.fast_or_none(Walk::log_messages).map(|(_, raw)| raw),
            };
            assert_eq!(answered, Some(value), "{what}");
        }
        let mut walk = Walk::new(r#"{"URL":"a","URL":"b"}"#, true);
        assert!(
            walk.fast_or_none(Walk::request_fields).is_none(),
            "a field twice"
        );
        assert_eq!(walk.at, 0, "nothing read when the path gives up");
    }

    #[test]
    fn first_special_byte_is_found_in_words_and_tails() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let mut text = Vec::new();
        for len in 0..40 {
            for special in [b'"', b'\\', b'\n', 0x1f, 0x00] {
                for at in 0..=len {
                    text.clear();
                    text.extend((0..len).map(|i| b"az\x7f\x21\x23\x5b\x5d\xc3\xa9 "[i % 10]));
                    if at < len {
                        text[at] = special;
                        if at + 1 < len {
                            text[at + 1] = b'"';
                        }
                    }
                    assert_eq!(first_special(&text), naive(&text), "{text:?}");
                    assert_eq!(first_special_in_words(&text), naive(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn identical_lines_share_an_event_id() {
        // The id is XXH3-64 of the line as delivered, whatever object holds it.
        assert_eq!(
            event(LINE).event_id,
            xxhash_rust::xxh3::xxh3_64(LINE.as_bytes())
        );
        let other = LINE.replace("31", "32");
        assert_ne!(event(LINE).event_id, event(&other).event_id);
    }
}
