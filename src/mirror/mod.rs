//! Step 1: mirror source objects into the local Parquet lake, incrementally.
//!
//! Only objects that are new or changed (size, ETag or mtime) against the
//! manifest are read; each one replaces exactly its own rows. Objects are cut
//! into segments of consecutive keys that share their lake files (see
//! `segment.rs`); segments are spread over `jobs` threads, each streaming one
//! object at a time.

pub mod ingest;
pub mod parse;
pub mod rejects;
pub mod segment;
pub mod source;
pub mod wait;

use std::collections::BTreeSet;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;

use crate::core::format::InputFormat;
use crate::core::limits::InputLimits;
use crate::core::terminal::printable;
use crate::core::window::Window;
use crate::io::atomic::{commit_all, is_tmp_name, write_atomic, AtomicFile};
use crate::lake::manifest::{self, Manifest, Status};
use crate::lake::{is_mirror_name, LakeLock};
use ingest::{Destinations, Outcome};
use source::s3::S3Section;
pub use source::SourceSpec;
use source::{ObjectRef, ObjectSource, Skipped, Unreadable};

/// The manifest is saved at least this far apart, and at least
/// `CHECKPOINT_SHARE` times as long as its last save took (up to
/// `CHECKPOINT_MAX`: a rerun after a kill redoes what came after): it is
/// rewritten whole, and grows with the lake, so fixed intervals would make
/// the saves a share of the run that grows with it.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);
const CHECKPOINT_SHARE: u32 = 20;
const CHECKPOINT_MAX: Duration = Duration::from_secs(60);
const MAX_SHOWN_ERRORS: usize = 20;
/// Where the entries of the source that were not read are listed, in the quarantine.
pub const SKIPPED_FILE: &str = "skipped.jsonl";

/// What the mirror needs; `settings` resolves it from the pipeline file and flags.
#[derive(Debug, Clone)]
pub struct Options {
    pub source: Option<SourceSpec>,
    pub format: Option<InputFormat>,
    pub lake: PathBuf,
    pub quarantine: PathBuf,
    pub window: Window,
    pub jobs: usize,
    pub limits: InputLimits,
    pub quiet: bool,
    pub s3: S3Section,
    /// `mirror --wait`'s margin when given (`--margin`, `[mirror] margin`).
    pub margin: Option<wait::GivenMargin>,
}

/// Counts for the end-of-step summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub listed: u64,
    pub unchanged: u64,
    pub read: u64,
    pub bytes_read: u64,
    pub failed: u64,
    pub lines: u64,
    pub rows: u64,
    pub test_objects: u64,
    pub empty_objects: u64,
    pub rejected_lines: u64,
    pub quarantined_objects: u64,
    pub refused_keys: u64,
    /// Entries not read: links, names that are not UTF-8, unreadable files.
    pub skipped: u64,
    pub sampling_notices: u64,
    /// Objects read before whose size or version changed: their rows were replaced.
    pub replaced: u64,
}

/// Opens the source; `exclude` are folders of ours that may sit inside it.
pub fn open_source(
    spec: &SourceSpec,
    s3: &S3Section,
    exclude: &[&Path],
) -> Result<Box<dyn ObjectSource>> {
    match spec {
        SourceSpec::Local(path) => Ok(Box::new(source::dir::DirSource::new(path, exclude)?)),
        SourceSpec::S3 { bucket, prefix } => Ok(Box::new(source::s3::S3Source::new(
            bucket,
            prefix,
            s3.options()?,
        )?)),
    }
}

/// Runs the mirror step and prints its summary.
pub fn run(opts: &Options) -> Result<Summary> {
    let Some(spec) = &opts.source else {
        bail!("no source: pass --source (a Logpush folder, a tail capture or s3://bucket/prefix) or set [source] location in the pipeline file");
    };
    let ours = [opts.lake.as_path(), opts.quarantine.as_path()];
    if let SourceSpec::Local(path) = spec {
        refuse_source_in(path, &ours)?;
    }
    let source = open_source(spec, &opts.s3, &ours)?;
    let summary = mirror(source.as_ref(), opts)?;
    print_summary(&summary, opts);
    if summary.failed > 0 {
        bail!(
            "{} object(s) of {spec} could not be read (see above); run the mirror again to retry them",
            summary.failed
        );
    }
    Ok(summary)
}

