//! Generates the legs of every request and the background traffic, following
//! the model, for one of two deployments: the multi-script one behind the
//! Logpush archive and the single-script lab behind the tail capture.

use serde::Serialize;

use super::layout::{ApproachIn, Layout, Names, CLASSIC};
use super::model::{Colo, LogNormal, Model};
use crate::core::named::{named_serde, Named};
use crate::stats::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "&'static str")]
pub enum Approach {
    Direct,
    Current,
    Simple,
    RpcTarget,
}

impl Named for Approach {
    const ALL: &'static [Self] = &[
        Approach::Direct,
        Approach::Current,
        Approach::Simple,
        Approach::RpcTarget,
    ];

    fn name(self) -> &'static str {
        match self {
            Approach::Direct => "direct",
            Approach::Current => "current",
            Approach::Simple => "simple",
            Approach::RpcTarget => "rpc-target",
        }
    }
}

named_serde!(Approach);

impl Approach {
    /// Roles a complete request of this approach has.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Approach::Direct => &[Role::Origin],
            Approach::Current => &[
                Role::Origin,
                Role::Orchestrator,
                Role::Executor,
                Role::Callback,
            ],
            Approach::Simple | Approach::RpcTarget => {
                &[Role::Origin, Role::Executor, Role::Callback]
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "&'static str")]
pub enum Role {
    Origin,
    Orchestrator,
    Executor,
    Callback,
    Background,
}

impl Named for Role {
    const ALL: &'static [Self] = &[
        Role::Origin,
        Role::Orchestrator,
        Role::Executor,
        Role::Callback,
        Role::Background,
    ];

    fn name(self) -> &'static str {
        match self {
            Role::Origin => "origin",
            Role::Orchestrator => "orchestrator",
            Role::Executor => "executor",
            Role::Callback => "callback",
            Role::Background => "background",
        }
    }
}

named_serde!(Role);

impl Role {
    pub fn is_do(self) -> bool {
        matches!(self, Role::Origin | Role::Orchestrator | Role::Callback)
    }

    pub fn is_worker(self) -> bool {
        self == Role::Executor
    }
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Fetch {
        url: String,
        status: i64,
    },
    Rpc {
        method: &'static str,
    },
    Alarm {
        scheduled_ms: i64,
    },
    Scheduled {
        cron: &'static str,
        scheduled_ms: i64,
    },
}

impl EventKind {
    pub fn event_type(&self) -> &'static str {
        match self {
            EventKind::Fetch { .. } => "fetch",
            EventKind::Rpc { .. } => "worker_rpc",
            EventKind::Alarm { .. } => "alarm",
            EventKind::Scheduled { .. } => "scheduled",
        }
    }
}

/// One invocation: one trace event.
#[derive(Debug, Clone)]
pub struct Leg {
    pub ts: i64,
    pub wall: i64,
    pub cpu: i64,
    pub script: &'static str,
    pub entrypoint: &'static str,
    pub durable_object: bool,
    pub event: EventKind,
    /// console.log arguments, one log entry each.
    pub logs: Vec<String>,
    pub role: Role,
    pub request: Option<usize>,
    /// `cf.colo` of a fetch leg's request.
    pub colo: Option<&'static str>,
    /// `ok`, or how the invocation ended.
    pub outcome: &'static str,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub req_id: Option<String>,
    pub approach: Approach,
    pub delay_ms: i64,
    pub client_send_ms: i64,
    pub client_recv_ms: i64,
    pub run_id: String,
    /// The colo the request went through (written only on its fetch legs).
    pub colo: &'static str,
    /// The first request of its approach, or the first after an idle gap.
    pub cold_start: bool,
    /// Indices into the scenario's legs; dropped legs are not listed.
    pub legs: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// Several scripts, laid out by a [`Layout`]; by default reqId in the
    /// origin URL and in JSON logs, approach and delay in the URL.
    Archive,
    /// One script `proxy-lab` as seen by `wrangler tail`; reqId in JSON logs only.
    TailLab,
}

impl Deployment {
    pub fn name(self) -> &'static str {
        match self {
            Deployment::Archive => "archive",
            Deployment::TailLab => "tail-lab",
        }
    }
}

pub struct Scenario {
    pub legs: Vec<Leg>,
    pub requests: Vec<Request>,
}

