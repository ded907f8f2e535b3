//! The first pass: what kinds of legs the lake holds (the inventory), and
//! which fields their URLs and logs carry, with a sample of each field's
//! values. Memory is bounded: shapes, fields, distinct values and sampled
//! values are capped, and what a cap turned away is counted.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::fields::{found_in, Field, Found, LegView, Operation, ShapeKey, Written};

/// Most shapes kept; past it a family's further paths share one row.
const MAX_SHAPES: usize = 2000;
/// Most fields followed; further ones are counted in `fields_dropped`.
const MAX_FIELDS: usize = 512;
/// A field with more distinct values than this is id-like, not a name.
pub const MAX_NAMES: usize = 64;
/// Values of a field kept in its sample (see [`Sample`]).
const SAMPLE_VALUES: usize = 2048;
/// Distinct outcomes kept per shape; others count as `other`.
const MAX_OUTCOMES: usize = 16;

/// Distinct times kept exact per shape; past it a new time is rounded to
/// two significant digits, so quantiles stay within 5% and memory bounded.
const EXACT_TIMES: usize = 4096;

fn coarse(times: &BTreeMap<i64, u64>, ms: i64) -> i64 {
    if times.len() < EXACT_TIMES || times.contains_key(&ms) || ms.abs() < 100 {
        return ms;
    }
    let step = 10i64.pow(ms.unsigned_abs().ilog10() - 1);
    (ms / step) * step
}

/// One kind of leg and its counts.
#[derive(Debug, Clone)]
pub struct ShapeStats {
    pub key: ShapeKey,
    pub legs: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub wall: BTreeMap<i64, u64>,
    pub cpu: BTreeMap<i64, u64>,
    pub first: i64,
    pub last: i64,
}

/// A consistent sample of a field's values: those whose hash is at most
/// `threshold`. The same value is in or out wherever it occurs, so a sampled
/// value comes with all of its legs, and two fields' samples can be compared.
#[derive(Debug, Clone)]
pub struct Sample {
    pub threshold: u64,
    pub values: HashMap<u64, ValueSeen>,
}

/// Where one value was seen.
#[derive(Debug, Clone)]
pub struct ValueSeen {
    pub legs: u32,
    /// Shapes of its legs, without repeats (at most 8 kept).
    pub shapes: Vec<u32>,
    pub first: i64,
    pub last: i64,
}

impl Default for Sample {
    fn default() -> Self {
        Sample {
            threshold: u64::MAX,
            values: HashMap::new(),
        }
    }
}

impl Sample {
    fn add(&mut self, hash: u64, shape: u32, ts: i64) {
        if hash > self.threshold {
            return;
        }
        let seen = self.values.entry(hash).or_insert(ValueSeen {
            legs: 0,
            shapes: Vec::new(),
            first: ts,
            last: ts,
        });
        seen.legs = seen.legs.saturating_add(1);
        if !seen.shapes.contains(&shape) && seen.shapes.len() < 8 {
            seen.shapes.push(shape);
        }
        seen.first = seen.first.min(ts);
        seen.last = seen.last.max(ts);
        while self.values.len() > SAMPLE_VALUES {
            self.threshold /= 2;
            let threshold = self.threshold;
            self.values.retain(|h, _| *h <= threshold);
        }
    }

    /// The share of all values the sample keeps.
    pub fn rate(&self) -> f64 {
        self.threshold as f64 / u64::MAX as f64
    }
}

/// One field: how often, where, and which values.
#[derive(Debug, Clone)]
pub struct FieldStats {
    pub field: Field,
    pub texts: u64,
    pub numbers: u64,
    /// Legs carrying it, per shape.
    pub shapes: BTreeMap<usize, u64>,
    /// Distinct values and their legs, while there are at most [`MAX_NAMES`].
    pub names: BTreeMap<String, u64>,
    /// More than [`MAX_NAMES`] distinct values: `names` stopped.
    pub many: bool,
    /// Legs in which it took two or more different values (a timestamp
    /// per log line does; a request's id does not).
    pub mixed_legs: u64,
    pub sample: Sample,
}

impl FieldStats {
    pub fn legs(&self) -> u64 {
        self.shapes.values().sum()
    }

    /// The share of its legs in which it has one value.
    pub fn single_share(&self) -> f64 {
        1.0 - self.mixed_legs as f64 / self.legs().max(1) as f64
    }

    /// How its values were written, which decides its regex.
    pub fn written(&self) -> Written {
        match (self.texts, self.numbers) {
            (_, 0) => Written::Text,
            (0, _) => Written::Number,
            _ => Written::Mixed,
        }
    }

    /// Whether every value is a whole number of 0 or more.
    pub fn whole_numbers(&self) -> bool {
        !self.many && (self.names.keys()).all(|v| v.parse::<u64>().is_ok())
    }
}

/// The first pass's findings.
#[derive(Debug, Default)]
pub struct Survey {
    pub shapes: Vec<ShapeStats>,
    shape_index: HashMap<ShapeKey, usize>,
    pub fields: Vec<FieldStats>,
    field_index: HashMap<Field, usize>,
    pub fields_dropped: u64,
    found: Vec<Found>,
}

