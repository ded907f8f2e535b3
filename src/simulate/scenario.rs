//! Generates the legs of every request and the background traffic, following
//! the model, for one of two deployments: the multi-script one behind the
//! Logpush archive and the single-script lab behind the tail capture.

use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::Distribution;
use serde::Serialize;

use super::model::{LogNormal, Model};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Approach {
    #[serde(rename = "direct")]
    Direct,
    #[serde(rename = "current")]
    Current,
    #[serde(rename = "simple")]
    Simple,
    #[serde(rename = "rpc-target")]
    RpcTarget,
}

impl Approach {
    pub fn name(self) -> &'static str {
        match self {
            Approach::Direct => "direct",
            Approach::Current => "current",
            Approach::Simple => "simple",
            Approach::RpcTarget => "rpc-target",
        }
    }

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
#[serde(rename_all = "lowercase")]
pub enum Role {
    Origin,
    Orchestrator,
    Executor,
    Callback,
    Background,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Origin => "origin",
            Role::Orchestrator => "orchestrator",
            Role::Executor => "executor",
            Role::Callback => "callback",
            Role::Background => "background",
        }
    }

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
}

#[derive(Debug, Clone)]
pub struct Request {
    pub req_id: Option<String>,
    pub approach: Approach,
    pub delay_ms: i64,
    pub client_send_ms: i64,
    pub client_recv_ms: i64,
    pub run_id: String,
    /// Indices into the scenario's legs; dropped legs are not listed.
    pub legs: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// Several scripts; reqId in the origin URL and in JSON logs; delay in the URL.
    Archive,
    /// One script `proxy-lab` as seen by `wrangler tail`; reqId in JSON logs only.
    TailLab,
}

pub struct Scenario {
    pub legs: Vec<Leg>,
    pub requests: Vec<Request>,
}

pub const ARCHIVE_HOST: &str = "https://experiment.example.com";
pub const TAIL_LAB_DELAY_MS: i64 = 1000;

fn draw(rng: &mut StdRng, d: LogNormal) -> f64 {
    rand_distr::LogNormal::new(d.median.ln(), d.sigma)
        .expect("valid log-normal")
        .sample(rng)
}

fn ms(x: f64) -> i64 {
    x.round().max(0.0) as i64
}

/// Extra wall and CPU time when a leg starts cold.
fn cold(rng: &mut StdRng, m: &Model) -> (f64, f64) {
    if rng.gen::<f64>() < m.cold_start_probability {
        (draw(rng, m.cold_start_wall), draw(rng, m.cold_start_cpu))
    } else {
        (0.0, 0.0)
    }
}

pub fn generate(
    model: &Model,
    deployment: Deployment,
    approaches: &[Approach],
    rng: &mut StdRng,
) -> Scenario {
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
        for run in 0..model.runs {
            for &delay in &delays {
                for &approach in approaches {
                    let run_id = format!("lane{lane}-run{run}");
                    let recv = request(&mut sc, model, deployment, approach, delay, t, run_id, rng);
                    t = recv + model.gap_ms;
                }
            }
        }
        end_ms = end_ms.max(t);
    }
    background(&mut sc, model, deployment, end_ms, rng);
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

