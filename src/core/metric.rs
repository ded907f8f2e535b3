//! The per-request metrics of experiment.md: their column names (a
//! contract), units and what they mean for the bill. Every step names a
//! metric through this type, never by its column as a bare string.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    DoWall,
    DoCpu,
    WorkerCpu,
    WorkerWall,
    DoInvocations,
    WorkerInvocations,
    Span,
    Cost,
    /// The cost under the other request-billing assumption: every
    /// Worker-billed role's `request_billed` flipped (`transform::rules`).
    CostOtherBilling,
    /// From the run manifest, where the driver measured it; not from a trace.
    ClientLatency,
}

/// What a metric counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Invocations,
    UsdPerMillion,
    /// A ratio of two quantities of one unit.
    Times,
}

impl Unit {
    /// The unit as a label shows it.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Invocations => "invocations",
            Unit::UsdPerMillion => "USD per million requests",
            Unit::Times => "x",
        }
    }
}

impl Metric {
    /// The metrics every request has, from its legs, in report order.
    pub const OF_LEGS: [Metric; 9] = [
        Metric::DoWall,
        Metric::DoCpu,
        Metric::WorkerCpu,
        Metric::WorkerWall,
        Metric::DoInvocations,
        Metric::WorkerInvocations,
        Metric::Span,
        Metric::Cost,
        Metric::CostOtherBilling,
    ];

    /// The metrics compared between approaches: what is billed and what is waited for.
    pub const COMPARED: [Metric; 3] = [Metric::DoWall, Metric::Span, Metric::Cost];

    /// The column of `requests.parquet` and of every export (experiment.md).
    pub fn column(self) -> &'static str {
        match self {
            Metric::DoWall => "do_wall_ms",
            Metric::DoCpu => "do_cpu_ms",
            Metric::WorkerCpu => "worker_cpu_ms",
            Metric::WorkerWall => "worker_wall_ms",
            Metric::DoInvocations => "do_invocations",
            Metric::WorkerInvocations => "worker_invocations",
            Metric::Span => "span_ms",
            Metric::Cost => "cost_usd_per_million",
            Metric::CostOtherBilling => "cost_other_billing_usd_per_million",
            Metric::ClientLatency => "client_latency_ms",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::DoInvocations | Metric::WorkerInvocations => Unit::Invocations,
            Metric::Cost | Metric::CostOtherBilling => Unit::UsdPerMillion,
            _ => Unit::Ms,
        }
    }

    /// What the metric means for the bill, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            Metric::DoWall => "Durable Object wall clock, billed",
            Metric::DoCpu => "Durable Object CPU, not billed",
            Metric::WorkerCpu => "Worker CPU, billed",
            Metric::WorkerWall => "Worker wall clock, not billed",
            Metric::DoInvocations => "Durable Object requests, billed",
            Metric::WorkerInvocations => "Worker invocations",
            Metric::Span => "end-to-end time seen by Cloudflare",
            Metric::Cost => "the bill per million such requests",
            Metric::CostOtherBilling => {
                "the bill per million if Worker legs' request fees were billed the other way"
            }
            Metric::ClientLatency => "end-to-end time seen by the client",
        }
    }

    /// The metric of a column name.
    pub fn from_column(name: &str) -> Option<Metric> {
        let all = Metric::OF_LEGS.into_iter().chain([Metric::ClientLatency]);
        all.into_iter().find(|m| m.column() == name)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_experiment_md_names_and_read_back() {
        let names: Vec<&str> = Metric::OF_LEGS.iter().map(|m| m.column()).collect();
        assert_eq!(
            names,
            [
                "do_wall_ms",
                "do_cpu_ms",
                "worker_cpu_ms",
                "worker_wall_ms",
                "do_invocations",
                "worker_invocations",
                "span_ms",
                "cost_usd_per_million",
                "cost_other_billing_usd_per_million"
            ]
        );
        for m in Metric::OF_LEGS.into_iter().chain([Metric::ClientLatency]) {
            assert_eq!(Metric::from_column(m.column()), Some(m));
            assert_eq!(m.to_string(), m.column());
        }
        assert_eq!(Metric::from_column("legs"), None);
    }

    #[test]
    fn units_follow_the_column_suffix() {
        for m in Metric::OF_LEGS.into_iter().chain([Metric::ClientLatency]) {
            let want = match m.column() {
                c if c.ends_with("_ms") => Unit::Ms,
                c if c.ends_with("_invocations") => Unit::Invocations,
                _ => Unit::UsdPerMillion,
            };
            assert_eq!(m.unit(), want, "{m}");
        }
    }
}