/// A source that is the lake or the quarantine, or inside one, would read
/// the mirror's own files as input (and their sweep would remove the input).
fn refuse_source_in(source: &Path, ours: &[&Path]) -> Result<()> {
    let Ok(source) = fs::canonicalize(source) else {
        return Ok(());
    };
    for dir in ours {
        if fs::canonicalize(dir).is_ok_and(|d| source.starts_with(&d)) {
            bail!(
                "the source {} is inside {}, which the mirror writes: point --lake (or --quarantine) at another folder",
                source.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Mirrors every new or changed object of `source` into the lake. A full
/// disk, wherever it is met, ends the run with one line naming the folder.
pub fn mirror(source: &dyn ObjectSource, opts: &Options) -> Result<Summary> {
    mirror_all(source, opts).map_err(|e| match is_disk_full(&e) {
        true => disk_full(opts, &e),
        false => e,
    })
}

fn mirror_all(source: &dyn ObjectSource, opts: &Options) -> Result<Summary> {
    let _large_blocks = crate::core::memory::LargeBlocksFromHeap::enable();
    let lake = &opts.lake;
    fs::create_dir_all(lake)
        .with_context(|| format!("cannot create lake folder {}", lake.display()))?;
    let _lock = LakeLock::exclusive(lake)?;
    let mut manifest = Manifest::load(lake)?;
    manifest.source = opts.source.as_ref().and_then(SourceSpec::location);
    let mut run = Run {
        opts,
        summary: Summary::default(),
        skipped: Vec::new(),
        shown: 0,
    };
    let pending = run.pending(source, &manifest)?;
    let stopped = if pending.is_empty() {
        None
    } else {
        run.ingest(source, pending, &mut manifest)?
    };
    if let Err(e) = manifest.save(lake) {
        return Err(stopped.unwrap_or(e));
    }
    sweep(lake, &opts.quarantine, &manifest)?;
    run.list_skipped()?;
    match stopped {
        Some(e) => Err(e),
        None => Ok(run.summary),
    }
}

/// One mirror run's counts and messages.
struct Run<'a> {
    opts: &'a Options,
    summary: Summary,
    skipped: Vec<Skipped>,
    shown: usize,
}

impl Run<'_> {
    /// Lists the source; returns the objects to read (new or changed).
    fn pending(
        &mut self,
        source: &dyn ObjectSource,
        manifest: &Manifest,
    ) -> Result<Vec<ObjectRef>> {
        let listing = source.list(&self.opts.window)?;
        self.summary.listed = listing.objects.len() as u64;
        for skipped in listing.skipped {
            self.skip(skipped, None);
        }
        let max = source.max_object_bytes().unwrap_or(u64::MAX);
        let mut readable = Vec::with_capacity(listing.objects.len());
        for obj in listing.objects {
            match source.check_key(&obj.key) {
                Ok(()) if obj.size > max => {
                    let reason = format!("{} bytes, over [source.s3] max_object_bytes ({max}): raise it to read this object", obj.size);
                    self.skip(
                        Skipped {
                            key: obj.key,
                            reason,
                        },
                        None,
                    );
                }
                Ok(()) => readable.push(obj),
                Err(why) => {
                    self.summary.refused_keys += 1;
                    self.show(
                        &format!("refused: key {:?} ({why}): not read", obj.key),
                        None,
                    );
                }
            }
        }
        let read = readable.len() as u64;
        readable.retain(|o| !manifest.is_current(&o.key, o.size, &o.version));
        self.summary.unchanged = read - readable.len() as u64;
        Ok(readable)
    }

    fn skip(&mut self, skipped: Skipped, progress: Option<&Progress>) {
        self.summary.skipped += 1;
        let line = format!("skipped: {}: {}", skipped.key, skipped.reason);
        self.show(&line, progress);
        self.skipped.push(skipped);
    }

    /// Prints one of the run's first messages (escaped), counts the others.
    fn show(&mut self, line: &str, progress: Option<&Progress>) {
        self.shown += 1;
        if self.shown > MAX_SHOWN_ERRORS || self.opts.quiet {
            return;
        }
        let line = printable(line);
        match progress {
            Some(p) => p.println(&line),
            None => eprintln!("{line}"),
        }
    }

    /// Reads the pending objects, segment by segment over the worker
    /// threads, and records each in the manifest. Returns the error that
    /// stopped the run early (a full disk), if one did.
    fn ingest(
        &mut self,
        source: &dyn ObjectSource,
        pending: Vec<ObjectRef>,
        manifest: &mut Manifest,
    ) -> Result<Option<anyhow::Error>> {
        let opts = self.opts;
        let dest = Destinations {
            lake: &opts.lake,
            quarantine: &opts.quarantine,
            format: opts.format,
            limits: opts.limits,
        };
        let mut progress = Progress::new(&pending, opts.quiet);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(opts.jobs.max(source.parallelism().unwrap_or(0)))
            .build()
            .context("cannot start worker threads")?;
        let segments = segment::cut(pending);
        let stop = AtomicBool::new(false);
        let mut stopped = None;
        let (tx, rx) = std::sync::mpsc::channel::<Done>();
        let (mut last_save, mut save_every) = (Instant::now(), CHECKPOINT_EVERY);
        std::thread::scope(|scope| -> Result<()> {
            let (dest, stop) = (&dest, &stop);
            scope.spawn(move || {
                pool.install(|| {
                    // One segment per task: rayon's default split can leave
                    // one thread alone with the last few segments.
                    (segments.par_iter().with_max_len(1)).for_each_with(tx, |tx, objects| {
                        mirror_segment(source, objects, dest, stop, tx);
                    })
                })
            });
            for done in rx {
                let objects = match done {
                    Done::Read(bytes) => {
                        progress.advance(bytes);
                        continue;
                    }
                    // Synced here, not on a worker: its core goes on parsing
                    // while the disk writes (bench/NOTES.md, change 48).
                    Done::Segment(objects, files) => match commit_all(files) {
                        Ok(()) => objects,
                        // Those that failed already keep their own reason.
                        Err(e) => (objects.into_iter())
                            .map(|(obj, outcome)| match outcome {
                                Ok(_) => unwritten(obj, &e),
                                failed => (obj, failed),
                            })
                            .collect(),
                    },
                };
                for (obj, outcome) in objects {
                    if let Some(full) = self.take(&obj, outcome, manifest, &progress)? {
                        stop.store(true, Ordering::Relaxed);
                        stopped.get_or_insert(full);
                    }
                }
                // Between segments only: a segment's objects share its files,
                // so the manifest names all of them or none (after a kill, a
                // rerun must not read into a new segment rows that an old one
                // still holds).
                if last_save.elapsed() > save_every {
                    let started = Instant::now();
                    manifest.save(&opts.lake)?;
                    last_save = Instant::now();
                    let took = (last_save - started) * CHECKPOINT_SHARE;
                    save_every = took.clamp(CHECKPOINT_EVERY, CHECKPOINT_MAX);
                }
            }
            Ok(())
        })?;
        progress.finish();
        let hidden = self.shown.saturating_sub(MAX_SHOWN_ERRORS);
        if hidden > 0 && !opts.quiet {
            eprintln!("{hidden} more messages: see {}", opts.quarantine.display());
        }
        Ok(stopped)
    }

    /// Records one object's outcome; returns a full disk's error, which
    /// stops the run.
    fn take(
        &mut self,
        obj: &ObjectRef,
        outcome: Result<Outcome>,
        manifest: &mut Manifest,
        progress: &Progress,
    ) -> Result<Option<anyhow::Error>> {
        let opts = self.opts;
        match outcome {
            Ok(outcome) => {
                if manifest.objects.contains_key(&obj.key) {
                    self.summary.replaced += 1;
                    let line = format!("replaced: {} changed since it was read (size or version); its earlier rows are replaced", obj.key);
                    self.show(&line, Some(progress));
                }
                for message in &outcome.messages {
                    self.show(&format!("quarantined: {message}"), Some(progress));
                }
                record(&mut self.summary, obj, &outcome);
                replace_entry(
                    manifest,
                    &opts.lake,
                    &opts.quarantine,
                    &obj.key,
                    outcome.entry,
                )?;
            }
            Err(e) if is_disk_full(&e) => return Ok(Some(e)),
            Err(e) => match e.chain().find_map(|c| c.downcast_ref::<Unreadable>()) {
                Some(why) => {
                    let skipped = Skipped {
                        key: obj.key.clone(),
                        reason: why.0.clone(),
                    };
                    self.skip(skipped, Some(progress));
                }
                None => {
                    self.summary.failed += 1;
                    progress.println(&printable(&format!("error: {e:#}")));
                }
            },
        }
        Ok(None)
    }

    /// Lists this run's skipped entries in the quarantine (or removes the
    /// list when there are none), so they can be read after the run.
    fn list_skipped(&self) -> Result<()> {
        let path = self.opts.quarantine.join(SKIPPED_FILE);
        if self.skipped.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("cannot remove {}", path.display()))
                }
                _ => Ok(()),
            };
        }
        let mut text = String::new();
        for skipped in &self.skipped {
            text.push_str(&serde_json::to_string(skipped)?);
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes())
    }
}

