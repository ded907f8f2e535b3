//! Reading one source object, streaming: bytes → gunzip → lines → column
//! builders → Parquet row groups, with bad lines quarantined. A day with more
//! than a row group of rows gets a lake file of the object's own; the rows of
//! other days are handed back for the run's segment files.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use polars::prelude::*;
use serde_json::{json, Map, Value};

use super::parse::gz::{GzMembers, Tail};
use super::parse::whole::{self, Inflater};
use crate::io::atomic::{commit_all, write_atomic, AtomicFile};
use crate::io::parquet::{ParquetWriter, ROW_GROUP};
use crate::lake::{object_stem, partition_dir};
use base64::Engine;

use super::parse::lines::{for_each_line, Piece, HEAD};
use super::parse::logpush::{self, Line};
use super::parse::record::{epoch_day, LakeBatch, Row, NO_MIN_MAX};
use super::parse::tail::{self, Item, TailFramer};
use super::rejects::Rejects;
use super::segment::{GROUP_BYTES, MAX_DAYS};
use super::source::{ObjectRef, ObjectSource};
use crate::core::format::InputFormat;
use crate::core::limits::InputLimits;
use crate::core::named::Named;
use crate::lake::delivery::{Delivered, Tally};
use crate::lake::manifest::{Entry, Status};

/// Read buffer size: a Logpush object is a few KB gzipped and ~150 KB of text.
const READ_BUFFER: usize = 64 * 1024;
/// Rows an object's builders start with: a Logpush object holds a few
/// hundred events; 28 builders sized for more cost a page fault each.
const OBJECT_ROWS: usize = 256;
/// How many line errors of one object are kept for the terminal.
pub const SHOWN_ERRORS: usize = 3;

pub struct Destinations<'a> {
    pub lake: &'a Path,
    pub quarantine: &'a Path,
    pub format: Option<InputFormat>,
    pub limits: InputLimits,
}

/// What reading one object produced.
pub struct Outcome {
    pub entry: Entry,
    /// First few one-line errors (object, line, cause) for the terminal.
    pub messages: Vec<String>,
    /// Rows that did not fill a row group, by event day: they go to the
    /// run's segment file of that day (see `segment.rs`), not to a file of
    /// their own.
    pub held: Vec<(i32, DataFrame)>,
}

/// Reads one object. `Err` means the source itself failed (I/O, network): the
/// object is not recorded and the next run tries again. Bad content is never
/// an `Err`: it is quarantined and reported in the outcome.
///
/// The format is detected from the first lines, which junk can mislead (a
/// Logpush object that starts with `{` alone, a capture that starts with a
/// compact line): when the detected format finds no row but bad lines, the
/// other one is tried, and kept if it finds rows.
pub fn ingest_object(
    source: &dyn ObjectSource,
    obj: &ObjectRef,
    dest: &Destinations,
    rejects: &mut Rejects,
) -> Result<Outcome> {
    let first = attempt(source, obj, dest, rejects, dest.format)?;
    let Some(other) = first.other_format(dest.format) else {
        return first.finish(source, obj, dest);
    };
    first.discard();
    let second = attempt(source, obj, dest, rejects, Some(other))?;
    if second.has_rows() {
        return second.finish(source, obj, dest);
    }
    second.discard();
    attempt(source, obj, dest, rejects, dest.format)?.finish(source, obj, dest)
}

/// One reading of an object in one format.
enum Attempt<'a> {
    Read {
        writer: Box<ObjectWriter<'a>>,
        format: Option<InputFormat>,
        tail: Option<Tail>,
    },
    /// Not gzip, not JSON, or a first gzip member that does not decode.
    Unreadable(String),
}

fn attempt<'a>(
    source: &dyn ObjectSource,
    obj: &ObjectRef,
    dest: &'a Destinations<'a>,
    rejects: &'a mut Rejects,
    format: Option<InputFormat>,
) -> Result<Attempt<'a>> {
    let failed = Arc::new(AtomicBool::new(false));
    let raw = source.open(obj)?;
    let reader = WatchedReader {
        inner: raw,
        failed: failed.clone(),
    };
    let mut writer = Box::new(ObjectWriter::new(dest, obj, rejects));
    match read_content(reader, obj, format, &mut writer) {
        Ok((format, tail)) => Ok(Attempt::Read {
            writer,
            format,
            tail,
        }),
        Err(e) if failed.load(Ordering::Relaxed) => {
            writer.abort();
            Err(anyhow::Error::new(e).context(format!("cannot read {}", obj.key)))
        }
        Err(e) if is_write_error(&e) => {
            writer.abort();
            Err(anyhow::Error::new(e).context(format!("cannot store the rows of {}", obj.key)))
        }
        Err(e) => {
            writer.abort();
            Ok(Attempt::Unreadable(e.to_string()))
        }
    }
}

