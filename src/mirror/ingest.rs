//! Reading one source object, streaming: bytes → gunzip → lines → column
//! builders → Parquet row groups, with bad lines quarantined. A day with more
//! than a row group of rows gets a lake file of the object's own; the rows of
//! other days are handed back for the run's segment files.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use flate2::bufread::MultiGzDecoder;
use polars::prelude::*;
use serde_json::{json, Map, Value};

use super::lake::{object_stem, partition_dir, tmp_path, LakeFileWriter};
use super::logpush::{self, Line};
use super::manifest::{Entry, Status};
use super::record::{epoch_day, LakeBatch, Row, NO_MIN_MAX};
use super::rejects::Rejects;
use super::source::{ObjectRef, ObjectSource};
use super::tail::{self, Item, TailReader};
use crate::cli::InputFormat;

/// Rows per Parquet row group; also bounds the rows held in memory per date.
pub(super) const ROW_GROUP: usize = 50_000;
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
pub fn ingest_object(
    source: &dyn ObjectSource,
    obj: &ObjectRef,
    dest: &Destinations,
    rejects: &mut Rejects,
) -> Result<Outcome> {
    let failed = Arc::new(AtomicBool::new(false));
    let raw = source.open(obj)?;
    let reader = WatchedReader {
        inner: raw,
        failed: failed.clone(),
    };
    let mut writer = ObjectWriter::new(dest, &obj.key, rejects);
    match read_content(reader, obj, dest.format, &mut writer) {
        Ok(format) => writer.finish(obj, format),
        Err(e) if failed.load(Ordering::Relaxed) => {
            writer.abort();
            Err(anyhow::Error::new(e).context(format!("cannot read {}", obj.key)))
        }
        Err(e) => {
            writer.abort();
            let reason = e.to_string();
            quarantine_object(source, obj, dest.quarantine, &reason)
        }
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

fn content_error(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Streams the object into the writer; returns the format it was read as.
fn read_content(
    reader: WatchedReader,
    obj: &ObjectRef,
    forced: Option<InputFormat>,
    writer: &mut ObjectWriter,
) -> io::Result<Option<InputFormat>> {
    let mut input = PooledReader::new(reader);
    let head = input.fill_buf()?;
    if head.is_empty() {
        return Ok(None);
    }
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    if !gzip && obj.key.ends_with(".gz") {
        return Err(content_error(format!(
            "not gzip: the name ends in .gz but the first bytes are {:02x?}",
            &head[..head.len().min(4)]
        )));
    }
    let mut text: Box<dyn BufRead> = if gzip {
        Box::new(PooledReader::new(MultiGzDecoder::new(input)))
    } else {
        Box::new(input)
    };
    let head = text
        .fill_buf()
        .map_err(|e| content_error(format!("not gzip: {e}")))?;
    if head.is_empty() {
        return Ok(None);
    }
    let format = match forced {
        Some(f) => f,
        // Leading blank lines longer than a buffer: let the lines decide.
        None if head.iter().all(u8::is_ascii_whitespace) => InputFormat::Logpush,
        None => detect_format(head).map_err(content_error)?,
    };
    let decode = |e: io::Error| {
        if gzip {
            content_error(format!("corrupt gzip stream: {e}"))
        } else {
            e
        }
    };
    match format {
        InputFormat::Logpush => read_logpush(text, writer).map_err(decode)?,
        InputFormat::Tail => read_tail(text, writer).map_err(decode)?,
    }
    Ok(Some(format))
}

/// Decides between Logpush NDJSON and a tail capture from the first lines.
pub fn detect_format(head: &[u8]) -> Result<InputFormat, String> {
    let mut first_error = None;
    let lines = head
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty());
    // Only the first lines are decoded: the head can be a whole buffer.
    for line in lines.take(8) {
        let line = &*String::from_utf8_lossy(line);
        if line == "{" {
            return Ok(InputFormat::Tail);
        }
        match serde_json::from_str::<Map<String, Value>>(line) {
            Ok(obj) if tail::looks_like_tail(&obj) => return Ok(InputFormat::Tail),
            Ok(_) => return Ok(InputFormat::Logpush),
            Err(e) => {
                first_error.get_or_insert_with(|| {
                    let shown: String = line.chars().take(40).collect();
                    format!("not JSON: first line `{shown}` does not parse ({e})")
                });
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "not JSON".into()))
}

fn read_logpush(mut text: Box<dyn BufRead>, w: &mut ObjectWriter) -> io::Result<()> {
    let mut line_no = 0u64;
    for_each_line(&mut text, |line| {
        line_no += 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(());
        }
        w.lines += 1;
        let Ok(line) = simdutf8::basic::from_utf8(line) else {
            return w.reject(line_no, &String::from_utf8_lossy(line), "not UTF-8 text");
        };
        match logpush::parse_line(line) {
            Ok(Line::Event(row)) => w.push(&row, line_no),
            Ok(Line::Test) => {
                w.test_lines += 1;
                Ok(())
            }
            Err(e) => w.reject(line_no, line, &e),
        }
    })
}

/// Calls `f` with every line (without its `\n`), read in place from the
/// reader's buffer: only a line that straddles two buffers is copied.
fn for_each_line(
    text: &mut dyn BufRead,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut straddling = Vec::new();
    loop {
        let chunk = text.fill_buf()?;
        if chunk.is_empty() {
            return if straddling.is_empty() {
                Ok(())
            } else {
                f(&straddling)
            };
        }
        let mut start = 0;
        while let Some(end) = memchr::memchr(b'\n', &chunk[start..]) {
            let line = &chunk[start..start + end];
            if straddling.is_empty() {
                f(line)?;
            } else {
                straddling.extend_from_slice(line);
                f(&straddling)?;
                straddling.clear();
            }
            start += end + 1;
        }
        straddling.extend_from_slice(&chunk[start..]);
        let used = chunk.len();
        text.consume(used);
    }
}

fn read_tail(text: Box<dyn BufRead>, w: &mut ObjectWriter) -> io::Result<()> {
    for item in TailReader::new(text) {
        w.lines += 1;
        match item? {
            Item::Object { line, value } => match tail::to_row(&value) {
                Ok(row) => w.push(&row, line)?,
                Err(e) => w.reject(line, &value.to_string(), &e)?,
            },
            Item::Bad { line, text, error } => w.reject(line, &text, &error)?,
        }
    }
    Ok(())
}

/// Rows of one object for one event date, written as they accumulate.
struct DateSink {
    batch: LakeBatch,
    writer: Option<LakeFileWriter>,
    tmp: PathBuf,
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
    messages: Vec<String>,
}

impl<'a> ObjectWriter<'a> {
    fn new(dest: &'a Destinations<'a>, key: &str, rejects: &'a mut Rejects) -> Self {
        ObjectWriter {
            dest,
            key: key.to_string(),
            stem: object_stem(key),
            format_name: "",
            dates: BTreeMap::new(),
            rejects_from: rejects.written(),
            rejects,
            lines: 0,
            rows: 0,
            test_lines: 0,
            rejected: 0,
            messages: Vec::new(),
        }
    }

    fn push(&mut self, row: &Row, line: u64) -> io::Result<()> {
        let day = epoch_day(row.event_timestamp_ms);
        let sink = match self.dates.entry(day) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let rel = format!("{}/{}.parquet", partition_dir(day), self.stem);
                let dest = self.dest.lake.join(&rel);
                v.insert(DateSink {
                    batch: LakeBatch::new(OBJECT_ROWS),
                    writer: None,
                    tmp: tmp_path(&dest),
                    dest,
                    rel,
                })
            }
        };
        sink.batch.push(row, line);
        self.rows += 1;
        if sink.batch.len() >= ROW_GROUP {
            flush(sink, &self.key, self.format_name).map_err(io::Error::other)?;
        }
        Ok(())
    }

    fn reject(&mut self, line: u64, text: &str, error: &str) -> io::Result<()> {
        self.rejected += 1;
        if self.messages.len() < SHOWN_ERRORS {
            self.messages
                .push(format!("{} line {line}: {error}", self.key));
        }
        let record = json!({"object": self.key, "line": line, "error": error, "text": text});
        self.rejects.write(&record.to_string())
    }

    fn abort(&mut self) {
        for sink in std::mem::take(&mut self.dates).into_values() {
            drop(sink.writer);
            let _ = fs::remove_file(&sink.tmp);
        }
        // A failed rollback leaves records of an object the manifest does not
        // name; the next run's `Rejects` starts a new file for it anyway.
        let _ = self.rejects.rollback(self.rejects_from);
    }

    fn finish(mut self, obj: &ObjectRef, format: Option<InputFormat>) -> Result<Outcome> {
        let result = self.finish_files(format);
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
        let entry = Entry {
            size: obj.size,
            version: obj.version.clone(),
            status,
            format: format.map(|f| format_name(f).to_string()),
            lines: self.lines,
            rows: self.rows,
            test_lines: self.test_lines,
            rejected_lines: self.rejected,
            reason: None,
            files,
            quarantine,
            sampling_notices: 0,
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
    fn finish_files(
        &mut self,
        format: Option<InputFormat>,
    ) -> Result<(Vec<String>, Vec<String>, Vec<(i32, DataFrame)>)> {
        self.format_name = format.map(format_name).unwrap_or("");
        let mut files = Vec::new();
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
            writer.finish()?;
            fs::rename(&sink.tmp, &sink.dest)
                .with_context(|| format!("cannot write {}", sink.dest.display()))?;
            files.push(sink.rel.clone());
        }
        let mut quarantine = Vec::new();
        if self.rejects.written() > self.rejects_from {
            quarantine.push(self.rejects.rel().to_string());
        }
        Ok((files, quarantine, held))
    }
}

pub fn format_name(f: InputFormat) -> &'static str {
    match f {
        InputFormat::Logpush => "logpush",
        InputFormat::Tail => "tail",
    }
}

