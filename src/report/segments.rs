//! Segments: do regions (`colo`) or script versions differ? The requests in
//! the statistics, split by the values of each `[report] segment_by` column:
//! per value, approach and delay, the mean of `span_ms`, cost and `do_wall_ms`
//! with intervals; and per approach and delay with two or more values of two
//! or more requests each, the difference between the highest and the lowest
//! of those means (the pair chosen on the data, then bootstrapped with each
//! segment resampled within itself). Segments differ when that interval
//! excludes 0.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};
use polars::prelude::*;
use rayon::prelude::*;

use super::analysis::{shown, Group, MIN_REQUESTS_FOR_INTERVAL};
use super::tables::{Cell, Kind, Table};
use crate::core::metric::Metric;
use crate::lake::derived::RequestsFile;
use crate::stats::bootstrap::{stream_id, Config, Estimate};
use crate::stats::resampled::{estimate, Column, Resampled, View};

/// The default `[report] segment_by`.
pub const DEFAULT_SEGMENT_BY: [&str; 2] = crate::lake::derived::SEGMENT_COLUMNS;

/// The metrics compared between segments.
pub const SEGMENT_METRICS: [Metric; 3] = [Metric::Span, Metric::Cost, Metric::DoWall];

/// One segment's requests of one approach at one delay: per metric, a value per request.
type Cell3 = [Vec<f64>; 3];

/// A request whose row has no value of a key.
const NO_VALUE: u32 = u32::MAX;

/// Each request's value of every key, gathered a row group at a time: an
/// index per row into the key's distinct values, so that the segments read
/// their metrics from the groups of the statistics instead of a copy.
#[derive(Debug, Default)]
pub struct Segmenting {
    keys: Vec<String>,
    skipped: Vec<String>,
    /// Per key: its distinct values, in order of first appearance.
    values: Vec<Vec<String>>,
    /// Per key, per row of `requests.parquet`: its value (`NO_VALUE`: none).
    of_row: Vec<Vec<u32>>,
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

/// Reads the segment columns of the `rows` requests of `file`.
pub fn collect(
    file: &RequestsFile,
    schema: &Schema,
    wanted: &[String],
    rows: usize,
) -> Result<Segmenting> {
    let (keys, skipped) = usable(schema, wanted)?;
    let mut s = Segmenting {
        values: vec![Vec::new(); keys.len()],
        of_row: (keys.iter()).map(|_| Vec::with_capacity(rows)).collect(),
        keys,
        skipped,
    };
    if s.keys.is_empty() {
        return Ok(s);
    }
    let keys = s.keys.clone();
    let columns: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut index: Vec<HashMap<String, u32>> = vec![HashMap::new(); keys.len()];
    let step = crate::io::parquet::ROW_GROUP;
    for start in (0..rows).step_by(step) {
        let chunk = file.read(Some(&columns), Some((start, step)))?;
        s.add(&chunk, &mut index)?;
    }
    Ok(s)
}

impl Segmenting {
    /// Adds the rows of `chunk`, which follow those added; `index` finds a
    /// value among each key's values.
    fn add(&mut self, chunk: &DataFrame, index: &mut [HashMap<String, u32>]) -> Result<()> {
        for (k, key) in self.keys.iter().enumerate() {
            let column = chunk.column(key)?.str()?;
            let (values, of_row) = (&mut self.values[k], &mut self.of_row[k]);
            for v in column.iter() {
                let id = v.map_or(NO_VALUE, |v| match index[k].get(v) {
                    Some(&id) => id,
                    None => {
                        // Below `NO_VALUE`: no request file has 2^32 - 1 rows.
                        let id = values.len() as u32;
                        values.push(v.to_string());
                        index[k].insert(v.to_string(), id);
                        id
                    }
                });
                of_row.push(id);
            }
        }
        Ok(())
    }