impl Attempt<'_> {
    /// The format to try instead, when this one was detected and found
    /// only bad lines.
    fn other_format(&self, forced: Option<InputFormat>) -> Option<InputFormat> {
        match self {
            Attempt::Read {
                writer,
                format: Some(format),
                ..
            } if forced.is_none() && writer.rows == 0 && writer.rejected > 0 => {
                Some(match format {
                    InputFormat::Logpush => InputFormat::Tail,
                    InputFormat::Tail => InputFormat::Logpush,
                })
            }
            _ => None,
        }
    }

    fn has_rows(&self) -> bool {
        matches!(self, Attempt::Read { writer, .. } if writer.rows > 0)
    }

    /// Takes back what the attempt wrote.
    fn discard(self) {
        if let Attempt::Read { mut writer, .. } = self {
            writer.abort();
        }
    }

    fn finish(
        self,
        source: &dyn ObjectSource,
        obj: &ObjectRef,
        dest: &Destinations,
    ) -> Result<Outcome> {
        let (mut writer, format, tail) = match self {
            Attempt::Unreadable(reason) => return quarantine_object(source, obj, dest, &reason),
            Attempt::Read {
                writer,
                format,
                tail,
            } => (writer, format, tail),
        };
        // Nothing parsed in an object whose format could not be told: it is
        // not JSON, and is kept whole rather than line by line.
        if let Some(why) = writer.undecided.take() {
            if writer.rows + writer.test_lines + writer.sampling_notices == 0 && writer.rejected > 0
            {
                writer.abort();
                return quarantine_object(source, obj, dest, &why);
            }
        }
        if let Some(tail) = tail {
            if let Err(e) = writer.quarantine_tail(source, obj, &tail) {
                writer.abort();
                return Err(e);
            }
        }
        writer.finish(obj, format)
    }
}

/// Marks errors that come from the source rather than from decoding its bytes.
struct WatchedReader {
    inner: Box<dyn Read + Send>,
    failed: Arc<AtomicBool>,
}

impl Read for WatchedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .inspect_err(|_| self.failed.store(true, Ordering::Relaxed))
    }
}

thread_local! {
    static READ_BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffered reader whose buffer goes back to its thread for the next
/// object: `BufReader` zeroes a new buffer for every object, which cost
/// more than reading one (each object has two readers: gzip and text).
struct PooledReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
}

impl<R: Read> PooledReader<R> {
    fn new(inner: R) -> Self {
        let buf = READ_BUFFERS
            .with(|pool| pool.borrow_mut().pop())
            .unwrap_or_else(|| vec![0; READ_BUFFER]);
        PooledReader {
            inner,
            buf,
            pos: 0,
            filled: 0,
        }
    }
}

impl<R> Drop for PooledReader<R> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        READ_BUFFERS.with(|pool| pool.borrow_mut().push(buf));
    }
}

impl<R: Read> Read for PooledReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for PooledReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            self.filled = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

/// Bytes that are not an object of either format; also a marker type for
/// errors that the readers carry as `io::Error`.
#[derive(Debug)]
struct Marked(String);

impl std::fmt::Display for Marked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Marked {}

fn content_error(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Marked(msg))
}

/// An error writing the lake or the quarantine: the object is not bad, the
/// disk is (full, read-only).
fn write_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(Marked(format!("{e:#}")))
}

fn is_write_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Other && is_marked(e)
}

fn is_marked(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Marked>())
}