fn flush(sink: &mut DateSink, key: &str, format: &str) -> PolarsResult<()> {
    let df = sink.batch.take_frame(key, format)?;
    if sink.writer.is_none() {
        if let Some(dir) = sink.tmp.parent() {
            fs::create_dir_all(dir)?;
        }
        sink.writer = Some(LakeFileWriter::create(&sink.tmp, &df)?.without_min_max(&NO_MIN_MAX));
    }
    sink.writer.as_mut().expect("created above").write(&df)
}

/// Copies an unreadable object whole into the quarantine, with its reason.
fn quarantine_object(
    source: &dyn ObjectSource,
    obj: &ObjectRef,
    quarantine: &Path,
    reason: &str,
) -> Result<Outcome> {
    let stem = object_stem(&obj.key);
    let dir = quarantine.join("objects");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let copy = dir.join(format!("{stem}.object"));
    let tmp = tmp_path(&copy);
    let copied = (|| -> Result<()> {
        let mut from = source.open(obj)?;
        let mut to = File::create(&tmp)?;
        io::copy(&mut from, &mut to)?;
        to.sync_data()?;
        fs::rename(&tmp, &copy)?;
        Ok(())
    })();
    if let Err(e) = copied {
        let _ = fs::remove_file(&tmp);
        return Err(e.context(format!("cannot copy {} into the quarantine", obj.key)));
    }
    let note = json!({"object": obj.key, "size": obj.size, "reason": reason});
    super::lake::write_atomic(
        &dir.join(format!("{stem}.reason.json")),
        format!("{note}\n").as_bytes(),
    )?;
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
        quarantine: vec![
            format!("objects/{stem}.object"),
            format!("objects/{stem}.reason.json"),
        ],
        sampling_notices: 0,
    };
    Ok(Outcome {
        entry,
        messages: vec![format!("{}: {reason}", obj.key)],
        held: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_the_same_across_buffer_boundaries() {
        let text = b"a\nbb\r\n\nccc\ndddd\n\neeeee";
        for capacity in 1..=text.len() + 1 {
            let mut reader = std::io::BufReader::with_capacity(capacity, &text[..]);
            let mut lines = Vec::new();
            for_each_line(&mut reader, |line| {
                lines.push(String::from_utf8(line.to_vec()).unwrap());
                Ok(())
            })
            .unwrap();
            assert_eq!(
                lines,
                ["a", "bb\r", "", "ccc", "dddd", "", "eeeee"],
                "{capacity}"
            );
        }
    }

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
