//! Segments: do regions (`colo`) or script versions differ? The requests in
//! the statistics, split by the values of each `[report] segment_by` column:
//! per value, approach and delay, the mean of `span_ms`, cost and `do_wall_ms`
//! with intervals; and per approach and delay with two or more values of two
//! or more requests each, the difference between the highest and the lowest
//! of those means (the pair chosen on the data, then bootstrapped with each
//! segment resampled within itself). Segments differ when that interval
//! excludes 0.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use polars::prelude::*;
use rayon::prelude::*;

use super::analysis::{shown, MIN_REQUESTS_FOR_INTERVAL};
use super::tables::{Cell, Kind, Table};
use crate::core::metric::Metric;
use crate::lake::derived::RequestsFile;
use crate::stats::bootstrap::{stream_id, Config, Estimate};
use crate::stats::resampled::{estimate, Resampled, View};

/// The default `[report] segment_by`.
pub const DEFAULT_SEGMENT_BY: [&str; 2] = crate::lake::derived::SEGMENT_COLUMNS;

/// The metrics compared between segments.
pub const SEGMENT_METRICS: [Metric; 3] = [Metric::Span, Metric::Cost, Metric::DoWall];

/// One segment's requests of one approach at one delay: per metric, a value per request.
type Cell3 = [Vec<f64>; 3];

/// (key, value, approach, delay) → values, gathered a row group at a time.
#[derive(Debug, Default)]
pub struct Segmenting {
    keys: Vec<String>,
    skipped: Vec<String>,
    cells: BTreeMap<(usize, String, String, i64), Cell3>,
    /// Per key: requests in the statistics with no value.
    without_value: Vec<usize>,
}

/// Which of `wanted` the file has: a missing default column is skipped (a
/// lake transformed before it existed), any other missing column or one that
/// is not text is a one-line error.
fn usable(schema: &Schema, wanted: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    let (mut keys, mut skipped) = (Vec::new(), Vec::new());
    for name in wanted {
        match schema.get(name) {
            None if DEFAULT_SEGMENT_BY.contains(&name.as_str()) => skipped.push(name.clone()),
            None => {
                let text: Vec<&str> = (schema.iter())
                    .filter(|(_, t)| **t == DataType::String)
                    .map(|(n, _)| n.as_str())
                    .collect();
                bail!(
                    "report.segment_by: requests.parquet has no column {name:?}; its text columns are {}",
                    text.join(", ")
                )
            }
            Some(DataType::String) => keys.push(name.clone()),
            Some(other) => bail!(
                "report.segment_by: column {name:?} of requests.parquet holds {other}, not text; give text columns such as colo or script_version"
            ),
        }
    }
    Ok((keys, skipped))
}

/// Reads the segment columns of the requests `in_statistics` (per row).
pub fn collect(
    file: &RequestsFile,
    schema: &Schema,
    wanted: &[String],
    in_statistics: &[bool],
) -> Result<Segmenting> {
    let (keys, skipped) = usable(schema, wanted)?;
    let mut s = Segmenting {
        without_value: vec![0; keys.len()],
        keys,
        skipped,
        ..Segmenting::default()
    };
    if s.keys.is_empty() {
        return Ok(s);
    }
    let keys = s.keys.clone();
    let mut columns: Vec<&str> = vec!["approach", "delay_ms"];
    columns.extend(SEGMENT_METRICS.map(Metric::column));
    columns.extend(keys.iter().map(String::as_str));
    let step = crate::io::parquet::ROW_GROUP;
    for start in (0..in_statistics.len()).step_by(step) {
        let chunk = file.read(Some(&columns), Some((start, step)))?;
        s.add(&chunk, start, in_statistics)?;
    }
    Ok(s)
}

impl Segmenting {
    /// Adds the rows of `chunk`, which starts at row `offset`.
    pub fn add(&mut self, chunk: &DataFrame, offset: usize, in_statistics: &[bool]) -> Result<()> {
        let approach = chunk.column("approach")?.str()?.rechunk();
        let delay = chunk.column("delay_ms")?.i64()?.rechunk();
        let metrics = SEGMENT_METRICS
            .iter()
            .map(|m| {
                let c = chunk.column(m.column())?.cast(&DataType::Float64)?;
                Ok(c.f64()?.rechunk().into_owned())
            })
            .collect::<Result<Vec<Float64Chunked>>>()?;
        let keys = (self.keys.iter())
            .map(|k| Ok(chunk.column(k)?.str()?.rechunk().into_owned()))
            .collect::<Result<Vec<StringChunked>>>()?;
        for i in 0..chunk.height() {
            if !in_statistics.get(offset + i).copied().unwrap_or(false) {
                continue;
            }
            let (Some(a), Some(d)) = (approach.get(i), delay.get(i)) else {
                continue;
            };
            let values: Vec<f64> = metrics
                .iter()
                .map(|m| m.get(i).unwrap_or(f64::NAN))
                .collect();
            if values.iter().any(|v| !v.is_finite()) {
                continue;
            }
            for (k, column) in keys.iter().enumerate() {
                let Some(v) = column.get(i) else {
                    self.without_value[k] += 1;
                    continue;
                };
                let cell = (self.cells)
                    .entry((k, v.to_string(), a.to_string(), d))
                    .or_default();
                for (c, x) in cell.iter_mut().zip(&values) {
                    c.push(*x);
                }
            }
        }
        Ok(())
    }
}