/// Streams the object into the writer; returns the format it was read as
/// and, for gzip, where decoding stopped early.
fn read_content(
    reader: WatchedReader,
    obj: &ObjectRef,
    forced: Option<InputFormat>,
    writer: &mut ObjectWriter,
) -> io::Result<(Option<InputFormat>, Option<Tail>)> {
    let failed = reader.failed.clone();
    let mut input = PooledReader::new(reader);
    let head = input.fill_buf()?;
    if head.is_empty() {
        return Ok((None, None));
    }
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    if !gzip && obj.key.ends_with(".gz") {
        return Err(content_error(format!(
            "not gzip: the name ends in .gz but the first bytes are {:02x?}",
            &head[..head.len().min(4)]
        )));
    }
    if !gzip {
        return Ok((read_text(input, forced, writer)?, None));
    }
    if obj.size <= whole::MAX_GZIP as u64 {
        let mut gzip = Vec::with_capacity(obj.size as usize);
        (&mut input)
            .take(whole::MAX_GZIP as u64 + 1)
            .read_to_end(&mut gzip)?;
        // More than `MAX_GZIP` bytes: the listing understated the object, and
        // the bytes after them are still in `input`.
        if gzip.len() <= whole::MAX_GZIP {
            let mut inflater = Inflater::take();
            let read = (inflater.inflate(&gzip)).map(|text| read_text(text, forced, writer));
            inflater.give_back();
            if let Some(format) = read {
                return Ok((format?, None));
            }
        }
        // Not clean gzip throughout, or larger than it said: streamed, from
        // the bytes already read on.
        return read_gzip_stream(gzip.as_slice().chain(input), failed, forced, writer);
    }
    read_gzip_stream(input, failed, forced, writer)
}

/// A gzip object through the streaming decoder: what decodes is read, the
/// rest reported as its tail.
fn read_gzip_stream(
    input: impl BufRead,
    failed: Arc<AtomicBool>,
    forced: Option<InputFormat>,
    writer: &mut ObjectWriter,
) -> io::Result<(Option<InputFormat>, Option<Tail>)> {
    let mut members = GzMembers::new(input, failed);
    let format = read_text(PooledReader::new(&mut members), forced, writer).map_err(|e| {
        if is_marked(&e) {
            e
        } else {
            content_error(format!("corrupt gzip stream: {e}"))
        }
    })?;
    Ok((format, members.tail().cloned()))
}

/// Reads decompressed text in the format given or detected.
fn read_text(
    mut text: impl BufRead,
    forced: Option<InputFormat>,
    writer: &mut ObjectWriter,
) -> io::Result<Option<InputFormat>> {
    let head = text.fill_buf()?;
    if head.is_empty() {
        return Ok(None);
    }
    // A read buffer's worth, as streamed: a whole inflated text can be one
    // line of megabytes, which detection would parse into a JSON tree.
    let head = &head[..head.len().min(READ_BUFFER)];
    // Undecided (no whole line in the first buffer, or none that parses):
    // read lines as Logpush, so a good line further on is not lost; an
    // object of nothing but bad lines is then quarantined whole.
    let (format, undecided) = match forced {
        Some(f) => (f, None),
        None if !head.contains(&b'\n') || head.iter().all(u8::is_ascii_whitespace) => (
            InputFormat::Logpush,
            Some("not JSON: no line parses".to_string()),
        ),
        None => match detect_format(head) {
            Ok(f) => (f, None),
            Err(e) => (InputFormat::Logpush, Some(e)),
        },
    };
    writer.undecided = undecided;
    // Before the first row group is written: every row carries it.
    writer.format_name = format.name();
    match format {
        InputFormat::Logpush => read_logpush(&mut text, writer)?,
        InputFormat::Tail => read_tail(&mut text, writer)?,
    }
    Ok(Some(format))
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decides between Logpush NDJSON and a tail capture from the first lines.
pub fn detect_format(head: &[u8]) -> Result<InputFormat, String> {
    let head = head.strip_prefix(BOM).unwrap_or(head);
    let mut first_error = None;
    let lines = head
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty());
    // Only the first lines are decoded: the head can be a whole buffer.
    for line in lines.take(32) {
        let line = &*String::from_utf8_lossy(line);
        if matches!(line, "{" | "}" | "}{") || starts_with_tail_key(line) {
            return Ok(InputFormat::Tail);
        }
        // The first value only: objects may follow on the line (`}{`).
        let mut values = serde_json::Deserializer::from_str(line).into_iter::<Map<String, Value>>();
        match values.next() {
            Some(Ok(obj)) if tail::looks_like_tail(&obj) => return Ok(InputFormat::Tail),
            Some(Ok(_)) => return Ok(InputFormat::Logpush),
            Some(Err(e)) => {
                first_error.get_or_insert_with(|| {
                    let shown: String = line.chars().take(40).collect();
                    format!("not JSON: first line `{shown}` does not parse ({e})")
                });
            }
            None => {}
        }
    }
    Err(first_error.unwrap_or_else(|| "not JSON".into()))
}