#[allow(clippy::too_many_arguments)]
fn request(
    sc: &mut Scenario,
    m: &Model,
    deployment: Deployment,
    approach: Approach,
    delay: i64,
    send: i64,
    run_id: String,
    rng: &mut StdRng,
) -> i64 {
    let index = sc.requests.len();
    let id: String = format!("{:012x}", rng.gen::<u64>() & 0xffff_ffff_ffff);
    let names = Names::of(deployment, approach);
    let has_id = approach != Approach::Direct || deployment == Deployment::TailLab;
    let json_id = |message: &str| match deployment {
        Deployment::Archive => format!(r#"{{"message":"{message}","data":{{"reqId":"{id}"}}}}"#),
        Deployment::TailLab => format!(
            r#"{{"event":"{message}","reqId":"{id}","approach":"{}"}}"#,
            approach.name()
        ),
    };
    let mut legs: Vec<Leg> = Vec::new();
    let arrive = send as f64 + draw(rng, m.client_net);
    let fetch = delay as f64 + draw(rng, m.endpoint_jitter);
    let leg = |ts: f64,
               wall: f64,
               cpu: f64,
               role: Role,
               script,
               entrypoint,
               durable_object,
               event,
               logs| Leg {
        ts: ms(ts),
        wall: ms(wall),
        cpu: ms(cpu).max(1),
        script,
        entrypoint,
        durable_object,
        event,
        logs,
        role,
        request: Some(index),
    };
    let origin_event = match deployment {
        Deployment::Archive => {
            let query = if has_id {
                format!("delay={delay}&reqId={id}")
            } else {
                format!("delay={delay}")
            };
            EventKind::Fetch {
                url: format!("{ARCHIVE_HOST}/experiment/{}?{query}", approach.name()),
                status: 200,
            }
        }
        Deployment::TailLab => EventKind::Rpc {
            method: names.origin_method,
        },
    };
    let done;
    if approach == Approach::Direct {
        let (cold_wall, cold_cpu) = cold(rng, m);
        let wall = cold_wall + fetch + draw(rng, m.direct_overhead);
        let cpu = cold_cpu + draw(rng, m.direct_cpu);
        let logs = if has_id {
            vec![json_id("direct fetch done")]
        } else {
            Vec::new()
        };
        legs.push(leg(
            arrive,
            wall,
            cpu,
            Role::Origin,
            names.script_origin,
            "OriginDO",
            true,
            origin_event,
            logs,
        ));
        done = arrive + wall;
    } else {
        let (cold_wall, cold_cpu) = cold(rng, m);
        let dispatch = cold_wall + draw(rng, m.dispatch_wall);
        let origin_cpu = cold_cpu + draw(rng, m.dispatch_cpu);
        legs.push(leg(
            arrive,
            dispatch,
            origin_cpu,
            Role::Origin,
            names.script_origin,
            "OriginDO",
            true,
            origin_event,
            vec![json_id("proxy fetch dispatched")],
        ));
        let hop = if approach == Approach::RpcTarget {
            m.rpc_target_hop
        } else {
            m.hop
        };
        let mut exec_start = arrive + cold_wall + draw(rng, hop);
        if approach == Approach::Current {
            let (cold_wall, cold_cpu) = cold(rng, m);
            let orch_start = exec_start;
            let wall = cold_wall + draw(rng, m.orchestrator_wall);
            let cpu = cold_cpu + draw(rng, m.orchestrator_cpu);
            legs.push(leg(
                orch_start,
                wall,
                cpu,
                Role::Orchestrator,
                names.script_orchestrator,
                names.orchestrator,
                true,
                EventKind::Rpc {
                    method: names.orchestrator_method,
                },
                vec![json_id("forwarding to executor")],
            ));
            exec_start = orch_start + cold_wall + draw(rng, m.orchestrator_forward);
        }
        let (cold_wall, cold_cpu) = cold(rng, m);
        let callback_start = exec_start + cold_wall + fetch + draw(rng, hop);
        let callback_wall = draw(rng, m.callback_wall);
        let exec_end = callback_start + callback_wall + draw(rng, m.executor_tail);
        let exec_cpu = cold_cpu + draw(rng, m.executor_cpu);
        let executor_log = match deployment {
            Deployment::Archive => format!(
                r#"{{"message":"fetch complete","data":{{"reqId":"{id}","target":"https://slow.example.net/delay/{delay}","status":200}}}}"#
            ),
            Deployment::TailLab => json_id("fetch complete"),
        };
        legs.push(leg(
            exec_start,
            exec_end - exec_start,
            exec_cpu,
            Role::Executor,
            names.script_executor,
            names.executor,
            false,
            EventKind::Rpc {
                method: names.executor_method,
            },
            vec![executor_log],
        ));
        let callback_cpu = draw(rng, m.callback_cpu);
        legs.push(leg(
            callback_start,
            callback_wall,
            callback_cpu,
            Role::Callback,
            names.script_origin,
            "OriginDO",
            true,
            EventKind::Rpc {
                method: "onFetchResult",
            },
            vec![json_id("result received")],
        ));
        done = exec_end.max(callback_start + callback_wall);
        drop_legs(&mut legs, m, rng);
    }
    if approach == Approach::Direct && rng.gen::<f64>() < m.missing_origin_probability {
        legs.clear();
    }
    let recv = ms(done + draw(rng, m.client_net));
    if deployment == Deployment::TailLab {
        // The lab's controller DO triggers each request: a leg of the same script that is not part of it.
        let url = format!(
            "https://proxy-lab.example.workers.dev/run?approach={}&reqId={id}",
            approach.name()
        );
        sc.legs.push(Leg {
            ts: send,
            wall: recv - send,
            cpu: 2,
            script: "proxy-lab",
            entrypoint: "ControllerDO",
            durable_object: true,
            event: EventKind::Fetch { url, status: 200 },
            logs: vec![format!(r#"{{"event":"run","reqId":"{id}"}}"#)],
            role: Role::Background,
            request: None,
        });
    }
    sc.legs.extend(legs);
    sc.requests.push(Request {
        req_id: has_id.then_some(id),
        approach,
        delay_ms: delay,
        client_send_ms: send,
        client_recv_ms: recv,
        run_id,
        legs: Vec::new(),
    });
    recv
}

/// A proxied request may lose one leg in transit (a request missing a leg).
fn drop_legs(legs: &mut Vec<Leg>, m: &Model, rng: &mut StdRng) {
    if rng.gen::<f64>() < m.missing_origin_probability {
        legs.remove(0);
    } else if rng.gen::<f64>() < m.missing_leg_probability {
        let i = rng.gen_range(1..legs.len());
        legs.remove(i);
    }
}

struct Names {
    script_origin: &'static str,
    script_orchestrator: &'static str,
    script_executor: &'static str,
    orchestrator: &'static str,
    executor: &'static str,
    origin_method: &'static str,
    orchestrator_method: &'static str,
    executor_method: &'static str,
}

impl Names {
    fn of(deployment: Deployment, approach: Approach) -> Self {
        match deployment {
            Deployment::Archive => Names {
                script_origin: "experiment-origin",
                script_orchestrator: "proxy-orchestrator",
                script_executor: "proxy-executor",
                orchestrator: "Orchestrator",
                executor: if approach == Approach::RpcTarget {
                    "FetchExecutorTarget"
                } else {
                    "FetchExecutor"
                },
                origin_method: "",
                orchestrator_method: "enqueueFetch",
                executor_method: "executeFetch",
            },
            Deployment::TailLab => Names {
                script_origin: "proxy-lab",
                script_orchestrator: "proxy-lab",
                script_executor: "proxy-lab",
                orchestrator: "OrchestratorDO",
                executor: "FetchExecutorEntrypoint",
                origin_method: match approach {
                    Approach::Direct => "fetchDirect",
                    Approach::Current => "proxyFetch",
                    Approach::Simple | Approach::RpcTarget => "proxyFetchSimple",
                },
                orchestrator_method: "enqueue",
                executor_method: "execute",
            },
        }
    }
}

/// Traffic that is not part of the experiment and must be told apart.
fn background(sc: &mut Scenario, m: &Model, deployment: Deployment, end_ms: i64, rng: &mut StdRng) {
    let start = m.start_ms - 60_000;
    // Event times of a Poisson process with the given mean spacing.
    let poisson = |every_s: f64, rng: &mut StdRng| {
        let mut times = Vec::new();
        let mut t = start as f64;
        loop {
            t += -every_s * 1000.0 * (1.0 - rng.gen::<f64>()).ln();
            if t >= end_ms as f64 {
                break times;
            }
            times.push(t as i64);
        }
    };
    let bg = |ts, wall, cpu, script, entrypoint, durable_object, event, logs| Leg {
        ts,
        wall,
        cpu,
        script,
        entrypoint,
        durable_object,
        event,
        logs,
        role: Role::Background,
        request: None,
    };
    let mut out = Vec::new();
    match deployment {
        Deployment::Archive => {
            for t in poisson(m.noise_fetch_every_s, rng) {
                let page =
                    ["/", "/pricing", "/blog/durable-objects", "/about"][rng.gen_range(0..4)];
                out.push(bg(
                    t,
                    ms(draw(rng, LogNormal::new(30.0, 0.5))),
                    ms(draw(rng, LogNormal::new(2.0, 0.4))).max(1),
                    "marketing-site",
                    "",
                    false,
                    EventKind::Fetch {
                        url: format!("https://www.example.com{page}"),
                        status: 200,
                    },
                    Vec::new(),
                ));
            }
            for t in poisson(m.noise_alarm_every_s, rng) {
                out.push(bg(
                    t,
                    ms(draw(rng, LogNormal::new(5.0, 0.4))),
                    1,
                    "experiment-origin",
                    "OriginDO",
                    true,
                    EventKind::Alarm {
                        scheduled_ms: t - 3,
                    },
                    vec![r#"{"message":"alarm: compacting results"}"#.into()],
                ));
            }
            for t in poisson(m.noise_dashboard_every_s, rng) {
                out.push(bg(
                    t,
                    ms(draw(rng, LogNormal::new(12.0, 0.4))),
                    3,
                    "experiment-origin",
                    "DashboardDO",
                    true,
                    EventKind::Fetch {
                        url: format!("{ARCHIVE_HOST}/dashboard/stats"),
                        status: 200,
                    },
                    vec![r#"{"message":"stats served"}"#.into()],
                ));
            }
            let mut t = start - start.rem_euclid(m.cron_every_s * 1000) + m.cron_every_s * 1000;
            while t < end_ms {
                out.push(bg(
                    t + 40,
                    ms(draw(rng, LogNormal::new(200.0, 0.3))),
                    ms(draw(rng, LogNormal::new(15.0, 0.3))),
                    "nightly-cleanup",
                    "",
                    false,
                    EventKind::Scheduled {
                        cron: "*/5 * * * *",
                        scheduled_ms: t,
                    },
                    vec!["cleanup: 0 rows".into()],
                ));
                t += m.cron_every_s * 1000;
            }
        }
        Deployment::TailLab => {
            for t in poisson(20.0, rng) {
                out.push(bg(
                    t,
                    ms(draw(rng, LogNormal::new(10.0, 0.4))),
                    2,
                    "proxy-lab",
                    "DashboardDO",
                    true,
                    EventKind::Fetch {
                        url: "https://proxy-lab.example.workers.dev/dashboard".into(),
                        status: 200,
                    },
                    vec![r#"{"event":"dashboard","note":"braces } { inside"}"#.into()],
                ));
            }
        }
    }
    sc.legs.extend(out);
}
