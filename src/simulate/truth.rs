//! Ground truth written next to the simulated data: per leg, per request
//! (metrics by experiment.md's definitions), per approach × delay, per
//! segment (colo, script version) and per cold-start flag.
//!
//! Cost follows the default billing rule (contract.md, trace-events.md §4):
//! every DO leg's request is billed, a Worker leg's (the executor, invoked
//! through a service binding) is not; `cost_other_billing_usd_per_million`
//! bills the Worker legs' requests too.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::model::Model;
use super::scenario::{Approach, Request, Scenario};
use crate::core::cost::{Prices, Usage};
use crate::core::named::Named;
use crate::lake::derived::{COLO, SCRIPT_VERSION, SEGMENT_COLUMNS};

#[derive(Debug, Clone, Serialize)]
pub struct RequestTruth {
    pub request_id: String,
    pub approach: &'static str,
    pub delay_ms: i64,
    pub run_id: String,
    pub legs: usize,
    pub complete: bool,
    pub do_wall_ms: f64,
    pub do_cpu_ms: f64,
    pub worker_cpu_ms: f64,
    pub worker_wall_ms: f64,
    pub do_invocations: i64,
    pub worker_invocations: i64,
    pub span_ms: i64,
    pub cost_usd_per_million: f64,
    pub first_event_ms: i64,
    pub client_latency_ms: i64,
    pub cost_other_billing_usd_per_million: f64,
    /// `cf.colo` of the request's first leg that has one; empty when none does.
    pub colo: String,
    /// Distinct ScriptVersion ids of its legs, sorted, joined with ",".
    pub script_version: String,
    /// The model's truth: the request started cold.
    pub cold_start: bool,
    /// Legs whose outcome is not `ok`.
    pub legs_not_ok: i64,
}

/// A request's billed quantities, before a billing rule says which requests count.
#[derive(Debug, Clone, Copy)]
pub struct Quantities {
    pub do_wall_ms: f64,
    pub do_requests: f64,
    pub worker_cpu_ms: f64,
    pub worker_requests: f64,
    pub rows_written: f64,
    pub rows_read: f64,
}

impl Quantities {
    /// The one place the simulator builds a `Usage`: DO requests are always
    /// billed, Worker requests only when `worker_requests_billed`.
    pub fn usage(&self, worker_requests_billed: bool) -> Usage {
        Usage {
            do_wall_ms: self.do_wall_ms,
            do_requests: self.do_requests,
            worker_cpu_ms: self.worker_cpu_ms,
            worker_requests: if worker_requests_billed {
                self.worker_requests
            } else {
                0.0
            },
            rows_written: self.rows_written,
            rows_read: self.rows_read,
        }
    }

    /// USD per million under the default rule and under the other one.
    pub fn costs(&self, prices: &Prices) -> (f64, f64) {
        (
            prices.cost_per_million(&self.usage(false)),
            prices.cost_per_million(&self.usage(true)),
        )
    }
}

/// Storage rows per request of an approach, as the shipped pipeline declares them.
pub fn storage_rows(model: &Model, approach: Approach) -> (f64, f64) {
    match approach {
        Approach::Direct => (0.0, 0.0),
        _ => (model.proxy_rows_written, model.proxy_rows_read),
    }
}

pub fn requests(
    sc: &Scenario,
    event_ids: &[u64],
    model: &Model,
    prices: &Prices,
) -> Vec<RequestTruth> {
    sc.requests
        .iter()
        .map(|r| request(sc, r, event_ids, model, prices))
        .collect()
}

