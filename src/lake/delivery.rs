//! How late Logpush delivered: per source object, a sparse histogram of
//! (delivery time − event time) over its ingested lines, kept in the
//! manifest; merged here per event day (UTC) for the report and over recent
//! deliveries for `mirror --wait`'s margin.
//!
//! Buckets: whole seconds below a day, whole hours from a day to 30 days,
//! one bucket beyond (so an object's histogram holds at most ~87,100
//! buckets, and no more than its events). Quantiles are nearest-rank over
//! the non-negative delays and read as their bucket's lower bound: to the
//! second below a day. The maximum is exact. A negative delay (the event
//! is later than its delivery: clock skew, or a name time that is not the
//! delivery) is counted apart and in no quantile.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::core::limits::MAX_DURATION_MS;
use crate::core::named::{named_serde, Named};
use crate::core::window::Window;

/// Delays below this are bucketed by the second.
pub const SECONDS_UNTIL_MS: i64 = 86_400_000;
/// ... then by the hour up to [`MAX_DURATION_MS`]; later ones share one bucket.
const HOUR_MS: i64 = 3_600_000;

/// The resolution of the quantiles, in words, for tables and the report.
pub const RESOLUTION: &str =
    "nearest rank, rounded down to the whole second (to the hour beyond a day)";

/// Where an object's delivery time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum DeliverySource {
    /// The S3 listing's `LastModified`: when the object was written.
    LastModified,
    /// The batch end time in a Logpush object name (`<start>_<end>_<hex>.log.gz`):
    /// the object was written after it.
    ObjectName,
    /// A local file's modification time (the copy's, unless the copy kept it).
    Mtime,
}

impl Named for DeliverySource {
    const ALL: &'static [Self] = &[
        DeliverySource::LastModified,
        DeliverySource::ObjectName,
        DeliverySource::Mtime,
    ];

    fn name(self) -> &'static str {
        match self {
            DeliverySource::LastModified => "last_modified",
            DeliverySource::ObjectName => "object_name",
            DeliverySource::Mtime => "mtime",
        }
    }
}
named_serde!(DeliverySource);

impl DeliverySource {
    /// What the time is, for a reader.
    pub fn describe(self) -> &'static str {
        match self {
            DeliverySource::LastModified => "the S3 LastModified of the object",
            DeliverySource::ObjectName => {
                "the batch end time in the object's name (a lower bound of its delivery)"
            }
            DeliverySource::Mtime => "the file's modification time",
        }
    }
}

/// When an object was delivered, and how that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub ms: i64,
    pub source: DeliverySource,
}

/// The end time of a Logpush object name `<start>_<end>_<hex>.log[.gz]`
/// (times `YYYYMMDDTHHMMSSZ`, UTC), in ms since the epoch.
pub fn name_end_ms(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    let stem = stem.strip_suffix(".log")?;
    let mut parts = stem.split('_');
    let (start, end, hex) = (parts.next()?, parts.next()?, parts.next()?);
    let valid_hex = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if parts.next().is_some() || !valid_hex {
        return None;
    }
    let time = |t: &str| chrono::NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%M%SZ").ok();
    time(start)?;
    Some(time(end)?.and_utc().timestamp_millis())
}

/// The lower bound (ms) of the bucket holding a non-negative delay.
pub fn bucket_ms(delay_ms: i64) -> i64 {
    if delay_ms < SECONDS_UNTIL_MS {
        delay_ms - delay_ms % 1000
    } else if delay_ms < MAX_DURATION_MS {
        delay_ms - delay_ms % HOUR_MS
    } else {
        MAX_DURATION_MS
    }
}

/// Delays of one object's events of one day (or of many, merged), as the
/// manifest holds them; filled and merged by a [`Tally`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Non-negative delays: (bucket lower bound in seconds, count), each
    /// bucket once, in increasing order.
    #[serde(with = "compact")]
    counts: Buckets,
    /// Events whose delivery time is before the event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub negative: u64,
    /// The largest delay of all, exact (negative when every one is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<i64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Histogram {
    /// Events with a delay at or above zero.
    pub fn non_negative(&self) -> u64 {
        (self.counts.iter()).fold(0, |a, (_, n)| a.saturating_add(n))
    }

    pub fn events(&self) -> u64 {
        self.non_negative().saturating_add(self.negative)
    }

    /// The `q` quantile (0 < q ≤ 1) of the non-negative delays, nearest
    /// rank, as its bucket's lower bound in ms (never above the exact max).
    pub fn quantile(&self, q: f64) -> Option<i64> {
        let n = self.non_negative();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0u64;
        let key = self.counts.iter().find_map(|(key, count)| {
            seen = seen.saturating_add(count);
            (seen >= rank).then_some(key)
        })?;
        let value = i64::from(key) * 1000;
        Some(self.max_ms.map_or(value, |m| value.min(m)))
    }
}