pub const TAIL_LAB_DELAY_MS: i64 = 1000;

fn draw(rng: &mut Rng, d: LogNormal) -> f64 {
    rng.lognormal(libm::log(d.median), d.sigma)
}

fn ms(x: f64) -> i64 {
    x.round().max(0.0) as i64
}

/// What a cold start adds to a request: (executor start delay, first leg's
/// extra wall, executor's extra CPU); nothing when it is warm.
fn cold(rng: &mut Rng, m: &Model, cold_start: bool) -> (f64, f64, f64) {
    if cold_start {
        let delay = draw(rng, m.cold_start_delay);
        (
            delay,
            draw(rng, m.cold_start_wall),
            draw(rng, m.cold_start_cpu),
        )
    } else {
        (0.0, 0.0, 0.0)
    }
}

/// A colo drawn by the model's shares.
fn colo(rng: &mut Rng, m: &Model) -> Colo {
    let mut u = rng.uniform();
    for c in &m.colos {
        if u < c.share {
            return *c;
        }
        u -= c.share;
    }
    *m.colos.last().expect("the model has a colo")
}

/// What the client asked for: one request of an approach at a delay.
struct Ask {
    approach: Approach,
    delay_ms: i64,
    send_ms: i64,
    run_id: String,
    cold_start: bool,
    /// The id the client gave the request (a drive manifest's), carried by
    /// every leg, `direct`'s too, as a driven request's URL carries it.
    named: Option<String>,
}

/// A request a client already sent (a row of a run manifest): simulate its legs.
#[derive(Debug, Clone)]
pub struct Given {
    pub approach: Approach,
    pub delay_ms: i64,
    pub send_ms: i64,
    pub run_id: String,
    pub req_id: Option<String>,
}

/// The legs of `given` requests (sent in their order) and the archive's
/// background traffic around them.
pub fn generate_given(model: &Model, layout: &Layout, given: &[Given], seed: u64) -> Scenario {
    let deployment = Deployment::Archive;
    let rng = &mut Rng::named(seed, &["simulate", "given", "requests"]);
    let mut sc = Scenario {
        legs: Vec::new(),
        requests: Vec::new(),
    };
    let mut last_end: std::collections::BTreeMap<&str, i64> = Default::default();
    let mut end_ms = model.start_ms;
    for g in given {
        let cold_start = (last_end.get(g.approach.name()))
            .is_none_or(|end| g.send_ms - end > model.cold_after_idle_ms);
        let ask = Ask {
            approach: g.approach,
            delay_ms: g.delay_ms,
            send_ms: g.send_ms,
            run_id: g.run_id.clone(),
            cold_start,
            named: g.req_id.clone(),
        };
        let recv = request(&mut sc, model, (deployment, layout), ask, rng);
        last_end.insert(g.approach.name(), recv);
        end_ms = end_ms.max(recv);
    }
    finish(sc, model, deployment, layout, end_ms, seed)
}

/// The requests and the background traffic of `deployment`, each drawn from
/// its own stream of `seed`.
pub fn generate(
    model: &Model,
    deployment: Deployment,
    layout: &Layout,
    approaches: &[Approach],
    seed: u64,
) -> Scenario {
    let rng = &mut Rng::named(seed, &["simulate", deployment.name(), "requests"]);
    let mut sc = Scenario {
        legs: Vec::new(),
        requests: Vec::new(),
    };
    let delays: Vec<i64> = match deployment {
        Deployment::Archive => model.delays_ms.clone(),
        Deployment::TailLab => vec![TAIL_LAB_DELAY_MS],
    };
    let mut end_ms = model.start_ms;
    for lane in 0..model.lanes {
        let mut t = model.start_ms + lane as i64 * 37;
        // When each approach's last request of this lane ended.
        let mut last_end: Vec<Option<i64>> = vec![None; approaches.len()];
        for run in 0..model.runs {
            if run > 0 && run % model.pause_every_runs.max(1) == 0 {
                t += model.pause_ms;
            }
            for &delay_ms in &delays {
                for (a, &approach) in approaches.iter().enumerate() {
                    let cold_start =
                        last_end[a].is_none_or(|end| t - end > model.cold_after_idle_ms);
                    let ask = Ask {
                        approach,
                        delay_ms,
                        send_ms: t,
                        run_id: format!("lane{lane}-run{run}"),
                        cold_start,
                        named: None,
                    };
                    let recv = request(&mut sc, model, (deployment, layout), ask, rng);
                    last_end[a] = Some(recv);
                    t = recv + model.gap_ms;
                }
            }
        }
        end_ms = end_ms.max(t);
    }
    finish(sc, model, deployment, layout, end_ms, seed)
}