fn request(
    sc: &Scenario,
    r: &Request,
    event_ids: &[u64],
    model: &Model,
    prices: &Prices,
) -> RequestTruth {
    let legs: Vec<_> = r.legs.iter().map(|&i| &sc.legs[i]).collect();
    let sum = |pred: fn(&super::scenario::Leg) -> bool, f: fn(&super::scenario::Leg) -> i64| {
        legs.iter().filter(|l| pred(l)).map(|l| f(l)).sum::<i64>() as f64
    };
    let do_wall_ms = sum(|l| l.role.is_do(), |l| l.wall);
    let do_cpu_ms = sum(|l| l.role.is_do(), |l| l.cpu);
    let worker_cpu_ms = sum(|l| l.role.is_worker(), |l| l.cpu);
    let worker_wall_ms = sum(|l| l.role.is_worker(), |l| l.wall);
    let do_invocations = legs.iter().filter(|l| l.role.is_do()).count() as i64;
    let worker_invocations = legs.iter().filter(|l| l.role.is_worker()).count() as i64;
    let first = legs.iter().map(|l| l.ts).min().unwrap_or(0);
    let last = legs.iter().map(|l| l.ts + l.wall).max().unwrap_or(0);
    let complete = r
        .approach
        .roles()
        .iter()
        .all(|role| legs.iter().any(|l| l.role == *role));
    let (rows_written, rows_read) = storage_rows(model, r.approach);
    let (cost, cost_other) = Quantities {
        do_wall_ms,
        do_requests: do_invocations as f64,
        worker_cpu_ms,
        worker_requests: worker_invocations as f64,
        rows_written,
        rows_read,
    }
    .costs(prices);
    let mut versions: Vec<String> = legs.iter().map(|l| model.version(l.script, l.ts)).collect();
    versions.sort_unstable();
    versions.dedup();
    let request_id = match (&r.req_id, r.legs.first()) {
        (Some(id), _) => id.clone(),
        // A leg without a correlation id is a request of its own, named by its event id.
        (None, Some(&leg)) => format!("{:016x}", event_ids[leg]),
        (None, None) => String::new(),
    };
    RequestTruth {
        request_id,
        approach: r.approach.name(),
        delay_ms: r.delay_ms,
        run_id: r.run_id.clone(),
        legs: legs.len(),
        complete,
        do_wall_ms,
        do_cpu_ms,
        worker_cpu_ms,
        worker_wall_ms,
        do_invocations,
        worker_invocations,
        span_ms: last - first,
        cost_usd_per_million: cost,
        first_event_ms: first,
        client_latency_ms: r.client_recv_ms - r.client_send_ms,
        cost_other_billing_usd_per_million: cost_other,
        // Legs are in time order.
        colo: legs.iter().find_map(|l| l.colo).unwrap_or("").to_string(),
        script_version: versions.join(","),
        cold_start: r.cold_start,
        legs_not_ok: legs.iter().filter(|l| l.outcome != "ok").count() as i64,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupTruth {
    pub approach: &'static str,
    pub delay_ms: i64,
    pub n: usize,
    pub do_wall_ms: f64,
    pub do_cpu_ms: f64,
    pub worker_cpu_ms: f64,
    pub worker_wall_ms: f64,
    pub do_invocations: f64,
    pub worker_invocations: f64,
    pub span_ms: f64,
    pub cost_usd_per_million: f64,
    pub client_latency_ms: f64,
    pub cost_other_billing_usd_per_million: f64,
    /// Requests that started cold.
    pub cold_starts: usize,
    /// The model's expected values for a warm request, which the sample
    /// means estimate where no request started cold.
    pub model_do_wall_ms: f64,
    pub model_do_cpu_ms: f64,
    pub model_worker_cpu_ms: f64,
    pub model_cost_usd_per_million: f64,
    pub model_cost_other_billing_usd_per_million: f64,
}

/// Means over complete requests, per approach and delay.
pub fn groups(
    requests: &[RequestTruth],
    model: &Model,
    prices: &Prices,
    approaches: &[Approach],
) -> Vec<GroupTruth> {
    let mut by: BTreeMap<(usize, i64), Vec<&RequestTruth>> = BTreeMap::new();
    for r in requests.iter().filter(|r| r.complete) {
        let a = approaches
            .iter()
            .position(|a| a.name() == r.approach)
            .expect("known approach");
        by.entry((a, r.delay_ms)).or_default().push(r);
    }
    by.into_iter()
        .map(|((a, delay_ms), rs)| {
            let mean = |f: fn(&RequestTruth) -> f64| {
                rs.iter().map(|r| f(r)).sum::<f64>() / rs.len() as f64
            };
            let approach = approaches[a];
            let expected = expected(model, approach, delay_ms);
            let (model_cost, model_cost_other) = expected.quantities.costs(prices);
            GroupTruth {
                approach: approach.name(),
                delay_ms,
                n: rs.len(),
                do_wall_ms: mean(|r| r.do_wall_ms),
                do_cpu_ms: mean(|r| r.do_cpu_ms),
                worker_cpu_ms: mean(|r| r.worker_cpu_ms),
                worker_wall_ms: mean(|r| r.worker_wall_ms),
                do_invocations: mean(|r| r.do_invocations as f64),
                worker_invocations: mean(|r| r.worker_invocations as f64),
                span_ms: mean(|r| r.span_ms as f64),
                cost_usd_per_million: mean(|r| r.cost_usd_per_million),
                client_latency_ms: mean(|r| r.client_latency_ms as f64),
                cost_other_billing_usd_per_million: mean(|r| r.cost_other_billing_usd_per_million),
                cold_starts: rs.iter().filter(|r| r.cold_start).count(),
                model_do_wall_ms: expected.quantities.do_wall_ms,
                model_do_cpu_ms: expected.do_cpu_ms,
                model_worker_cpu_ms: expected.quantities.worker_cpu_ms,
                model_cost_usd_per_million: model_cost,
                model_cost_other_billing_usd_per_million: model_cost_other,
            }
        })
        .collect()
}

/// Means over complete requests of one approach and delay whose `segment`
/// (a column of `requests.csv`) has `value`.
#[derive(Debug, Clone, Serialize)]
pub struct SliceTruth {
    pub approach: &'static str,
    pub delay_ms: i64,
    pub segment: &'static str,
    pub value: String,
    pub n: usize,
    pub do_wall_ms: f64,
    pub worker_cpu_ms: f64,
    pub span_ms: f64,
    pub cost_usd_per_million: f64,
    pub cost_other_billing_usd_per_million: f64,
    pub client_latency_ms: f64,
}

/// Segment columns of `segments.csv`, and the flag of `cold.csv`.
pub const SEGMENTS: [&str; 2] = SEGMENT_COLUMNS;
pub const COLD: &str = "cold_start";

fn segment_value(r: &RequestTruth, segment: &str) -> String {
    match segment {
        COLO => r.colo.clone(),
        SCRIPT_VERSION => r.script_version.clone(),
        _ => r.cold_start.to_string(),
    }
}

/// Per approach, delay and value of each of `segments`, over complete requests.
pub fn slices(requests: &[RequestTruth], segments: &[&'static str]) -> Vec<SliceTruth> {
    let mut by: BTreeMap<(&str, i64, &str, String), Vec<&RequestTruth>> = BTreeMap::new();
    for r in requests.iter().filter(|r| r.complete) {
        for &segment in segments {
            let key = (r.approach, r.delay_ms, segment, segment_value(r, segment));
            by.entry(key).or_default().push(r);
        }
    }
    by.into_iter()
        .map(|((approach, delay_ms, segment, value), rs)| {
            let mean = |f: fn(&RequestTruth) -> f64| {
                rs.iter().map(|r| f(r)).sum::<f64>() / rs.len() as f64
            };
            SliceTruth {
                approach: approach_name(approach),
                delay_ms,
                segment: segments.iter().find(|s| **s == segment).expect("listed"),
                value,
                n: rs.len(),
                do_wall_ms: mean(|r| r.do_wall_ms),
                worker_cpu_ms: mean(|r| r.worker_cpu_ms),
                span_ms: mean(|r| r.span_ms as f64),
                cost_usd_per_million: mean(|r| r.cost_usd_per_million),
                cost_other_billing_usd_per_million: mean(|r| r.cost_other_billing_usd_per_million),
                client_latency_ms: mean(|r| r.client_latency_ms as f64),
            }
        })
        .collect()
}

fn approach_name(name: &str) -> &'static str {
    Approach::ALL
        .iter()
        .map(|a| a.name())
        .find(|a| *a == name)
        .expect("a simulated approach")
}

pub struct Expected {
    pub do_cpu_ms: f64,
    pub quantities: Quantities,
}

/// The model's expected billed quantities for a complete, warm request
/// (colos mixed by their shares).
pub fn expected(m: &Model, approach: Approach, delay_ms: i64) -> Expected {
    let (do_wall, do_cpu, worker_cpu, do_n, worker_n) = match approach {
        Approach::Direct => (
            delay_ms as f64
                + m.mean_colo_fetch_ms()
                + m.endpoint_jitter.mean()
                + m.direct_overhead.mean(),
            m.direct_cpu.mean(),
            0.0,
            1.0,
            0.0,
        ),
        _ => {
            let mut wall = m.dispatch_wall.mean() + m.callback_wall.mean();
            let mut cpu = m.dispatch_cpu.mean() + m.callback_cpu.mean();
            let mut n = 2.0;
            if approach == Approach::Current {
                wall += m.orchestrator_wall.mean();
                cpu += m.orchestrator_cpu.mean();
                n += 1.0;
            }
            (wall, cpu, m.executor_cpu.mean(), n, 1.0)
        }
    };
    let (rows_written, rows_read) = storage_rows(m, approach);
    Expected {
        do_cpu_ms: do_cpu,
        quantities: Quantities {
            do_wall_ms: do_wall,
            do_requests: do_n,
            worker_cpu_ms: worker_cpu,
            worker_requests: worker_n,
            rows_written,
            rows_read,
        },
    }
}

pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    crate::io::csv::write_rows(path, rows)
}

/// What the model implies for the report's questions, from its parameters
/// alone (not from the drawn sample): the values the report estimates.
pub fn expectations(m: &Model, p: &Prices, approaches: &[Approach]) -> serde_json::Value {
    let at = 1000;
    let direct = expected(m, Approach::Direct, at).quantities;
    let cost = |a: Approach, d: i64| expected(m, a, d).quantities.costs(p);
    // Direct's cost grows by one DO wall-clock ms per ms of delay; the proxies' stays flat.
    let slope = p.do_wall_ms;
    let mut out = serde_json::Map::new();
    for &a in approaches.iter().filter(|a| **a != Approach::Direct) {
        let e = expected(m, a, at).quantities;
        let saved = (direct.do_wall_ms - e.do_wall_ms) * p.do_wall_ms;
        out.insert(
            format!("H1 {}", a.name()),
            (saved / (e.worker_cpu_ms * p.worker_cpu_ms)).into(),
        );
        out.insert(
            format!("H2 {}", a.name()),
            (direct.do_wall_ms / e.do_wall_ms).into(),
        );
        let ((proxy, proxy_other), (base, base_other)) = (cost(a, 0), cost(Approach::Direct, 0));
        out.insert(
            format!("breakeven {}", a.name()),
            ((proxy - base) / slope).into(),
        );
        out.insert(
            format!("breakeven other billing {}", a.name()),
            ((proxy_other - base_other) / slope).into(),
        );
    }
    // current reaches the executor after the orchestrator forwards; cold
    // starts delay both approaches alike.
    out.insert("H3".into(), m.orchestrator_forward.mean().into());
    serde_json::Value::Object(out)
}
