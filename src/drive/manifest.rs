//! The manifest `drive` writes: the run manifest `transform` reads plus what
//! the driver knows. One row is appended, flushed and synced per finished
//! request, so a killed drive loses at most the requests in flight.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::io;

pub const HEADER: [&str; 10] = [
    "run_id",
    "approach",
    "delay_ms",
    "req_id",
    "start",
    "end",
    "client_latency_ms",
    "status",
    "error",
    "warmup",
];

/// One finished request.
#[derive(Debug, Clone)]
pub struct Row {
    pub run_id: String,
    pub approach: String,
    pub delay_ms: u64,
    pub req_id: String,
    pub start: String,
    pub end: String,
    pub client_latency_ms: f64,
    pub status: Option<u16>,
    pub error: Option<&'static str>,
    pub warmup: bool,
}

/// The manifest, appended a request at a time (see [`io::csv::Appender`]).
pub struct Appender(io::csv::Appender);

impl Appender {
    /// Opens `path` for appending: a new file gets the header; an existing
    /// one only with `resume`.
    pub fn open(path: &Path, resume: bool) -> Result<Self> {
        if path.exists() && !resume {
            bail!(
                "manifest {} exists: pass --resume to continue it",
                path.display()
            );
        }
        Ok(Appender(io::csv::Appender::open(path, &HEADER)?))
    }

    pub fn append(&mut self, row: &Row) -> Result<()> {
        self.0.append(&[
            row.run_id.clone(),
            row.approach.clone(),
            row.delay_ms.to_string(),
            row.req_id.clone(),
            row.start.clone(),
            row.end.clone(),
            format!("{:.3}", row.client_latency_ms),
            row.status.map(|s| s.to_string()).unwrap_or_default(),
            row.error.unwrap_or_default().to_string(),
            row.warmup.to_string(),
        ])
    }
}

/// The (run_id, approach, delay_ms) of every row of an existing manifest.
pub fn done(path: &Path) -> Result<Vec<(String, String, u64)>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read manifest {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        (headers.iter().position(|h| h == name)).with_context(|| {
            format!(
                "manifest {} has no {name} column: it was not written by drive",
                path.display()
            )
        })
    };
    let (run, approach, delay) = (column("run_id")?, column("approach")?, column("delay_ms")?);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record =
            record.with_context(|| format!("manifest {} line {}", path.display(), i + 2))?;
        let field = |c: usize| record.get(c).unwrap_or_default().to_string();
        let delay_ms = field(delay).parse().with_context(|| {
            format!(
                "manifest {} line {}: delay_ms is not a whole number",
                path.display(),
                i + 2
            )
        })?;
        out.push((field(run), field(approach), delay_ms));
    }
    Ok(out)
}
