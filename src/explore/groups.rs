//! The second pass: legs grouped by the chosen id, with the values of the
//! candidate approach and delay fields, extracted by the very regexes a
//! drafted pipeline gives the transform. Groups and single legs are sampled
//! by hash, so memory is bounded and a sampled group keeps all its legs.

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use regex::Regex;

use super::fields::{log_head, Field, LegView, Operation, Written};
use super::survey::Survey;

/// Groups kept; single legs kept per shape; legs kept per group; values
/// kept per leg: at most 20,000 x 64 + 2,000 shapes x 256 legs of 32 values.
const MAX_GROUPS: usize = 20_000;
const MAX_SINGLES: usize = 256;
const MAX_GROUP_LEGS: usize = 64;
const MAX_LEG_VALUES: usize = 32;
/// Distinct values interned per field; more makes the field a non-name.
const MAX_VALUES: usize = 64;
/// Chain examples kept for the report.
const CHAIN_EXAMPLES: usize = 3;

/// A field as the transform would extract it.
#[derive(Debug, Clone)]
pub struct Extractor {
    pub field: Field,
    pub written: Written,
}

impl Extractor {
    pub fn regex(&self) -> String {
        self.field.regex(self.written)
    }
}

/// One leg in a group: its shape, times and the values it gave.
#[derive(Debug, Clone)]
pub struct Mark {
    pub shape: u32,
    pub ts: i64,
    pub end: i64,
    /// (attribute index, value index) pairs.
    pub values: Vec<(u16, u16)>,
}

/// A hash-thresholded sample of keyed items (see `survey::Sample`).
#[derive(Debug, Clone)]
pub struct Kept<T> {
    pub threshold: u64,
    pub seen: u64,
    pub items: HashMap<u64, T>,
    cap: usize,
}

impl<T> Kept<T> {
    fn new(cap: usize) -> Self {
        Kept {
            threshold: u64::MAX,
            seen: 0,
            items: HashMap::new(),
            cap,
        }
    }