/// Whether an error comes from a full disk (or an exhausted quota).
fn is_disk_full(e: &anyhow::Error) -> bool {
    let io_full = e
        .chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| {
            io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
        });
    // Parquet and quarantine writers carry the OS error as text.
    let text = format!("{e:#}");
    io_full || text.contains("No space left on device") || text.contains("Disk quota exceeded")
}

/// The one line a full disk stops the run with, naming the folder.
fn disk_full(opts: &Options, e: &anyhow::Error) -> anyhow::Error {
    let text = format!("{e:#}");
    let quarantine = opts.quarantine.to_string_lossy();
    let folder = if text.contains(quarantine.as_ref()) {
        &opts.quarantine
    } else {
        &opts.lake
    };
    anyhow::anyhow!(
        "disk full writing {}: free space there and run the mirror again; the lake is consistent and the rerun completes it",
        folder.display()
    )
}

/// What a worker reports: progress while it reads, then every object of a
/// segment at once with the segment's files, written but not synced.
enum Done {
    Read(u64),
    Segment(Vec<(ObjectRef, Result<Outcome>)>, Vec<AtomicFile>),
}

/// Reads a segment's objects into its files, in parts when their events
/// span more days than one part may hold (see `segment::MAX_DAYS`).
fn mirror_segment(
    source: &dyn ObjectSource,
    objects: &[ObjectRef],
    dest: &Destinations,
    stop: &AtomicBool,
    tx: &mut std::sync::mpsc::Sender<Done>,
) {
    let mut rest = objects;
    for part in 0.. {
        let segment = segment::Segment::new(dest.lake, objects, part);
        let taken = mirror_part(source, segment, rest, dest, stop, tx);
        rest = &rest[taken..];
        if taken == 0 || rest.is_empty() {
            return;
        }
    }
}