/// A histogram while delays or other histograms arrive, in any order:
/// its buckets in a map, each added in O(log n) (a sorted vector would
/// shift for every new bucket below the last).
#[derive(Debug, Default)]
pub struct Tally {
    counts: BTreeMap<u32, u64>,
    negative: u64,
    max_ms: Option<i64>,
}

impl Tally {
    pub fn add(&mut self, delay_ms: i64) {
        self.max_ms = self.max_ms.max(Some(delay_ms));
        if delay_ms < 0 {
            self.negative = self.negative.saturating_add(1);
        } else {
            self.count((bucket_ms(delay_ms) / 1000) as u32, 1);
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        other.counts.iter().for_each(|(key, n)| self.count(key, n));
        self.negative = self.negative.saturating_add(other.negative);
        self.max_ms = self.max_ms.max(other.max_ms);
    }

    fn count(&mut self, key: u32, n: u64) {
        let mine = self.counts.entry(key).or_default();
        *mine = mine.saturating_add(n);
    }

    pub fn histogram(self) -> Histogram {
        Histogram {
            counts: Buckets::from_sorted(self.counts),
            negative: self.negative,
            max_ms: self.max_ms,
        }
    }
}

/// A histogram's buckets packed: per bucket, its lower bound's gap from the
/// previous one and its count, each a LEB128 varint (usually a byte each).
/// A manifest holds one histogram per object and day, and (u32, u64) pairs
/// took 8 times the memory (bench/NOTES.md, change 49).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Buckets(Box<[u8]>);

impl Buckets {
    fn from_sorted(counts: BTreeMap<u32, u64>) -> Self {
        let mut bytes = Vec::with_capacity(counts.len() * 2);
        let mut last = 0;
        for (key, n) in counts {
            put_varint(&mut bytes, u64::from(key - last));
            put_varint(&mut bytes, n);
            last = key;
        }
        Buckets(bytes.into_boxed_slice())
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let mut rest = &self.0[..];
        let mut last = 0u32;
        std::iter::from_fn(move || {
            let gap = take_varint(&mut rest)?;
            let n = take_varint(&mut rest)?;
            // Written by `from_sorted` only: the gaps sum to a u32 key.
            last += gap as u32;
            Some((last, n))
        })
    }
}

fn put_varint(bytes: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        bytes.push(v as u8 | 0x80);
        v >>= 7;
    }
    bytes.push(v as u8);
}

fn take_varint(rest: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, byte) in rest.iter().take(10).enumerate() {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *rest = &rest[i + 1..];
            return Some(v);
        }
    }
    None
}

/// `counts` as one string, `"lower:count lower:count"`: JSON would spread
/// the pairs over a line each in the pretty manifest.
mod compact {
    use std::fmt::Write;

    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    use super::Buckets;

    pub fn serialize<S: Serializer>(counts: &Buckets, s: S) -> Result<S::Ok, S::Error> {
        let mut text = String::with_capacity(counts.0.len() * 4);
        for (i, (key, n)) in counts.iter().enumerate() {
            let gap = if i == 0 { "" } else { " " };
            let _ = write!(text, "{gap}{key}:{n}");
        }
        s.serialize_str(&text)
    }

    /// Any order, a bucket named twice summed: the manifest is a file
    /// anyone can edit.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Buckets, D::Error> {
        let text = String::deserialize(d)?;
        let mut sums = super::Tally::default();
        for pair in text.split_ascii_whitespace() {
            let parsed = pair
                .split_once(':')
                .and_then(|(k, n)| Some((k.parse::<u32>().ok()?, n.parse::<u64>().ok()?)));
            let (key, n) =
                parsed.ok_or_else(|| D::Error::custom(format!("bad delay bucket `{pair}`")))?;
            sums.count(key, n);
        }
        Ok(sums.histogram().counts)
    }
}

/// One object's delivery, as the manifest holds it.
#[derive(Debug, Clone, Copy)]
pub struct ObjectDelays<'a> {
    pub source: DeliverySource,
    pub delivered_ms: i64,
    /// By event day, `YYYY-MM-DD`.
    pub days: &'a BTreeMap<String, Histogram>,
}