/// A segment's mean of a metric for one approach and delay.
#[derive(Debug, Clone)]
pub struct SegmentMean {
    pub key: String,
    pub value: String,
    pub approach: String,
    pub delay_ms: i64,
    pub metric: Metric,
    pub n: usize,
    pub mean: Estimate,
}

/// The largest difference between segment means of one approach and delay.
#[derive(Debug, Clone)]
pub struct SegmentDifference {
    pub key: String,
    pub approach: String,
    pub delay_ms: i64,
    pub metric: Metric,
    /// The segments with the highest and the lowest mean.
    pub highest: String,
    pub lowest: String,
    /// Segments of two or more requests compared.
    pub segments: usize,
    /// Requests in the smaller of the two.
    pub n: usize,
    /// highest − lowest.
    pub difference: Estimate,
}

impl SegmentDifference {
    /// Whether the interval excludes 0.
    pub fn differs(&self) -> bool {
        let ci = self.difference.ci;
        ci.low.is_finite() && ci.high.is_finite() && !ci.contains(0.0)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Segments {
    /// Columns segmented by.
    pub keys: Vec<String>,
    /// Columns asked for that requests.parquet does not have.
    pub skipped: Vec<String>,
    /// Per key: requests in the statistics without a value (left out).
    pub without_value: Vec<usize>,
    pub means: Vec<SegmentMean>,
    pub differences: Vec<SegmentDifference>,
    /// The level of every interval.
    pub confidence: f64,
    /// Nothing was resampled (`--resamples 0`): no difference is judged.
    pub point_estimates: bool,
}

/// One cell resampled: its key and its requests.
struct Sampled<'a> {
    key: &'a (usize, String, String, i64),
    requests: Resampled,
}

/// Means per segment and the largest difference between them.
pub fn analyse(s: Segmenting, cfg: &Config) -> Segments {
    let sampled: Vec<Sampled> = (s.cells.par_iter())
        .map(|(key, cell)| {
            let (k, value, approach, delay) = key;
            let name = [
                "segment",
                s.keys[*k].as_str(),
                value,
                approach,
                &delay.to_string(),
            ];
            let columns: Vec<&[f64]> = cell.iter().map(Vec::as_slice).collect();
            Sampled {
                key,
                requests: Resampled::new(&columns, cfg, stream_id(&name)),
            }
        })
        .collect();
    let means = sampled
        .par_iter()
        .flat_map_iter(|c| means_of(c, &s.keys, cfg))
        .collect();
    let mut groups: BTreeMap<(usize, &str, i64), Vec<&Sampled>> = BTreeMap::new();
    for c in &sampled {
        let (k, _, approach, delay) = c.key;
        if c.requests.n() >= MIN_REQUESTS_FOR_INTERVAL {
            groups.entry((*k, approach, *delay)).or_default().push(c);
        }
    }
    let tasks: Vec<(&Vec<&Sampled>, usize)> = (groups.values())
        .filter(|g| g.len() >= 2)
        .flat_map(|g| (0..SEGMENT_METRICS.len()).map(move |m| (g, m)))
        .collect();
    let differences = (tasks.par_iter())
        .map(|(g, m)| largest_difference(g, *m, &s.keys, cfg))
        .collect();
    Segments {
        keys: s.keys,
        skipped: s.skipped,
        without_value: s.without_value,
        means,
        differences,
        confidence: cfg.confidence,
        point_estimates: cfg.point_estimates(),
    }
}

fn means_of(c: &Sampled, keys: &[String], cfg: &Config) -> Vec<SegmentMean> {
    let (k, value, approach, delay) = c.key;
    let n = c.requests.n();
    let e: [Estimate; 3] = estimate(cfg, &[&c.requests], |v| {
        std::array::from_fn(|m| v.mean(0, m))
    });
    (SEGMENT_METRICS.iter().zip(e))
        .map(|(metric, e)| SegmentMean {
            key: keys[*k].clone(),
            value: value.clone(),
            approach: approach.clone(),
            delay_ms: *delay,
            metric: *metric,
            n,
            mean: shown(e, n),
        })
        .collect()
}

fn largest_difference(
    g: &[&Sampled],
    m: usize,
    keys: &[String],
    cfg: &Config,
) -> SegmentDifference {
    let mean = |c: &Sampled| View::observed(&[&c.requests]).mean(0, m);
    let by_mean = |x: &&&Sampled, y: &&&Sampled| mean(x).total_cmp(&mean(y));
    let high = *g.iter().max_by(by_mean).expect("two segments or more");
    let low = *g.iter().min_by(by_mean).expect("two segments or more");
    let [difference] = estimate(cfg, &[&high.requests, &low.requests], |v| {
        [v.mean(0, m) - v.mean(1, m)]
    });
    let (k, _, approach, delay) = high.key;
    SegmentDifference {
        key: keys[*k].clone(),
        approach: approach.clone(),
        delay_ms: *delay,
        metric: SEGMENT_METRICS[m],
        highest: high.key.1.clone(),
        lowest: low.key.1.clone(),
        segments: g.len(),
        n: high.requests.n().min(low.requests.n()),
        difference,
    }
}

/// `segments.csv`: a row per segment mean, then a row per largest
/// difference (`value` names the pair, `highest - lowest`).
pub fn table(s: &Segments) -> Table {
    use Kind::{Bool as B, Float as F, Int as I, Text as T};
    let columns = [
        ("segment_by", T),
        ("value", T),
        ("approach", T),
        ("delay_ms", I),
        ("metric", T),
        ("statistic", T),
        ("n", I),
        ("estimate", F),
        ("ci_low", F),
        ("ci_high", F),
        ("segments", I),
        ("differ", B),
    ];
    let mut t = Table {
        name: "segments",
        columns: columns.iter().map(|(n, k)| (n.to_string(), *k)).collect(),
        rows: Vec::new(),
    };
    for m in &s.means {
        t.rows.push(vec![
            m.key.as_str().into(),
            m.value.as_str().into(),
            m.approach.as_str().into(),
            m.delay_ms.into(),
            m.metric.column().into(),
            "mean".into(),
            (m.n as i64).into(),
            m.mean.value.into(),
            m.mean.ci.low.into(),
            m.mean.ci.high.into(),
            Cell::Null,
            Cell::Null,
        ]);
    }
    for d in &s.differences {
        t.rows.push(vec![
            d.key.as_str().into(),
            format!("{} - {}", d.highest, d.lowest).into(),
            d.approach.as_str().into(),
            d.delay_ms.into(),
            d.metric.column().into(),
            "largest difference of means".into(),
            (d.n as i64).into(),
            d.difference.value.into(),
            d.difference.ci.low.into(),
            d.difference.ci.high.into(),
            (d.segments as i64).into(),
            match s.point_estimates {
                true => Cell::Null,
                false => Cell::Bool(d.differs()),
            },
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(colo: &[Option<&str>], span: &[f64]) -> DataFrame {
        let n = span.len();
        df!(
            "approach" => vec!["a"; n],
            "delay_ms" => vec![100i64; n],
            Metric::Span.column() => span.to_vec(),
            Metric::Cost.column() => vec![1.0; n],
            Metric::DoWall.column() => span.to_vec(),
            "colo" => colo.to_vec(),
        )
        .unwrap()
    }

    fn cfg() -> Config {
        Config {
            resamples: 2_000,
            ..Config::default()
        }
    }

    #[test]
    fn segments_far_apart_differ_and_near_ones_do_not() {
        let colo: Vec<Option<&str>> = (0..40)
            .map(|i| [Some("LHR"), Some("SIN"), None, Some("AMS")][i % 4])
            .collect();
        let span: Vec<f64> = (0..40)
            .map(|i| if i % 4 == 1 { 200.0 } else { 100.0 } + (i * 7 % 11) as f64)
            .collect();
        let df = frame(&colo, &span);
        let schema = df.schema().as_ref().clone();
        let (keys, skipped) = usable(&schema, &["colo".into(), "script_version".into()]).unwrap();
        assert_eq!(
            (keys.clone(), skipped),
            (vec!["colo".to_string()], vec!["script_version".to_string()])
        );
        let mut s = Segmenting {
            without_value: vec![0],
            keys,
            ..Segmenting::default()
        };
        let mut in_stats = vec![true; 40];
        in_stats[0] = false;
        s.add(&df, 0, &in_stats).unwrap();
        let out = analyse(s, &cfg());
        assert_eq!(out.without_value, [10]);
        let n_lhr = out.means.iter().find(|m| m.value == "LHR").unwrap().n;
        assert_eq!(n_lhr, 9, "row 0 is not in the statistics");
        let span_diff = out
            .differences
            .iter()
            .find(|d| d.metric == Metric::Span)
            .unwrap();
        assert_eq!((span_diff.highest.as_str(), span_diff.segments), ("SIN", 3));
        assert!(span_diff.differs(), "{span_diff:?}");
        let cost = out
            .differences
            .iter()
            .find(|d| d.metric == Metric::Cost)
            .unwrap();
        assert!(!cost.differs(), "every cost is 1: {cost:?}");
        let t = table(&out);
        assert_eq!(t.rows.len(), 3 * 3 + 3);
    }

    #[test]
    fn a_column_that_is_not_text_is_one_line_naming_it() {
        let df = df!("delay_ms" => [1i64]).unwrap();
        let e = usable(df.schema().as_ref(), &["delay_ms".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("report.segment_by") && e.contains("delay_ms") && !e.contains('\n'),
            "{e}"
        );
    }
}