/// Reads objects of `rest` one after the other into `segment` until they
/// are all read or the next one does not fit, ends the segment's files, and
/// reports its objects with them at once. If they cannot be written, none
/// of them is recorded and the next run reads them again; once `stop` is
/// set, nothing more is read. Returns how many objects it took (0 when stopped).
fn mirror_part(
    source: &dyn ObjectSource,
    mut segment: segment::Segment,
    rest: &[ObjectRef],
    dest: &Destinations,
    stop: &AtomicBool,
    tx: &mut std::sync::mpsc::Sender<Done>,
) -> usize {
    let mut rejects = rejects::Rejects::new(dest.quarantine, segment.stem());
    let mut done = Vec::with_capacity(rest.len());
    let mut failure = None;
    'objects: for obj in rest {
        if stop.load(Ordering::Relaxed) {
            return 0;
        }
        let from = rejects.written();
        let outcome = ingest::ingest_object(source, obj, dest, &mut rejects);
        let mut outcome = match outcome {
            Ok(outcome) if !done.is_empty() && !segment.fits(&outcome.held) => {
                // Read again into the next part.
                let _ = rejects.rollback(from);
                break;
            }
            Ok(outcome) => outcome,
            // This object only (a source error): the others still land.
            Err(e) => {
                let _ = tx.send(Done::Read(obj.size));
                done.push((obj.clone(), Err(e)));
                continue;
            }
        };
        let _ = tx.send(Done::Read(obj.size));
        for (day, rows) in std::mem::take(&mut outcome.held) {
            outcome.entry.files.push(segment.file_of(day));
            if let Err(e) = segment.append(day, rows) {
                failure = Some(e);
                break 'objects;
            }
        }
        outcome.entry.files.sort();
        done.push((obj.clone(), Ok(outcome)));
    }
    let taken = done.len();
    // On a failure both are dropped, which removes their temporaries.
    let files = match failure {
        Some(e) => Err(e),
        None => segment.finish().and_then(|mut files| {
            files.extend(rejects.finish()?);
            Ok(files)
        }),
    };
    match files {
        Ok(files) => {
            let _ = tx.send(Done::Segment(done, files));
            taken
        }
        Err(e) => {
            // None of the rest is read now: the next run reads them again.
            let failed = rest.iter().map(|obj| unwritten(obj.clone(), &e));
            let _ = tx.send(Done::Segment(failed.collect(), Vec::new()));
            rest.len()
        }
    }
}

