//! The simulator's model: every parameter in one place, with its meaning and
//! where its value comes from.
//!
//! Durations are drawn from log-normal distributions given by their median
//! and log-scale sigma, which keeps them positive and right-skewed like real
//! latencies. A request's timeline (all times in ms):
//!
//! ```text
//! direct      client ─net─▶ origin DO [ fetch: delay + endpoint jitter + overhead ] ─net─▶ client
//! simple      client ─net─▶ origin DO [dispatch] ─hop─▶ executor Worker [ fetch ... ]─callback hop─▶
//!                                                                        origin DO [callback]
//! current     client ─net─▶ origin DO [dispatch] ─hop─▶ orchestrator DO [forward] ─▶ executor ...
//! rpc-target  as simple, the executor being an RpcTarget (a slightly cheaper hop)
//! ```
//! The first request of each approach, and the first after an idle gap of the
//! run schedule, starts cold: its executor starts seconds late and its first
//! leg runs longer. Each request goes through one of a few colos, each with
//! its own latency; the origin script is redeployed mid-run.
//!
//! ## Sources
//!
//! "capture" is the published run's `wrangler tail` capture (lumenize
//! `experiments/proxy-fetch-performance/tail-logs.jsonl`, 1000 ms endpoint, one
//! colo), measured by `bench/calibrate_from_capture.py CAPTURE`, which printed
//! (duplicates dropped; n, mean, median, sd in ms):
//!
//! | figure | n | mean | median | sd |
//! | --- | --- | --- | --- | --- |
//! | direct `fetchDirect` DO wall, minus the 1000 ms delay | 11 | 61.45 | 61 | 8.44 |
//! | direct DO CPU | 11 | 0 | 0 | 0 |
//! | proxied origin DO legs wall, per leg | 13 | 27.15 | 28 | 3.16 |
//! | proxied origin DO legs CPU, per leg | 13 | 1.31 | 1 | 0.63 |
//! | chain start legs (`startProxyFetchChain`, dispatch only) wall | 2 | 21.5 | 21.5 | 2.12 |
//! | executor CPU per invocation (all) | 11 | 1.27 | 1 | 0.65 |
//! | executor CPU, within a chain / first of a chain | 9 / 2 | 1.11 / 2.0 | 1 / 2 | |
//! | origin leg start → executor start, within a chain | 9 | 4.44 | 5 | 0.73 |
//! | origin leg start → executor start, first of a chain | 2 | 9766.5 | | 915.7 |
//! | executor start → callback leg start, minus the delay | 11 | 73.27 | 71 | 10.28 |
//! | executor end minus its callback leg's end | 11 | -3.55 | -4 | 3.14 |
//! | colo / `clientTcpRtt` | 4 | EWR / 28-29 | | |
//!
//! "published" is experiment.md's table "A published run" (client latency
//! direct 1083.4 ms at 1000 ms). "trace-events" is trace-events.md. A value
//! marked "assumption" is not shown by either: the reason is given.
//!
//! With the defaults the plan's theories come out as follows (expected values
//! of warm requests at a 1 s delay, default billing: `truth/model.json`
//! `expected`): the DO wall clock a proxy replaces costs ~75× the Worker CPU it
//! adds (theory: 1,000-10,000×, refuted); `simple` cuts the DO wall clock ~39×
//! (theory: 33-100×, supported) and `current` ~22× (refuted); the orchestrator
//! hop adds ~4.5 ms of latency (theory: 10-30 ms, refuted); the proxies pay off
//! above ~0.7 s (`simple`) and ~0.8 s (`current`), ~0.9-1.0 s when the executor's
//! Worker request is billed.

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

/// A Cloudflare colo a request goes through, and what it adds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Colo {
    pub name: &'static str,
    /// Share of the requests.
    pub share: f64,
    /// Added to the one-way client ↔ Cloudflare latency.
    pub extra_net_ms: f64,
    /// Added to the fetch of the slow endpoint (distance to it).
    pub extra_fetch_ms: f64,
}