    /// A group's cells, one per key and value, each in the order of the
    /// rows; counts the group's requests without a value of each key.
    fn cells(&self, g: &Group, without_value: &mut [usize]) -> Vec<((usize, String), Cell3)> {
        let mut order: Vec<usize> = (0..g.rows.len()).collect();
        order.sort_by_key(|&i| g.rows[i]);
        let metrics = SEGMENT_METRICS.map(|m| g.column(m));
        let mut out = Vec::new();
        for (k, of_row) in self.of_row.iter().enumerate() {
            let mut by_value: BTreeMap<u32, Cell3> = BTreeMap::new();
            for &i in &order {
                match of_row.get(g.rows[i]).copied().unwrap_or(NO_VALUE) {
                    NO_VALUE => without_value[k] += 1,
                    id => {
                        let cell = by_value.entry(id).or_default();
                        for (c, m) in cell.iter_mut().zip(&metrics) {
                            c.push(m.at(i));
                        }
                    }
                }
            }
            let named = by_value.into_iter();
            out.extend(named.map(|(id, cell)| ((k, self.values[k][id as usize].clone()), cell)));
        }
        out
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

/// One cell resampled: its key (key, value, approach, delay) and its requests.
struct Sampled {
    key: (usize, String, String, i64),
    requests: Resampled,
}

impl Sampled {
    fn new(s: &Segmenting, key: (usize, String, String, i64), cell: Cell3, cfg: &Config) -> Self {
        let (k, value, approach, delay) = &key;
        let name = [
            "segment",
            s.keys[*k].as_str(),
            value,
            approach,
            &delay.to_string(),
        ];
        let columns = cell.each_ref().map(|c| Column::Real(c));
        let requests = Resampled::new(&columns, cfg, stream_id(&name));
        Sampled { key, requests }
    }
}

/// Means per segment and the largest difference between them, over the
/// requests of `groups` (those in the statistics), a group at a time.
pub fn analyse(s: Segmenting, groups: &[Group], cfg: &Config) -> Segments {
    let per_group: Vec<(Vec<Sampled>, Vec<usize>)> = (groups.par_iter())
        .map(|g| {
            let mut without_value = vec![0; s.keys.len()];
            let cells = s.cells(g, &mut without_value).into_iter();
            let sampled = cells.map(|((k, value), cell)| {
                Sampled::new(&s, (k, value, g.approach.clone(), g.delay_ms), cell, cfg)
            });
            (sampled.collect(), without_value)
        })
        .collect();
    let mut without_value = vec![0; s.keys.len()];
    let mut sampled = Vec::new();
    for (cells, without) in per_group {
        sampled.extend(cells);
        without_value
            .iter_mut()
            .zip(without)
            .for_each(|(a, b)| *a += b);
    }
    sampled.sort_by(|a, b| a.key.cmp(&b.key));
    let means = sampled
        .par_iter()
        .flat_map_iter(|c| means_of(c, &s.keys, cfg))
        .collect();
    let mut compared: BTreeMap<(usize, &str, i64), Vec<&Sampled>> = BTreeMap::new();
    for c in &sampled {
        let (k, _, approach, delay) = &c.key;
        if c.requests.n() >= MIN_REQUESTS_FOR_INTERVAL {
            compared.entry((*k, approach, *delay)).or_default().push(c);
        }
    }
    let tasks: Vec<(&Vec<&Sampled>, usize)> = (compared.values())
        .filter(|g| g.len() >= 2)
        .flat_map(|g| (0..SEGMENT_METRICS.len()).map(move |m| (g, m)))
        .collect();
    let differences = (tasks.par_iter())
        .map(|(g, m)| largest_difference(g, *m, &s.keys, cfg))
        .collect();
    Segments {
        keys: s.keys,
        skipped: s.skipped,
        without_value,
        means,
        differences,
        confidence: cfg.confidence,
        point_estimates: cfg.point_estimates(),
    }
}

fn means_of(c: &Sampled, keys: &[String], cfg: &Config) -> Vec<SegmentMean> {
    let (k, value, approach, delay) = &c.key;
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
    let (k, _, approach, delay) = &high.key;
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

    /// The group of requests `rows` (in that order), `span` per row of the file.
    fn group(span: &[f64], rows: impl Iterator<Item = usize>) -> Group {
        let rows: Vec<usize> = rows.collect();
        let of = |f: &dyn Fn(usize) -> f64| rows.iter().map(|&r| f(r)).collect::<Vec<f64>>();
        let values = [
            (Metric::Span, of(&|r| span[r])),
            (Metric::Cost, of(&|_| 1.0)),
            (Metric::DoWall, of(&|r| span[r])),
        ];
        Group {
            approach: "a".into(),
            delay_ms: 100,
            values: values.map(|(m, v)| (m, v.into_iter().collect())).into(),
            cold_start: vec![false; rows.len()],
            rows,
            latency_of: Vec::new(),
        }
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
            values: vec![Vec::new()],
            of_row: vec![Vec::new()],
            keys,
            ..Segmenting::default()
        };
        s.add(&df, &mut [HashMap::new()]).unwrap();
        // Row 0 is not in the statistics.
        let out = analyse(s, &[group(&span, 1..40)], &cfg());
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
    fn cells_hold_their_requests_in_the_order_of_the_file() {
        let colo: Vec<Option<&str>> = (0..60).map(|i| [Some("LHR"), Some("SIN")][i % 2]).collect();
        let span: Vec<f64> = (0..60).map(|i| (i * 37 % 101) as f64).collect();
        let df = frame(&colo, &span);
        let segmenting = || {
            let mut s = Segmenting {
                keys: vec!["colo".into()],
                values: vec![Vec::new()],
                of_row: vec![Vec::new()],
                ..Segmenting::default()
            };
            s.add(&df, &mut [HashMap::new()]).unwrap();
            s
        };
        let in_order = analyse(segmenting(), &[group(&span, 0..60)], &cfg());
        let shuffled = analyse(segmenting(), &[group(&span, (0..60).rev())], &cfg());
        let bits = |s: &Segments| -> Vec<[u64; 3]> {
            (s.means.iter())
                .map(|m| [m.mean.value, m.mean.ci.low, m.mean.ci.high].map(f64::to_bits))
                .collect()
        };
        assert_eq!(bits(&in_order), bits(&shuffled));
        assert_eq!(in_order.means.len(), 2 * 3);
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
