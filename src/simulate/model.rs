//! The simulator's model: every parameter in one place, with its meaning.
//!
//! Durations are drawn from log-normal distributions given by their median
//! and log-scale sigma, which keeps them positive and right-skewed like real
//! latencies. A request's timeline (all times in ms):
//!
//! ```text
//! direct      client ─net─▶ origin DO [ fetch: delay + endpoint jitter + overhead ] ─net─▶ client
//! simple      client ─net─▶ origin DO [dispatch] ─hop─▶ executor Worker [ fetch ... ][callback RPC]
//!                                                                        └─▶ origin DO [callback]
//! current     client ─net─▶ origin DO [dispatch] ─hop─▶ orchestrator DO [forward] ─▶ executor ...
//! rpc-target  as simple, the executor being an RpcTarget (a slightly cheaper hop)
//! ```
//! Any leg may start cold (extra wall and CPU time, which delays what follows).
//!
//! With the defaults the plan's theories come out as follows (expected values
//! at a 1 s delay): the DO wall clock a proxy replaces costs ~6× the Worker CPU
//! it adds (theory: 1,000-10,000×, refuted); `simple` cuts the DO wall clock
//! ~50× (theory: 33-100×, supported) and `current` ~25× (refuted); the
//! orchestrator hop adds ~19 ms of latency (theory: 10-30 ms, supported); the
//! proxies pay off above ~1.05 s (`simple`) and ~1.2 s (`current`).

use serde::Serialize;

/// Median and log-scale sigma of a log-normal duration.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LogNormal {
    pub median: f64,
    pub sigma: f64,
}

impl LogNormal {
    pub const fn new(median: f64, sigma: f64) -> Self {
        LogNormal { median, sigma }
    }

    /// Expected value: median · exp(σ²/2) (libm's `exp`, so that the truth
    /// files have the same bytes on every platform).
    pub fn mean(&self) -> f64 {
        self.median * libm::exp(self.sigma * self.sigma / 2.0)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// First client request, UTC ms. 23:45 so that the run crosses midnight.
    pub start_ms: i64,
    /// The endpoint's artificial delays.
    pub delays_ms: Vec<i64>,
    /// Requests per approach and delay per client lane (`--runs`).
    pub runs: usize,
    /// Concurrent client lanes; `--scale` multiplies it and the background traffic.
    pub lanes: usize,
    /// Pause between two requests of one lane.
    pub gap_ms: i64,

    /// One-way client ↔ Cloudflare latency.
    pub client_net: LogNormal,
    /// Network and server time the slow endpoint adds on top of its delay.
    pub endpoint_jitter: LogNormal,
    /// Direct: the origin DO's own time around its fetch.
    pub direct_overhead: LogNormal,
    pub direct_cpu: LogNormal,
    /// Proxies: the origin DO's fetch leg, which only dispatches.
    pub dispatch_wall: LogNormal,
    pub dispatch_cpu: LogNormal,
    /// One RPC hop between two invocations.
    pub hop: LogNormal,
    /// RpcTarget hop (rpc-target approach).
    pub rpc_target_hop: LogNormal,
    /// Orchestrator DO: time before it forwards to the executor, and its leg.
    pub orchestrator_forward: LogNormal,
    pub orchestrator_wall: LogNormal,
    pub orchestrator_cpu: LogNormal,
    /// Executor Worker CPU (billed) and its wall time after the callback returns.
    pub executor_cpu: LogNormal,
    pub executor_tail: LogNormal,
    /// Origin DO's callback leg receiving the result.
    pub callback_wall: LogNormal,
    pub callback_cpu: LogNormal,

    /// Chance that a leg starts cold, and what a cold start adds.
    pub cold_start_probability: f64,
    pub cold_start_wall: LogNormal,
    pub cold_start_cpu: LogNormal,

    /// Chance that a proxied request loses one non-origin leg, and that any request loses its origin leg.
    pub missing_leg_probability: f64,
    pub missing_origin_probability: f64,

    /// Storage rows per proxied request (written, read), as the pipeline file declares them.
    pub proxy_rows_written: f64,
    pub proxy_rows_read: f64,

    /// Delivery: Logpush pushes an event this long after it ends ...
    pub delivery_delay_ms: (i64, i64),
    /// ... except a late batch, with this chance and delay.
    pub late_probability: f64,
    pub late_delay_ms: (i64, i64),
    /// An object holds at most this many seconds of deliveries and this many lines.
    pub batch_seconds: i64,
    pub max_lines_per_object: usize,
    /// Chance that a line is delivered twice (at least once delivery).
    pub duplicate_probability: f64,
    /// Lines cut short in transit, per 1,000 events.
    pub malformed_per_thousand: f64,

    /// Background traffic: mean seconds between events of each kind (divided by scale).
    pub noise_fetch_every_s: f64,
    pub noise_alarm_every_s: f64,
    pub noise_dashboard_every_s: f64,
    /// Cron trigger period of the unrelated scheduled Worker.
    pub cron_every_s: i64,
}

impl Model {
    pub fn new(runs: usize, scale: f64) -> Self {
        Model {
            start_ms: 1_763_509_500_000, // 2025-11-18T23:45:00Z
            delays_ms: vec![0, 100, 500, 1000, 5000, 10000],
            runs,
            lanes: scale.round().max(1.0) as usize,
            gap_ms: 150,
            client_net: LogNormal::new(12.0, 0.3),
            endpoint_jitter: LogNormal::new(8.0, 0.5),
            direct_overhead: LogNormal::new(25.0, 0.3),
            direct_cpu: LogNormal::new(3.0, 0.3),
            dispatch_wall: LogNormal::new(12.0, 0.3),
            dispatch_cpu: LogNormal::new(4.0, 0.3),
            hop: LogNormal::new(9.0, 0.3),
            rpc_target_hop: LogNormal::new(7.0, 0.3),
            orchestrator_forward: LogNormal::new(18.0, 0.3),
            orchestrator_wall: LogNormal::new(20.0, 0.3),
            orchestrator_cpu: LogNormal::new(3.0, 0.3),
            executor_cpu: LogNormal::new(12.0, 0.3),
            executor_tail: LogNormal::new(4.0, 0.3),
            callback_wall: LogNormal::new(6.0, 0.3),
            callback_cpu: LogNormal::new(2.0, 0.3),
            cold_start_probability: 0.01,
            cold_start_wall: LogNormal::new(80.0, 0.4),
            cold_start_cpu: LogNormal::new(15.0, 0.4),
            missing_leg_probability: 0.02,
            missing_origin_probability: 0.005,
            proxy_rows_written: 1.0,
            proxy_rows_read: 1.0,
            delivery_delay_ms: (60_000, 300_000),
            late_probability: 0.05,
            late_delay_ms: (300_000, 900_000),
            batch_seconds: 60,
            max_lines_per_object: 250,
            duplicate_probability: 0.01,
            malformed_per_thousand: 2.0,
            noise_fetch_every_s: 10.0 / scale.max(1e-3),
            noise_alarm_every_s: 90.0 / scale.max(1e-3),
            noise_dashboard_every_s: 60.0 / scale.max(1e-3),
            cron_every_s: 300,
        }
    }
}
