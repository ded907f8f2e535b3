//! Delivery as Logpush does it: at least once, late, in batches by delivery
//! time, one gzip object per batch in the folder of the batch's UTC date.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use flate2::write::GzEncoder;
use rayon::prelude::*;
use serde::Serialize;

use super::model::Model;
use crate::io::atomic::write_atomic;
use crate::stats::rng::Rng;
use crate::stats::univariate;

/// What was delivered, for the ground truth.
#[derive(Debug, Default, Serialize, Clone, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub objects: usize,
    pub test_objects: usize,
    pub lines: usize,
    pub events: usize,
    pub duplicate_lines: usize,
    pub malformed_lines: usize,
    /// Objects per date folder.
    pub folders: std::collections::BTreeMap<String, usize>,
}

struct Delivery {
    at_ms: i64,
    seq: usize,
    line: String,
    /// The event's `EventTimestampMs`; none for a line cut short.
    event_ms: Option<i64>,
}

/// One event line to deliver.
pub struct Line {
    pub event_ms: i64,
    pub ended_ms: i64,
    pub text: String,
}

/// Delivery delay per UTC day of the events: the end time in the name of the
/// object that holds an intact line (whole seconds) minus its event's
/// `EventTimestampMs`, every copy counted; quantiles as numpy's default.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct DeliveryDelay {
    pub day: String,
    pub n: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Delivers `lines` into `dir`; returns what was delivered and how late.
pub fn write(
    dir: &Path,
    lines: &[Line],
    model: &Model,
    rng: &mut Rng,
) -> Result<(DeliveryCounts, Vec<DeliveryDelay>)> {
    let mut counts = DeliveryCounts {
        events: lines.len(),
        ..Default::default()
    };
    let mut out = deliveries(lines, model, rng, &mut counts);
    cut_short(lines, model, rng, &mut out, &mut counts);
    out.sort_by_key(|d| (d.at_ms, d.seq));
    let (objects, delays) = objects(&out, model, rng);
    counts.test_objects = 1;
    counts.lines = out.len();
    counts.objects = objects.len();
    for (key, _) in &objects {
        *counts.folders.entry(key[..8].to_string()).or_default() += 1;
    }
    write_objects(dir, &objects)?;
    Ok((counts, delay_by_day(delays)))
}

/// (event time, delivery time) pairs summarised per UTC day of the event.
fn delay_by_day(delays: Vec<(i64, i64)>) -> Vec<DeliveryDelay> {
    let mut by: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for (event_ms, delivered_ms) in delays {
        let day = utc(event_ms).format("%Y-%m-%d").to_string();
        by.entry(day)
            .or_default()
            .push((delivered_ms - event_ms) as f64);
    }
    by.into_iter()
        .map(|(day, v)| {
            let v = univariate::sorted(&v);
            let q = |p| univariate::quantile_sorted(&v, p);
            DeliveryDelay {
                day,
                n: v.len(),
                median_ms: q(0.5),
                p95_ms: q(0.95),
                p99_ms: q(0.99),
                max_ms: q(1.0),
            }
        })
        .collect()
}

fn utc(ms: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().expect("valid time")
}

/// Every line once, late or on time, and some twice.
fn deliveries(
    lines: &[Line],
    model: &Model,
    rng: &mut Rng,
    counts: &mut DeliveryCounts,
) -> Vec<Delivery> {
    let mut out = Vec::with_capacity(lines.len() + lines.len() / 50);
    for Line {
        event_ms,
        ended_ms: end_ms,
        text: line,
    } in lines
    {
        let (lo, hi) = if rng.chance(model.late_probability) {
            model.late_delay_ms
        } else {
            model.delivery_delay_ms
        };
        let delay = rng.range(lo..hi);
        let at_ms = end_ms + delay;
        out.push(Delivery {
            at_ms,
            seq: out.len(),
            line: line.clone(),
            event_ms: Some(*event_ms),
        });
        if rng.chance(model.duplicate_probability) {
            let again = at_ms + rng.range(0..120_000);
            out.push(Delivery {
                at_ms: again,
                seq: out.len(),
                line: line.clone(),
                event_ms: Some(*event_ms),
            });
            counts.duplicate_lines += 1;
        }
    }
    out
}

