//! `tracecost simulate`: a Logpush archive and a tail capture of the proxy
//! fetch experiment, generated from the documented model in `model.rs`, with
//! the ground truth that tests compare the pipeline against. `layout.rs` lays
//! the archive's deployment out as others might (names, where the id and the
//! approach sit); the default writes the bytes it always did.
//!
//! Output folder:
//! ```text
//! logpush/YYYYMMDD/<start>_<end>_<hex>.log.gz   the archive (deployment with several scripts)
//! run-manifest.csv                              the client's request windows and latencies
//! truth/requests.csv, groups.csv, legs.csv      metrics by experiment.md's definitions
//! truth/segments.csv, cold.csv                  means per colo and script version, per cold-start flag
//! truth/delivery.csv                            Logpush delivery delay per event day
//! truth/archive.json, model.json                delivery counts, parameters, seed
//! tail/capture.json                             `wrangler tail --format json` of a single-script lab
//! tail/logpush/...                              the same lab events as a Logpush object
//! tail/truth-requests.csv                       the lab's ground truth
//! ```

mod archive;
pub mod layout;
pub mod model;
mod render;
pub mod scenario;
mod truth;

use std::fs;
use std::path::Path;

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{SecondsFormat, TimeZone, Utc};
use serde::Serialize;

use crate::core::cost::Prices;
use crate::core::limits::event_time_in_range;
use crate::core::named::Named;
use crate::io::atomic::write_atomic;
use crate::stats::rng::Rng;
pub use layout::{ApproachIn, IdIn, Layout};
use model::Model;
use scenario::{Approach, Deployment, Given, Scenario};

const TAIL_LAB_RUNS: usize = 10;
const TAIL_DUPLICATE_PROBABILITY: f64 = 0.03;

/// What to simulate and where to write it.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder for the archive, tail capture, run manifest and ground truth.
    pub out: PathBuf,
    /// The same seed writes the same bytes.
    pub seed: u64,
    /// Requests per approach and delay.
    pub runs: usize,
    /// Multiplies requests and background traffic.
    pub scale: f64,
    /// Also simulate the optional `rpc-target` approach.
    pub rpc_target: bool,
    /// Where the archive's legs carry the id and approach, and their names.
    pub layout: Layout,
    /// A run manifest (`drive`'s): simulate the requests it lists instead of
    /// `runs` per approach and delay.
    pub manifest: Option<PathBuf>,
}

pub fn run(args: &Options) -> Result<()> {
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        anyhow::bail!("--scale {} must be a positive number", args.scale);
    }
    args.layout.check()?;
    let out = &args.out;
    // Read before clearing: a manifest that cannot be simulated leaves the folder as it was.
    let given = args.manifest.as_deref().map(given_requests).transpose()?;
    clear(out)?;
    let mut approaches = vec![Approach::Direct, Approach::Current, Approach::Simple];
    if args.rpc_target {
        approaches.push(Approach::RpcTarget);
    }
    let mut model =
        Model::new(args.runs, args.scale).with_origin_script(args.layout.names().origin_script);
    if let Some(given) = &given {
        approaches.retain(|a| given.iter().any(|g| g.approach == *a));
        let mut delays: Vec<i64> = given.iter().map(|g| g.delay_ms).collect();
        delays.sort_unstable();
        delays.dedup();
        model = model.for_requests(given[0].send_ms, delays);
    }
    let prices = Prices::default();
    let layout = &args.layout;
    let sim = Sim {
        model: &model,
        layout,
        approaches: &approaches,
        given: given.as_deref(),
        seed: args.seed,
    };
    let (sc, requests, counts) = archive(out, &prices, &sim)?;
    let mut meta = serde_json::json!({
        "seed": args.seed, "runs": args.runs, "scale": args.scale,
        "approaches": approaches, "prices": prices, "model": model,
        "requests": sc.requests.len(),
        "requests_complete": requests.iter().filter(|r| r.complete).count(),
        "requests_without_legs": requests.iter().filter(|r| r.legs == 0).count(),
        "requests_cold": requests.iter().filter(|r| r.cold_start).count(),
        "legs_not_ok": requests.iter().map(|r| r.legs_not_ok).sum::<i64>(),
        "background_events": sc.legs.iter().filter(|l| l.request.is_none()).count(),
        "expected": truth::expectations(&model, &prices, &approaches),
    });
    // Recorded only when it is not the default, which writes the bytes it always did.
    let recorded = (*layout != Layout::default()).then(|| layout.record());
    if let Some(l) = &recorded {
        meta["layout"] = l.clone();
    }
    let model_json = serde_json::to_string_pretty(&meta)? + "\n";
    write_atomic(&out.join("truth/model.json"), model_json.as_bytes())?;
    let archive_json = match recorded {
        Some(l) => {
            let mut v = serde_json::to_value(&counts)?;
            v["layout"] = l;
            serde_json::to_string_pretty(&v)? + "\n"
        }
        None => serde_json::to_string_pretty(&counts)? + "\n",
    };
    write_atomic(&out.join("truth/archive.json"), archive_json.as_bytes())?;

    let lab_requests = tail_lab(&out.join("tail"), args.seed, &prices)?;
    println!(
        "simulate: {} requests, {} events, {} lines in {} objects ({} duplicate, {} malformed, 1 test object) under {}",
        sc.requests.len(),
        counts.events,
        counts.lines,
        counts.objects,
        counts.duplicate_lines,
        counts.malformed_lines,
        out.join("logpush").display()
    );
    println!(
        "  tail capture of {lab_requests} lab requests: {}; ground truth: {}",
        out.join("tail/capture.json").display(),
        out.join("truth").display()
    );
    Ok(())
}