/// `obj` as failed: its rows could not be written.
fn unwritten(obj: ObjectRef, e: &anyhow::Error) -> (ObjectRef, Result<Outcome>) {
    let e = anyhow::anyhow!(
        "{}: its rows could not be written ({e:#}); the next run reads it again",
        obj.key
    );
    (obj, Err(e))
}

fn record(summary: &mut Summary, obj: &ObjectRef, outcome: &Outcome) {
    let e = &outcome.entry;
    summary.read += 1;
    summary.bytes_read += obj.size;
    summary.lines += e.lines;
    summary.rows += e.rows;
    summary.rejected_lines += e.rejected_lines;
    summary.sampling_notices += e.sampling_notices;
    match e.status {
        Status::Test => summary.test_objects += 1,
        Status::Empty => summary.empty_objects += 1,
        Status::Quarantined => summary.quarantined_objects += 1,
        Status::Ingested => {}
    }
}

/// Records an object's new entry and takes its old version's rows out of the
/// lake: files of its own are removed, files it shared lose its rows.
fn replace_entry(
    manifest: &mut Manifest,
    lake: &Path,
    quarantine: &Path,
    key: &str,
    entry: manifest::Entry,
) -> Result<()> {
    if let Some(old) = manifest.objects.remove(key) {
        let others = manifest.objects.values();
        let in_lake = |f: &str| others.clone().any(|e| e.files.iter().any(|o| o == f));
        drop_stale(
            &old.files,
            &entry.files,
            in_lake,
            lake,
            key,
            segment::remove_object_rows,
        )?;
        let in_quarantine = |f: &str| others.clone().any(|e| e.quarantine.iter().any(|o| o == f));
        drop_stale(
            &old.quarantine,
            &entry.quarantine,
            in_quarantine,
            quarantine,
            key,
            rejects::remove_object_lines,
        )?;
    }
    manifest.objects.insert(key.to_string(), entry);
    Ok(())
}

/// For each file the old entry named and the new one does not: a file other
/// objects share (`shared`) loses `key`'s part (`remove_part`), a file of
/// its own is removed.
fn drop_stale(
    old: &[String],
    new: &[String],
    shared: impl Fn(&str) -> bool,
    dir: &Path,
    key: &str,
    remove_part: fn(&Path, &str, &str) -> Result<()>,
) -> Result<()> {
    for stale in old.iter().filter(|f| !new.contains(f)) {
        if shared(stale) {
            remove_part(dir, stale, key)?;
        } else {
            let _ = fs::remove_file(dir.join(stale));
        }
    }
    Ok(())
}

/// Removes what no manifest entry owns: temporaries and files of an
/// interrupted run, so that a rerun converges on the same lake. Only the
/// mirror's own places are looked at (the lake's top level and its `date=`
/// folders, the quarantine's `lines/` and `objects/`): a lake pointed at a
/// folder that holds other things never loses them.
fn sweep(lake: &Path, quarantine: &Path, manifest: &Manifest) -> Result<()> {
    let owned = |files: fn(&manifest::Entry) -> &Vec<String>| -> BTreeSet<&str> {
        manifest
            .objects
            .values()
            .flat_map(|e| files(e).iter().map(String::as_str))
            .collect()
    };
    let in_lake = owned(|e| &e.files);
    for (rel, is_dir) in entries(lake)? {
        if is_dir && rel.starts_with("date=") {
            for (name, is_dir) in entries(&lake.join(&rel))? {
                let file = format!("{rel}/{name}");
                if !is_dir && is_mirror_name(&name) && !in_lake.contains(file.as_str()) {
                    remove(&lake.join(file))?;
                }
            }
            if fs::read_dir(lake.join(&rel))?.next().is_none() {
                fs::remove_dir(lake.join(&rel))?;
            }
        } else if !is_dir && is_tmp_name(&rel) && is_mirror_name(&rel) {
            remove(&lake.join(rel))?;
        }
    }
    let in_quarantine = owned(|e| &e.quarantine);
    for folder in ["lines", "objects"] {
        for (name, is_dir) in entries(&quarantine.join(folder))? {
            let file = format!("{folder}/{name}");
            if !is_dir && is_mirror_name(&name) && !in_quarantine.contains(file.as_str()) {
                remove(&quarantine.join(file))?;
            }
        }
    }
    Ok(())
}

