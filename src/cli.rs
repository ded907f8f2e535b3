//! Command-line interface: one subcommand per pipeline step, shared flags that
//! override the pipeline file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::settings::flags::{
    DriveArgs, ExploreArgs, PublishArgs, ReportArgs, StepArgs, TransformArgs,
};

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
    /// Show what the lake holds (kinds of leg, ids, approach and delay fields) and draft a pipeline file.
    Explore(ExploreArgs),
    /// Join the legs in the lake into per-request metrics.
    Transform(TransformArgs),
    /// Write statistics, charts and exports from the per-request metrics.
    Report(ReportArgs),
    /// mirror, then transform, then report.
    Run(StepArgs),
    /// Publish the lake's events and the transform's tables as Apache Iceberg tables.
    Publish(PublishArgs),
    /// Send the experiment matrix to the deployed endpoints and write the run manifest.
    Drive(DriveArgs),
    /// Write a synthetic Logpush archive and tail capture with its ground truth.
    Simulate(SimulateArgs),
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

    /// Where the archive's proxied legs carry the correlation id: in URLs only
    /// (every leg then a fetch), in JSON logs only, or both.
    #[arg(long, value_enum, default_value_t = IdInArg::Both)]
    pub id_in: IdInArg,

    /// Where the origin leg says its approach: URL path, URL query, or its
    /// rpc method (no URL; needs --id-in logs).
    #[arg(long, value_enum, default_value_t = ApproachInArg::Path)]
    pub approach_in: ApproachInArg,

    /// Key of the correlation id in URLs and logs (1-32 of A-Z a-z 0-9 _).
    #[arg(long, value_name = "NAME", default_value = "reqId")]
    pub id_key: String,

    /// Other names for every script, entrypoint, method, host, path and key
    /// of the archive, as a deployment the project has never seen.
    #[arg(long)]
    pub renamed: bool,

    /// A run manifest (as `drive` writes): simulate the requests it lists (their
    /// approach, delay, send time and id) instead of --runs per approach and delay.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum IdInArg {
    Url,
    Logs,
    Both,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ApproachInArg {
    Path,
    Query,
    Rpc,
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
            manifest: self.manifest.clone(),
            layout: crate::simulate::Layout {
                id_in: match self.id_in {
                    IdInArg::Url => crate::simulate::IdIn::Url,
                    IdInArg::Logs => crate::simulate::IdIn::Logs,
                    IdInArg::Both => crate::simulate::IdIn::Both,
                },
                approach_in: match self.approach_in {
                    ApproachInArg::Path => crate::simulate::ApproachIn::Path,
                    ApproachInArg::Query => crate::simulate::ApproachIn::Query,
                    ApproachInArg::Rpc => crate::simulate::ApproachIn::Rpc,
                },
                id_key: self.id_key.clone(),
                renamed: self.renamed,
            },
        }
    }
}
