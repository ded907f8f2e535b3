//! The schedule: run r is a block holding every approach × delay once, in a
//! seeded random order (interleaved) so that drift over the run window
//! cannot favour one approach; warm-ups come first, per approach.

use std::collections::{HashMap, HashSet};

use crate::stats::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Interleaved,
    Sequential,
}

/// One request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub run_id: String,
    pub approach: String,
    pub delay_ms: u64,
    pub req_id: String,
    pub warmup: bool,
}

impl Entry {
    /// What `--resume` matches done rows by.
    pub fn key(&self) -> (String, String, u64) {
        (self.run_id.clone(), self.approach.clone(), self.delay_ms)
    }
}

/// What the schedule is made of.
pub struct Plan<'a> {
    pub approaches: &'a [String],
    pub delays: &'a [u64],
    pub runs: usize,
    pub warmup: usize,
    pub order: Order,
    pub seed: u64,
    pub id_hex: usize,
}

/// Every request in the order it is sent; the same plan gives the same
/// schedule and the same ids.
pub fn build(plan: &Plan) -> Vec<Entry> {
    let mut ids = Ids::new(plan.seed, plan.id_hex);
    let mut out = Vec::new();
    // Warm-ups use the first delay: they only wake the path.
    let warm_delay = plan.delays.first().copied().unwrap_or(0);
    for approach in plan.approaches {
        for _ in 0..plan.warmup {
            out.push(entry("warmup", approach, warm_delay, true, &mut ids));
        }
    }
    for r in 0..plan.runs {
        let mut block: Vec<(&String, u64)> = (plan.approaches.iter())
            .flat_map(|a| plan.delays.iter().map(move |d| (a, *d)))
            .collect();
        if plan.order == Order::Interleaved {
            let mut rng = Rng::named(plan.seed, &["drive", "schedule", &r.to_string()]);
            shuffle(&mut block, &mut rng);
        }
        let run_id = format!("run{r}");
        for (approach, delay) in block {
            out.push(entry(&run_id, approach, delay, false, &mut ids));
        }
    }
    out
}

fn entry(run_id: &str, approach: &str, delay_ms: u64, warmup: bool, ids: &mut Ids) -> Entry {
    Entry {
        run_id: run_id.to_string(),
        approach: approach.to_string(),
        delay_ms,
        req_id: ids.next(),
        warmup,
    }
}

/// Fisher-Yates with the crate's generator.
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

/// Unique request ids of `hex` hex digits from the seeded stream.
struct Ids {
    rng: Rng,
    hex: usize,
    seen: HashSet<String>,
}

impl Ids {
    fn new(seed: u64, hex: usize) -> Self {
        Ids {
            rng: Rng::named(seed, &["drive", "req_id"]),
            hex,
            seen: HashSet::new(),
        }
    }

    fn next(&mut self) -> String {
        loop {
            let id: String = (0..self.hex)
                .map(|_| char::from_digit(self.rng.below(16) as u32, 16).unwrap_or('0'))
                .collect();
            if self.seen.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// The entries not yet done: each done (run_id, approach, delay_ms) row
/// takes one matching entry out.
pub fn remaining(schedule: Vec<Entry>, done: &[(String, String, u64)]) -> Vec<Entry> {
    let mut counts: HashMap<&(String, String, u64), usize> = HashMap::new();
    for key in done {
        *counts.entry(key).or_default() += 1;
    }
    let mut out = Vec::new();
    for e in schedule {
        match counts.get_mut(&e.key()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(order: Order, seed: u64) -> Vec<Entry> {
        let approaches = ["direct".to_string(), "simple".to_string()];
        build(&Plan {
            approaches: &approaches,
            delays: &[0, 100],
            runs: 3,
            warmup: 1,
            order,
            seed,
            id_hex: 16,
        })
    }

    #[test]
    fn each_block_is_a_permutation_and_the_seed_fixes_order_and_ids() {
        let s = plan(Order::Interleaved, 7);
        assert_eq!(s.len(), 2 + 12);
        assert!(s[..2].iter().all(|e| e.warmup && e.run_id == "warmup"));
        for block in s[2..].chunks(4) {
            let mut keys: Vec<_> = block
                .iter()
                .map(|e| (e.approach.clone(), e.delay_ms))
                .collect();
            keys.sort();
            assert_eq!(keys.len(), 4);
            keys.dedup();
            assert_eq!(keys.len(), 4);
        }
        assert_eq!(s, plan(Order::Interleaved, 7));
        assert_ne!(s, plan(Order::Interleaved, 8));
        let ids: HashSet<_> = s.iter().map(|e| e.req_id.clone()).collect();
        assert_eq!(ids.len(), s.len());
        assert!(s.iter().all(|e| e.req_id.len() == 16));
        let seq = plan(Order::Sequential, 7);
        assert_eq!(seq[2].approach, "direct");
        assert_eq!(seq[2].delay_ms, 0);
        assert_eq!(seq[5].approach, "simple");
    }

    #[test]
    fn remaining_skips_done_rows_once_each() {
        let s = plan(Order::Interleaved, 1);
        let done: Vec<_> = s[..5].iter().map(Entry::key).collect();
        assert_eq!(remaining(s.clone(), &done), s[5..].to_vec());
    }
}
