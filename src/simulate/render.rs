//! Writes a leg as Cloudflare would: a Logpush line (PascalCase, keys sorted,
//! one line) or a `wrangler tail --format json` object (camelCase).

use serde_json::{json, Value};

use super::scenario::{EventKind, Leg};

const SCRIPT_VERSION: &str = "620b3c5e-8f7d-4a51-9c1e-2f4b7d9e0a13";

fn ray_id(leg: &Leg) -> String {
    format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(format!("{}{}{}", leg.ts, leg.script, leg.wall).as_bytes())
    )
}

pub fn logpush_line(leg: &Leg) -> String {
    let event = match &leg.event {
        EventKind::Fetch { url, status } => json!({
            "RayID": ray_id(leg),
            "Request": {"Method": "GET", "URL": url},
            "Response": {"Status": status},
        }),
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
    // serde_json's map keeps keys sorted, as Logpush writes them.
    json!({
        "CPUTimeMs": leg.cpu,
        "DiagnosticsChannelEvents": [],
        "DispatchNamespace": "",
        "Entrypoint": leg.entrypoint,
        "Event": event,
        "EventTimestampMs": leg.ts,
        "EventType": leg.event.event_type(),
        "Exceptions": [],
        "ExecutionModel": if leg.durable_object { "durableObject" } else { "stateless" },
        "Logs": logs,
        "Outcome": "ok",
        "ScriptName": leg.script,
        "ScriptTags": [],
        "ScriptVersion": {"ID": SCRIPT_VERSION},
        "Truncated": false,
        "WallTimeMs": leg.wall,
    })
    .to_string()
}

pub fn tail_object(leg: &Leg) -> Value {
    let event = match &leg.event {
        EventKind::Fetch { url, status } => json!({
            "request": {"url": url, "method": "GET", "headers": {"user-agent": "proxy-lab-client"}, "cf": {"colo": "AMS"}},
            "response": {"status": status},
        }),
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
    json!({
        "wallTime": leg.wall,
        "cpuTime": leg.cpu,
        "truncated": false,
        "executionModel": if leg.durable_object { "durableObject" } else { "stateless" },
        "outcome": "ok",
        "scriptVersion": {"id": SCRIPT_VERSION},
        "scriptName": leg.script,
        "diagnosticsChannelEvents": [],
        "exceptions": [],
        "logs": logs,
        "eventTimestamp": leg.ts,
        "event": event,
        "entrypoint": leg.entrypoint,
        "scriptTags": [],
    })
}