/// Removes what an earlier run wrote into `out`, and nothing else.
fn clear(out: &Path) -> Result<()> {
    for owned in ["logpush", "tail", "truth", "run-manifest.csv"] {
        let path = out.join(owned);
        if path.is_dir() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot clear {}", path.display()))?;
        } else if path.exists() {
            fs::remove_file(&path)?;
        }
    }
    fs::create_dir_all(out.join("truth"))
        .with_context(|| format!("cannot create {}", out.display()))
}

/// The multi-script deployment: its Logpush archive, run manifest and truth CSVs.
/// What the archive simulates.
struct Sim<'a> {
    model: &'a Model,
    layout: &'a Layout,
    approaches: &'a [Approach],
    given: Option<&'a [Given]>,
    seed: u64,
}

/// The requests a run manifest lists, in the order they were sent.
fn given_requests(path: &Path) -> Result<Vec<Given>> {
    let mut given = Vec::new();
    for w in crate::lake::run_manifest::load(path)? {
        // A day later than the start still has to be a time the lake takes.
        let end = w
            .start_ms
            .saturating_add(crate::core::limits::MAX_DURATION_MS);
        if !(event_time_in_range(w.start_ms) && event_time_in_range(end)) {
            anyhow::bail!(
                "run manifest {}: a request starts at {} ms since the epoch, outside 2010-2100 (less 30 days): simulate only models times the lake takes",
                path.display(),
                w.start_ms
            );
        }
        let approach = Approach::from_name(&w.approach).map_err(|_| {
            anyhow::anyhow!(
                "run manifest {}: approach `{}` is not one the simulator models (direct, current, simple, rpc-target)",
                path.display(),
                w.approach
            )
        })?;
        given.push(Given {
            approach,
            delay_ms: w.delay_ms,
            send_ms: w.start_ms,
            run_id: w.run_id.unwrap_or_default(),
            req_id: w.req_id,
        });
    }
    if given.is_empty() {
        anyhow::bail!("run manifest {} lists no request", path.display());
    }
    given.sort_by_key(|g| g.send_ms);
    Ok(given)
}

fn archive(
    out: &Path,
    prices: &Prices,
    sim: &Sim,
) -> Result<(Scenario, Vec<truth::RequestTruth>, archive::DeliveryCounts)> {
    let (model, layout, approaches, seed) = (sim.model, sim.layout, sim.approaches, sim.seed);
    let sc = match sim.given {
        Some(given) => scenario::generate_given(model, layout, given, seed),
        None => scenario::generate(model, Deployment::Archive, layout, approaches, seed),
    };
    let lines: Vec<archive::Line> = (sc.legs.iter())
        .map(|l| archive::Line {
            event_ms: l.ts,
            ended_ms: l.ts + l.wall,
            text: render::logpush_line(l, model),
        })
        .collect();
    let event_ids: Vec<u64> = lines
        .iter()
        .map(|l| xxhash_rust::xxh3::xxh3_64(l.text.as_bytes()))
        .collect();
    let delivery = &mut Rng::named(seed, &["simulate", "archive", "delivery"]);
    let (counts, delays) = archive::write(&out.join("logpush"), &lines, model, delivery)?;
    let requests = truth::requests(&sc, &event_ids, model, prices);
    truth::write_csv(&out.join("truth/requests.csv"), &requests)?;
    truth::write_csv(
        &out.join("truth/groups.csv"),
        &truth::groups(&requests, model, prices, approaches),
    )?;
    let segments = truth::slices(&requests, &truth::SEGMENTS);
    truth::write_csv(&out.join("truth/segments.csv"), &segments)?;
    let cold = truth::slices(&requests, &[truth::COLD]);
    truth::write_csv(&out.join("truth/cold.csv"), &cold)?;
    truth::write_csv(&out.join("truth/delivery.csv"), &delays)?;
    write_legs(&out.join("truth/legs.csv"), &sc, &event_ids)?;
    write_manifest(&out.join("run-manifest.csv"), &sc)?;
    Ok((sc, requests, counts))
}

