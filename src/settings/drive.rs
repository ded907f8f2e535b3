//! `[drive]` and `drive`'s flags → `drive::Options`: every bad value is one
//! line naming its flag or key; header values from the environment are read
//! here, once, and never shown.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::flags::DriveArgs;
use crate::core::paths::tidy;
use crate::drive::{self, Header, Order};
use crate::mirror::wait::parse_duration;

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct DriveSection {
    pub url: Option<String>,
    pub approaches: Option<Vec<String>>,
    pub delays: Option<Vec<u64>>,
    pub runs: Option<usize>,
    pub order: Option<String>,
    pub concurrency: Option<usize>,
    pub pause_ms: Option<u64>,
    pub warmup: Option<usize>,
    pub timeout: Option<String>,
    pub seed: Option<u64>,
    pub method: Option<String>,
    pub headers: Option<Vec<String>>,
    pub manifest: Option<PathBuf>,
    pub id_hex: Option<usize>,
}

/// The flag if given, else the key: with the name to blame.
fn pick<T>(
    flag: Option<T>,
    flag_name: &'static str,
    key: Option<T>,
    key_name: &'static str,
) -> Option<(T, &'static str)> {
    match (flag, key) {
        (Some(v), _) => Some((v, flag_name)),
        (None, Some(v)) => Some((v, key_name)),
        (None, None) => None,
    }
}

pub fn options(args: &DriveArgs, file: DriveSection, base: &Path) -> Result<drive::Options> {
    let (url, _) = pick(args.url.clone(), "--url", file.url, "[drive] url")
        .ok_or_else(|| anyhow::anyhow!("drive needs --url TEMPLATE (or [drive] url)"))?;
    drive::check_template(&url)?;
    let approaches = approaches(pick(
        args.approaches.clone(),
        "--approaches",
        file.approaches,
        "[drive] approaches",
    ))?;
    let delays = delays(args, file.delays)?;
    let runs = args.runs.or(file.runs).unwrap_or(30);
    let warmup = args.warmup.or(file.warmup).unwrap_or(0);
    check_size(runs, warmup, approaches.len(), delays.len())?;
    let pause_ms = args.pause.or(file.pause_ms).unwrap_or(0);
    if pause_ms > MAX_PAUSE_MS {
        bail!("--pause {pause_ms}: give at most {MAX_PAUSE_MS} ms (an hour)");
    }
    let id_hex = args.id_hex.or(file.id_hex).unwrap_or(16);
    if !(4..=32).contains(&id_hex) {
        bail!("--id-hex {id_hex}: give 4 to 32 hex digits");
    }
    let concurrency = args.concurrency.or(file.concurrency).unwrap_or(1);
    if !(1..=64).contains(&concurrency) {
        bail!("--concurrency {concurrency}: give 1 to 64");
    }
    let timeout = match pick(
        args.timeout.clone(),
        "--timeout",
        file.timeout,
        "[drive] timeout",
    ) {
        Some((t, from)) => parse_duration(&t).map_err(|e| anyhow::anyhow!("{from}: {e}"))?,
        None => Duration::from_secs(30),
    };
    if timeout.is_zero() {
        bail!("--timeout: give a duration above 0");
    }
    let method = match pick(
        args.method.clone(),
        "--method",
        file.method,
        "[drive] method",
    ) {
        Some((m, from)) => reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| anyhow::anyhow!("{from} {m:?} is not an HTTP method"))?,
        None => reqwest::Method::GET,
    };
    let headers = if args.headers.is_empty() {
        file.headers.unwrap_or_default()
    } else {
        args.headers.clone()
    };
    let manifest = match (&args.manifest, file.manifest) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => tidy(&base.join(p)),
        (None, None) => PathBuf::from(format!(
            "run-manifest-{}.csv",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        )),
    };
    Ok(drive::Options {
        url,
        method,
        headers: headers.iter().map(|h| header(h)).collect::<Result<_>>()?,
        approaches,
        delays,
        runs,
        order: order(pick(
            args.order.clone(),
            "--order",
            file.order,
            "[drive] order",
        ))?,
        concurrency,
        pause: Duration::from_millis(pause_ms),
        warmup,
        timeout,
        seed: args.seed.or(file.seed).unwrap_or(1),
        id_hex,
        manifest,
        resume: args.resume,
        dry_run: args.dry_run,
        quiet: args.quiet,
    })
}