/// Adds the background traffic until `end_ms`, sorts the legs by time and
/// points each request at its legs.
fn finish(
    mut sc: Scenario,
    model: &Model,
    deployment: Deployment,
    layout: &Layout,
    end_ms: i64,
    seed: u64,
) -> Scenario {
    let rng = &mut Rng::named(seed, &["simulate", deployment.name(), "background"]);
    background(&mut sc, model, deployment, layout.names(), end_ms, rng);
    sc.legs.sort_by_key(|l| l.ts);
    // Legs moved: re-point requests at them.
    for r in &mut sc.requests {
        r.legs.clear();
    }
    for (i, leg) in sc.legs.iter().enumerate() {
        if let Some(r) = leg.request {
            sc.requests[r].legs.push(i);
        }
    }
    sc
}

/// Draws one request's legs into `sc`; returns when the client received the answer.
fn request(
    sc: &mut Scenario,
    m: &Model,
    (deployment, layout): (Deployment, &Layout),
    ask: Ask,
    rng: &mut Rng,
) -> i64 {
    let drawn = format!("{:012x}", rng.next_u64() & 0xffff_ffff_ffff);
    let named = ask.named.is_some();
    let id = ask.named.clone().unwrap_or(drawn);
    let colo = colo(rng, m);
    let draft = Draft {
        m,
        deployment,
        layout,
        approach: ask.approach,
        delay_ms: ask.delay_ms,
        index: sc.requests.len(),
        names: LegNames::of(deployment, layout.names(), ask.approach),
        id,
        named,
        colo: colo.name,
        cold_start: ask.cold_start,
    };
    let arrive = ask.send_ms as f64 + colo.extra_net_ms + draw(rng, m.client_net);
    let fetch = ask.delay_ms as f64 + colo.extra_fetch_ms + draw(rng, m.endpoint_jitter);
    let (mut legs, done) = if ask.approach == Approach::Direct {
        draft.direct(arrive, fetch, rng)
    } else {
        draft.proxied(arrive, fetch, rng)
    };
    if ask.approach == Approach::Direct && rng.chance(m.missing_origin_probability) {
        legs.clear();
    }
    let recv = ms(done + colo.extra_net_ms + draw(rng, m.client_net));
    if deployment == Deployment::TailLab {
        sc.legs.push(draft.controller(ask.send_ms, recv));
    }
    sc.legs.extend(legs);
    let has_id = draft.has_id();
    sc.requests.push(Request {
        req_id: has_id.then_some(draft.id),
        approach: ask.approach,
        delay_ms: ask.delay_ms,
        client_send_ms: ask.send_ms,
        client_recv_ms: recv,
        run_id: ask.run_id,
        colo: colo.name,
        cold_start: ask.cold_start,
        legs: Vec::new(),
    });
    recv
}

/// When a leg started and how long it ran, in fractional ms.
struct Timing {
    ts: f64,
    wall: f64,
    cpu: f64,
}

/// One request being drawn: what all of its legs share.
struct Draft<'a> {
    m: &'a Model,
    deployment: Deployment,
    layout: &'a Layout,
    approach: Approach,
    delay_ms: i64,
    /// The request's index in the scenario.
    index: usize,
    names: LegNames,
    /// The correlation id its logs (and, in the archive, its URL) carry.
    id: String,
    /// The client named the request: every leg carries its id.
    named: bool,
    colo: &'static str,
    cold_start: bool,
}