    /// The slot of `hash` when the sample keeps it.
    fn slot(&mut self, hash: u64, make: impl FnOnce() -> T) -> Option<&mut T> {
        if hash > self.threshold {
            return None;
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.items.entry(hash) {
            slot.insert(make());
            while self.items.len() > self.cap {
                self.threshold /= 2;
                let threshold = self.threshold;
                self.items.retain(|h, _| *h <= threshold);
            }
        }
        self.items.get_mut(&hash)
    }
}

/// What the second pass found.
#[derive(Debug)]
pub struct Grouping {
    pub attributes: Vec<Extractor>,
    /// Per shape: its RPC method, if it is an RPC.
    methods: Vec<Option<String>>,
    /// Interned values per attribute; `overflow` past [`MAX_VALUES`].
    pub values: Vec<Vec<String>>,
    pub overflow: Vec<bool>,
    pub groups: Kept<Vec<Mark>>,
    /// Per shape: legs without an id, a sample of them kept.
    pub singles: Vec<Kept<Mark>>,
    /// Per shape: legs that carry an id.
    pub with_id: Vec<u64>,
    /// Per shape: legs that carry two or more different ids.
    pub chained: Vec<u64>,
    pub chain_examples: Vec<(usize, Vec<String>)>,
    /// Legs past [`MAX_GROUP_LEGS`] of a group, not kept.
    pub legs_dropped: u64,
}

struct Compiled {
    id_url: Vec<Regex>,
    id_logs: Vec<Regex>,
    attributes: Vec<(Regex, bool)>,
    /// Per shape: the attributes the survey saw on it.
    by_shape: Vec<Vec<u16>>,
}

fn compile(pattern: &str) -> Result<Regex> {
    Regex::new(pattern).map_err(|e| {
        anyhow::anyhow!("explore built a regex that does not compile, `{pattern}`: {e}")
    })
}

impl Grouping {
    pub fn new(survey: &Survey, attributes: Vec<Extractor>) -> Self {
        let shapes = survey.shapes.len();
        let methods = (survey.shapes.iter())
            .map(|s| match &s.key.operation {
                Operation::Rpc(m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        Grouping {
            methods,
            values: vec![Vec::new(); attributes.len()],
            overflow: vec![false; attributes.len()],
            attributes,
            groups: Kept::new(MAX_GROUPS),
            singles: (0..shapes).map(|_| Kept::new(MAX_SINGLES)).collect(),
            with_id: vec![0; shapes],
            chained: vec![0; shapes],
            chain_examples: Vec::new(),
            legs_dropped: 0,
        }
    }

    /// The RPC method of a shape's legs, if they are RPCs.
    pub fn method_of(&self, shape: usize) -> Option<&str> {
        self.methods.get(shape)?.as_deref()
    }

    /// Groups the legs `each` hands out by the first id the `id` fields give.
    pub fn run(
        mut self,
        survey: &Survey,
        id: &[Extractor],
        each: impl FnOnce(&mut dyn FnMut(&LegView, &str)) -> Result<()>,
    ) -> Result<Self> {
        let compiled = self.compile(survey, id)?;
        each(&mut |leg, event_id| self.add(survey, &compiled, leg, event_id))?;
        Ok(self)
    }

    fn compile(&self, survey: &Survey, id: &[Extractor]) -> Result<Compiled> {
        let mut c = Compiled {
            id_url: Vec::new(),
            id_logs: Vec::new(),
            attributes: Vec::new(),
            by_shape: vec![Vec::new(); survey.shapes.len()],
        };
        for e in id {
            let list = if e.field.in_url() {
                &mut c.id_url
            } else {
                &mut c.id_logs
            };
            list.push(compile(&e.field.id_regex(e.written))?);
        }
        for (a, e) in self.attributes.iter().enumerate() {
            c.attributes.push((compile(&e.regex())?, e.field.in_url()));
            let Some(f) = survey.field_index(&e.field) else {
                continue;
            };
            for shape in survey.fields[f].shapes.keys() {
                c.by_shape[*shape].push(a as u16);
            }
        }
        Ok(c)
    }

    fn add(&mut self, survey: &Survey, c: &Compiled, leg: &LegView, event_id: &str) {
        let Some(shape) = survey.known_shape(leg) else {
            return;
        };
        let mark = Mark {
            shape: shape as u32,
            ts: leg.ts,
            end: leg.end(),
            values: self.values_of(c, shape, leg),
        };
        let id = first_id(c, leg);
        self.count_chain(c, leg, shape);
        match id {
            Some(id) => {
                self.with_id[shape] += 1;
                let hash = xxhash_rust::xxh3::xxh3_64(id.as_bytes());
                self.groups.seen += 1;
                if let Some(legs) = self.groups.slot(hash, Vec::new) {
                    match legs.len() < MAX_GROUP_LEGS {
                        true => legs.push(mark),
                        false => self.legs_dropped += 1,
                    }
                }
            }
            None => {
                let singles = &mut self.singles[shape];
                singles.seen += 1;
                let hash = xxhash_rust::xxh3::xxh3_64(event_id.as_bytes());
                singles.slot(hash, || mark);
            }
        }
    }

    fn values_of(&mut self, c: &Compiled, shape: usize, leg: &LegView) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        for &a in &c.by_shape[shape] {
            if out.len() == MAX_LEG_VALUES {
                break;
            }
            let (re, in_url) = &c.attributes[a as usize];
            // The head the survey read: a megabyte of logs costs no more.
            let text = if *in_url {
                leg.url
            } else {
                leg.logs.map(log_head)
            };
            let Some(value) = text.and_then(|t| re.captures(t)).and_then(|m| m.get(1)) else {
                continue;
            };
            if let Some(v) = self.intern(a as usize, value.as_str()) {
                out.push((a, v));
            }
        }
        out
    }

    fn intern(&mut self, attribute: usize, value: &str) -> Option<u16> {
        let values = &mut self.values[attribute];
        if let Some(i) = values.iter().position(|v| v == value) {
            return Some(i as u16);
        }
        if values.len() >= MAX_VALUES {
            self.overflow[attribute] = true;
            return None;
        }
        values.push(value.to_string());
        Some((values.len() - 1) as u16)
    }

    /// A leg that carries two different ids links two requests (a chain).
    fn count_chain(&mut self, c: &Compiled, leg: &LegView, shape: usize) {
        let mut ids = BTreeSet::new();
        for (regexes, text) in [(&c.id_url, leg.url), (&c.id_logs, leg.logs)] {
            let Some(text) = text else { continue };
            for re in regexes {
                ids.extend(
                    re.captures_iter(text)
                        .filter_map(|m| m.get(1))
                        .map(|m| m.as_str()),
                );
            }
        }
        if ids.len() >= 2 {
            self.chained[shape] += 1;
            if self.chain_examples.len() < CHAIN_EXAMPLES {
                let ids = ids.into_iter().take(4).map(String::from).collect();
                self.chain_examples.push((shape, ids));
            }
        }
    }
}

/// The id the transform would give the leg: the first URL regex that
/// matches, else the first log regex.
fn first_id<'a>(c: &Compiled, leg: &LegView<'a>) -> Option<&'a str> {
    let url = (c.id_url.iter()).find_map(|re| re.captures(leg.url?)?.get(1));
    let found = url.or_else(|| (c.id_logs.iter()).find_map(|re| re.captures(leg.logs?)?.get(1)));
    found.map(|m| m.as_str())
}
