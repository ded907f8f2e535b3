//! Ground truth written next to the simulated data: per leg, per request
//! (metrics by experiment.md's definitions) and per approach × delay.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::model::Model;
use super::scenario::{Approach, Request, Scenario};
use crate::core::cost::{Prices, Usage};
use crate::core::named::Named;

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
    /// The cost if the executor's request fee were billed.
    pub cost_other_billing_usd_per_million: f64,
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
    // The executor, a Worker a DO calls through a service binding, bills no request (the transform's default).
    let usage = Usage {
        do_wall_ms,
        do_requests: do_invocations as f64,
        worker_cpu_ms,
        worker_requests: 0.0,
        rows_written,
        rows_read,
    };
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
        cost_usd_per_million: prices.cost_per_million(&usage),
        first_event_ms: first,
        client_latency_ms: r.client_recv_ms - r.client_send_ms,
        cost_other_billing_usd_per_million: prices.cost_per_million(&Usage {
            worker_requests: worker_invocations as f64,
            ..usage
        }),
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
    /// The model's expected values, which the sample means estimate.
    pub model_do_wall_ms: f64,
    pub model_do_cpu_ms: f64,
    pub model_worker_cpu_ms: f64,
    pub model_cost_usd_per_million: f64,
    pub cost_other_billing_usd_per_million: f64,
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
                model_do_wall_ms: expected.do_wall_ms,
                model_do_cpu_ms: expected.do_cpu_ms,
                model_worker_cpu_ms: expected.worker_cpu_ms,
                model_cost_usd_per_million: prices.cost_per_million(&expected.usage),
                cost_other_billing_usd_per_million: mean(|r| r.cost_other_billing_usd_per_million),
            }
        })
        .collect()
}

pub struct Expected {
    pub do_wall_ms: f64,
    pub do_cpu_ms: f64,
    pub worker_cpu_ms: f64,
    pub usage: Usage,
}

/// The model's expected billed quantities for a complete request.
pub fn expected(m: &Model, approach: Approach, delay_ms: i64) -> Expected {
    let p = m.cold_start_probability;
    let cold_wall = p * m.cold_start_wall.mean();
    let cold_cpu = p * m.cold_start_cpu.mean();
    let (do_wall, do_cpu, worker_cpu, do_n, _worker_n) = match approach {
        Approach::Direct => (
            delay_ms as f64 + m.endpoint_jitter.mean() + m.direct_overhead.mean() + cold_wall,
            m.direct_cpu.mean() + cold_cpu,
            0.0,
            1.0,
            0.0,
        ),
        _ => {
            let mut wall = m.dispatch_wall.mean() + cold_wall + m.callback_wall.mean();
            let mut cpu = m.dispatch_cpu.mean() + cold_cpu + m.callback_cpu.mean();
            let mut n = 2.0;
            if approach == Approach::Current {
                wall += m.orchestrator_wall.mean() + cold_wall;
                cpu += m.orchestrator_cpu.mean() + cold_cpu;
                n += 1.0;
            }
            (wall, cpu, m.executor_cpu.mean() + cold_cpu, n, 1.0)
        }
    };
    let (rows_written, rows_read) = storage_rows(m, approach);
    Expected {
        do_wall_ms: do_wall,
        do_cpu_ms: do_cpu,
        worker_cpu_ms: worker_cpu,
        usage: Usage {
            do_wall_ms: do_wall,
            do_requests: do_n,
            worker_cpu_ms: worker_cpu,
            worker_requests: 0.0,
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
    let direct = expected(m, Approach::Direct, at);
    let cost = |a: Approach, d: i64| p.cost_per_million(&expected(m, a, d).usage);
    // Direct's cost grows by one DO wall-clock ms per ms of delay; the proxies' stays flat.
    let slope = p.do_wall_ms;
    let mut out = serde_json::Map::new();
    for &a in approaches.iter().filter(|a| **a != Approach::Direct) {
        let e = expected(m, a, at);
        let saved = (direct.do_wall_ms - e.do_wall_ms) * p.do_wall_ms;
        out.insert(
            format!("H1 {}", a.name()),
            (saved / (e.worker_cpu_ms * p.worker_cpu_ms)).into(),
        );
        out.insert(
            format!("H2 {}", a.name()),
            (direct.do_wall_ms / e.do_wall_ms).into(),
        );
        out.insert(
            format!("breakeven {}", a.name()),
            ((cost(a, 0) - cost(Approach::Direct, 0)) / slope).into(),
        );
    }
    // current reaches the executor after the orchestrator forwards (and after its cold start, if any).
    let hop = m.orchestrator_forward.mean() + m.cold_start_probability * m.cold_start_wall.mean();
    out.insert("H3".into(), hop.into());
    serde_json::Value::Object(out)
}