/// One row of `delivery.csv`: the delays of one event day's events.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    pub day: NaiveDate,
    /// Objects holding at least one event of the day.
    pub objects: u64,
    /// Events of the day with a delivery time (negative delays included).
    pub events: u64,
    /// Of them, delivered "before" they happened.
    pub negative: u64,
    pub median_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    pub max_ms: Option<i64>,
    /// The delivery sources of the day's objects, sorted, joined with ",".
    pub source: String,
}

/// Merges the objects' histograms per event day, for the days the window
/// may hold (a day whose name does not parse is left out).
pub fn by_day<'a>(
    objects: impl IntoIterator<Item = ObjectDelays<'a>>,
    window: &Window,
) -> Vec<DayRow> {
    let mut days: BTreeMap<NaiveDate, (u64, Tally, Vec<DeliverySource>)> = BTreeMap::new();
    for object in objects {
        for (day, hist) in object.days {
            let Ok(day) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else {
                continue;
            };
            if !window.may_hold_day(day) || hist.events() == 0 {
                continue;
            }
            let (n, merged, sources) = days.entry(day).or_default();
            *n += 1;
            merged.merge(hist);
            if !sources.contains(&object.source) {
                sources.push(object.source);
            }
        }
    }
    days.into_iter()
        .map(|(day, (objects, tally, mut sources))| {
            let h = tally.histogram();
            sources.sort();
            let names: Vec<&str> = sources.iter().map(|s| s.name()).collect();
            DayRow {
                day,
                objects,
                events: h.events(),
                negative: h.negative,
                median_ms: h.quantile(0.5),
                p95_ms: h.quantile(0.95),
                p99_ms: h.quantile(0.99),
                max_ms: h.max_ms,
                source: names.join(","),
            }
        })
        .collect()
}

/// All the delays of the days the window may hold, merged.
pub fn in_window<'a>(
    objects: impl IntoIterator<Item = ObjectDelays<'a>>,
    window: &Window,
) -> Histogram {
    let mut all = Tally::default();
    for object in objects {
        for (day, hist) in object.days {
            let day = NaiveDate::parse_from_str(day, "%Y-%m-%d");
            if day.is_ok_and(|d| window.may_hold_day(d)) {
                all.merge(hist);
            }
        }
    }
    all.histogram()
}

