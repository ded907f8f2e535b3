//! Command-line interface: one subcommand per pipeline step, shared flags that
//! override the pipeline file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::mirror::source::InputFormat;

#[derive(Parser, Debug)]
#[command(
    name = "tracecost",
    version,
    about = "Turn Cloudflare Workers trace events into billing answers",
    long_about = "Turn Cloudflare Workers trace events (Logpush objects in R2 or on disk, \
                  `wrangler tail --format json` captures) into a Parquet lake, per-request \
                  costs and a report that compares Durable Object proxy approaches."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Copy new and changed source objects into the local Parquet lake.
    Mirror(StepArgs),
    /// Join the legs in the lake into per-request metrics.
    Transform(StepArgs),
    /// Write statistics, charts and exports from the per-request metrics.
    Report(StepArgs),
    /// mirror, then transform, then report.
    Run(StepArgs),
    /// Write a synthetic Logpush archive and tail capture with its ground truth.
    Simulate(SimulateArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct StepArgs {
    /// Pipeline file (TOML); flags below override its fields.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "pipelines/proxy-fetch.toml"
    )]
    pub pipeline: PathBuf,

    /// Where the trace events are: a folder in Logpush layout, a tail capture
    /// file, or s3://bucket/prefix.
    #[arg(long, value_name = "PATH|s3://BUCKET/PREFIX")]
    pub source: Option<String>,

    /// S3 endpoint URL for an s3:// source (default: AWS_ENDPOINT_URL_S3).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Cloudflare account id: reads s3:// sources from https://<ID>.r2.cloudflarestorage.com.
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,

    /// Force the input format instead of detecting it from the content.
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,

    /// Folder of the Parquet lake.
    #[arg(long, value_name = "DIR")]
    pub lake: Option<PathBuf>,

    /// Folder that receives bad lines and unreadable objects (default: <lake>/_quarantine).
    #[arg(long, value_name = "DIR")]
    pub quarantine: Option<PathBuf>,

    /// Folder for the report (default: notebooks-export/<pipeline name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Start of the time window, UTC: 2025-11-18, 2025-11-18T21:00 or 2025-11-18T21:00:00Z.
    #[arg(long, value_name = "UTC")]
    pub from: Option<String>,

    /// End of the time window, UTC; a bare date includes that whole day.
    #[arg(long, value_name = "UTC")]
    pub to: Option<String>,

    /// Run manifest CSV (approach, delay_ms, start, end[, run_id, client_latency_ms]).
    #[arg(long, value_name = "FILE")]
    pub run_manifest: Option<PathBuf>,

    /// Bootstrap seed of the report (default 1, or [report] seed).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Bootstrap resamples per interval (default 10,000, or [report] resamples).
    #[arg(long, value_name = "N")]
    pub resamples: Option<usize>,

    /// Skip the PNG charts.
    #[arg(long)]
    pub no_charts: bool,

    /// Objects processed at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// mirror: poll until the lake holds what is needed (--until, --events, or the run manifest's windows).
    #[arg(long)]
    pub wait: bool,

    /// With --wait: until the lake holds events up to this UTC time.
    #[arg(long, value_name = "UTC")]
    pub until: Option<String>,

    /// With --wait: until this many events match the pipeline's filters.
    #[arg(long, value_name = "N")]
    pub events: Option<u64>,

    /// With --wait: seconds between polls (90, 90s, 10m).
    #[arg(long, value_name = "DURATION", default_value = "10")]
    pub every: String,

    /// With --wait: give up after this long (exit status 1).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub timeout: String,

    /// Print only errors and the final summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Folder to write the archive, tail capture, run manifest and ground truth into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Random seed; the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Requests per approach and delay.
    #[arg(long, default_value_t = 30)]
    pub runs: usize,

    /// Multiplies requests and background traffic (use for benchmarks).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,

    /// Also simulate the optional `rpc-target` approach.
    #[arg(long)]
    pub rpc_target: bool,
}

impl SimulateArgs {
    /// The simulator's options: the step never sees clap's types.
    pub fn options(&self) -> crate::simulate::Options {
        crate::simulate::Options {
            out: self.out.clone(),
            seed: self.seed,
            runs: self.runs,
            scale: self.scale,
            rpc_target: self.rpc_target,
        }
    }
}