/// A pretty-printed tail event's key line, as in a capture that starts mid-object.
fn starts_with_tail_key(line: &str) -> bool {
    tail::TAIL_KEYS.iter().any(|k| {
        line.strip_prefix('"')
            .and_then(|l| l.strip_prefix(k))
            .is_some_and(|l| l.starts_with("\":"))
    })
}

fn read_logpush(text: &mut dyn BufRead, w: &mut ObjectWriter) -> io::Result<()> {
    let max = w.dest.limits.max_line_bytes;
    for_each_line(text, max, |line_no, piece| {
        let line = match piece {
            Piece::TooLong { len, head } => {
                w.lines += 1;
                return w.reject(line_no, head, len, &too_long(len, max));
            }
            Piece::Line(line) if line_no == 1 => line.strip_prefix(BOM).unwrap_or(line),
            Piece::Line(line) => line,
        };
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(());
        }
        w.lines += 1;
        let Ok(text) = simdutf8::basic::from_utf8(line) else {
            return w.reject(line_no, line, line.len() as u64, "not UTF-8 text");
        };
        match logpush::parse_line(text) {
            Ok(Line::Event(row)) => w.event(&row, line_no, || line.to_vec()),
            Ok(Line::Test) => {
                w.test_lines += 1;
                Ok(())
            }
            Err(e) => w.reject(line_no, line, line.len() as u64, &e),
        }
    })
}

fn too_long(len: u64, max: usize) -> String {
    format!("line of {len} bytes is longer than the limit of {max} bytes")
}

fn read_tail(text: &mut dyn BufRead, w: &mut ObjectWriter) -> io::Result<()> {
    let mut framer = TailFramer::new(w.dest.limits.max_line_bytes);
    let max = w.dest.limits.max_line_bytes;
    let mut on_item = |item: Item| w.tail_item(item);
    for_each_line(text, max, |no, piece| framer.line(no, piece, &mut on_item))?;
    framer.finish(&mut on_item)
}

/// Rows of one object for one event date, written as they accumulate.
struct DateSink {
    batch: LakeBatch,
    writer: Option<ParquetWriter<AtomicFile>>,
    dest: PathBuf,
    rel: String,
}

struct ObjectWriter<'a> {
    dest: &'a Destinations<'a>,
    key: String,
    stem: String,
    format_name: &'static str,
    dates: BTreeMap<i32, DateSink>,
    rejects: &'a mut Rejects,
    /// Where this object's records start in `rejects`.
    rejects_from: u64,
    lines: u64,
    rows: u64,
    test_lines: u64,
    rejected: u64,
    /// Bad lines counted but not copied: the object's quarantine was full.
    uncopied: u64,
    first_uncopied: u64,
    sampling_notices: u64,
    /// Quarantine files of an undecodable tail of the object.
    tail_files: Vec<String>,
    /// Why the format could not be told from the first lines, if it could not.
    undecided: Option<String>,
    messages: Vec<String>,
    delivered: Option<Delivered>,
    /// (delivered − event time) of the rows, by event day: at most
    /// `MAX_DAYS` bounded histograms.
    delays: BTreeMap<i32, Tally>,
}

impl<'a> ObjectWriter<'a> {
    fn new(dest: &'a Destinations<'a>, obj: &ObjectRef, rejects: &'a mut Rejects) -> Self {
        ObjectWriter {
            dest,
            key: obj.key.clone(),
            stem: object_stem(&obj.key),
            format_name: "",
            dates: BTreeMap::new(),
            rejects_from: rejects.written(),
            rejects,
            lines: 0,
            rows: 0,
            test_lines: 0,
            rejected: 0,
            uncopied: 0,
            first_uncopied: 0,
            sampling_notices: 0,
            tail_files: Vec::new(),
            undecided: None,
            messages: Vec::new(),
            delivered: obj.delivered,
            delays: BTreeMap::new(),
        }
    }