/// The single-script lab seen through `wrangler tail`, also as a Logpush object.
fn tail_lab(dir: &Path, seed: u64, prices: &Prices) -> Result<usize> {
    let model = Model::new(TAIL_LAB_RUNS, 1.0);
    let approaches = [Approach::Direct, Approach::Current, Approach::Simple];
    let sc = scenario::generate(
        &model,
        Deployment::TailLab,
        &Layout::default(),
        &approaches,
        seed,
    );
    let rng = &mut Rng::named(seed, &["simulate", "tail-lab", "duplicates"]);
    let mut capture = String::new();
    let mut ndjson = String::new();
    for leg in &sc.legs {
        let copies = if rng.chance(TAIL_DUPLICATE_PROBABILITY) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let object = render::tail_object(leg, &model);
            capture.push_str(&serde_json::to_string_pretty(&object)?);
            capture.push('\n');
            ndjson.push_str(&render::logpush_line(leg, &model));
            ndjson.push('\n');
        }
    }
    fs::create_dir_all(dir)?;
    write_atomic(&dir.join("capture.json"), capture.as_bytes())?;
    let first = sc.legs.first().map_or(model.start_ms, |l| l.ts);
    let day = Utc
        .timestamp_millis_opt(first)
        .single()
        .expect("valid time")
        .format("%Y%m%d");
    let key = dir.join(format!(
        "logpush/{day}/{day}T000000Z_{day}T235959Z_7a117a11.log.gz"
    ));
    fs::create_dir_all(key.parent().expect("has folder"))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, ndjson.as_bytes())?;
    write_atomic(&key, &gz.finish()?)?;
    let ids: Vec<u64> = sc
        .legs
        .iter()
        .map(|l| xxhash_rust::xxh3::xxh3_64(render::logpush_line(l, &model).as_bytes()))
        .collect();
    let requests = truth::requests(&sc, &ids, &model, prices);
    truth::write_csv(&dir.join("truth-requests.csv"), &requests)?;
    Ok(requests.len())
}

#[derive(Serialize)]
struct LegTruth<'a> {
    event_id: String,
    request_id: &'a str,
    role: &'static str,
    approach: &'static str,
    delay_ms: Option<i64>,
    script: &'static str,
    entrypoint: &'static str,
    event_type: &'static str,
    ts: i64,
    wall: i64,
    cpu: i64,
}

fn write_legs(path: &Path, sc: &Scenario, event_ids: &[u64]) -> Result<()> {
    let ids: Vec<String> = sc
        .requests
        .iter()
        .map(|r| match (&r.req_id, r.legs.first()) {
            (Some(id), _) => id.clone(),
            (None, Some(&leg)) => format!("{:016x}", event_ids[leg]),
            (None, None) => String::new(),
        })
        .collect();
    let rows: Vec<LegTruth> = sc
        .legs
        .iter()
        .zip(event_ids)
        .map(|(l, id)| {
            let r = l.request.map(|r| &sc.requests[r]);
            LegTruth {
                event_id: format!("{id:016x}"),
                request_id: l.request.map_or("", |r| ids[r].as_str()),
                role: l.role.name(),
                approach: r.map_or("", |r| r.approach.name()),
                delay_ms: r.map(|r| r.delay_ms),
                script: l.script,
                entrypoint: l.entrypoint,
                event_type: l.event.event_type(),
                ts: l.ts,
                wall: l.wall,
                cpu: l.cpu,
            }
        })
        .collect();
    truth::write_csv(path, &rows)
}

#[derive(Serialize)]
struct ManifestRow<'a> {
    run_id: &'a str,
    approach: &'static str,
    delay_ms: i64,
    start: String,
    end: String,
    client_latency_ms: i64,
}

