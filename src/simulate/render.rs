//! Writes a leg as Cloudflare would: a Logpush line (PascalCase, keys sorted,
//! one line) or a `wrangler tail --format json` object (camelCase).

use serde_json::{json, Value};

use super::model::Model;
use super::scenario::{EventKind, Leg};

/// What a failed invocation reports, as (name, message).
const EXCEPTION: (&str, &str) = ("Error", "fetch failed: upstream connection reset");

fn ray_id(leg: &Leg) -> String {
    format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(format!("{}{}{}", leg.ts, leg.script, leg.wall).as_bytes())
    )
}

/// A fetch request's `cf` object: the colo, when the leg has one.
fn cf(leg: &Leg) -> Option<Value> {
    leg.colo.map(|colo| json!({ "colo": colo }))
}

pub fn logpush_line(leg: &Leg, model: &Model) -> String {
    let event = match &leg.event {
        EventKind::Fetch { url, status } => {
            let mut request = json!({"Method": "GET", "URL": url});
            if let Some(cf) = cf(leg) {
                request["cf"] = cf;
            }
            json!({
                "RayID": ray_id(leg),
                "Request": request,
                "Response": {"Status": status},
            })
        }
        EventKind::Rpc { method } => json!({"rpcMethod": method}),
        EventKind::Alarm { scheduled_ms } => json!({"ScheduledTimeMs": scheduled_ms}),
        EventKind::Scheduled { cron, scheduled_ms } => {
            json!({"Cron": cron, "ScheduledTimeMs": scheduled_ms})
        }
    };
    let logs: Vec<Value> = leg
        .logs
        .iter()
        .map(|m| json!({"Level": "log", "Message": [m], "TimestampMs": leg.ts + 1}))
        .collect();
    let exceptions: Vec<Value> = failed(leg)
        .map(|(name, message)| json!({"Name": name, "Message": message, "TimestampMs": leg.ts + leg.wall}))
        .into_iter()
        .collect();
    // serde_json's map keeps keys sorted, as Logpush writes them.
    json!({
        "CPUTimeMs": leg.cpu,
        "DiagnosticsChannelEvents": [],
        "DispatchNamespace": "",
        "Entrypoint": leg.entrypoint,
        "Event": event,
        "EventTimestampMs": leg.ts,
        "EventType": leg.event.event_type(),
        "Exceptions": exceptions,
        "ExecutionModel": if leg.durable_object { "durableObject" } else { "stateless" },
        "Logs": logs,
        "Outcome": leg.outcome,
        "ScriptName": leg.script,
        "ScriptTags": [],
        "ScriptVersion": {"ID": model.version(leg.script, leg.ts)},
        "Truncated": false,
        "WallTimeMs": leg.wall,
    })
    .to_string()
}

/// The exception a leg that did not end `ok` reports.
fn failed(leg: &Leg) -> Option<(&'static str, &'static str)> {
    (leg.outcome != "ok").then_some(EXCEPTION)
}

pub fn tail_object(leg: &Leg, model: &Model) -> Value {
    let event = match &leg.event {
        EventKind::Fetch { url, status } => {
            let mut request =
                json!({"url": url, "method": "GET", "headers": {"user-agent": "proxy-lab-client"}});
            if let Some(cf) = cf(leg) {
                request["cf"] = cf;
            }
            json!({"request": request, "response": {"status": status}})
        }
        EventKind::Rpc { method } => json!({"rpcMethod": method}),
        EventKind::Alarm { scheduled_ms } => json!({"scheduledTime": scheduled_ms}),
        EventKind::Scheduled { cron, scheduled_ms } => {
            json!({"cron": cron, "scheduledTime": scheduled_ms})
        }
    };
    let logs: Vec<Value> = leg
        .logs
        .iter()
        .map(|m| json!({"message": [m], "level": "log", "timestamp": leg.ts + 1}))
        .collect();
    let exceptions: Vec<Value> = failed(leg)
        .map(|(name, message)| json!({"name": name, "message": message, "timestamp": leg.ts + leg.wall}))
        .into_iter()
        .collect();
    json!({
        "wallTime": leg.wall,
        "cpuTime": leg.cpu,
        "truncated": false,
        "executionModel": if leg.durable_object { "durableObject" } else { "stateless" },
        "outcome": leg.outcome,
        "scriptVersion": {"id": model.version(leg.script, leg.ts)},
        "scriptName": leg.script,
        "diagnosticsChannelEvents": [],
        "exceptions": exceptions,
        "logs": logs,
        "eventTimestamp": leg.ts,
        "event": event,
        "entrypoint": leg.entrypoint,
        "scriptTags": [],
    })
}