    /// An event: into the lake if it is within the limits, else quarantined
    /// with `raw` (its text as delivered).
    fn event(&mut self, row: &Row, line: u64, raw: impl FnOnce() -> Vec<u8>) -> io::Result<()> {
        let day = epoch_day(row.event_timestamp_ms);
        let new_day = self.dates.len() >= MAX_DAYS && !self.dates.contains_key(&day);
        let checked = row.check().and_then(|()| match new_day {
            true => Err(format!(
                "the object's events span more than {MAX_DAYS} days"
            )),
            false => Ok(()),
        });
        match checked {
            Ok(()) => self.push(row, line),
            Err(why) => {
                let raw = raw();
                self.reject(line, &raw, raw.len() as u64, &why)
            }
        }
    }

    fn tail_item(&mut self, item: Item) -> io::Result<()> {
        self.lines += 1;
        match item {
            Item::Object { value, .. } if tail::is_sampling_notice(&value) => {
                self.sampling_notices += 1;
                Ok(())
            }
            Item::Object { line, value, text } => match tail::to_row(&value) {
                Ok(row) => self.event(&row, line, || text.clone()),
                Err(e) => self.reject(line, &text, text.len() as u64, &e),
            },
            Item::Bad { line, text, error } => self.reject(line, &text.bytes, text.len, &error),
        }
    }

