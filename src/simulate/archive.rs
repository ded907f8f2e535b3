//! Delivery as Logpush does it: at least once, late, in batches by delivery
//! time, one gzip object per batch in the folder of the batch's UTC date.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use flate2::write::GzEncoder;
use rand::rngs::StdRng;
use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::model::Model;

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
}

/// Delivers `lines` (one per event, with the time the event ended) into `dir`.
pub fn write(
    dir: &Path,
    lines: &[(i64, String)],
    model: &Model,
    rng: &mut StdRng,
) -> Result<DeliveryCounts> {
    let mut counts = DeliveryCounts {
        events: lines.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(lines.len() + lines.len() / 50);
    let pick = |rng: &mut StdRng, (lo, hi): (i64, i64)| rng.gen_range(lo..hi);
    for (end_ms, line) in lines {
        let delay = if rng.gen::<f64>() < model.late_probability {
            pick(rng, model.late_delay_ms)
        } else {
            pick(rng, model.delivery_delay_ms)
        };
        let at_ms = end_ms + delay;
        out.push(Delivery {
            at_ms,
            seq: out.len(),
            line: line.clone(),
        });
        if rng.gen::<f64>() < model.duplicate_probability {
            let again = at_ms + rng.gen_range(0..120_000);
            out.push(Delivery {
                at_ms: again,
                seq: out.len(),
                line: line.clone(),
            });
            counts.duplicate_lines += 1;
        }
    }
    let malformed = (lines.len() as f64 * model.malformed_per_thousand / 1000.0).round() as usize;
    for _ in 0..malformed {
        // A copy cut short in transit; the intact copy is delivered too.
        let (end_ms, line) = &lines[rng.gen_range(0..lines.len())];
        let cut = rng.gen_range(line.len() / 4..line.len() * 3 / 4);
        let cut = (0..=cut)
            .rev()
            .find(|&i| line.is_char_boundary(i))
            .unwrap_or(0);
        out.push(Delivery {
            at_ms: end_ms + 90_000,
            seq: out.len(),
            line: line[..cut].to_string(),
        });
        counts.malformed_lines += 1;
    }
    out.sort_by_key(|d| (d.at_ms, d.seq));

    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    let first = out.first().map_or(model.start_ms, |d| d.at_ms);
    // The job's test object, written when the job was created.
    let test_at = first - 600_000;
    objects.push((
        object_key(test_at, test_at, rng),
        b"{\"content\":\"test\"}".to_vec(),
    ));
    counts.test_objects = 1;
    let window = model.batch_seconds * 1000;
    let mut batch: Vec<&Delivery> = Vec::new();
    let mut batch_start = 0;
    let flush = |batch: &mut Vec<&Delivery>,
                 start: i64,
                 objects: &mut Vec<(String, Vec<u8>)>,
                 rng: &mut StdRng| {
        if batch.is_empty() {
            return;
        }
        let end = batch.last().map_or(start, |d| d.at_ms);
        let mut body = Vec::new();
        for d in batch.iter() {
            body.extend_from_slice(d.line.as_bytes());
            body.push(b'\n');
        }
        objects.push((object_key(start, end, rng), body));
        batch.clear();
    };
    for d in &out {
        let full = batch.len() >= model.max_lines_per_object;
        if !batch.is_empty() && (full || d.at_ms >= batch_start + window) {
            flush(&mut batch, batch_start, &mut objects, rng);
        }
        if batch.is_empty() {
            batch_start = d.at_ms - d.at_ms.rem_euclid(window);
        }
        batch.push(d);
    }
    flush(&mut batch, batch_start, &mut objects, rng);
    counts.lines = out.len();
    counts.objects = objects.len();
    for (key, _) in &objects {
        *counts.folders.entry(key[..8].to_string()).or_default() += 1;
    }
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
            fs::write(&path, gz.finish()?)
                .with_context(|| format!("cannot write {}", path.display()))
        })?;
    Ok(counts)
}

/// `YYYYMMDD/<start>_<end>_<hex>.log.gz`, as a Logpush job with `{DATE}` writes it.
fn object_key(start_ms: i64, end_ms: i64, rng: &mut StdRng) -> String {
    let t = |ms: i64| Utc.timestamp_millis_opt(ms).single().expect("valid time");
    format!(
        "{}/{}_{}_{:08x}.log.gz",
        t(start_ms).format("%Y%m%d"),
        t(start_ms).format("%Y%m%dT%H%M%SZ"),
        t(end_ms).format("%Y%m%dT%H%M%SZ"),
        rng.gen::<u32>()
    )
}