/// Copies of some lines cut short in transit; their intact copies are delivered too.
fn cut_short(
    lines: &[Line],
    model: &Model,
    rng: &mut Rng,
    out: &mut Vec<Delivery>,
    counts: &mut DeliveryCounts,
) {
    let malformed = (lines.len() as f64 * model.malformed_per_thousand / 1000.0).round() as usize;
    for _ in 0..malformed {
        let Line {
            ended_ms: end_ms,
            text: line,
            ..
        } = &lines[rng.below(lines.len())];
        let cut = line.len() / 4 + rng.below(line.len() * 3 / 4 - line.len() / 4);
        let cut = (0..=cut)
            .rev()
            .find(|&i| line.is_char_boundary(i))
            .unwrap_or(0);
        out.push(Delivery {
            at_ms: end_ms + 90_000,
            seq: out.len(),
            line: line[..cut].to_string(),
            event_ms: None,
        });
        counts.malformed_lines += 1;
    }
}

/// An object's key and body.
type Object = (String, Vec<u8>);

/// The job's test object, then one object per batch of deliveries: a batch
/// ends at the end of its `batch_seconds` window or at `max_lines_per_object`.
/// Also (event time, delivery time) of each intact line.
fn objects(out: &[Delivery], model: &Model, rng: &mut Rng) -> (Vec<Object>, Vec<(i64, i64)>) {
    let first = out.first().map_or(model.start_ms, |d| d.at_ms);
    // Written when the job was created.
    let test_at = first - 600_000;
    let mut objects = vec![(
        object_key(test_at, test_at, rng),
        b"{\"content\":\"test\"}".to_vec(),
    )];
    let window = model.batch_seconds * 1000;
    let mut batch: Vec<&Delivery> = Vec::new();
    let mut batch_start = 0;
    let mut delays = Vec::with_capacity(out.len());
    for d in out {
        let full = batch.len() >= model.max_lines_per_object;
        if !batch.is_empty() && (full || d.at_ms >= batch_start + window) {
            objects.push(object(&batch, rng, batch_start, &mut delays));
            batch.clear();
        }
        if batch.is_empty() {
            batch_start = d.at_ms - d.at_ms.rem_euclid(window);
        }
        batch.push(d);
    }
    if !batch.is_empty() {
        objects.push(object(&batch, rng, batch_start, &mut delays));
    }
    (objects, delays)
}

/// One object's key and NDJSON body; pushes its intact lines' (event time,
/// delivery time as its name gives it).
fn object(batch: &[&Delivery], rng: &mut Rng, start: i64, delays: &mut Vec<(i64, i64)>) -> Object {
    let end = batch.last().map_or(start, |d| d.at_ms);
    let named_end = end - end.rem_euclid(1000);
    delays.extend(batch.iter().filter_map(|d| Some((d.event_ms?, named_end))));
    let mut body = Vec::new();
    for d in batch {
        body.extend_from_slice(d.line.as_bytes());
        body.push(b'\n');
    }
    (object_key(start, end, rng), body)
}

fn write_objects(dir: &Path, objects: &[(String, Vec<u8>)]) -> Result<()> {
    objects
        .par_iter()
        .try_for_each(|(key, body)| -> Result<()> {
            let path = dir.join(key);
            fs::create_dir_all(path.parent().expect("key has a folder"))?;
            let mut gz = GzEncoder::new(
                Vec::with_capacity(body.len() / 6),
                flate2::Compression::default(),
            );
            gz.write_all(body)?;
            write_atomic(&path, &gz.finish()?)
                .with_context(|| format!("cannot write {}", path.display()))
        })
}

/// `YYYYMMDD/<start>_<end>_<hex>.log.gz`, as a Logpush job with `{DATE}` writes it.
fn object_key(start_ms: i64, end_ms: i64, rng: &mut Rng) -> String {
    let t = utc;
    format!(
        "{}/{}_{}_{:08x}.log.gz",
        t(start_ms).format("%Y%m%d"),
        t(start_ms).format("%Y%m%dT%H%M%SZ"),
        t(end_ms).format("%Y%m%dT%H%M%SZ"),
        rng.next_u32()
    )
}
