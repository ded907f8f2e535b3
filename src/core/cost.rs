//! What invocations cost: Cloudflare's published Workers Paid prices, per
//! million units, and the per-request cost formula of experiment.md.

use serde::{Deserialize, Serialize};

use crate::core::named::named_serde;
use crate::core::named::Named;

/// Highest price accepted, USD per million units: published prices are below
/// $2, and with legs of at most 30 days (`crate::core::limits`) no cost can then
/// overflow an f64.
pub const MAX_PRICE: f64 = 1e6;

/// Prices in USD per million units; every field can be set in `[prices]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    /// Durable Object wall clock, per million ms: $12.50 per million GB-s at 128 MB.
    pub do_wall_ms: f64,
    /// Durable Object requests, RPC calls into it included.
    pub do_request: f64,
    /// Worker CPU time, per million ms.
    pub worker_cpu_ms: f64,
    /// Worker requests.
    pub worker_request: f64,
    /// SQLite-backed storage rows written.
    pub row_written: f64,
    /// SQLite-backed storage rows read.
    pub row_read: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            do_wall_ms: 12.50 * 0.128 / 1000.0,
            do_request: 0.15,
            worker_cpu_ms: 0.02,
            worker_request: 0.30,
            row_written: 1.00,
            row_read: 0.001,
        }
    }
}

/// The billed quantities of one request: numbers, or the columns that hold
/// them (the transform's expression). Requests count the legs billed a
/// request fee, not every invocation: a Worker called through a service
/// binding is not billed one (`transform::rules::RoleRule::request_billed`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage<T = f64> {
    pub do_wall_ms: T,
    pub do_requests: T,
    pub worker_cpu_ms: T,
    pub worker_requests: T,
    pub rows_written: T,
    pub rows_read: T,
}

impl<T> Usage<T> {
    /// Each quantity with its price, in the order the cost sums them: the
    /// one definition of the cost, whether the quantities are numbers or
    /// Polars columns.
    pub fn priced(self, p: &Prices) -> [(T, f64); 6] {
        [
            (self.do_wall_ms, p.do_wall_ms),
            (self.do_requests, p.do_request),
            (self.worker_cpu_ms, p.worker_cpu_ms),
            (self.worker_requests, p.worker_request),
            (self.rows_written, p.row_written),
            (self.rows_read, p.row_read),
        ]
    }
}

impl Prices {
    /// Every price by its name in `[prices]`.
    pub fn named(&self) -> [(&'static str, f64); 6] {
        [
            ("do_wall_ms", self.do_wall_ms),
            ("do_request", self.do_request),
            ("worker_cpu_ms", self.worker_cpu_ms),
            ("worker_request", self.worker_request),
            ("row_written", self.row_written),
            ("row_read", self.row_read),
        ]
    }

    /// Each price is a finite number of dollars from 0 to [`MAX_PRICE`]: an
    /// infinite or NaN price makes every cost meaningless, and the bound
    /// keeps every cost finite.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, price) in self.named() {
            if !(0.0..=MAX_PRICE).contains(&price) {
                anyhow::bail!(
                    "prices.{name} = {price}: give a price from 0 to 1,000,000 USD per million units"
                );
            }
        }
        Ok(())
    }

    /// USD per million such requests.
    pub fn cost_per_million(&self, u: &Usage) -> f64 {
        u.priced(self)
            .iter()
            .map(|(quantity, price)| quantity * price)
            .sum()
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum Billing {
    /// Durable Object: billed on wall clock.
    Do,
    /// Worker: billed on CPU time.
    Worker,
}

impl Named for Billing {
    const ALL: &'static [Self] = &[Billing::Do, Billing::Worker];

    /// The `billing` of a role in the pipeline file and of a leg in `legs.parquet`.
    fn name(self) -> &'static str {
        match self {
            Billing::Do => "do",
            Billing::Worker => "worker",
        }
    }
}

named_serde!(Billing);

impl Billing {
    /// The published rule (trace-events.md §4): every call into a Durable
    /// Object is a billed DO request; a Worker invoked through a service
    /// binding incurs no additional request fee.
    pub fn bills_requests(self) -> bool {
        self == Billing::Do
    }
}

/// How a role's legs are billed, as the report states the assumption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleBilling {
    pub role: String,
    pub billing: Billing,
    pub request_billed: bool,
    /// Set in the pipeline file, not the published default.
    pub explicit: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_that_is_not_a_finite_number_of_dollars_is_named() {
        assert!(Prices::default().validate().is_ok());
        for bad in [f64::INFINITY, f64::NAN, -1.0, f64::NEG_INFINITY, 1e300] {
            let p = Prices {
                worker_cpu_ms: bad,
                ..Prices::default()
            };
            let err = p.validate().unwrap_err().to_string();
            assert!(err.starts_with("prices.worker_cpu_ms = "), "{err}");
        }
    }

    #[test]
    fn published_prices_give_the_documented_unit_costs() {
        let p = Prices::default();
        assert!((p.do_wall_ms - 0.0016).abs() < 1e-12);
        // experiment.md's published run: a 1 s proxied fetch adds $1.69 per million.
        let added = Usage {
            do_requests: 1.0,
            worker_requests: 1.0,
            worker_cpu_ms: 12.0,
            rows_written: 1.0,
            rows_read: 1.0,
            ..Usage::default()
        };
        let cost = p.cost_per_million(&added);
        assert!(
            (cost - (0.15 + 0.30 + 0.24 + 1.0 + 0.001)).abs() < 1e-9,
            "{cost}"
        );
    }
}
