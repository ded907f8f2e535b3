//! How late Logpush delivered: `delivery.csv` (and its Parquet twin) and
//! the report's section, from the delay histograms the mirror keeps per
//! object in the lake's manifest (`lake::delivery`).

use std::path::Path;

use anyhow::Result;

use super::markdown::table::{Align, Table as MdTable};
use super::tables::{Cell, Kind, Table};
use crate::core::format::InputFormat;
use crate::core::named::Named;
use crate::core::numbers::thousands;
use crate::core::window::Window;
use crate::io::atomic::write_atomic;
use crate::io::parquet::write_parquet;
use crate::lake::delivery::{self, DayRow, DeliverySource, Histogram, RESOLUTION};
use crate::lake::manifest::{Entry, Manifest, Status};

/// The delays of the window's events, and the objects that have none.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub rows: Vec<DayRow>,
    /// Every day's delays merged.
    pub overall: Histogram,
    pub sources: Vec<DeliverySource>,
    /// Tail captures: written as events happen, no delivery time.
    pub tail_objects: u64,
    /// Logpush objects mirrored before tracecost recorded delivery times.
    pub unrecorded_objects: u64,
}

/// Whether an entry's rows lie on a day the window may hold.
fn in_window(entry: &Entry, window: &Window) -> bool {
    entry.files.iter().any(|f| {
        let day = f.strip_prefix("date=").and_then(|r| r.split('/').next());
        day.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .is_some_and(|d| window.may_hold_day(d))
    })
}

/// The window's delivery delays from the lake's manifest.
pub fn read(lake: &Path, window: &Window) -> Result<Delivery> {
    let manifest = Manifest::load(lake)?;
    let objects = || manifest.objects.values().filter_map(Entry::delivery);
    let mut sources: Vec<DeliverySource> = objects().map(|o| o.source).collect();
    sources.sort();
    sources.dedup();
    let mut d = Delivery {
        rows: delivery::by_day(objects(), window),
        overall: delivery::in_window(objects(), window),
        sources,
        ..Default::default()
    };
    let with_rows = manifest
        .objects
        .values()
        .filter(|e| e.status == Status::Ingested && e.rows > 0 && in_window(e, window));
    for entry in with_rows {
        if entry.format == Some(InputFormat::Tail) {
            d.tail_objects += 1;
        } else if entry.delivered_ms.is_none() {
            d.unrecorded_objects += 1;
        }
    }
    Ok(d)
}

/// `delivery.csv`: a row per event day (UTC).
pub fn table(rows: &[DayRow]) -> Table {
    let columns = [
        ("day", Kind::Text),
        ("objects", Kind::Int),
        ("events", Kind::Int),
        ("negative", Kind::Int),
        ("median_ms", Kind::Int),
        ("p95_ms", Kind::Int),
        ("p99_ms", Kind::Int),
        ("max_ms", Kind::Int),
        ("source", Kind::Text),
    ];
    let count = |n: u64| Cell::Int(n.min(i64::MAX as u64) as i64);
    Table {
        name: "delivery",
        columns: columns.iter().map(|(n, k)| (n.to_string(), *k)).collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.day.format("%Y-%m-%d").to_string()),
                    count(r.objects),
                    count(r.events),
                    count(r.negative),
                    r.median_ms.into(),
                    r.p95_ms.into(),
                    r.p99_ms.into(),
                    r.max_ms.into(),
                    Cell::Text(r.source.clone()),
                ]
            })
            .collect(),
    }
}

/// A delay read to the second (quantiles are whole seconds).
fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let (s, rest) = (ms.unsigned_abs() / 1000, ms.unsigned_abs() % 1000);
    match rest {
        0 => format!("{sign}{} s", thousands(s)),
        _ => format!("{sign}{}.{rest:03} s", thousands(s)),
    }
}

fn or_dash(ms: Option<i64>) -> String {
    ms.map_or("-".into(), seconds)
}