/// What the client that drove the run knows: one window per request.
fn write_manifest(path: &Path, sc: &Scenario) -> Result<()> {
    let iso = |ms: i64| {
        Utc.timestamp_millis_opt(ms)
            .single()
            .expect("valid time")
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    let rows: Vec<ManifestRow> = sc
        .requests
        .iter()
        .map(|r| ManifestRow {
            run_id: &r.run_id,
            approach: r.approach.name(),
            delay_ms: r.delay_ms,
            start: iso(r.client_send_ms),
            end: iso(r.client_recv_ms),
            client_latency_ms: r.client_recv_ms - r.client_send_ms,
        })
        .collect();
    truth::write_csv(path, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Model, Scenario) {
        let model = Model::new(30, 1.0);
        let approaches = [Approach::Direct, Approach::Current, Approach::Simple];
        let sc = scenario::generate(
            &model,
            Deployment::Archive,
            &Layout::default(),
            &approaches,
            7,
        );
        (model, sc)
    }

    #[test]
    fn chains_start_cold_at_the_first_request_and_after_each_pause() {
        let (model, sc) = sample();
        let cold: Vec<_> = sc.requests.iter().filter(|r| r.cold_start).collect();
        // 30 runs, a pause every 10: three chains per approach.
        assert_eq!(cold.len(), 3 * 3);
        assert!(cold.iter().all(|r| r.delay_ms == model.delays_ms[0]));
        let late = |r: &scenario::Request| {
            let legs: Vec<_> = r.legs.iter().map(|&i| &sc.legs[i]).collect();
            let origin = legs.iter().find(|l| l.role == scenario::Role::Origin);
            let executor = legs.iter().find(|l| l.role == scenario::Role::Executor);
            Some(executor?.ts - origin?.ts)
        };
        for r in &sc.requests {
            if let Some(gap) = late(r) {
                assert_eq!(gap > 1000, r.cold_start, "{r:?}: {gap} ms");
            }
        }
    }

    #[test]
    fn fetch_legs_carry_a_colo_and_the_origin_is_redeployed_mid_run() {
        let (model, sc) = sample();
        for leg in &sc.legs {
            let fetch = matches!(leg.event, scenario::EventKind::Fetch { .. });
            let origin = leg.role == scenario::Role::Origin;
            assert_eq!(leg.colo.is_some(), fetch && origin, "{leg:?}");
        }
        let colos: std::collections::BTreeSet<_> = sc.requests.iter().map(|r| r.colo).collect();
        assert_eq!(colos.len(), model.colos.len());
        let versions: std::collections::BTreeSet<_> = (sc.legs.iter())
            .filter(|l| l.script == "experiment-origin")
            .map(|l| model.version(l.script, l.ts))
            .collect();
        assert_eq!(versions.len(), 2, "{versions:?}");
        let failed = sc.legs.iter().filter(|l| l.outcome != "ok").count();
        assert!((1..20).contains(&failed), "{failed} legs not ok");
        assert!(sc
            .legs
            .iter()
            .filter(|l| l.outcome != "ok")
            .all(|l| l.role == scenario::Role::Executor));
    }

    #[test]
    fn a_layout_changes_names_and_places_never_a_number() {
        let (_, plain) = sample();
        let model = Model::new(30, 1.0);
        let approaches = [Approach::Direct, Approach::Current, Approach::Simple];
        let layout = Layout {
            id_in: IdIn::Url,
            approach_in: ApproachIn::Query,
            id_key: "traceId".into(),
            renamed: true,
        };
        let sc = scenario::generate(&model, Deployment::Archive, &layout, &approaches, 7);
        assert_eq!(sc.legs.len(), plain.legs.len());
        for (a, b) in sc.legs.iter().zip(&plain.legs) {
            let numbers = |l: &scenario::Leg| (l.ts, l.wall, l.cpu, l.role, l.request);
            assert_eq!(numbers(a), numbers(b));
            assert_eq!(a.outcome, b.outcome);
        }
        let ids = |s: &Scenario| {
            s.requests
                .iter()
                .map(|r| r.req_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&sc), ids(&plain));
        assert!(sc.legs.iter().all(|l| !l.script.starts_with("experiment")));
    }

    #[test]
    fn the_default_billing_leaves_out_only_the_worker_request_fee() {
        let (model, sc) = sample();
        let prices = Prices::default();
        let ids = vec![0; sc.legs.len()];
        for r in truth::requests(&sc, &ids, &model, &prices) {
            let fee = r.worker_invocations as f64 * prices.worker_request;
            let other = r.cost_other_billing_usd_per_million;
            assert!((other - r.cost_usd_per_million - fee).abs() < 1e-9, "{r:?}");
        }
    }

    #[test]
    fn logpush_delivers_every_line_within_one_to_eleven_minutes() {
        let (model, sc) = sample();
        let tmp = tempfile::tempdir().unwrap();
        let lines: Vec<archive::Line> = (sc.legs.iter())
            .map(|l| archive::Line {
                event_ms: l.ts,
                ended_ms: l.ts + l.wall,
                text: render::logpush_line(l, &model),
            })
            .collect();
        let rng = &mut Rng::new(1);
        let (counts, days) = archive::write(tmp.path(), &lines, &model, rng).unwrap();
        assert_eq!(days.len(), 2, "the run crosses midnight");
        let n: usize = days.iter().map(|d| d.n).sum();
        assert_eq!(n, counts.events + counts.duplicate_lines);
        for d in &days {
            assert!(d.median_ms >= 60_000.0 && d.max_ms <= 660_000.0, "{d:?}");
            assert!(d.median_ms <= d.p95_ms && d.p95_ms <= d.p99_ms && d.p99_ms <= d.max_ms);
        }
    }
}
