//! When an estimate has an interval to show: a group of one request has
//! none, whatever the bootstrap gives.

use crate::stats::bootstrap::{Estimate, Interval};

/// What a group of one request gives in place of an interval: resamples of
/// one value all equal it, so its interval would have no width and claim a
/// certainty the data cannot give.
pub const NO_INTERVAL: Interval = Interval::NONE;

/// Why an estimate has no interval when nothing was resampled.
pub const POINT_ESTIMATES: &str = "point estimate";

/// Fewest requests in every group an interval is read from.
pub const MIN_REQUESTS_FOR_INTERVAL: usize = 2;

/// `e`, its interval left out when a group it comes from has `n` < 2 requests.
pub fn shown(e: Estimate, n: usize) -> Estimate {
    if n >= MIN_REQUESTS_FOR_INTERVAL {
        e
    } else {
        Estimate {
            ci: NO_INTERVAL,
            ..e
        }
    }
}

/// Whether an estimate has an interval to show.
pub fn has_interval(e: &Estimate) -> bool {
    e.ci.low.is_finite() && e.ci.high.is_finite()
}
