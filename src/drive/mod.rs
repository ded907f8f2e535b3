//! `drive`: sends the experiment matrix to the deployed endpoints, one
//! request at a time by default, and writes the run manifest `transform`
//! reads. Non-2xx answers and timeouts are recorded, never retried: a retry
//! would add a request to the logs that the manifest does not explain.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};

pub mod manifest;
pub mod schedule;

pub use schedule::{Entry, Order};

/// A request header; its value may be a secret and is never printed.
#[derive(Clone)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: <hidden>", self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// URL template with `{approach}`, `{delay_ms}`, `{req_id}`, `{run}`.
    pub url: String,
    pub method: reqwest::Method,
    pub headers: Vec<Header>,
    pub approaches: Vec<String>,
    pub delays: Vec<u64>,
    pub runs: usize,
    pub order: Order,
    pub concurrency: usize,
    pub pause: Duration,
    pub warmup: usize,
    pub timeout: Duration,
    pub seed: u64,
    pub id_hex: usize,
    pub manifest: PathBuf,
    pub resume: bool,
    pub dry_run: bool,
    pub quiet: bool,
}

const PLACEHOLDERS: [&str; 4] = ["{approach}", "{delay_ms}", "{req_id}", "{run}"];

/// The URL of one request.
pub fn fill(template: &str, e: &Entry) -> String {
    template
        .replace("{approach}", &e.approach)
        .replace("{delay_ms}", &e.delay_ms.to_string())
        .replace("{req_id}", &e.req_id)
        .replace("{run}", &e.run_id)
}

/// A template whose braces are all known placeholders and that fills to an
/// http(s) URL; the error never shows the URL (it may hold credentials).
pub fn check_template(template: &str) -> Result<()> {
    let mut rest = template.to_string();
    for p in PLACEHOLDERS {
        rest = rest.replace(p, "x");
    }
    if rest.contains('{') || rest.contains('}') {
        bail!(
            "--url: unknown placeholder: use {}",
            PLACEHOLDERS.join(", ")
        );
    }
    match reqwest::Url::parse(&rest) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => bail!("--url: not an http:// or https:// URL once its placeholders are filled"),
    }
}

fn schedule(o: &Options) -> Vec<Entry> {
    schedule::build(&schedule::Plan {
        approaches: &o.approaches,
        delays: &o.delays,
        runs: o.runs,
        warmup: o.warmup,
        order: o.order,
        seed: o.seed,
        id_hex: o.id_hex,
    })
}

pub fn run(o: &Options) -> Result<()> {
    check_template(&o.url)?;
    let all = schedule(o);
    if o.dry_run {
        for e in &all {
            println!(
                "{}\t{}\t{}\t{}",
                e.run_id,
                e.approach,
                e.delay_ms,
                fill(&o.url, e)
            );
        }
        return Ok(());
    }
    let mut appender = manifest::Appender::open(&o.manifest, o.resume)?;
    let done = manifest::done(&o.manifest)?;
    let todo = schedule::remaining(all.clone(), &done);
    eprintln!(
        "drive: {} requests ({} already in the manifest), manifest {}",
        todo.len(),
        all.len() - todo.len(),
        o.manifest.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the network runtime")?;
    let summary = runtime.block_on(send_all(o, todo, &mut appender))?;
    summary.print(o);
    Ok(())
}

/// The wall clock read once, and a monotonic clock from then on: request
/// times never jump with a clock adjustment.
struct Clock {
    wall: DateTime<Utc>,
    mono: Instant,
}

impl Clock {
    fn now() -> Self {
        Clock {
            wall: Utc::now(),
            mono: Instant::now(),
        }
    }

    fn utc(&self, at: Instant) -> String {
        let since = chrono::Duration::from_std(at - self.mono).unwrap_or_default();
        (self.wall + since)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }
}

async fn send_all(
    o: &Options,
    todo: Vec<Entry>,
    appender: &mut manifest::Appender,
) -> Result<Summary> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(o.timeout)
        .build()
        .context("cannot build the HTTP client")?;
    let clock = Arc::new(Clock::now());
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
            }
        })
    };
    let bar = progress(o, todo.len());
    let mut summary = Summary::default();
    let mut tasks = tokio::task::JoinSet::new();
    let total = todo.len();
    let mut queue = todo.into_iter();
    let mut first = true;
    loop {
        while tasks.len() < o.concurrency.max(1) && !stop.load(Ordering::SeqCst) {
            let Some(e) = queue.next() else { break };
            if !first && !o.pause.is_zero() {
                tokio::time::sleep(o.pause).await;
            }
            first = false;
            let (client, clock, url) = (client.clone(), clock.clone(), fill(&o.url, &e));
            let (method, headers) = (o.method.clone(), o.headers.clone());
            tasks.spawn(async move { send(&client, &clock, method, &url, &headers, e).await });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let row = joined.context("a request task failed")?;
        appender.append(&row)?;
        summary.add(&row);
        if let Some(bar) = &bar {
            bar.inc(1);
            bar.set_message(summary.medians());
        }
    }
    watcher.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if stop.load(Ordering::SeqCst) {
        eprintln!(
            "interrupted: {} of {total} requests done and written to {}; continue with the same command plus --resume",
            summary.count(),
            o.manifest.display()
        );
    }
    Ok(summary)
}