/// Most requests one drive schedules: its schedule is held in memory.
const MAX_REQUESTS: usize = 1_000_000;
/// Longest pause between requests.
const MAX_PAUSE_MS: u64 = 3_600_000;

/// A schedule of at least one run and at most [`MAX_REQUESTS`] requests.
fn check_size(runs: usize, warmup: usize, approaches: usize, delays: usize) -> Result<()> {
    if runs == 0 {
        bail!("--runs 0: give at least 1 run");
    }
    let total = (runs
        .checked_mul(approaches)
        .and_then(|n| n.checked_mul(delays)))
    .and_then(|n| n.checked_add(warmup.checked_mul(approaches)?));
    match total {
        Some(n) if n <= MAX_REQUESTS => Ok(()),
        _ => bail!("--runs {runs} and --warmup {warmup} over {approaches} approaches x {delays} delays make more than {MAX_REQUESTS} requests: drive fewer at a time"),
    }
}

fn approaches(given: Option<(Vec<String>, &'static str)>) -> Result<Vec<String>> {
    let Some((list, from)) = given else {
        bail!("drive needs --approaches a,b (or [drive] approaches)");
    };
    let list: Vec<String> = list.iter().map(|a| a.trim().to_string()).collect();
    if list.is_empty() || list.iter().any(|a| a.is_empty()) {
        bail!("{from}: give one or more names, comma-separated");
    }
    if let Some(bad) = list.iter().find(|a| {
        !a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    }) {
        bail!(
            "{from}: {:?} is not a name of letters, digits, `-`, `_` and `.`",
            bad
        );
    }
    Ok(list)
}

fn delays(args: &DriveArgs, file: Option<Vec<u64>>) -> Result<Vec<u64>> {
    let list = match (&args.delays, file) {
        (Some(texts), _) => texts
            .iter()
            .map(|t| {
                t.trim()
                    .parse::<u64>()
                    .map_err(|_| anyhow::anyhow!("--delays: {t:?} is not a whole number of ms"))
            })
            .collect::<Result<Vec<_>>>()?,
        (None, Some(list)) => list,
        (None, None) => bail!("drive needs --delays 0,100 (or [drive] delays)"),
    };
    if list.is_empty() {
        bail!("--delays: give one or more delays in ms");
    }
    let most = crate::core::limits::MAX_DURATION_MS as u64;
    if let Some(d) = list.iter().find(|d| **d > most) {
        bail!("--delays: {d} ms is longer than 30 days");
    }
    Ok(list)
}

fn order(given: Option<(String, &'static str)>) -> Result<Order> {
    match given {
        None => Ok(Order::Interleaved),
        Some((o, _)) if o == "interleaved" => Ok(Order::Interleaved),
        Some((o, _)) if o == "sequential" => Ok(Order::Sequential),
        Some((o, from)) => bail!("{from} {o:?}: give interleaved or sequential"),
    }
}

/// `Name: value`, the value `$NAME` read from the environment. Errors name
/// the header or variable, never a value.
fn header(text: &str) -> Result<Header> {
    let Some((name, value)) = text.split_once(':') else {
        bail!("--header: give 'Name: value' (no `:` found)");
    };
    let name = name.trim();
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        bail!("--header: {name:?} is not a header name");
    }
    let value = value.trim();
    let value = match value.strip_prefix('$') {
        Some(var) => std::env::var(var).map_err(|_| {
            anyhow::anyhow!("--header {name}: environment variable {var} is not set")
        })?,
        None => value.to_string(),
    };
    if reqwest::header::HeaderValue::from_str(&value).is_err() {
        bail!("--header {name}: the value is not a valid header value");
    }
    Ok(Header {
        name: name.to_string(),
        value,
    })
}