/// A folder's entries (name, is a folder); none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<(String, bool)>> {
    let list = match fs::read_dir(dir) {
        Ok(list) => list,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in list {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let is_dir = entry.file_type()?.is_dir();
        out.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    Ok(out)
}

fn remove(path: &Path) -> Result<()> {
    fs::remove_file(path).with_context(|| format!("cannot remove stray file {}", path.display()))
}

/// A bar on a terminal, a line every few seconds otherwise, nothing with --quiet.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    last_line: Instant,
    objects: u64,
    bytes: u64,
    total_objects: u64,
    total_bytes: u64,
    started: Instant,
}

impl Progress {
    fn new(pending: &[ObjectRef], quiet: bool) -> Self {
        let total_bytes: u64 = pending.iter().map(|o| o.size).sum();
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = indicatif::ProgressBar::new(total_bytes);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "mirror {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress {
            bar,
            plain: !quiet && !terminal,
            last_line: Instant::now(),
            objects: 0,
            bytes: 0,
            total_objects: pending.len() as u64,
            total_bytes,
            started: Instant::now(),
        }
    }

    fn advance(&mut self, bytes: u64) {
        self.objects += 1;
        self.bytes += bytes;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            bar.set_message(format!("{}/{} objects", self.objects, self.total_objects));
        }
        if self.plain && self.last_line.elapsed() > Duration::from_secs(5) {
            self.last_line = Instant::now();
            let rate = self.bytes as f64 / self.started.elapsed().as_secs_f64().max(1e-3) / 1e6;
            eprintln!(
                "mirror: {}/{} objects, {:.1}/{:.1} MB, {rate:.1} MB/s",
                self.objects,
                self.total_objects,
                self.bytes as f64 / 1e6,
                self.total_bytes as f64 / 1e6
            );
        }
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn print_summary(s: &Summary, opts: &Options) {
    let n = crate::core::numbers::thousands;
    println!(
        "mirror: {} objects listed, {} read ({:.1} MB), {} unchanged, {} failed",
        n(s.listed),
        n(s.read),
        s.bytes_read as f64 / 1e6,
        n(s.unchanged),
        n(s.failed)
    );
    if s.read > 0 {
        println!(
            "  lines {} -> rows {} in {}",
            n(s.lines),
            n(s.rows),
            opts.lake.display()
        );
        println!(
            "  test objects {}, empty objects {}, rejected lines {}, quarantined objects {}",
            n(s.test_objects),
            n(s.empty_objects),
            n(s.rejected_lines),
            n(s.quarantined_objects)
        );
    }
    let skipped_list = opts.quarantine.join(SKIPPED_FILE);
    let notes = [
        (s.refused_keys, "refused keys", "(unsafe names, not read)".to_string()),
        (
            s.skipped,
            "skipped",
            format!("(links, special files, names that are not UTF-8, unreadable files: not read), listed in {}", skipped_list.display()),
        ),
        (s.replaced, "replaced", "(changed since they were read: their earlier rows are gone)".into()),
        (
            s.sampling_notices,
            "wrangler tail was sampling",
            "time(s): the capture is missing events".into(),
        ),
    ];
    for (count, what, why) in notes.iter().filter(|(count, ..)| *count > 0) {
        println!("  {what} {} {why}", n(*count));
    }
    if s.rejected_lines + s.quarantined_objects > 0 {
        println!("  quarantine: {}", opts.quarantine.display());
    }
}