impl Survey {
    /// The shape of a leg: its row of the inventory, made on first sight.
    pub fn shape_of(&mut self, leg: &LegView) -> usize {
        let mut key = ShapeKey::of(leg);
        if let Some(&i) = self.shape_index.get(&key) {
            return i;
        }
        if self.shapes.len() >= MAX_SHAPES {
            key.operation = Operation::Path("(other paths)".into());
            if let Some(&i) = self.shape_index.get(&key) {
                return i;
            }
        }
        let i = self.shapes.len();
        self.shapes.push(ShapeStats {
            key: key.clone(),
            legs: 0,
            outcomes: BTreeMap::new(),
            wall: BTreeMap::new(),
            cpu: BTreeMap::new(),
            first: leg.ts,
            last: leg.ts,
        });
        self.shape_index.insert(key, i);
        i
    }

    /// The shape a leg was given in this survey, if any.
    pub fn known_shape(&self, leg: &LegView) -> Option<usize> {
        let key = ShapeKey::of(leg);
        self.shape_index.get(&key).copied().or_else(|| {
            let other = Operation::Path("(other paths)".into());
            let key = ShapeKey {
                operation: other,
                ..key
            };
            self.shape_index.get(&key).copied()
        })
    }

    pub fn field_index(&self, field: &Field) -> Option<usize> {
        self.field_index.get(field).copied()
    }

    pub fn add(&mut self, leg: &LegView) {
        let shape = self.shape_of(leg);
        let s = &mut self.shapes[shape];
        s.legs += 1;
        s.first = s.first.min(leg.ts);
        s.last = s.last.max(leg.ts);
        let outcome = match s.outcomes.len() < MAX_OUTCOMES || s.outcomes.contains_key(leg.outcome)
        {
            true => leg.outcome,
            false => "other",
        };
        *s.outcomes.entry(outcome.to_string()).or_default() += 1;
        for (times, value) in [(&mut s.wall, leg.wall), (&mut s.cpu, leg.cpu)] {
            if let Some(v) = value {
                *times.entry(coarse(times, v)).or_default() += 1;
            }
        }
        let mut found = std::mem::take(&mut self.found);
        found_in(leg, &mut found);
        let mut once: HashSet<(usize, u64)> = HashSet::new();
        let mut values: HashMap<usize, u32> = HashMap::new();
        for f in &found {
            let Some(i) = self.field(&f.field) else {
                continue;
            };
            let hash = xxhash_rust::xxh3::xxh3_64(f.value.as_bytes());
            if !once.insert((i, hash)) {
                continue;
            }
            *values.entry(i).or_default() += 1;
            self.fields[i].add(f, hash, shape, leg.ts);
        }
        for (i, n) in values {
            if n > 1 {
                self.fields[i].mixed_legs += 1;
            }
        }
        self.found = found;
    }

    /// The index of a field, made on first sight while under the cap.
    fn field(&mut self, field: &Field) -> Option<usize> {
        if let Some(&i) = self.field_index.get(field) {
            return Some(i);
        }
        if self.fields.len() >= MAX_FIELDS {
            self.fields_dropped += 1;
            return None;
        }
        let i = self.fields.len();
        self.fields.push(FieldStats {
            field: field.clone(),
            texts: 0,
            numbers: 0,
            shapes: BTreeMap::new(),
            names: BTreeMap::new(),
            many: false,
            mixed_legs: 0,
            sample: Sample::default(),
        });
        self.field_index.insert(field.clone(), i);
        Some(i)
    }
}

impl FieldStats {
    fn add(&mut self, found: &Found, hash: u64, shape: usize, ts: i64) {
        match found.number {
            true => self.numbers += 1,
            false => self.texts += 1,
        }
        *self.shapes.entry(shape).or_default() += 1;
        if !self.many {
            let room = self.names.len() < MAX_NAMES;
            match self.names.get_mut(&found.value) {
                Some(n) => *n += 1,
                None if room => {
                    self.names.insert(found.value.clone(), 1);
                }
                None => {
                    self.many = true;
                    self.names.clear();
                }
            }
        }
        self.sample.add(hash, shape as u32, ts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_keeps_whole_values_and_stays_small() {
        let mut sample = Sample::default();
        for v in 0..100_000u64 {
            let hash = xxhash_rust::xxh3::xxh3_64(&v.to_le_bytes());
            sample.add(hash, 0, 1);
            sample.add(hash, 1, 2);
        }
        assert!(sample.values.len() <= SAMPLE_VALUES);
        assert!(sample.values.len() > SAMPLE_VALUES / 4);
        assert!(sample
            .values
            .values()
            .all(|v| v.legs == 2 && v.shapes == [0, 1]));
        let estimate = sample.values.len() as f64 / sample.rate();
        assert!((estimate - 100_000.0).abs() < 15_000.0, "{estimate}");
    }
}
