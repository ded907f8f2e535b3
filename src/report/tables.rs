//! The report's tables, typed, before they become CSV or Parquet.

use anyhow::Result;
use polars::prelude::*;

use super::analysis::Analysis;
use crate::core::named::Named;
use crate::stats::bootstrap::{Estimate, Interval};

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text that comes from the data (ids, names): neutralised in CSV.
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        if v.is_finite() {
            Cell::Float(v)
        } else {
            Cell::Null
        }
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Null, Into::into)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    Bool,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: &'static str,
    pub columns: Vec<(String, Kind)>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(name: &'static str, columns: &[(&'static str, Kind)]) -> Self {
        Table {
            name,
            columns: columns.iter().map(|(n, k)| (n.to_string(), *k)).collect(),
            rows: Vec::new(),
        }
    }

    /// A Parquet-ready frame with one typed column per table column.
    pub fn to_frame(&self) -> Result<DataFrame> {
        let mut columns = Vec::new();
        for (i, (name, kind)) in self.columns.iter().enumerate() {
            let cells = self.rows.iter().map(|r| &r[i]);
            let column = match kind {
                Kind::Text => Column::new(
                    name.as_str().into(),
                    cells
                        .map(|c| match c {
                            Cell::Text(s) => Some(s.as_str()),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                Kind::Int => Column::new(
                    name.as_str().into(),
                    cells
                        .map(|c| match c {
                            Cell::Int(v) => Some(*v),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                Kind::Float => Column::new(
                    name.as_str().into(),
                    cells
                        .map(|c| match c {
                            Cell::Float(v) => Some(*v),
                            Cell::Int(v) => Some(*v as f64),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                Kind::Bool => Column::new(
                    name.as_str().into(),
                    cells
                        .map(|c| match c {
                            Cell::Bool(v) => Some(*v),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
            };
            columns.push(column);
        }
        Ok(DataFrame::new(self.rows.len(), columns)?)
    }
}

use Kind::{Bool as B, Float as F, Int as I, Text as T};

fn lo(e: &Estimate) -> Cell {
    e.ci.low.into()
}
fn hi(e: &Estimate) -> Cell {
    e.ci.high.into()
}

pub fn summary(a: &Analysis) -> Table {
    let mut t = Table::new(
        "summary",
        &[
            ("approach", T),
            ("delay_ms", I),
            ("metric", T),
            ("n", I),
            ("mean", F),
            ("mean_ci_low", F),
            ("mean_ci_high", F),
            ("median", F),
            ("median_ci_low", F),
            ("median_ci_high", F),
            ("p95", F),
            ("p99", F),
            ("std", F),
            ("min", F),
            ("max", F),
        ],
    );
    for r in &a.summary {
        let d = &r.describe;
        t.rows.push(vec![
            r.approach.as_str().into(),
            r.delay_ms.into(),
            r.metric.column().into(),
            (d.n as i64).into(),
            r.mean.value.into(),
            lo(&r.mean),
            hi(&r.mean),
            r.median.value.into(),
            lo(&r.median),
            hi(&r.median),
            d.p95.into(),
            d.p99.into(),
            d.std.into(),
            d.min.into(),
            d.max.into(),
        ]);
    }
    t
}

pub fn comparisons(a: &Analysis) -> Table {
    let mut t = Table::new(
        "comparisons",
        &[
            ("delay_ms", I),
            ("approach", T),
            ("baseline", T),
            ("metric", T),
            ("diff", F),
            ("diff_ci_low", F),
            ("diff_ci_high", F),
            ("ratio", F),
            ("ratio_ci_low", F),
            ("ratio_ci_high", F),
            ("median_diff", F),
            ("median_diff_ci_low", F),
            ("median_diff_ci_high", F),
            ("median_ratio", F),
            ("median_ratio_ci_low", F),
            ("median_ratio_ci_high", F),
        ],
    );
    for r in &a.comparisons {
        t.rows.push(vec![
            r.delay_ms.into(),
            r.approach.as_str().into(),
            r.baseline.as_str().into(),
            r.metric.column().into(),
            r.diff.value.into(),
            lo(&r.diff),
            hi(&r.diff),
            r.ratio.value.into(),
            lo(&r.ratio),
            hi(&r.ratio),
            r.median_diff.value.into(),
            lo(&r.median_diff),
            hi(&r.median_diff),
            r.median_ratio.value.into(),
            lo(&r.median_ratio),
            hi(&r.median_ratio),
        ]);
    }
    t
}

pub fn breakeven(a: &Analysis) -> Table {
    let mut t = Table::new(
        "breakeven",
        &[
            ("approach", T),
            ("baseline", T),
            ("breakeven_delay_ms", F),
            ("ci_low", F),
            ("ci_high", F),
            ("note", T),
        ],
    );
    for r in &a.breakeven {
        let ci: Option<Interval> = r.ci;
        t.rows.push(vec![
            r.approach.as_str().into(),
            r.baseline.as_str().into(),
            r.delay_ms.into(),
            ci.map(|c| c.low).into(),
            ci.map(|c| c.high).into(),
            r.note.as_str().into(),
        ]);
    }
    t
}

/// `claims.csv`: each claim of the pipeline file, what it measured and the
/// verdict (empty, with a note, when its approaches were not measured).
pub fn claims(a: &Analysis) -> Table {
    let mut t = Table::new(
        "claims",
        &[
            ("id", T),
            ("claim", T),
            ("measure", T),
            ("metric", T),
            ("approach", T),
            ("baseline", T),
            ("delay_ms", I),
            ("delays", I),
            ("unit", T),
            ("claimed_low", F),
            ("claimed_high", F),
            ("measured", F),
            ("ci_low", F),
            ("ci_high", F),
            ("n", I),
            ("verdict", T),
            ("note", T),
        ],
    );
    for h in &a.claims {
        let c = &h.claim;
        let m = h.measured.as_ref();
        t.rows.push(vec![
            c.id.as_str().into(),
            c.claim.as_str().into(),
            c.measure.name().into(),
            c.metric.map(|m| m.column()).into(),
            c.approach.as_str().into(),
            c.baseline.as_str().into(),
            h.delay_ms.into(),
            (h.delays as i64).into(),
            h.unit.label().into(),
            c.range.0.into(),
            c.range.1.into(),
            m.map(|e| e.value).into(),
            m.map(|e| e.ci.low).into(),
            m.map(|e| e.ci.high).into(),
            (h.n as i64).into(),
            h.verdict.map(|v| v.name()).into(),
            h.note.as_str().into(),
        ]);
    }
    t
}

pub use crate::io::csv::typed_frame;

/// A small data frame (the quality table) as a table, columns typed by dtype.
pub fn from_frame(name: &'static str, df: &DataFrame) -> Result<Table> {
    let df = typed_frame(df)?;
    let mut t = Table {
        name,
        columns: Vec::new(),
        rows: vec![Vec::new(); df.height()],
    };
    for c in df.columns() {
        let (kind, cells): (Kind, Vec<Cell>) = match c.dtype() {
            DataType::Boolean => (
                B,
                c.bool()?
                    .iter()
                    .map(|v| v.map_or(Cell::Null, Cell::Bool))
                    .collect(),
            ),
            DataType::Float64 => (F, c.f64()?.iter().map(Cell::from).collect()),
            DataType::Int64 => (I, c.i64()?.iter().map(Cell::from).collect()),
            _ => (
                T,
                c.str()?
                    .iter()
                    .map(|v| Cell::from(v.map(String::from)))
                    .collect(),
            ),
        };
        t.columns.push((c.name().to_string(), kind));
        for (row, cell) in t.rows.iter_mut().zip(cells) {
            row.push(cell);
        }
    }
    Ok(t)
}
