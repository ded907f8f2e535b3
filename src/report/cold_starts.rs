//! Which requests are cold starts, decided request by request in order of
//! first event as the report reads `requests.parquet` (rules in `flags.rs`).

use std::collections::HashMap;

/// Idle time after which a request is a cold start, by default.
pub const DEFAULT_IDLE_GAP_MS: i64 = 60_000;

/// Decides cold starts request by request, in order of first event.
#[derive(Debug, Clone)]
pub struct ColdStarts {
    idle_gap_ms: i64,
    /// Per approach, the latest end of its requests so far.
    last_end: HashMap<String, i64>,
}

impl Default for ColdStarts {
    fn default() -> Self {
        ColdStarts::new(DEFAULT_IDLE_GAP_MS)
    }
}

impl ColdStarts {
    pub fn new(idle_gap_ms: i64) -> Self {
        ColdStarts {
            idle_gap_ms,
            last_end: HashMap::new(),
        }
    }

    /// Whether a request of `approach` from `start` to `end` is a cold
    /// start. Every request of an approach, complete or not, must be seen, in
    /// order of `start`: an incomplete one warmed its isolate too. A run's
    /// first request is not cold for being first: runs of a sweep follow
    /// each other within seconds, and only idle time evicts an isolate.
    pub fn see(&mut self, approach: &str, start: i64, end: i64) -> bool {
        let idle = match self.last_end.get_mut(approach) {
            Some(last) => {
                let idle = start.saturating_sub(*last) >= self.idle_gap_ms;
                *last = (*last).max(end);
                idle
            }
            None => {
                self.last_end.insert(approach.into(), end);
                true
            }
        };
        idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cold_start_is_the_first_of_its_approach_or_comes_after_an_idle_gap() {
        let mut c = ColdStarts::new(1_000);
        assert!(c.see("a", 0, 100), "first of a");
        assert!(!c.see("a", 50, 2_000), "a is busy");
        assert!(c.see("b", 60, 70), "first of b");
        assert!(!c.see("a", 2_999, 3_000), "999 ms after a's latest end");
        assert!(c.see("a", 4_000, 4_100), "1,000 ms idle");
        assert!(
            !c.see("a", 4_200, 4_300),
            "a run's first is not cold for that"
        );
        assert!(c.see("b", 5_000, 5_100), "gaps are per approach");
    }
}