fn progress(o: &Options, total: usize) -> Option<indicatif::ProgressBar> {
    if o.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    let style = indicatif::ProgressStyle::with_template(
        "drive {bar:30} {pos}/{len} ETA {eta} median ms {msg}",
    );
    bar.set_style(style.unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    Some(bar)
}

/// Sends one request and reads its whole body (so the connection is reused).
async fn send(
    client: &reqwest::Client,
    clock: &Clock,
    method: reqwest::Method,
    url: &str,
    headers: &[Header],
    e: Entry,
) -> manifest::Row {
    let mut request = client.request(method, url);
    for h in headers {
        request = request.header(&h.name, &h.value);
    }
    let start = Instant::now();
    let (status, error) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(_) => (Some(status), None),
                Err(err) => (Some(status), Some(short_error(&err))),
            }
        }
        Err(err) => (None, Some(short_error(&err))),
    };
    let end = Instant::now();
    manifest::Row {
        run_id: e.run_id,
        approach: e.approach,
        delay_ms: e.delay_ms,
        req_id: e.req_id,
        start: clock.utc(start),
        end: clock.utc(end),
        client_latency_ms: (end - start).as_secs_f64() * 1000.0,
        status,
        error,
        warmup: e.warmup,
    }
}

/// A short, fixed text: reqwest's own message can hold the URL.
fn short_error(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect failed"
    } else if err.is_body() || err.is_decode() {
        "body failed"
    } else if err.is_request() {
        "request failed"
    } else {
        "failed"
    }
}

/// Per approach: latencies of the measured requests and their errors.
#[derive(Default)]
struct Summary {
    approaches: BTreeMap<String, (Vec<f64>, usize)>,
    warmups: usize,
}

impl Summary {
    fn add(&mut self, row: &manifest::Row) {
        if row.warmup {
            self.warmups += 1;
            return;
        }
        let entry = self.approaches.entry(row.approach.clone()).or_default();
        entry.0.push(row.client_latency_ms);
        let failed = row.error.is_some() || !row.status.is_some_and(|s| (200..300).contains(&s));
        entry.1 += usize::from(failed);
    }

    fn count(&self) -> usize {
        self.warmups
            + self
                .approaches
                .values()
                .map(|(l, _)| l.len())
                .sum::<usize>()
    }

    fn medians(&self) -> String {
        let parts: Vec<String> = (self.approaches.iter())
            .map(|(a, (l, _))| format!("{a} {}", median(l)))
            .collect();
        parts.join(", ")
    }

    fn print(&self, o: &Options) {
        for (approach, (latencies, errors)) in &self.approaches {
            eprintln!(
                "{approach}: n = {}, errors = {errors}, median client latency = {} ms (this session's requests)",
                latencies.len(),
                median(latencies)
            );
        }
        if self.warmups > 0 {
            eprintln!(
                "warm-up requests: {} (marked warmup=true, left out of statistics)",
                self.warmups
            );
        }
        println!("{}", o.manifest.display());
    }
}

/// The median latency as text; `-` without an answered request.
fn median(values: &[f64]) -> String {
    match values.is_empty() {
        true => "-".into(),
        false => format!("{:.1}", crate::stats::univariate::median(values)),
    }
}