    fn push(&mut self, row: &Row, line: u64) -> io::Result<()> {
        let day = epoch_day(row.event_timestamp_ms);
        // Builders sized for an object's rows on its first day only.
        let rows = if self.dates.is_empty() {
            OBJECT_ROWS
        } else {
            16
        };
        let sink = match self.dates.entry(day) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let rel = format!("{}/{}.parquet", partition_dir(day), self.stem);
                let dest = self.dest.lake.join(&rel);
                v.insert(DateSink {
                    batch: LakeBatch::new(rows),
                    writer: None,
                    dest,
                    rel,
                })
            }
        };
        sink.batch.push(row, line);
        self.rows += 1;
        if let Some(delivered) = self.delivered {
            let delay = delivered.ms.saturating_sub(row.event_timestamp_ms);
            self.delays.entry(day).or_default().add(delay);
        }
        if sink.batch.len() >= ROW_GROUP || sink.batch.bytes() >= GROUP_BYTES {
            flush(sink, &self.key, self.format_name).map_err(write_error)?;
        }
        Ok(())
    }

    /// Quarantines a bad line: `text` is the line, or its head when `len`
    /// says it was longer. Past the object's quarantine cap the line is
    /// only counted.
    fn reject(&mut self, line: u64, text: &[u8], len: u64, error: &str) -> io::Result<()> {
        self.rejected += 1;
        if self.messages.len() < SHOWN_ERRORS {
            self.messages
                .push(format!("{} line {line}: {error}", self.key));
        }
        let used = self.rejects.written() - self.rejects_from;
        let cap = self.dest.limits.max_quarantine_bytes;
        if used >= cap {
            if self.uncopied == 0 {
                self.first_uncopied = line;
            }
            self.uncopied += 1;
            return Ok(());
        }
        // JSON can make a byte six (`\u0001`): a line that might not fit in
        // what is left of the cap is kept by reference, so the cap holds.
        let cut = len > text.len() as u64 || used + 6 * len + 512 > cap;
        let text = if cut {
            &text[..HEAD.min(text.len())]
        } else {
            text
        };
        let mut record = json!({"object": self.key, "line": line, "error": error});
        if cut {
            record["length"] = len.into();
        }
        let (field, value) = exact_text(text, cut);
        let name = if cut { "head" } else { "text" };
        record[format!("{name}{field}")] = value;
        self.rejects.write(&record.to_string()).map_err(write_error)
    }

    /// One record for the lines past the quarantine cap.
    fn record_uncopied(&mut self) -> io::Result<()> {
        if self.uncopied == 0 {
            return Ok(());
        }
        let error = format!(
            "the object's quarantine is full ({} bytes, [mirror] max_quarantine_bytes): {} more bad lines from line {} on are counted, not copied",
            self.dest.limits.max_quarantine_bytes, self.uncopied, self.first_uncopied
        );
        self.messages.push(format!("{}: {error}", self.key));
        let record = json!({"object": self.key, "line": self.first_uncopied, "error": error, "count": self.uncopied});
        self.rejects.write(&record.to_string()).map_err(write_error)
    }

    /// Copies the undecodable end of a gzip object into the quarantine.
    fn quarantine_tail(
        &mut self,
        source: &dyn ObjectSource,
        obj: &ObjectRef,
        tail: &Tail,
    ) -> Result<()> {
        let (data, note) =
            copy_to_quarantine(source, obj, self.dest, "tail", tail.offset, &tail.reason)?;
        self.messages.push(format!("{}: {}", obj.key, tail.reason));
        self.tail_files = vec![data, note];
        Ok(())
    }

    fn abort(&mut self) {
        // Dropping a sink's writer removes its temporary file.
        self.dates.clear();
        self.delays.clear();
        // A failed rollback leaves records of an object the manifest does not
        // name; the next run's `Rejects` starts a new file for it anyway.
        let _ = self.rejects.rollback(self.rejects_from);
        for file in std::mem::take(&mut self.tail_files) {
            let _ = fs::remove_file(self.dest.quarantine.join(file));
        }
    }

    fn finish(mut self, obj: &ObjectRef, format: Option<InputFormat>) -> Result<Outcome> {
        let result = self
            .record_uncopied()
            .map_err(anyhow::Error::from)
            .and_then(|()| self.finish_files());
        if result.is_err() {
            self.abort();
        }
        let (files, quarantine, held) = result?;
        let status = if self.lines == 0 {
            Status::Empty
        } else if self.rows == 0 && self.rejected == 0 && self.test_lines > 0 {
            Status::Test
        } else {
            Status::Ingested
        };
        // A tail capture is written as events happen: it has no delivery.
        let delivered = self.delivered.filter(|_| format != Some(InputFormat::Tail));
        let delays = match delivered {
            Some(_) => std::mem::take(&mut self.delays),
            None => BTreeMap::new(),
        };
        let entry = Entry {
            size: obj.size,
            version: obj.version.clone(),
            status,
            format,
            lines: self.lines,
            rows: self.rows,
            test_lines: self.test_lines,
            rejected_lines: self.rejected,
            reason: None,
            files,
            quarantine,
            sampling_notices: self.sampling_notices,
            delivered_ms: delivered.map(|d| d.ms),
            delivery_source: delivered.map(|d| d.source),
            delays: delays
                .into_iter()
                .map(|(day, tally)| (day_name(day), tally.histogram()))
                .collect(),
        };
        Ok(Outcome {
            entry,
            messages: std::mem::take(&mut self.messages),
            held,
        })
    }

    /// Closes the object's own files (days with more than a row group of
    /// rows) and hands back the rows of the other days.
    #[allow(clippy::type_complexity)]
    fn finish_files(&mut self) -> Result<(Vec<String>, Vec<String>, Vec<(i32, DataFrame)>)> {
        let mut files = Vec::new();
        let mut finished = Vec::new();
        let mut held = Vec::new();
        for (day, sink) in self.dates.iter_mut() {
            if sink.writer.is_none() {
                held.push((*day, sink.batch.take_frame(&self.key, self.format_name)?));
                continue;
            }
            if !sink.batch.is_empty() {
                flush(sink, &self.key, self.format_name)?;
            }
            let writer = sink.writer.take().expect("flushed above");
            let file = writer.finish();
            let failed = |e| anyhow::anyhow!("cannot write {}: {e}", sink.dest.display());
            finished.push(file.map_err(failed)?);
            files.push(sink.rel.clone());
        }
        commit_all(finished)?;
        let mut quarantine = std::mem::take(&mut self.tail_files);
        if self.rejects.written() > self.rejects_from {
            quarantine.push(self.rejects.rel().to_string());
        }
        quarantine.sort();
        Ok((files, quarantine, held))
    }
}

/// `YYYY-MM-DD` of days since the epoch (checked dates, as `partition_dir`).
fn day_name(epoch_day: i32) -> String {
    let dir = partition_dir(epoch_day);
    dir.strip_prefix("date=").unwrap_or(&dir).to_string()
}