/// All the delays of objects delivered in `[now_ms − span_ms, now_ms]`, merged.
pub fn recent<'a>(
    objects: impl IntoIterator<Item = ObjectDelays<'a>>,
    now_ms: i64,
    span_ms: i64,
) -> Histogram {
    let mut all = Tally::default();
    let from = now_ms.saturating_sub(span_ms);
    for object in objects {
        if (from..=now_ms).contains(&object.delivered_ms) {
            object.days.values().for_each(|h| all.merge(h));
        }
    }
    all.histogram()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hist(delays: &[i64]) -> Histogram {
        let mut t = Tally::default();
        delays.iter().for_each(|d| t.add(*d));
        t.histogram()
    }

    #[test]
    fn buckets_are_seconds_then_hours_then_one() {
        assert_eq!(bucket_ms(0), 0);
        assert_eq!(bucket_ms(1999), 1000);
        assert_eq!(bucket_ms(SECONDS_UNTIL_MS - 1), SECONDS_UNTIL_MS - 1000);
        assert_eq!(
            bucket_ms(SECONDS_UNTIL_MS + HOUR_MS + 5),
            SECONDS_UNTIL_MS + HOUR_MS
        );
        assert_eq!(bucket_ms(i64::MAX), MAX_DURATION_MS);
    }

    #[test]
    fn quantiles_by_nearest_rank_to_the_second() {
        // 1..=100 seconds and a bit: the median is the 50th, p95 the 95th.
        let delays: Vec<i64> = (1..=100).map(|s| s * 1000 + 300).collect();
        let h = hist(&delays);
        assert_eq!(h.quantile(0.5), Some(50_000));
        assert_eq!(h.quantile(0.95), Some(95_000));
        assert_eq!(h.quantile(0.99), Some(99_000));
        assert_eq!(h.quantile(1.0), Some(100_000));
        assert_eq!(h.max_ms, Some(100_300));
        assert_eq!(hist(&[]).quantile(0.5), None);
    }

    #[test]
    fn negative_delays_are_counted_apart() {
        let h = hist(&[-500, -20, 3000]);
        assert_eq!((h.events(), h.negative, h.non_negative()), (3, 2, 1));
        assert_eq!(h.quantile(0.5), Some(3000));
        assert_eq!(hist(&[-500, -20]).max_ms, Some(-20));
        assert_eq!(hist(&[-500]).quantile(0.99), None);
    }

    #[test]
    fn the_manifest_form_is_one_string_and_reads_back() {
        let h = hist(&[1500, 1700, 65_000, -3]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, r#"{"counts":"1:2 65:1","negative":1,"max_ms":65000}"#);
        assert_eq!(serde_json::from_str::<Histogram>(&json).unwrap(), h);
        let bad = serde_json::from_str::<Histogram>(r#"{"counts":"1:x"}"#);
        assert!(bad.unwrap_err().to_string().contains("bad delay bucket"));
        // Edited by hand: out of order, a bucket twice, a count at the top.
        let edited = r#"{"counts":"65:1 1:2 1:3 7:18446744073709551615 7:1"}"#;
        let h = serde_json::from_str::<Histogram>(edited).unwrap();
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, r#"{"counts":"1:5 7:18446744073709551615 65:1"}"#);
        assert_eq!(h.quantile(0.5), Some(7000));
    }

    #[test]
    fn object_names_give_their_end_time() {
        let end = name_end_ms("20251118/20251118T204500Z_20251118T205000Z_1a2b3c4d.log.gz");
        assert_eq!(end, Some(1_763_499_000_000));
        assert!(name_end_ms("x/20251118T204500Z_20251118T205000Z_zz.log.gz").is_none());
        assert!(name_end_ms("20251118T204500Z_2025_1a.log.gz").is_none());
        assert!(name_end_ms("capture.json").is_none());
    }

    #[test]
    fn days_merge_and_the_window_picks_them() {
        let a: BTreeMap<String, Histogram> = [
            ("2025-11-18".to_string(), hist(&[1000, 2000])),
            ("2025-11-19".to_string(), hist(&[5000])),
        ]
        .into();
        let b: BTreeMap<String, Histogram> = [("2025-11-18".to_string(), hist(&[3000, -1]))].into();
        let objects = [
            ObjectDelays {
                source: DeliverySource::ObjectName,
                delivered_ms: 0,
                days: &a,
            },
            ObjectDelays {
                source: DeliverySource::LastModified,
                delivered_ms: 0,
                days: &b,
            },
        ];
        let rows = by_day(objects, &Window::default());
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].objects, rows[0].events, rows[0].negative),
            (2, 4, 1)
        );
        assert_eq!(rows[0].median_ms, Some(2000));
        assert_eq!(rows[0].max_ms, Some(3000));
        assert_eq!(rows[0].source, "last_modified,object_name");
        assert_eq!(rows[1].source, "object_name");
        let window = Window {
            from: Some(chrono::DateTime::from_timestamp(1_763_510_400, 0).unwrap()),
            to: None,
        };
        let rows = by_day(objects, &window);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].day.to_string(), "2025-11-19");
        assert_eq!(recent(objects, 10, 5).events(), 0);
        assert_eq!(recent(objects, 3, 5).events(), 5);
    }

    proptest! {
        /// Merging the histograms of any split of the delays gives the
        /// histogram of all of them, hence the same quantiles and max.
        #[test]
        fn merge_of_a_split_is_the_whole(
            delays in proptest::collection::vec(-5_000i64..40 * 86_400_000, 0..300),
            cut in 0usize..300,
        ) {
            let cut = cut.min(delays.len());
            let mut merged = Tally::default();
            merged.merge(&hist(&delays[..cut]));
            merged.merge(&hist(&delays[cut..]));
            let whole = hist(&delays);
            prop_assert_eq!(&merged.histogram(), &whole);
            prop_assert_eq!(whole.max_ms, delays.iter().max().copied());
            let exact = {
                let mut d: Vec<i64> = delays.iter().copied().filter(|d| *d >= 0).collect();
                d.sort();
                d
            };
            for q in [0.5, 0.95, 0.99] {
                let got = whole.quantile(q);
                let want = (!exact.is_empty()).then(|| {
                    let rank = ((q * exact.len() as f64).ceil() as usize).clamp(1, exact.len());
                    bucket_ms(exact[rank - 1]).min(*exact.last().unwrap())
                });
                prop_assert_eq!(got, want);
            }
        }

        /// The packed buckets give back every (bound, count), to the
        /// extremes of both.
        #[test]
        fn buckets_pack_and_unpack(
            counts in proptest::collection::btree_map(
                prop_oneof![any::<u32>(), Just(0u32), Just(u32::MAX)],
                prop_oneof![any::<u64>(), 0u64..200, Just(u64::MAX)],
                0..200,
            ),
        ) {
            let packed = Buckets::from_sorted(counts.clone());
            let pairs: Vec<(u32, u64)> = counts.into_iter().collect();
            prop_assert_eq!(packed.iter().collect::<Vec<_>>(), pairs);
        }
    }
}