impl Draft<'_> {
    /// Direct requests of the archive carry no id: they are told apart by event id.
    fn has_id(&self) -> bool {
        self.named || self.approach != Approach::Direct || self.deployment == Deployment::TailLab
    }

    /// A JSON log line naming the request, as each deployment writes it.
    fn log(&self, message: &str) -> String {
        let id = &self.id;
        match self.deployment {
            Deployment::Archive if self.layout.id_in_logs() => {
                let key = &self.layout.id_key;
                format!(r#"{{"message":"{message}","data":{{"{key}":"{id}"}}}}"#)
            }
            Deployment::Archive => format!(r#"{{"message":"{message}"}}"#),
            Deployment::TailLab => format!(
                r#"{{"event":"{message}","reqId":"{id}","approach":"{}"}}"#,
                self.approach.name()
            ),
        }
    }

    /// A leg of this request in `role`, running where that role runs.
    fn leg(&self, role: Role, t: Timing, event: EventKind, logs: Vec<String>) -> Leg {
        let n = &self.names;
        let (script, entrypoint, durable_object) = match role {
            Role::Orchestrator => (n.script_orchestrator, n.orchestrator, true),
            Role::Executor => (n.script_executor, n.executor, false),
            _ => (n.script_origin, n.origin, true),
        };
        // Only the client's fetch carries the request's CF properties.
        let client = role == Role::Origin && matches!(event, EventKind::Fetch { .. });
        let colo = client.then_some(self.colo);
        Leg {
            ts: ms(t.ts),
            wall: ms(t.wall),
            cpu: ms(t.cpu),
            script,
            entrypoint,
            durable_object,
            event,
            logs,
            role,
            request: Some(self.index),
            colo,
            outcome: "ok",
        }
    }

    /// The origin DO's leg is a fetch of the experiment URL in the archive
    /// (an RPC with `--approach-in rpc`), an RPC from the lab's controller in
    /// the tail lab.
    fn origin_event(&self) -> EventKind {
        let l = self.layout;
        if self.deployment == Deployment::TailLab || l.approach_in == ApproachIn::Rpc {
            return EventKind::Rpc {
                method: self.names.origin_method,
            };
        }
        let n = l.names();
        let (approach, delay) = (self.approach.name(), self.delay_ms);
        let mut query = format!("{}={delay}", n.delay_key);
        if self.has_id() && l.id_in_url() {
            query += &format!("&{}={}", l.id_key, self.id);
        }
        let url = match l.approach_in {
            ApproachIn::Query => format!(
                "{}{}?{}={approach}&{query}",
                n.origin_host, n.prefix, n.approach_key
            ),
            _ => format!("{}{}/{approach}?{query}", n.origin_host, n.prefix),
        };
        EventKind::Fetch { url, status: 200 }
    }

    /// The origin's log of a request: with the delay when no URL says it.
    fn origin_logs(&self, message: &str) -> Vec<String> {
        let rpc =
            self.deployment == Deployment::Archive && self.layout.approach_in == ApproachIn::Rpc;
        if !rpc {
            return if self.has_id() {
                vec![self.log(message)]
            } else {
                Vec::new()
            };
        }
        let key = self.layout.names().delay_key;
        let mut data = format!(r#""{key}":{}"#, self.delay_ms);
        if self.has_id() {
            data += &format!(r#","{}":"{}""#, self.layout.id_key, self.id);
        }
        vec![format!(r#"{{"message":"{message}","data":{{{data}}}}}"#)]
    }

    /// A leg other than the origin's: an rpc call, or with the id in URLs
    /// only, a fetch (DO stub or service binding) whose URL carries the id.
    fn inner_event(&self, method: &'static str, host: &str, path: &str, extra: &str) -> EventKind {
        if self.deployment == Deployment::Archive && self.layout.all_fetch() {
            let url = format!("{host}{path}?{}={}{extra}", self.layout.id_key, self.id);
            EventKind::Fetch { url, status: 200 }
        } else {
            EventKind::Rpc { method }
        }
    }

    /// `direct`: the origin DO fetches itself; returns its legs and when it answered.
    fn direct(&self, arrive: f64, fetch: f64, rng: &mut Rng) -> (Vec<Leg>, f64) {
        let m = self.m;
        let (_, cold_wall, _) = cold(rng, m, self.cold_start);
        let wall = cold_wall + fetch + draw(rng, m.direct_overhead);
        let cpu = draw(rng, m.direct_cpu);
        let logs = self.origin_logs("direct fetch done");
        let t = Timing {
            ts: arrive,
            wall,
            cpu,
        };
        let origin = self.leg(Role::Origin, t, self.origin_event(), logs);
        (vec![origin], arrive + wall)
    }

    /// The proxies: the origin dispatches, (the orchestrator forwards,) the
    /// executor fetches and calls the origin back.
    fn proxied(&self, arrive: f64, fetch: f64, rng: &mut Rng) -> (Vec<Leg>, f64) {
        let m = self.m;
        let (cold_delay, cold_wall, cold_cpu) = cold(rng, m, self.cold_start);
        let dispatch = Timing {
            ts: arrive,
            wall: cold_wall + draw(rng, m.dispatch_wall),
            cpu: draw(rng, m.dispatch_cpu),
        };
        let logs = self.origin_logs("proxy fetch dispatched");
        let mut legs = vec![self.leg(Role::Origin, dispatch, self.origin_event(), logs)];
        let mut exec_start = arrive + draw(rng, self.hop());
        if self.approach == Approach::Current {
            let (leg, forwarded) = self.orchestrator(exec_start, rng);
            legs.push(leg);
            exec_start = forwarded;
        }
        // A cold chain's executor starts late, as in the capture's first requests.
        let done = self.execute(exec_start + cold_delay, fetch, cold_cpu, &mut legs, rng);
        drop_legs(&mut legs, m, rng);
        (legs, done)
    }

    fn hop(&self) -> LogNormal {
        if self.approach == Approach::RpcTarget {
            self.m.rpc_target_hop
        } else {
            self.m.hop
        }
    }

    /// `current`'s orchestrator DO; returns its leg and when the executor starts.
    fn orchestrator(&self, start: f64, rng: &mut Rng) -> (Leg, f64) {
        let m = self.m;
        let t = Timing {
            ts: start,
            wall: draw(rng, m.orchestrator_wall),
            cpu: draw(rng, m.orchestrator_cpu),
        };
        let n = self.layout.names();
        let event = self.inner_event(
            self.names.orchestrator_method,
            n.orchestrator_host,
            n.orchestrator_path,
            "",
        );
        let leg = self.leg(
            Role::Orchestrator,
            t,
            event,
            vec![self.log("forwarding to executor")],
        );
        (leg, start + draw(rng, m.orchestrator_forward))
    }

    /// The executor's fetch and the origin's callback leg; returns when both ended.
    fn execute(
        &self,
        start: f64,
        fetch: f64,
        cold_cpu: f64,
        legs: &mut Vec<Leg>,
        rng: &mut Rng,
    ) -> f64 {
        let m = self.m;
        let callback_start = start + fetch + draw(rng, m.callback_hop);
        let callback_wall = draw(rng, m.callback_wall);
        let end = callback_start + callback_wall + draw(rng, m.executor_tail);
        let executor = Timing {
            ts: start,
            wall: end - start,
            cpu: cold_cpu + draw(rng, m.executor_cpu),
        };
        let target = format!("https://slow.example.net/delay/{}", self.delay_ms);
        let log = match self.deployment {
            Deployment::Archive if self.layout.id_in_logs() => format!(
                r#"{{"message":"fetch complete","data":{{"{}":"{}","target":"{target}","status":200}}}}"#,
                self.layout.id_key, self.id
            ),
            Deployment::Archive => format!(
                r#"{{"message":"fetch complete","data":{{"target":"{target}","status":200}}}}"#
            ),
            Deployment::TailLab => self.log("fetch complete"),
        };
        let n = self.layout.names();
        let encoded = target.replace(':', "%3A").replace('/', "%2F");
        let event = self.inner_event(
            self.names.executor_method,
            n.executor_host,
            n.executor_path,
            &format!("&target={encoded}"),
        );
        let mut leg = self.leg(Role::Executor, executor, event, vec![log]);
        if rng.chance(m.executor_exception_probability) {
            leg.outcome = "exception";
            if let EventKind::Fetch { status, .. } = &mut leg.event {
                *status = 500;
            }
        }
        legs.push(leg);
        let callback = Timing {
            ts: callback_start,
            wall: callback_wall,
            cpu: draw(rng, m.callback_cpu),
        };
        let n = self.layout.names();
        let event = self.inner_event(
            self.names.callback_method,
            n.origin_host,
            n.callback_path,
            "",
        );
        legs.push(self.leg(
            Role::Callback,
            callback,
            event,
            vec![self.log("result received")],
        ));
        end.max(callback_start + callback_wall)
    }

    /// The lab's controller DO triggers each request: a leg of the same
    /// script that is not part of it.
    fn controller(&self, send: i64, recv: i64) -> Leg {
        let (approach, id) = (self.approach.name(), &self.id);
        Leg {
            ts: send,
            wall: recv - send,
            cpu: 2,
            script: "proxy-lab",
            entrypoint: "ControllerDO",
            durable_object: true,
            event: EventKind::Fetch {
                url: format!(
                    "https://proxy-lab.example.workers.dev/run?approach={approach}&reqId={id}"
                ),
                status: 200,
            },
            logs: vec![format!(r#"{{"event":"run","reqId":"{id}"}}"#)],
            role: Role::Background,
            request: None,
            colo: Some(self.colo),
            outcome: "ok",
        }
    }
}

/// A proxied request may lose one leg in transit (a request missing a leg).
fn drop_legs(legs: &mut Vec<Leg>, m: &Model, rng: &mut Rng) {
    if rng.chance(m.missing_origin_probability) {
        legs.remove(0);
    } else if rng.chance(m.missing_leg_probability) {
        let i = 1 + rng.below(legs.len() - 1);
        legs.remove(i);
    }
}

/// What one request's legs are called: its scripts, entrypoints and methods.
struct LegNames {
    script_origin: &'static str,
    script_orchestrator: &'static str,
    script_executor: &'static str,
    origin: &'static str,
    orchestrator: &'static str,
    executor: &'static str,
    origin_method: &'static str,
    orchestrator_method: &'static str,
    executor_method: &'static str,
    callback_method: &'static str,
}

impl LegNames {
    fn of(deployment: Deployment, n: &Names, approach: Approach) -> Self {
        match deployment {
            Deployment::Archive => LegNames {
                script_origin: n.origin_script,
                script_orchestrator: n.orchestrator_script,
                script_executor: n.executor_script,
                origin: n.origin,
                orchestrator: n.orchestrator,
                executor: if approach == Approach::RpcTarget {
                    n.executor_target
                } else {
                    n.executor
                },
                origin_method: n.origin_methods[approach as usize],
                orchestrator_method: n.orchestrator_method,
                executor_method: n.executor_method,
                callback_method: n.callback_method,
            },
            Deployment::TailLab => LegNames {
                script_origin: "proxy-lab",
                script_orchestrator: "proxy-lab",
                script_executor: "proxy-lab",
                origin: "OriginDO",
                orchestrator: "OrchestratorDO",
                executor: "FetchExecutorEntrypoint",
                origin_method: match approach {
                    Approach::Direct => "fetchDirect",
                    Approach::Current => "proxyFetch",
                    Approach::Simple | Approach::RpcTarget => "proxyFetchSimple",
                },
                orchestrator_method: "enqueue",
                executor_method: "execute",
                callback_method: "onFetchResult",
            },
        }
    }
}

/// Traffic that is not part of the experiment and must be told apart.
fn background(
    sc: &mut Scenario,
    m: &Model,
    deployment: Deployment,
    names: &Names,
    end_ms: i64,
    rng: &mut Rng,
) {
    let start = m.start_ms - 60_000;
    let legs = match deployment {
        Deployment::Archive => archive_background(m, names, start, end_ms, rng),
        Deployment::TailLab => poisson(start, end_ms, 20.0, rng)
            .into_iter()
            .map(|t| {
                let event = EventKind::Fetch {
                    url: "https://proxy-lab.example.workers.dev/dashboard".into(),
                    status: 200,
                };
                let log = r#"{"event":"dashboard","note":"braces } { inside"}"#;
                LAB_DASHBOARD.leg(t, event, vec![log.into()], rng)
            })
            .collect(),
    };
    sc.legs.extend(legs);
}

/// The archive's other scripts: a marketing site, the origin's alarms and
/// dashboard, and a cron Worker.
fn archive_background(m: &Model, n: &Names, start: i64, end_ms: i64, rng: &mut Rng) -> Vec<Leg> {
    let marketing = Noise {
        script: n.marketing_script,
        ..MARKETING
    };
    let alarm = Noise {
        script: n.origin_script,
        entrypoint: n.origin,
        ..ALARM
    };
    let dashboard = Noise {
        script: n.origin_script,
        entrypoint: n.dashboard,
        ..DASHBOARD
    };
    let cron = Noise {
        script: n.cron_script,
        ..CRON
    };
    let mut out = Vec::new();
    for t in poisson(start, end_ms, m.noise_fetch_every_s, rng) {
        let page = ["/", "/pricing", "/blog/durable-objects", "/about"][rng.below(4)];
        let event = EventKind::Fetch {
            url: format!("{}{page}", n.marketing_host),
            status: 200,
        };
        out.push(marketing.leg(t, event, Vec::new(), rng));
    }
    for t in poisson(start, end_ms, m.noise_alarm_every_s, rng) {
        let event = EventKind::Alarm {
            scheduled_ms: t - 3,
        };
        let log = r#"{"message":"alarm: compacting results"}"#;
        out.push(alarm.leg(t, event, vec![log.into()], rng));
    }
    for t in poisson(start, end_ms, m.noise_dashboard_every_s, rng) {
        let event = EventKind::Fetch {
            url: format!("{}{}", n.origin_host, n.dashboard_path),
            status: 200,
        };
        let log = r#"{"message":"stats served"}"#;
        out.push(dashboard.leg(t, event, vec![log.into()], rng));
    }
    let period = m.cron_every_s * 1000;
    let mut t = start - start.rem_euclid(period) + period;
    while t < end_ms {
        let event = EventKind::Scheduled {
            cron: "*/5 * * * *",
            scheduled_ms: t,
        };
        out.push(cron.leg(t + 40, event, vec!["cleanup: 0 rows".into()], rng));
        t += period;
    }
    out
}

/// Event times from `start` until `end_ms` of a Poisson process with the given mean spacing.
fn poisson(start: i64, end_ms: i64, every_s: f64, rng: &mut Rng) -> Vec<i64> {
    let mut times = Vec::new();
    let mut t = start as f64;
    loop {
        t += rng.exponential(every_s * 1000.0);
        if t >= end_ms as f64 {
            break times;
        }
        times.push(t as i64);
    }
}

/// CPU time of a background leg: drawn, or a fixed number of ms.
enum Cpu {
    Drawn(LogNormal),
    Fixed(i64),
}

/// One source of background traffic: where it runs and how long it takes.
struct Noise {
    script: &'static str,
    entrypoint: &'static str,
    durable_object: bool,
    wall: LogNormal,
    cpu: Cpu,
}

const MARKETING: Noise = Noise {
    script: CLASSIC.marketing_script,
    entrypoint: "",
    durable_object: false,
    wall: LogNormal::new(30.0, 0.5),
    cpu: Cpu::Drawn(LogNormal::new(2.0, 0.4)),
};
const ALARM: Noise = Noise {
    script: CLASSIC.origin_script,
    entrypoint: CLASSIC.origin,
    durable_object: true,
    wall: LogNormal::new(5.0, 0.4),
    cpu: Cpu::Fixed(1),
};
const DASHBOARD: Noise = Noise {
    script: CLASSIC.origin_script,
    entrypoint: CLASSIC.dashboard,
    durable_object: true,
    wall: LogNormal::new(12.0, 0.4),
    cpu: Cpu::Fixed(3),
};
const CRON: Noise = Noise {
    script: CLASSIC.cron_script,
    entrypoint: "",
    durable_object: false,
    wall: LogNormal::new(200.0, 0.3),
    cpu: Cpu::Drawn(LogNormal::new(15.0, 0.3)),
};
const LAB_DASHBOARD: Noise = Noise {
    script: "proxy-lab",
    entrypoint: "DashboardDO",
    durable_object: true,
    wall: LogNormal::new(10.0, 0.4),
    cpu: Cpu::Fixed(2),
};

impl Noise {
    fn leg(&self, ts: i64, event: EventKind, logs: Vec<String>, rng: &mut Rng) -> Leg {
        let wall = ms(draw(rng, self.wall));
        let cpu = match self.cpu {
            Cpu::Drawn(d) => ms(draw(rng, d)).max(1),
            Cpu::Fixed(ms) => ms,
        };
        Leg {
            ts,
            wall,
            cpu,
            script: self.script,
            entrypoint: self.entrypoint,
            durable_object: self.durable_object,
            event,
            logs,
            role: Role::Background,
            request: None,
            colo: None,
            outcome: "ok",
        }
    }
}