fn flush(sink: &mut DateSink, key: &str, format: &str) -> Result<()> {
    let df = sink.batch.take_frame(key, format)?;
    if sink.writer.is_none() {
        let file = AtomicFile::create(&sink.dest)?;
        sink.writer = Some(ParquetWriter::lasting(file, &df)?.without_min_max(&NO_MIN_MAX));
    }
    Ok(sink.writer.as_mut().expect("created above").write(&df)?)
}

/// Copies an unreadable object into the quarantine, with its reason.
fn quarantine_object(
    source: &dyn ObjectSource,
    obj: &ObjectRef,
    dest: &Destinations,
    reason: &str,
) -> Result<Outcome> {
    let (data, note) = copy_to_quarantine(source, obj, dest, "object", 0, reason)?;
    let entry = Entry {
        size: obj.size,
        version: obj.version.clone(),
        status: Status::Quarantined,
        format: None,
        lines: 0,
        rows: 0,
        test_lines: 0,
        rejected_lines: 0,
        reason: Some(reason.to_string()),
        files: Vec::new(),
        quarantine: vec![data, note],
        sampling_notices: 0,
        delivered_ms: None,
        delivery_source: None,
        delays: BTreeMap::new(),
    };
    Ok(Outcome {
        entry,
        messages: vec![format!("{}: {reason}", obj.key)],
        held: Vec::new(),
    })
}

/// Copies the object's bytes from `offset` on, up to the quarantine cap, to
/// `objects/<stem>.<kind>` with a note (`.reason.json`) saying
/// why; returns both paths relative to the quarantine.
fn copy_to_quarantine(
    source: &dyn ObjectSource,
    obj: &ObjectRef,
    dest: &Destinations,
    kind: &str,
    offset: u64,
    reason: &str,
) -> Result<(String, String)> {
    let stem = object_stem(&obj.key);
    let data = format!("objects/{stem}.{kind}");
    let note = match kind {
        "object" => format!("objects/{stem}.reason.json"),
        _ => format!("objects/{stem}.{kind}.reason.json"),
    };
    let cap = dest.limits.max_quarantine_bytes;
    let copied = (|| -> Result<u64> {
        let mut to = AtomicFile::create(&dest.quarantine.join(&data)).map_err(write_error)?;
        let mut from = source.open(obj)?;
        io::copy(&mut (&mut from).take(offset), &mut io::sink())?;
        let n = io::copy(&mut from.take(cap), &mut to).map_err(write_error)?;
        to.commit().map_err(write_error)?;
        Ok(n)
    })();
    let copied =
        copied.map_err(|e| e.context(format!("cannot copy {} into the quarantine", obj.key)))?;
    let mut record =
        json!({"object": obj.key, "size": obj.size, "offset": offset, "reason": reason});
    if offset + copied < obj.size {
        record["copied"] = copied.into();
        record["note"] =
            format!("only the first {copied} bytes are copied ([mirror] max_quarantine_bytes)")
                .into();
    }
    write_atomic(
        &dest.quarantine.join(&note),
        format!("{record}\n").as_bytes(),
    )?;
    Ok((data, note))
}

/// Bad bytes for a quarantine record, exactly: as text when they are UTF-8
/// (a head cut inside a character keeps its whole characters), else as
/// base64 under a `_base64` name.
fn exact_text(bytes: &[u8], cut: bool) -> (&'static str, Value) {
    match std::str::from_utf8(bytes) {
        Ok(text) => ("", text.into()),
        Err(e) if cut && e.error_len().is_none() => (
            "",
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into(),
        ),
        Err(_) => (
            "_base64",
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_detected_from_content() {
        let logpush = br#"{"EventTimestampMs":1,"ScriptName":"a"}"#;
        assert_eq!(detect_format(logpush), Ok(InputFormat::Logpush));
        assert_eq!(
            detect_format(b"{\n  \"scriptName\": \"a\",\n"),
            Ok(InputFormat::Tail)
        );
        assert_eq!(
            detect_format(br#"{"eventTimestamp":1}"#),
            Ok(InputFormat::Tail)
        );
        assert_eq!(
            detect_format(b"{\"content\":\"test\"}"),
            Ok(InputFormat::Logpush)
        );
        assert_eq!(
            detect_format(b"garbage\n{\"EventTimestampMs\":1}\n"),
            Ok(InputFormat::Logpush)
        );
        assert!(detect_format(b"a,b,c\n1,2,3\n")
            .unwrap_err()
            .starts_with("not JSON"));
    }
}
