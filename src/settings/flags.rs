//! The flags of the pipeline steps: each overrides a field of the pipeline
//! file, and `Settings::resolve` turns both into each step's options.

use std::path::PathBuf;

use clap::Args;

use crate::core::format::InputFormat;

#[derive(Args, Debug, Clone, Default)]
pub struct StepArgs {
    /// Pipeline file (TOML); flags below override its fields. Default:
    /// pipelines/proxy-fetch.toml where it exists (the project folder); `mirror`
    /// and `explore` also run on flags alone.
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,

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

    /// With --wait: once the goal is met, poll on until its time plus this
    /// margin has passed, for late deliveries (default: [mirror] margin, else
    /// the p99 delivery delay of the objects the lake received in the last 7 days).
    #[arg(long, value_name = "DURATION")]
    pub margin: Option<String>,

    /// Print only errors and the final summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The flags of `transform`: the step's, and the SQL it can print instead of running.
#[derive(Args, Debug, Clone, Default)]
pub struct TransformArgs {
    #[command(flatten)]
    pub step: StepArgs,

    /// Print the transform as one SQL statement for this engine (the columns of
    /// requests.parquet, over the events table) instead of running it.
    #[arg(long, value_enum, value_name = "DIALECT")]
    pub emit_sql: Option<crate::transform::sql::Dialect>,

    /// With --emit-sql: the table of the lake's rows the statement reads (default: events).
    #[arg(long, value_name = "TABLE", requires = "emit_sql")]
    pub events_table: Option<String>,
}

impl TransformArgs {
    pub fn events_table(&self) -> &str {
        self.events_table.as_deref().unwrap_or("events")
    }
}

/// The flags of `report`: the step's, and a requests table computed elsewhere.
#[derive(Args, Debug, Clone, Default)]
pub struct ReportArgs {
    #[command(flatten)]
    pub step: StepArgs,

    /// Report on this requests table instead of the transform's: a Parquet
    /// file, or a folder of them as Spark or DuckDB export the statement of
    /// `transform --emit-sql`; or an Iceberg table NAMESPACE.TABLE of the
    /// catalog (the lake's SQLite one, or --catalog / --catalog-uri).
    #[arg(long, value_name = "FILE|DIR|NAMESPACE.TABLE")]
    pub requests: Option<PathBuf>,

    #[command(flatten)]
    pub catalog: CatalogArgs,
}

/// The Iceberg catalog `publish` writes to and `report --requests` reads from.
#[derive(Args, Debug, Clone, Default)]
pub struct CatalogArgs {
    /// The SQL catalog's SQLite file (default: <lake>/_iceberg/catalog.db).
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,

    /// An Iceberg REST catalog instead, e.g. R2 Data Catalog's URI (or set
    /// TRACECOST_CATALOG_URI); its token is read from TRACECOST_CATALOG_TOKEN.
    #[arg(long, value_name = "URL")]
    pub catalog_uri: Option<String>,

    /// SQLite catalog: the folder the tables' files are written under
    /// (default: <lake>/_iceberg/warehouse). REST catalog: the warehouse name
    /// (R2: <account id>_<bucket>; or set TRACECOST_CATALOG_WAREHOUSE).
    #[arg(long, value_name = "DIR|NAME")]
    pub warehouse: Option<PathBuf>,
}

/// The flags of `publish`: the step's, and the catalog the tables go to.
#[derive(Args, Debug, Clone, Default)]
pub struct PublishArgs {
    #[command(flatten)]
    pub step: StepArgs,

    #[command(flatten)]
    pub catalog: CatalogArgs,

    /// The catalog namespace of the tables (default: tracecost).
    #[arg(long, value_name = "NAME")]
    pub namespace: Option<String>,
}

/// The flags of `explore`: a lake, a window, and where the findings go.
#[derive(Args, Debug, Clone, Default)]
pub struct ExploreArgs {
    /// Pipeline file whose lake, window and name to use (optional: flags alone work).
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,

    /// Folder of the Parquet lake (after `tracecost mirror`).
    #[arg(long, value_name = "DIR")]
    pub lake: Option<PathBuf>,

    /// Start of the time window, UTC: 2025-11-18, 2025-11-18T21:00 or 2025-11-18T21:00:00Z.
    #[arg(long, value_name = "UTC")]
    pub from: Option<String>,

    /// End of the time window, UTC; a bare date includes that whole day.
    #[arg(long, value_name = "UTC")]
    pub to: Option<String>,

    /// Folder whose explore/ subfolder receives the tables (default: notebooks-export/<name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Write a commented pipeline file drafted from what the lake holds.
    #[arg(long, value_name = "FILE")]
    pub draft: Option<PathBuf>,

    /// Replace an existing --draft file.
    #[arg(long)]
    pub force: bool,

    /// The draft's [source] location (default: where the lake was last mirrored from).
    #[arg(long, value_name = "PATH|s3://BUCKET/PREFIX")]
    pub source: Option<String>,
}

impl ExploreArgs {
    /// The step flags these stand for, so one resolution serves every step.
    pub fn step_args(&self) -> StepArgs {
        StepArgs {
            pipeline: self.pipeline.clone(),
            lake: self.lake.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            out: self.out.clone(),
            ..StepArgs::default()
        }
    }
}

/// The flags of `drive`: each overrides the same key of `[drive]`.
#[derive(Args, Debug, Clone, Default)]
pub struct DriveArgs {
    /// Pipeline file whose [drive] section to use (flags override it).
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,

    /// URL template: {approach}, {delay_ms}, {req_id} and {run} are filled in.
    #[arg(long, value_name = "TEMPLATE")]
    pub url: Option<String>,

    /// Approaches, comma-separated (fill {approach}).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub approaches: Option<Vec<String>>,

    /// Delays in ms, comma-separated (fill {delay_ms}).
    #[arg(long, value_name = "MS,MS", value_delimiter = ',')]
    pub delays: Option<Vec<String>>,

    /// Blocks of every approach x delay (default 30).
    #[arg(long, value_name = "N")]
    pub runs: Option<usize>,

    /// interleaved (each block in a seeded random order) or sequential (default interleaved).
    #[arg(long, value_name = "ORDER")]
    pub order: Option<String>,

    /// Requests in flight at once (default 1: one request at a time).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Pause between requests, ms (default 0).
    #[arg(long, value_name = "MS")]
    pub pause: Option<u64>,

    /// Warm-up requests per approach before the measured ones (default 0).
    #[arg(long, value_name = "N")]
    pub warmup: Option<usize>,

    /// Timeout per request (30s, 2m; default 30s).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Seed of the order and the request ids (default 1).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// HTTP method (default GET).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,

    /// Request header 'Name: value'; a value `$NAME` is read from the
    /// environment and never printed or written. Repeatable.
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,

    /// Manifest CSV to write (default: run-manifest-<start UTC>.csv here).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// Continue an existing manifest: skip the requests it holds.
    #[arg(long)]
    pub resume: bool,

    /// Print the schedule (run, approach, delay, URL) and send nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Hex digits of a request id (default 16).
    #[arg(long, value_name = "N")]
    pub id_hex: Option<usize>,

    /// Print only errors and the summary.
    #[arg(long, short)]
    pub quiet: bool,
}