/// One sentence for the first screen; `None` when no delay is known.
pub fn headline(d: &Delivery) -> Option<String> {
    let h = &d.overall;
    let median = h.quantile(0.5)?;
    let sources: Vec<&str> = d.sources.iter().map(|s| s.describe()).collect();
    Some(format!(
        "Logpush delivered events a median {} after they happened (p95 {}, p99 {}, max {}; n = {} events with a delay of 0 or more, observed: no interval; delivery time: {}).",
        seconds(median),
        or_dash(h.quantile(0.95)),
        or_dash(h.quantile(0.99)),
        or_dash(h.max_ms),
        thousands(h.non_negative()),
        sources.join("; ")
    ))
}

/// The report's section "How late Logpush delivered".
pub fn section(d: &Delivery) -> String {
    let mut out = String::from("## How late Logpush delivered\n\n");
    let mut notes = Vec::new();
    if d.rows.is_empty() {
        notes.push(
            "No Logpush object of the window has a delivery time, so the delay is unknown."
                .to_string(),
        );
    } else {
        let sources: Vec<String> = d
            .sources
            .iter()
            .map(|s| format!("{} (`{}`)", s.describe(), s.name()))
            .collect();
        out += &format!(
            "Delay = the object's delivery time − the event's `EventTimestampMs`, per event day (UTC), n = events. Delivery time: {}. Quantiles: {RESOLUTION}; the maximum is exact; observed over every event, so no interval. All rows in `delivery.csv`.\n\n",
            sources.join("; ")
        );
        out += &day_table(&d.rows);
        if let Some(line) = headline(d) {
            notes.push(line);
        }
    }
    let negative: u64 = d.rows.iter().map(|r| r.negative).sum();
    if negative > 0 {
        notes.push(format!("{} events have a delivery time before their own (clock skew, or an object-name time earlier than the delivery): counted in `negative`, in no quantile.", thousands(negative)));
    }
    if d.tail_objects > 0 {
        notes.push(format!("{} tail capture objects have no delivery time (a capture is written as events happen) and are left out.", thousands(d.tail_objects)));
    }
    if d.unrecorded_objects > 0 {
        notes.push(format!("{} Logpush objects were mirrored before tracecost recorded delivery times and are left out: mirror into a new lake to include them.", thousands(d.unrecorded_objects)));
    }
    out + &notes.iter().map(|n| format!("{n}\n\n")).collect::<String>()
}

fn day_table(rows: &[DayRow]) -> String {
    let right = |h: &str| (h.to_string(), Align::Right);
    let mut t = MdTable::new([
        ("day (UTC)".to_string(), Align::Left),
        right("objects"),
        right("n (events)"),
        right("median"),
        right("p95"),
        right("p99"),
        right("max"),
        ("delivery time".to_string(), Align::Left),
    ]);
    for r in rows {
        t.push(vec![
            r.day.format("%Y-%m-%d").to_string(),
            thousands(r.objects),
            thousands(r.events),
            or_dash(r.median_ms),
            or_dash(r.p95_ms),
            or_dash(r.p99_ms),
            or_dash(r.max_ms),
            r.source.replace(',', ", "),
        ]);
    }
    t.render() + "\n"
}

/// The report's section and its one-sentence answer.
pub struct Text {
    pub section: String,
    pub headline: Option<String>,
}

/// Writes `delivery.csv` and `delivery.parquet` into `out`; returns the
/// report's text.
pub fn write(lake: &Path, window: &Window, out: &Path) -> Result<Text> {
    let d = read(lake, window)?;
    let t = table(&d.rows);
    write_atomic(&out.join("delivery.csv"), super::csv::render(&t).as_bytes())?;
    write_parquet(&mut t.to_frame()?, &out.join("delivery.parquet"))?;
    Ok(Text {
        section: section(&d),
        headline: headline(&d),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_in_seconds() {
        assert_eq!(seconds(65_000), "65 s");
        assert_eq!(seconds(108_602), "108.602 s");
        assert_eq!(seconds(-20), "-0.020 s");
        assert_eq!(seconds(3_600_000), "3,600 s");
    }

    #[test]
    fn no_delay_says_so() {
        let text = section(&Delivery::default());
        assert!(text.starts_with("## How late Logpush delivered"));
        assert!(text.contains("delay is unknown"), "{text}");
        assert!(headline(&Delivery::default()).is_none());
        let t = table(&[]);
        assert_eq!(
            super::super::csv::render(&t),
            "day,objects,events,negative,median_ms,p95_ms,p99_ms,max_ms,source\r\n"
        );
    }
}