/// A script's version ids: before and (when it is redeployed) after the change.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScriptVersions {
    pub script: &'static str,
    pub before: &'static str,
    pub after: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// First client request, UTC ms. 23:45 so that the run crosses midnight.
    pub start_ms: i64,
    /// The endpoint's artificial delays (experiment.md).
    pub delays_ms: Vec<i64>,
    /// Requests per approach and delay per client lane (`--runs`).
    pub runs: usize,
    /// Concurrent client lanes; `--scale` multiplies it and the background traffic.
    pub lanes: usize,
    /// Pause between two requests of one lane.
    pub gap_ms: i64,
    /// The client pauses this long after every `pause_every_runs` runs.
    pub pause_every_runs: usize,
    pub pause_ms: i64,
    /// A request whose approach had no request for this long starts cold.
    pub cold_after_idle_ms: i64,

    /// One-way client ↔ Cloudflare latency (in the first colo).
    pub client_net: LogNormal,
    /// The colos requests go through; shares sum to 1.
    pub colos: Vec<Colo>,
    /// Network and server time the slow endpoint adds on top of its delay.
    pub endpoint_jitter: LogNormal,
    /// Direct: the origin DO's own time around its fetch.
    pub direct_overhead: LogNormal,
    pub direct_cpu: LogNormal,
    /// Proxies: the origin DO's fetch leg, which only dispatches.
    pub dispatch_wall: LogNormal,
    pub dispatch_cpu: LogNormal,
    /// From a leg's start to the next invocation's start (RPC hop).
    pub hop: LogNormal,
    /// RpcTarget hop (rpc-target approach).
    pub rpc_target_hop: LogNormal,
    /// From the end of the executor's fetch to the start of the origin's callback leg.
    pub callback_hop: LogNormal,
    /// Orchestrator DO: time before it forwards to the executor, and its leg.
    pub orchestrator_forward: LogNormal,
    pub orchestrator_wall: LogNormal,
    pub orchestrator_cpu: LogNormal,
    /// Executor Worker CPU (billed) and its wall time after the callback leg ends.
    pub executor_cpu: LogNormal,
    pub executor_tail: LogNormal,
    /// Origin DO's callback leg receiving the result.
    pub callback_wall: LogNormal,
    pub callback_cpu: LogNormal,
    /// Chance that an executor leg ends in `exception` (its timing unchanged).
    pub executor_exception_probability: f64,

    /// A cold request: the executor starts this much later ...
    pub cold_start_delay: LogNormal,
    /// ... its first leg runs this much longer ...
    pub cold_start_wall: LogNormal,
    /// ... and its executor uses this much more CPU.
    pub cold_start_cpu: LogNormal,

    /// Chance that a proxied request loses one non-origin leg, and that any request loses its origin leg.
    pub missing_leg_probability: f64,
    pub missing_origin_probability: f64,

    /// Storage rows per proxied request (written, read), as the pipeline file declares them.
    pub proxy_rows_written: f64,
    pub proxy_rows_read: f64,

    /// Script versions; `after` takes over at `version_change_ms`.
    pub versions: Vec<ScriptVersions>,
    pub version_change_ms: i64,

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
        let start_ms = 1_763_509_500_000; // 2025-11-18T23:45:00Z
        Model {
            start_ms,
            delays_ms: vec![0, 100, 500, 1000, 5000, 10000],
            runs,
            lanes: scale.round().max(1.0) as usize,
            // Assumption: the client sends the next request soon after an answer.
            gap_ms: 150,
            // Assumption: a pause long enough to be an idle gap (report default 60 s).
            pause_every_runs: 10,
            pause_ms: 180_000,
            cold_after_idle_ms: 60_000,
            // published: direct's client latency 1083.4 ms minus capture's
            // direct DO wall 1061.45 ms, halved: 11 ms each way.
            client_net: LogNormal::new(11.0, 0.2),
            // capture: one colo, EWR. The other two and their latencies are an
            // assumption: farther from client and endpoint, so segments differ.
            colos: vec![
                Colo {
                    name: "EWR",
                    share: 0.6,
                    extra_net_ms: 0.0,
                    extra_fetch_ms: 0.0,
                },
                Colo {
                    name: "IAD",
                    share: 0.25,
                    extra_net_ms: 4.0,
                    extra_fetch_ms: 12.0,
                },
                Colo {
                    name: "ORD",
                    share: 0.15,
                    extra_net_ms: 9.0,
                    extra_fetch_ms: 30.0,
                },
            ],
            // capture: direct wall minus the delay, mean 61.45 sd 8.44 = jitter +
            // overhead; the jitter (mean 55.6, sd 8.4) takes the spread.
            endpoint_jitter: LogNormal::new(55.0, 0.15),
            direct_overhead: LogNormal::new(6.0, 0.1),
            // capture: direct DO CPU 0 ms (tail rounds to whole ms).
            direct_cpu: LogNormal::new(0.3, 0.3),
            // capture: 27.15 ms per origin leg; a proxied request has two here
            // (dispatch, callback) where the capture's chain merges them into
            // one, so the two together draw ~27 ms.
            dispatch_wall: LogNormal::new(12.5, 0.15),
            // capture: 1.31 ms of DO CPU per origin leg.
            dispatch_cpu: LogNormal::new(1.2, 0.4),
            // capture: origin leg start → executor start within a chain, 4.44 ms.
            hop: LogNormal::new(4.4, 0.15),
            // Assumption: an RpcTarget saves a little of the hop.
            rpc_target_hop: LogNormal::new(3.5, 0.15),
            // capture: executor start → callback start minus the delay, 73.27
            // ms, less the endpoint jitter's mean 55.6.
            callback_hop: LogNormal::new(17.0, 0.2),
            // capture: a DO leg that dispatches to the executor (the chain
            // start) starts it 4.44 ms later; the orchestrator does the same.
            orchestrator_forward: LogNormal::new(4.4, 0.15),
            // capture: chain start legs, dispatch only: 21.5 ms wall, 1.5 ms CPU.
            orchestrator_wall: LogNormal::new(21.5, 0.1),
            orchestrator_cpu: LogNormal::new(1.5, 0.3),
            // capture: executor CPU within a chain, 1.11 ms (whole ms; the
            // cold first adds `cold_start_cpu`).
            executor_cpu: LogNormal::new(1.05, 0.3),
            // capture: the executor ends within a few ms of its callback leg (-3.55 ms).
            executor_tail: LogNormal::new(1.0, 0.3),
            // capture: see dispatch_wall; 12.5 + 14.5 ≈ 27 ms per request.
            callback_wall: LogNormal::new(14.5, 0.15),
            callback_cpu: LogNormal::new(1.2, 0.4),
            // Assumption: the capture has no non-ok outcome (59 events); 1% is
            // enough for the quality table to show some.
            executor_exception_probability: 0.01,
            // capture: the two first-of-chain requests waited 9.1 and 10.4 s
            // before the executor started. Assumption: 3 s, visible in every
            // chart without swamping the 0 ms groups' means.
            cold_start_delay: LogNormal::new(3000.0, 0.2),
            // Assumption: the capture shows no extra wall at its chain starts
            // (20 and 23 ms); a cold isolate's start is tens of ms.
            cold_start_wall: LogNormal::new(30.0, 0.3),
            // capture: executor CPU first of a chain 2.0 against 1.11 ms.
            cold_start_cpu: LogNormal::new(1.0, 0.3),
            // Assumption: enough incomplete requests for the quality table.
            missing_leg_probability: 0.02,
            // Assumption: a direct request's only leg, lost about once in the
            // sample, so that the report has a lost request to name.
            missing_origin_probability: 0.009,
            // published: 1 row written and 1 read per proxied fetch.
            proxy_rows_written: 1.0,
            proxy_rows_read: 1.0,
            // Assumption: the origin script is redeployed 20 minutes into the
            // run (capture: a single version), with no change in timing.
            versions: vec![ScriptVersions {
                script: "experiment-origin",
                before: "7d2f9a40-3c1b-4e8e-9b6a-51c0e2d4f8a1",
                after: Some("b81e6c27-95d4-4f03-a7e2-0c6d3f1a9b54"),
            }],
            version_change_ms: start_ms + 20 * 60_000,
            // trace-events: a run's events arrive 1-10 minutes after they happen.
            delivery_delay_ms: (60_000, 300_000),
            late_probability: 0.05,
            late_delay_ms: (300_000, 600_000),
            // trace-events: "high" frequency jobs push every few minutes.
            batch_seconds: 60,
            max_lines_per_object: 250,
            // trace-events: delivery is at least once. Assumption: 1%.
            duplicate_probability: 0.01,
            // Assumption: rare lines cut short, for the quarantine.
            malformed_per_thousand: 2.0,
            // Assumption: an account's other traffic, enough to be told apart.
            noise_fetch_every_s: 10.0 / scale.max(1e-3),
            noise_alarm_every_s: 90.0 / scale.max(1e-3),
            noise_dashboard_every_s: 60.0 / scale.max(1e-3),
            cron_every_s: 300,
        }
    }

    /// The same model for a deployment whose origin script (the one
    /// redeployed mid-run) has another name.
    /// The model of a run that started at `start_ms` and measured
    /// `delays_ms` (a run manifest's); the redeploy moves with the start.
    pub fn for_requests(mut self, start_ms: i64, delays_ms: Vec<i64>) -> Self {
        self.version_change_ms += start_ms - self.start_ms;
        self.start_ms = start_ms;
        self.delays_ms = delays_ms;
        self
    }

    pub fn with_origin_script(mut self, script: &'static str) -> Self {
        for v in &mut self.versions {
            v.script = script;
        }
        self
    }

    /// The version id `script` runs at `ts`: from `versions`, else one
    /// derived from the script's name (each script has its own, as deployed).
    pub fn version(&self, script: &str, ts: i64) -> String {
        match self.versions.iter().find(|v| v.script == script) {
            Some(v) => match v.after {
                Some(after) if ts >= self.version_change_ms => after.to_string(),
                _ => v.before.to_string(),
            },
            None => {
                let h = xxhash_rust::xxh3::xxh3_128(script.as_bytes());
                let hex = format!("{h:032x}");
                format!(
                    "{}-{}-4{}-a{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[13..16],
                    &hex[17..20],
                    &hex[20..]
                )
            }
        }
    }

    /// Mean extra fetch time over the colos, weighted by their shares.
    pub fn mean_colo_fetch_ms(&self) -> f64 {
        self.colos.iter().map(|c| c.share * c.extra_fetch_ms).sum()
    }
}
